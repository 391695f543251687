//! A WebSocket client on blocking `std::net` I/O: connects, sends a few messages and a Ping,
//! prints the answers, then closes.
//!
//! ```text
//! cargo run --example blocking_echo_server &
//! cargo run --example blocking_client -- ws://127.0.0.1:9002/
//! ```
#![allow(clippy::print_stdout, reason = "an example reports to its user")]

#[path = "../support/mod.rs"]
mod support;

use std::io;

use sansio_ws::connection::Config;
use sansio_ws::handshake::ClientConfig;
use support::app::{Clock, DemoClient};
use support::blocking;

fn main() -> io::Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/".to_string());
    let clock = Clock::new();
    let upgraded = blocking::connect(&url, ClientConfig::default(), Config::default(), clock)?;
    println!("connected to {url}");
    let closed = blocking::run(upgraded, clock, &mut DemoClient::new(|line| println!("{line}")))?;
    println!("connection ended: {:?}", closed.cause);
    Ok(())
}

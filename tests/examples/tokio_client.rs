//! A WebSocket client on tokio: connects, sends a few messages and a Ping, prints the answers,
//! then closes.
//!
//! ```text
//! cargo run --example tokio_echo_server &
//! cargo run --example tokio_client -- ws://127.0.0.1:9002/
//! ```
#![allow(clippy::print_stdout, reason = "an example reports to its user")]

#[path = "../support/mod.rs"]
mod support;

use std::io;

use sansio_ws::connection::Config;
use sansio_ws::handshake::ClientConfig;
use support::app::DemoClient;
use support::tokio_driver;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/".to_string());
    let upgraded = tokio_driver::connect(&url, ClientConfig::default(), Config::default()).await?;
    println!("connected to {url}");
    let closed = tokio_driver::run(upgraded, &mut DemoClient::new(|line| println!("{line}"))).await?;
    println!("connection ended: {:?}", closed.cause);
    Ok(())
}

//! A WebSocket echo server on blocking `std::net` I/O, one thread per connection, no runtime.
//!
//! ```text
//! cargo run --example blocking_echo_server -- 127.0.0.1:9002
//! ```
//!
//! The driver loop is in `tests/support/blocking.rs`, shared with the tests; the echo application
//! in `tests/support/app.rs` runs unchanged under the tokio driver too.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "an example reports to its user")]

#[path = "../support/mod.rs"]
mod support;

use std::io;
use std::net::TcpListener;

use sansio_ws::connection::Config;
use support::app::Echo;
use support::blocking;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on ws://{}/", listener.local_addr()?);
    blocking::serve(listener, Config::default(), Echo::default, |result| match result {
        Ok(closed) => println!("connection ended: {:?} (unsent: {:?})", closed.cause, closed.unsent),
        Err(e) => eprintln!("connection failed: {e}"),
    })
}

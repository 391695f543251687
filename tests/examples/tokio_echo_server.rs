//! A WebSocket echo server on tokio: one task per connection, on the `sansio-ws-tokio` crate.
//!
//! ```text
//! cargo run --example tokio_echo_server -- 127.0.0.1:9002
//! ```
//!
//! The adapter to the shared handler is in `tests/support/tokio_driver.rs`, used by the tests too; the echo
//! application in `tests/support/app.rs` runs unchanged under the blocking driver too.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "an example reports to its user")]

#[path = "../support/mod.rs"]
mod support;

use std::io;

use sansio_ws::connection::Config;
use support::app::Echo;
use support::tokio_driver;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("echo server listening on ws://{}/", listener.local_addr()?);
    tokio_driver::serve(listener, Config::default(), Echo::default, |result| match result {
        Ok(closed) => println!("connection ended: {:?} (unsent: {:?})", closed.cause, closed.unsent),
        Err(e) => eprintln!("connection failed: {e}"),
    })
    .await
}

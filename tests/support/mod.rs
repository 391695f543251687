//! Drivers shared by the embedding examples (`tests/examples/`) and tests (`tests/embedding_*.rs`).
//!
//! The same core is driven three ways here, and by the `sansio-ws-mio` event loop; only the I/O
//! differs:
//! - [`app`]: what every driver shares: the clock conversion, the application callbacks
//!   ([`app::Handler`]) and the echo application;
//! - [`blocking`]: `std::net::TcpStream`, one thread per connection;
//! - [`tokio_driver`]: a tokio task per connection;
//! - [`mio_driver`]: the `sansio-ws-mio` event loop, with an adapter from its callbacks to
//!   [`app::Handler`].
//!
//! [`script`] is the scripted client the tests run against the echo server, and [`harness`] runs
//! the two over real sockets under any pair of drivers.
#![allow(dead_code, reason = "each example and test binary uses only part of the support code")]

pub(crate) mod app;
pub(crate) mod blocking;
pub(crate) mod harness;
pub(crate) mod mio_driver;
pub(crate) mod script;
pub(crate) mod tokio_driver;

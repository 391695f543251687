//! # sansio-ws-mio
//!
//! A thin [mio] driver for the [`sansio_ws`] protocol engine. It moves bytes between sockets and
//! the Sans-IO core, reads the clock, and keeps one timer heap for every connection's deadline.
//! Nothing protocol-related lives here: framing, the close handshake, heartbeats and every
//! timeout are the core's.
//!
//! - [`EventLoop`]: one `mio::Poll`, a listener, any number of connections of both roles, each
//!   first in its opening handshake, then an established [`Connection`](sansio_ws::connection::Connection).
//! - [`Handler`]: the application's callbacks, each with a [`Ctx`] to send, broadcast (encoded once),
//!   close, connect or shut down.
//! - [`Handle`]: the same from other threads (a channel and a `mio::Waker`).
//! - Graceful shutdown: stop accepting, Close 1001 after queued messages, wait for the close
//!   handshakes up to a grace period, force-close the rest, and report what happened
//!   ([`ShutdownReport`]).
//!
//! Reads go into one buffer the loop shares, and each connection copies out (unmasking large
//! payloads in the same pass) only what it has not yet made into messages; writes are vectored; write interest is
//! registered only while output is pending; readiness is edge-triggered, so every socket is read
//! and written until it would block.

mod clock;
mod config;
mod event_loop;
mod handle;
mod handler;
mod slot;
mod timers;

pub use clock::Clock;
pub use config::DriverConfig;
pub use event_loop::{Broadcast, Ctx, EventLoop, ShutdownReport};
pub use handle::{Handle, Stopped};
pub use handler::{ConnId, ConnectError, Decision, Handler, Opened};

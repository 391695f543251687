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
//! - [`Server`]: one event loop per core on one address; [`ServerHandle`] reaches a connection on
//!   any loop and broadcasts to all of them, framed once, in one order.
//! - [`tls`] (feature `tls`): `wss://` for both roles with rustls, the close order over TLS
//!   (close handshake, queued bytes, `close_notify`, TCP), refused certificates in words.
//! - Graceful shutdown: Close 1001 "server shutting down" after queued messages, `503` with
//!   `Retry-After` for requests arriving meanwhile, wait for the close handshakes up to a grace
//!   period, force-close the rest, and report what happened ([`ShutdownReport`]).
//!
//! # Under load and abuse
//!
//! | limit | default | what happens at it |
//! | --- | --- | --- |
//! | [`DriverConfig::read_budget`] | 256 KiB per connection and turn | the connection yields to the others and is read again on the next turn: a flooding peer delays only itself |
//! | the connection's send queue over `high_water_mark` (core `Config`) | 4 MiB | an accepted connection is not read until its queue is at `low_water_mark` (1 MiB): TCP pushes back on a peer that sends but does not read (an outgoing connection always reads, so two ends of this driver cannot wait on each other); [`Ctx::set_reading`] pauses reading by hand |
//! | `max_control_frames_per_second` (core `Config`) | 100, with a burst of 100 | the connection fails with 1008 |
//! | [`DriverConfig::max_handshakes`] | 1 024 sockets in their handshake | the oldest is closed to make room: silent sockets cannot lock real clients out |
//! | the handshake timeout (`ServerConfig::timeout`) | 10 s | `408 Request Timeout`, then close |
//! | bytes that cannot start an HTTP request line | — | `400` at once; a TLS ClientHello is closed at once with nothing written |
//! | [`DriverConfig::memory_budget`]: what all connections hold together (send queues and their peers' data, partial messages included) | 256 MiB | connections holding more than an even share (at most one read) are not read until the total is under ⅞ of it; still over (or still pausing) after [`DriverConfig::memory_grace`] (2 s), the largest holders are closed with `1013 Try Again Later` until the rest are under ⅞ ([`Handler::on_memory_budget`], [`Metrics::budget_closes`]) |
//! | [`DriverConfig::max_connections`] | 10 000 established | a request completing its handshake gets `503` with `Retry-After` ([`DriverConfig::busy_retry_after`], 5 s) |
//!
//! [`Metrics`] count what each loop does (requests by outcome, ends by cause, traffic, the load
//! limits), readable from any thread; with the `log` feature the loop also reports through the
//! `log` facade.
//!
//! Reads go into one buffer the loop shares, and each connection copies out (unmasking large
//! payloads in the same pass) only what it has not yet made into messages; writes are vectored; write interest is
//! registered only while output is pending; readiness is edge-triggered, so every socket is read
//! and written until it would block.

mod clock;
mod config;
mod dial;
mod event_loop;
mod handle;
mod handler;
mod log;
mod metrics;
mod server;
mod slot;
mod timers;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

pub use clock::Clock;
pub use config::DriverConfig;
pub use dial::ConnectTiming;
pub use event_loop::{Broadcast, Ctx, EventLoop, ShutdownReport};
pub use handle::{Handle, Stopped};
pub use handler::{ConnId, ConnectError, ConnectPhase, Decision, Handler, Opened, TlsInfo};
pub use metrics::{Metrics, SRTT_BUCKET_BOUNDS};
pub use server::{Server, ServerHandle};

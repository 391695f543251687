//! How an application plugs in: a [`Handler`] called by the event loop.

use std::net::SocketAddr;

use sansio_ws::Role;
use sansio_ws::connection::{Closed, Event, Message};
use sansio_ws::error::SendError;
use sansio_ws::handshake::{Accept, ClientHandshakeError, Extension, Reject, Request, RequestError, Response};

use crate::dial::ConnectTiming;
use crate::event_loop::Ctx;

/// Identifies a connection of an event loop, or of any loop of a [`Server`](crate::Server). Ids
/// are not reused: a closed connection's id never names a later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub(crate) slot: usize,
    /// The serial number (unique across a server's loops) above the loop's index
    /// ([`LOOP_BITS`] bits).
    pub(crate) generation: u64,
}

/// Bits of [`ConnId::generation`] that hold the loop's index.
pub(crate) const LOOP_BITS: u32 = 16;

impl ConnId {
    /// The index of the event loop that holds this connection (0 for a loop of its own).
    pub fn loop_index(&self) -> usize {
        (self.generation & ((1 << LOOP_BITS) - 1)) as usize
    }

    /// The connection's serial number: unique across every loop of a server, counted from 1.
    pub fn serial(&self) -> u64 {
        self.generation >> LOOP_BITS
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.serial())
    }
}

/// The answer to a WebSocket request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Switch protocols, with the chosen subprotocol and extensions.
    Accept(Accept),
    /// Refuse with an HTTP response, then close.
    Reject(Reject),
}

/// What is known about a connection when it opens.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Opened {
    /// Whether we accepted it (server) or opened it (client).
    pub role: Role,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The request path (server) or the target's resource (client).
    pub path: String,
    /// The negotiated subprotocol.
    pub subprotocol: Option<String>,
    /// The negotiated extensions.
    pub extensions: Vec<Extension>,
    /// Client side: the server's `101` response (its header fields: `Set-Cookie`, `Server`…).
    pub response: Option<Response>,
    /// Client side: how long resolving, connecting and the handshake took.
    pub timing: Option<ConnectTiming>,
    /// Over TLS (`wss://`): what was agreed. `None` for a plain connection.
    pub tls: Option<TlsInfo>,
}

/// What a TLS connection agreed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The server name the client asked for (SNI): on the server side, the name the client
    /// asked for, if it sent one; on the client side, the name verified.
    pub server_name: Option<String>,
    /// The ALPN protocol agreed, if any (`http/1.1`).
    pub alpn: Option<String>,
    /// The protocol version, e.g. `TLSv1_3`.
    pub version: String,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
}

/// Why an outgoing connection did not open.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or the client settings were invalid.
    Request(RequestError),
    /// The host name could not be resolved, or has no address.
    Resolve {
        /// The host name.
        host: String,
        /// What the resolver said.
        error: std::io::Error,
    },
    /// TCP failed: no address of the host took the connection (the error names the host and how
    /// many addresses were tried), or the connection broke or was closed during the handshake.
    Io {
        /// [`Connecting`](ConnectPhase::Connecting) or [`Handshake`](ConnectPhase::Handshake).
        phase: ConnectPhase,
        /// What failed.
        error: std::io::Error,
    },
    /// The server refused the upgrade or answered wrongly.
    Handshake(ClientHandshakeError),
    /// The TLS handshake failed: the server's certificate was refused (`description` says which
    /// check failed: unknown issuer, wrong name, expired…), the server sent an alert, or no
    /// protocol was in common.
    #[cfg(feature = "tls")]
    Tls {
        /// What rustls reported.
        error: rustls::Error,
        /// The same, in words.
        description: String,
    },
    /// The handshake timeout (`ClientConfig::timeout`, counted from the `connect` call) ran out.
    Timeout {
        /// What was still going on.
        phase: ConnectPhase,
        /// The timeout in force.
        after: std::time::Duration,
    },
}

/// The phases of an outgoing connection, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectPhase {
    /// Resolving the host name.
    Resolving,
    /// Connecting over TCP.
    Connecting,
    /// The TLS handshake (`wss://`).
    Tls,
    /// Waiting for the server's answer to the opening handshake.
    Handshake,
}

impl std::fmt::Display for ConnectPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectPhase::Resolving => "resolving the host name",
            ConnectPhase::Connecting => "connecting over TCP",
            ConnectPhase::Tls => "in the TLS handshake",
            ConnectPhase::Handshake => "waiting for the server's handshake response",
        })
    }
}

impl ConnectError {
    /// The phase the connection failed in (`None` for an invalid request, which fails at once).
    pub fn phase(&self) -> Option<ConnectPhase> {
        match self {
            ConnectError::Request(_) => None,
            ConnectError::Resolve { .. } => Some(ConnectPhase::Resolving),
            ConnectError::Io { phase, .. } => Some(*phase),
            ConnectError::Handshake(_) => Some(ConnectPhase::Handshake),
            #[cfg(feature = "tls")]
            ConnectError::Tls { .. } => Some(ConnectPhase::Tls),
            ConnectError::Timeout { phase, .. } => Some(*phase),
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Request(e) => write!(f, "invalid request: {e}"),
            ConnectError::Resolve { host, error } => write!(f, "cannot resolve {host}: {error}"),
            ConnectError::Io { phase: ConnectPhase::Connecting, error } => write!(f, "connection failed: {error}"),
            ConnectError::Io { phase, error } => write!(f, "connection failed {phase}: {error}"),
            ConnectError::Handshake(e) => write!(f, "handshake failed: {e}"),
            #[cfg(feature = "tls")]
            ConnectError::Tls { description, .. } => write!(f, "TLS handshake failed: {description}"),
            ConnectError::Timeout { phase, after } => {
                write!(f, "timed out after {} ms {phase}", after.as_millis())
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// The application's side of the event loop. Every method has a default, so a handler implements
/// only what it needs. Each gets a [`Ctx`] to send, broadcast, close, connect or shut down.
#[allow(unused_variables)]
pub trait Handler {
    /// A valid WebSocket request arrived: accept it (default, no subprotocol) or reject it.
    fn on_request(&mut self, ctx: &mut Ctx<'_>, id: ConnId, request: &Request) -> Decision {
        Decision::Accept(Accept::new())
    }

    /// A plain HTTP `GET` without `Upgrade` arrived for `path`: answer it with a page (a
    /// [`Reject`] with status 200 and a body), or `None` for the default 400.
    fn on_http(&mut self, ctx: &mut Ctx<'_>, path: &str) -> Option<Reject> {
        None
    }

    /// A connection is established (either role).
    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {}

    /// A complete message arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {}

    /// Any other event: streamed fragments, pings and pongs, a received Close, `Writable`.
    fn on_event(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {}

    /// The connection ended; `closed` says why and what was left unsent. Called exactly once per
    /// opened connection. [`Ctx::connection`](crate::Ctx::connection) still gives it during this
    /// call (its final [`stats`](sansio_ws::connection::Connection::stats), for a log line), not after.
    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {}

    /// The application timer of connection `id` ([`Ctx::set_timer`](crate::Ctx::set_timer)) is
    /// due. It fires once; set it again from here for a periodic task.
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {}

    /// An outgoing connection failed before it opened.
    fn on_connect_error(&mut self, ctx: &mut Ctx<'_>, id: ConnId, error: ConnectError) {}

    /// The connections together held more than [`DriverConfig::memory_budget`](crate::DriverConfig::memory_budget)
    /// for longer than its grace, and this one, among the largest holders, has been sent
    /// `1013 Try Again Later` to bring them back under it. `held` is what it held (bytes queued
    /// for sending and of its peer's data). [`on_close`](Self::on_close) follows when its close
    /// handshake ends.
    fn on_memory_budget(&mut self, ctx: &mut Ctx<'_>, id: ConnId, held: usize) {}

    /// Accepting a connection failed: out of file descriptors (`EMFILE`), or memory. The
    /// connections waiting stay in the listen backlog; the loop tries again after a short delay,
    /// doubling while it lasts, and accepts them once it can. Called once per episode (the count
    /// is in [`Metrics`](crate::Metrics)).
    fn on_accept_error(&mut self, ctx: &mut Ctx<'_>, error: &std::io::Error) {}

    /// A send made through a [`Handle`](crate::Handle) was refused (backpressure, or the
    /// connection is closing); the message comes back here rather than being dropped.
    fn on_send_refused(&mut self, ctx: &mut Ctx<'_>, id: ConnId, refused: SendError<Message>) {}
}

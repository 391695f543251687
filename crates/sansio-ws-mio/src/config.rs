//! Driver settings.

use std::time::Duration;

use sansio_ws::connection::Config;
use sansio_ws::handshake::{ClientConfig, ServerConfig};

/// Settings of an [`EventLoop`](crate::EventLoop). What the protocol decides is set in the core's
/// configurations it holds: the handshake timeout and permessage-deflate in
/// [`server`](Self::server) and [`client`](Self::client), limits and timers in
/// [`connection`](Self::connection).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Settings of every established connection (limits, heartbeat, timeouts).
    pub connection: Config,
    /// Handshake settings for accepted connections: head limits, origin policy, permessage-deflate
    /// and the handshake timeout (a client that connects and sends nothing, or a byte a minute, is
    /// answered `408` and dropped after it; default 10 s).
    pub server: ServerConfig,
    /// Default handshake settings for outgoing connections (permessage-deflate offer, handshake
    /// timeout counted from the start of the TCP connect).
    pub client: ClientConfig,
    /// Established connections at most: a request that completes its handshake while this many
    /// are open is answered `503 Service Unavailable` with a `Retry-After` of
    /// [`busy_retry_after`](Self::busy_retry_after), then closed. Sockets still in their
    /// handshake do not count (see [`max_handshakes`](Self::max_handshakes)). Default 10 000.
    pub max_connections: usize,
    /// Accepted sockets still in their opening handshake at most: when one more arrives, the
    /// oldest is closed, so peers that connect and send nothing (or a byte a minute) cannot lock
    /// real clients out. Default 1 024.
    pub max_handshakes: usize,
    /// The `Retry-After` of the `503` answered over [`max_connections`](Self::max_connections).
    /// Default 5 s.
    pub busy_retry_after: Duration,
    /// Bytes read per `read` call, into one buffer the event loop shares between its sockets.
    /// Default 64 KiB.
    pub read_size: usize,
    /// Bytes read from one connection per loop turn at most: past it the connection yields to the
    /// others and is read again on the next turn, so a peer that floods (Pings, or anything)
    /// delays only itself. Default 256 KiB (four reads of the default size).
    pub read_budget: usize,
    /// Bytes all established connections may hold together: what they queue for sending
    /// ([`Connection::buffered_amount`](sansio_ws::connection::Connection::buffered_amount)) and
    /// what they hold of their peers' data, partial messages included
    /// ([`Connection::buffered_input`](sansio_ws::connection::Connection::buffered_input)).
    /// Over it, a connection holding more than an even share of the budget or one
    /// [`read_size`](Self::read_size), whichever is less, is not read (TCP pushes back on its
    /// peer) until the total is back under seven eighths of the budget: the largest holders wait,
    /// connections between messages are still served, and the total passes the budget by about
    /// one read per connection at most. If the
    /// total is still over the budget (or connections are still paused and the total above seven
    /// eighths) after [`memory_grace`](Self::memory_grace), the largest holders are closed with
    /// `1013 Try Again Later` until the rest are under seven eighths, each reported to
    /// [`Handler::on_memory_budget`](crate::Handler::on_memory_budget). `usize::MAX` turns it off.
    /// Default 256 MiB. (A [`Server`](crate::Server) gives each loop an equal share of this, of
    /// [`max_connections`](Self::max_connections) and of [`max_handshakes`](Self::max_handshakes).)
    pub memory_budget: usize,
    /// How long the connections may stay over [`memory_budget`](Self::memory_budget) with the
    /// largest holders not read, before those are closed. Default 2 s.
    pub memory_grace: Duration,
    /// TLS settings of `wss://` connections (roots, client certificates, versions, ALPN): see
    /// [`tls::client_config`](crate::tls::client_config). `None`: Mozilla's roots
    /// ([`tls::webpki_roots`](crate::tls::webpki_roots)) with ALPN `http/1.1`.
    #[cfg(feature = "tls")]
    pub tls_client: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// After the final event, how long the socket is kept (write side shut) to read what the peer
    /// still sends, so that closing does not reset the connection under its last frames. Default 2 s.
    pub linger: Duration,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            connection: Config::default(),
            server: ServerConfig::default(),
            client: ClientConfig::default(),
            max_connections: 10_000,
            max_handshakes: 1_024,
            busy_retry_after: Duration::from_secs(5),
            read_size: 64 * 1024,
            read_budget: 256 * 1024,
            memory_budget: 256 * 1024 * 1024,
            memory_grace: Duration::from_secs(2),
            linger: Duration::from_secs(2),
            #[cfg(feature = "tls")]
            tls_client: None,
        }
    }
}

impl DriverConfig {
    /// Sets [`tls_client`](Self::tls_client).
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls_client(mut self, tls: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls_client = Some(tls);
        self
    }

    /// Sets [`connection`](Self::connection).
    #[must_use]
    pub fn with_connection(mut self, connection: Config) -> Self {
        self.connection = connection;
        self
    }

    /// Sets [`server`](Self::server).
    #[must_use]
    pub fn with_server(mut self, server: ServerConfig) -> Self {
        self.server = server;
        self
    }

    /// Sets [`client`](Self::client).
    #[must_use]
    pub fn with_client(mut self, client: ClientConfig) -> Self {
        self.client = client;
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    #[must_use]
    pub fn with_max_connections(mut self, max_connections: usize) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// Sets [`max_handshakes`](Self::max_handshakes).
    #[must_use]
    pub fn with_max_handshakes(mut self, max_handshakes: usize) -> Self {
        self.max_handshakes = max_handshakes;
        self
    }

    /// Sets [`busy_retry_after`](Self::busy_retry_after).
    #[must_use]
    pub fn with_busy_retry_after(mut self, busy_retry_after: Duration) -> Self {
        self.busy_retry_after = busy_retry_after;
        self
    }

    /// Sets [`read_size`](Self::read_size).
    #[must_use]
    pub fn with_read_size(mut self, read_size: usize) -> Self {
        self.read_size = read_size;
        self
    }

    /// Sets [`read_budget`](Self::read_budget).
    #[must_use]
    pub fn with_read_budget(mut self, read_budget: usize) -> Self {
        self.read_budget = read_budget;
        self
    }

    /// Sets [`memory_budget`](Self::memory_budget).
    #[must_use]
    pub fn with_memory_budget(mut self, memory_budget: usize) -> Self {
        self.memory_budget = memory_budget;
        self
    }

    /// Sets [`memory_grace`](Self::memory_grace).
    #[must_use]
    pub fn with_memory_grace(mut self, memory_grace: Duration) -> Self {
        self.memory_grace = memory_grace;
        self
    }

    /// Sets [`linger`](Self::linger).
    #[must_use]
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
}

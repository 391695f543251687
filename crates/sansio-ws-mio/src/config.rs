//! Driver settings.

use std::time::Duration;

use sansio_ws::connection::Config;
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::handshake::{ClientConfig, ServerConfig};

/// Settings of an [`EventLoop`](crate::EventLoop).
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// Settings of every established connection (limits, heartbeat, timeouts).
    pub connection: Config,
    /// Handshake settings for accepted connections (head limits, origin policy).
    pub server: ServerConfig,
    /// Default handshake settings for outgoing connections.
    pub client: ClientConfig,
    /// permessage-deflate (RFC 7692): offered by clients and accepted by servers with these
    /// settings. `None` turns it off. Default on.
    pub deflate: Option<DeflateConfig>,
    /// A connection that has not completed its opening handshake by then is dropped (a client that
    /// connects and sends nothing, or one byte a minute). Default 10 s.
    pub handshake_timeout: Duration,
    /// Accepted connections beyond this many open ones are closed at once. Default 10 000.
    pub max_connections: usize,
    /// Bytes read per `read` call, into one buffer the event loop shares between its sockets.
    /// Default 64 KiB.
    pub read_size: usize,
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
            deflate: Some(DeflateConfig::default()),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            read_size: 64 * 1024,
            linger: Duration::from_secs(2),
        }
    }
}

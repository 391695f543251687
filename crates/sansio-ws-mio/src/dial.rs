//! Outgoing connections before their handshake: the host name resolved off the loop's thread,
//! each address tried in turn, and how long each phase took.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use sansio_ws::Instant;
use sansio_ws::handshake::ClientHandshake;

use crate::handle::{Command, Handle};
use crate::handler::ConnId;
use crate::transport::Transport;

/// Host names resolved at once, at most, by one loop's helper threads.
const MAX_RESOLVERS: usize = 4;

/// An outgoing connection until its server's `101`: the handshake, the addresses left to try and
/// when each phase ended.
pub(crate) struct Dial {
    pub(crate) hs: ClientHandshake,
    /// The host name, as given in the URL (for the error messages).
    pub(crate) host: String,
    /// Addresses not tried yet, in the resolver's order.
    pub(crate) addrs: VecDeque<SocketAddr>,
    /// Addresses tried so far.
    pub(crate) attempts: usize,
    /// Why the last address tried failed, for the error if none is left.
    pub(crate) last_error: Option<io::Error>,
    pub(crate) started: Instant,
    pub(crate) resolved: Option<Instant>,
    pub(crate) connected: Option<Instant>,
    /// When the TLS handshake completed (`wss://`).
    pub(crate) secured: Option<Instant>,
    /// `wss://`: the TLS settings and the name to verify.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<(std::sync::Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
}

impl Dial {
    pub(crate) fn new(hs: ClientHandshake, now: Instant) -> Self {
        let host = hs.target().host().trim_start_matches('[').trim_end_matches(']').to_string();
        Dial {
            hs,
            host,
            addrs: VecDeque::new(),
            attempts: 0,
            last_error: None,
            started: now,
            resolved: None,
            connected: None,
            secured: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The transport of a socket just connected: a fresh TLS client for `wss://`.
    pub(crate) fn transport(&self, sock: mio::net::TcpStream) -> io::Result<Transport> {
        #[cfg(feature = "tls")]
        if let Some((config, name)) = &self.tls {
            let tls = rustls::ClientConnection::new(config.clone(), name.clone())
                .map_err(|e| io::Error::other(format!("cannot start TLS: {e}")))?;
            return Ok(Transport::tls(sock, tls.into()));
        }
        Ok(Transport::plain(sock))
    }

    /// The target's address when its host is an IP address literal (no lookup needed).
    pub(crate) fn literal(&self) -> Option<SocketAddr> {
        self.host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, self.hs.target().port()))
    }

    /// The phase timings, once the `101` arrived at `now`.
    pub(crate) fn timing(&self, now: Instant) -> ConnectTiming {
        let resolved = self.resolved.unwrap_or(self.started);
        let connected = self.connected.unwrap_or(resolved);
        let secured = self.secured.unwrap_or(connected);
        ConnectTiming {
            resolve: resolved.saturating_duration_since(self.started),
            connect: connected.saturating_duration_since(resolved),
            tls: secured.saturating_duration_since(connected),
            handshake: now.saturating_duration_since(secured),
            attempts: self.attempts,
        }
    }

    /// The error when every address has failed.
    pub(crate) fn exhausted(&mut self) -> io::Error {
        let last = self.last_error.take();
        let what = last.as_ref().map_or_else(|| "no address".to_string(), |e| e.to_string());
        let kind = last.map_or(io::ErrorKind::NotFound, |e| e.kind());
        let tried = match self.attempts {
            1 => "its address".to_string(),
            n => format!("all {n} of its addresses"),
        };
        io::Error::new(kind, format!("cannot connect to {} ({tried}): {what}", self.host))
    }
}

/// How long an outgoing connection's phases took ([`Opened::timing`](crate::Opened::timing)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectTiming {
    /// Resolving the host name, from the `connect` call (about zero for an IP address).
    pub resolve: Duration,
    /// Connecting over TCP, every address tried included.
    pub connect: Duration,
    /// The TLS handshake (zero for `ws://`).
    pub tls: Duration,
    /// From the TCP connection (or the end of the TLS handshake) to the server's `101`
    /// response: writing the request, the server's processing and one round trip.
    pub handshake: Duration,
    /// How many addresses were tried (the last one connected).
    pub attempts: usize,
}

impl ConnectTiming {
    /// The whole time from the `connect` call to the open connection.
    pub fn total(&self) -> Duration {
        self.resolve + self.connect + self.tls + self.handshake
    }
}

/// A host name to resolve for a connection.
struct Lookup {
    id: ConnId,
    host: String,
    port: u16,
    /// Where the answer goes: the loop's command channel, which wakes it.
    reply: Handle,
}

/// The receiving end of the lookup queue, which the threads take turns at.
type Shared = Arc<Mutex<mpsc::Receiver<Lookup>>>;

/// Resolves host names on helper threads, so that a slow name server never holds up the loop:
/// up to [`MAX_RESOLVERS`] threads, started when needed, each taking the next lookup from a shared
/// queue and handing the addresses back to the loop through its [`Handle`]. The threads end when
/// the loop (and this with it) is dropped.
#[derive(Default)]
pub(crate) struct Resolver {
    /// The queue, and its receiving end that the threads share: made with the first lookup.
    queue: Option<(mpsc::Sender<Lookup>, Shared)>,
    threads: usize,
    /// Threads waiting for a lookup.
    idle: Arc<AtomicUsize>,
}

impl Resolver {
    /// Starts resolving `host`; the answer comes back as [`Command::Resolved`].
    pub(crate) fn resolve(&mut self, id: ConnId, host: String, port: u16, reply: Handle) -> io::Result<()> {
        let (queue, shared) = self.queue.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel();
            (tx, Arc::new(Mutex::new(rx)))
        });
        if self.idle.load(Ordering::Acquire) == 0 && self.threads < MAX_RESOLVERS {
            let (shared, idle) = (shared.clone(), self.idle.clone());
            std::thread::Builder::new()
                .name("sansio-ws-resolver".into())
                .spawn(move || resolve_forever(&shared, &idle))?;
            self.threads += 1;
        }
        let lookup = Lookup { id, host, port, reply };
        queue.send(lookup).map_err(|_| io::Error::other("the resolver threads have stopped"))
    }
}

/// One helper thread: lookups until the queue closes.
fn resolve_forever(shared: &Mutex<mpsc::Receiver<Lookup>>, idle: &AtomicUsize) {
    loop {
        idle.fetch_add(1, Ordering::AcqRel);
        let next = shared.lock().map_or(None, |rx| rx.recv().ok());
        idle.fetch_sub(1, Ordering::AcqRel);
        let Some(Lookup { id, host, port, reply }) = next else { return };
        let result = (host.as_str(), port).to_socket_addrs().map(Iterator::collect);
        // The loop may have stopped meanwhile: then nobody waits for the answer.
        let _ = reply.command(Command::Resolved(id, result));
    }
}

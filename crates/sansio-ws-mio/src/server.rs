//! A server on every core: one event loop per thread, every loop accepting from one listening
//! socket, and a handle that reaches all of them.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sansio_ws::connection::{Message, PreparedMessage};
use sansio_ws::frame::CloseCode;

use crate::config::DriverConfig;
use crate::event_loop::{EventLoop, ShutdownReport};
use crate::handle::{Command, Handle, Stopped};
use crate::handler::{ConnId, Handler, LOOP_BITS};

/// Event loops on threads of their own, one per core by default, serving one address.
///
/// Every loop accepts from the same listening socket (through a descriptor of its own), so a new
/// connection goes to a loop that has time for it: a busy loop is not polling, and the others take
/// the connection first. A connection stays on the loop that accepted it, with that loop's timer
/// heap and read buffer; nothing is shared between loops but the listening socket and the
/// counter of connection ids. The server-wide limits of the configuration
/// ([`max_connections`](DriverConfig::max_connections),
/// [`max_handshakes`](DriverConfig::max_handshakes),
/// [`memory_budget`](DriverConfig::memory_budget)) are shared out equally: each loop applies its
/// share to its own connections. Each loop has a handler of its own, made by the closure given to
/// [`new`](Self::new); [`ServerHandle`] (also from [`Ctx::server`](crate::Ctx::server)) reaches a
/// connection on any loop and broadcasts to all of them.
///
/// ```no_run
/// use sansio_ws::connection::Message;
/// use sansio_ws_mio::{ConnId, Ctx, DriverConfig, Handler, Server};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
///         if let Err(refused) = ctx.send(id, message) {
///             eprintln!("{id}: echo refused: {refused}");
///         }
///     }
/// }
///
/// let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
/// let mut server = Server::new(DriverConfig::default(), threads, |_loop_index| Echo)?;
/// let addr = server.listen("127.0.0.1:9001".parse().unwrap())?;
/// println!("listening on ws://{addr} with {threads} loops");
/// let report = server.run()?; // until ServerHandle::shutdown (for instance on SIGTERM)
/// println!("{} connections closed cleanly, {} forced", report.clean, report.forced);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server<H> {
    loops: Vec<EventLoop<H>>,
    handle: ServerHandle,
}

impl<H: Handler + Send + 'static> Server<H> {
    /// `threads` event loops (at least one), each with the handler `handler(index)` makes and an
    /// equal share of the configuration's server-wide limits.
    pub fn new(config: DriverConfig, threads: usize, mut handler: impl FnMut(usize) -> H) -> io::Result<Self> {
        let threads = threads.clamp(1, 1 << LOOP_BITS);
        let mut per_loop = config.clone();
        per_loop.max_connections = config.max_connections.div_ceil(threads);
        per_loop.max_handshakes = config.max_handshakes.div_ceil(threads);
        if config.memory_budget != usize::MAX {
            per_loop.memory_budget = config.memory_budget / threads;
        }
        let mut loops = (0..threads)
            .map(|index| EventLoop::new(per_loop.clone(), handler(index)))
            .collect::<io::Result<Vec<_>>>()?;
        let handle = ServerHandle {
            inner: Arc::new(Inner {
                loops: loops.iter().map(EventLoop::handle).collect(),
                order: Mutex::new(()),
                frame_size: config.connection.send_frame_size,
            }),
        };
        let serials = Arc::new(AtomicU64::new(1));
        for (index, l) in loops.iter_mut().enumerate() {
            l.join_server(index, serials.clone(), handle.clone());
        }
        Ok(Server { loops, handle })
    }

    /// Binds `addr` and has every loop accept from it; returns the bound address.
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        self.listen_on(std::net::TcpListener::bind(addr)?)
    }

    /// Has every loop accept from a listener bound elsewhere (socket activation, a privileged
    /// port bound before dropping rights, port 0 bound by a test); returns its address.
    pub fn listen_on(&mut self, listener: std::net::TcpListener) -> io::Result<SocketAddr> {
        for l in &mut self.loops[1..] {
            l.listen_on(listener.try_clone()?)?;
        }
        self.loops[0].listen_on(listener)
    }

    /// Binds `addr` for `wss://` and has every loop accept from it with these TLS settings
    /// (e.g. [`tls::server_config`](crate::tls::server_config)); returns the bound address.
    #[cfg(feature = "tls")]
    pub fn listen_tls(
        &mut self,
        addr: SocketAddr,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<SocketAddr> {
        let listener = std::net::TcpListener::bind(addr)?;
        for l in &mut self.loops[1..] {
            l.listen_on_tls(listener.try_clone()?, config.clone())?;
        }
        self.loops[0].listen_on_tls(listener, config)
    }

    /// A thread-safe handle to every loop.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// The event loops, before [`run`](Self::run): to open client connections on one, or to
    /// reach its handler.
    pub fn loops_mut(&mut self) -> &mut [EventLoop<H>] {
        &mut self.loops
    }

    /// Runs every loop, the first on this thread and each other on a thread of its own, until a
    /// graceful shutdown ([`ServerHandle::shutdown`]) has finished on all of them; returns their
    /// reports summed. If a loop fails, the others are shut down at once and the error returned.
    pub fn run(self) -> io::Result<ShutdownReport> {
        let handle = self.handle;
        let mut loops = self.loops.into_iter();
        let mut first = loops.next().expect("a server has at least one loop");
        let mut threads = Vec::new();
        for (i, mut l) in loops.enumerate() {
            let spawned = thread::Builder::new().name(format!("ws-loop-{}", i + 1)).spawn(move || l.run());
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let _ = handle.shutdown(Duration::ZERO);
                    return Err(e);
                }
            }
        }
        let mut result = first.run();
        if result.is_err() {
            let _ = handle.shutdown(Duration::ZERO);
        }
        for t in threads {
            match t.join() {
                Ok(Ok(report)) => {
                    if let Ok(total) = result.as_mut() {
                        total.merge(&report);
                    }
                }
                Ok(Err(e)) => {
                    let _ = handle.shutdown(Duration::ZERO);
                    result = result.and(Err(e));
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        result
    }
}

/// Sends commands to every loop of a [`Server`] from any thread. Cheap to clone.
///
/// Broadcasts through it reach every connection of every loop **in one order**: each is framed
/// once, here, and handed to every loop under one lock, and a loop takes its commands in the order
/// they came. (A loop's own [`Ctx::broadcast`](crate::Ctx::broadcast) reaches that loop alone,
/// at once.)
#[derive(Clone, Debug)]
pub struct ServerHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    loops: Vec<Handle>,
    /// Held while a broadcast is handed to the loops, so that all get broadcasts in one order.
    order: Mutex<()>,
    frame_size: usize,
}

impl ServerHandle {
    /// How many loops the server runs.
    pub fn loops(&self) -> usize {
        self.inner.loops.len()
    }

    /// Every loop's counters and gauges as of its last turn, summed.
    pub fn metrics(&self) -> crate::Metrics {
        let mut total = crate::Metrics::default();
        for l in &self.inner.loops {
            total.merge(&l.metrics());
        }
        total
    }

    /// Each loop's counters and gauges as of its last turn.
    pub fn metrics_per_loop(&self) -> Vec<crate::Metrics> {
        self.inner.loops.iter().map(Handle::metrics).collect()
    }

    /// The handle of loop `index`.
    pub fn loop_handle(&self, index: usize) -> Option<&Handle> {
        self.inner.loops.get(index)
    }

    fn owner(&self, id: ConnId) -> Result<&Handle, Stopped> {
        self.inner.loops.get(id.loop_index()).ok_or(Stopped)
    }

    /// Queues `message` on connection `id`, whichever loop holds it. A refusal reaches that
    /// loop's [`Handler::on_send_refused`](crate::Handler::on_send_refused).
    pub fn send(&self, id: ConnId, message: Message) -> Result<(), Stopped> {
        self.owner(id)?.send(id, message)
    }

    /// Queues `message` on every open connection of every loop, framed once; every connection
    /// gets the broadcasts of this handle (and its clones) in the same order. Refusals reach each
    /// loop's [`Handler::on_send_refused`](crate::Handler::on_send_refused). `Stopped` if a loop
    /// has stopped (the others still get the message).
    pub fn broadcast(&self, message: Message) -> Result<(), Stopped> {
        let prepared = PreparedMessage::new(message, self.inner.frame_size);
        let _order = self.inner.order.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut result = Ok(());
        for l in &self.inner.loops {
            if l.command(Command::Broadcast(prepared.clone())).is_err() {
                result = Err(Stopped);
            }
        }
        result
    }

    /// Starts the close handshake of connection `id`.
    pub fn close(&self, id: ConnId, code: CloseCode, reason: &str) -> Result<(), Stopped> {
        self.owner(id)?.close(id, code, reason)
    }

    /// Pauses (`false`) or resumes (`true`) reading connection `id`.
    pub fn set_reading(&self, id: ConnId, reading: bool) -> Result<(), Stopped> {
        self.owner(id)?.set_reading(id, reading)
    }

    /// Shuts every loop down gracefully: each answers new requests `503`, closes its connections
    /// with 1001 after their queued messages, waits for the close handshakes up to `grace`, then
    /// force-closes the rest. `Stopped` if a loop had stopped already.
    pub fn shutdown(&self, grace: Duration) -> Result<(), Stopped> {
        let mut result = Ok(());
        for l in &self.inner.loops {
            if l.shutdown(grace).is_err() {
                result = Err(Stopped);
            }
        }
        result
    }
}

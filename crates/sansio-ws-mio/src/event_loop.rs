//! The event loop: one mio `Poll`, a listener, many connections of either role, one timer heap.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use sansio_ws::connection::{CloseCause, Closed, Connection, Event, Message, PreparedMessage, State};
use sansio_ws::error::{SendError, SendErrorKind, UsageError};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{
    ClientConfig, ClientHandshake, ClientHandshakeError, HandshakeError, Reject, Request, ServerHandshake, Upgraded,
};

use crate::dial::{ConnectTiming, Dial, Resolver};
use sansio_ws::{Instant, Role};

use crate::clock::Clock;
use crate::config::DriverConfig;
use crate::handle::{Command, Handle};
use crate::handler::{ConnId, ConnectError, ConnectPhase, Decision, Handler, LOOP_BITS, Opened};
use crate::log::report;
use crate::metrics::Metrics;
use crate::server::ServerHandle;
use crate::slot::{Paused, Slot, Stage};
use crate::timers::Timers;
use crate::transport::{Incoming, Transport};

const LISTENER: Token = Token(usize::MAX - 1);
/// The first delay before accepting again after running out of descriptors, and the longest.
const ACCEPT_RETRY_MIN: Duration = Duration::from_millis(10);
const ACCEPT_RETRY_MAX: Duration = Duration::from_millis(500);
/// The reason of the Close 1001 a graceful shutdown sends.
const SHUTDOWN_REASON: &str = "server shutting down";
const WAKER: Token = Token(usize::MAX - 2);

/// How a graceful shutdown went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections that completed the close handshake.
    pub clean: usize,
    /// Connections force-closed when the grace period ran out.
    pub forced: usize,
    /// Connections that ended otherwise meanwhile (the peer vanished, a protocol error…).
    pub other: usize,
    /// Handshakes in progress that were dropped.
    pub handshakes_dropped: usize,
    /// Output bytes that force-closed connections never wrote.
    pub unsent_bytes: u64,
    /// Messages (or parts of them) that force-closed connections never wrote.
    pub unsent_messages: u64,
    /// Requests answered `503` while draining.
    pub refused_draining: usize,
}

impl ShutdownReport {
    /// Adds `other`'s counts to these (a server sums its loops' reports).
    pub fn merge(&mut self, other: &ShutdownReport) {
        self.clean += other.clean;
        self.forced += other.forced;
        self.other += other.other;
        self.handshakes_dropped += other.handshakes_dropped;
        self.unsent_bytes += other.unsent_bytes;
        self.unsent_messages += other.unsent_messages;
        self.refused_draining += other.refused_draining;
    }
}

#[derive(Debug)]
struct ShutdownState {
    deadline: Instant,
    report: ShutdownReport,
}

/// The result of a broadcast.
#[derive(Debug, Default)]
pub struct Broadcast {
    /// Connections the message was queued on.
    pub sent: usize,
    /// Connections that refused it (backpressure or closing).
    pub refused: Vec<ConnId>,
}

/// Everything but the handler, so that the handler can be called with a [`Ctx`] over it.
pub(crate) struct Core {
    poll: Poll,
    clock: Clock,
    now: Instant,
    config: DriverConfig,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    /// Where serial numbers of connection ids come from: shared by a server's loops.
    serials: Arc<AtomicU64>,
    /// This loop's index in its server (0 alone).
    loop_index: usize,
    /// The server this loop belongs to, if any.
    server: Option<ServerHandle>,
    timers: Timers,
    listener: Option<TcpListener>,
    commands: mpsc::Receiver<Command>,
    handle: Handle,
    /// Slots touched by the application, to be flushed.
    dirty: Vec<usize>,
    /// Slots with unread bytes and reading allowed: read on the next turn, without waiting for a
    /// readiness event (which edge-triggered polling would not send again).
    resume: Vec<usize>,
    /// Established connections.
    open: usize,
    /// Accepted sockets in their opening handshake, oldest first (entries whose slot has moved on
    /// are pruned when counted).
    handshakes: VecDeque<ConnId>,
    /// Sockets held (every stage): counted, not looked for.
    live: usize,
    /// Accepting failed for want of descriptors: when to try again, and the delay used.
    accept_retry: Option<(Instant, Duration)>,
    /// What the established connections hold together (the sum of every slot's `held`).
    held: usize,
    /// Since when the connections hold more than the memory budget.
    over_budget_since: Option<Instant>,
    /// Connections not read because of the memory budget, resumed once under it again.
    budget_paused: Vec<ConnId>,
    /// Counted here, by this loop's thread alone.
    metrics: Metrics,
    /// The snapshot other threads read ([`Handle::metrics`]), refreshed every turn.
    published: Arc<std::sync::Mutex<Metrics>>,
    shutdown: Option<ShutdownState>,
    /// Host names of outgoing connections are resolved on its threads.
    resolver: Resolver,
    /// The listener's TLS settings: accepted sockets speak TLS.
    #[cfg(feature = "tls")]
    tls_server: Option<Arc<rustls::ServerConfig>>,
    /// TLS settings of `wss://` connections, made from the defaults on first use.
    #[cfg(feature = "tls")]
    tls_client: Option<Arc<rustls::ClientConfig>>,
}

/// What the handler may do: a view of the event loop during a callback.
pub struct Ctx<'a> {
    core: &'a mut Core,
}

impl Ctx<'_> {
    /// The time of the current loop turn.
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// Queues a message on connection `id`; a refusal hands it back.
    pub fn send(&mut self, id: ConnId, message: Message) -> Result<(), SendError<Message>> {
        let Some(conn) = self.core.conn_mut(id) else {
            return Err(SendError::new(SendErrorKind::Usage(UsageError::Closed), message));
        };
        conn.send(message)?;
        self.core.metrics.messages_queued += 1;
        self.core.dirty.push(id.slot);
        Ok(())
    }

    /// Queues a text message on connection `id`.
    pub fn send_text(&mut self, id: ConnId, text: &str) -> Result<(), SendError<Message>> {
        self.send(id, Message::Text(text.into()))
    }

    /// Queues `message` on every open connection of this loop, framed once. (Every loop of a
    /// server: [`ServerHandle::broadcast`], through [`server`](Self::server).)
    pub fn broadcast(&mut self, message: &Message) -> Broadcast {
        let prepared = PreparedMessage::new(message.clone(), self.core.config.connection.send_frame_size);
        self.broadcast_prepared(&prepared)
    }

    /// Queues a message framed beforehand on every open connection of this loop.
    pub fn broadcast_prepared(&mut self, prepared: &PreparedMessage) -> Broadcast {
        let mut result = Broadcast::default();
        for slot in 0..self.core.slots.len() {
            let Some(s) = self.core.slots[slot].as_mut() else { continue };
            let id = ConnId { slot, generation: s.generation };
            let Stage::Open(conn) = &mut s.stage else { continue };
            if conn.state() != State::Open {
                continue;
            }
            match conn.send_prepared(prepared) {
                Ok(()) => {
                    result.sent += 1;
                    self.core.metrics.messages_queued += 1;
                    self.core.dirty.push(slot);
                }
                Err(_) => result.refused.push(id),
            }
        }
        result
    }

    /// Starts the close handshake of connection `id`.
    pub fn close(&mut self, id: ConnId, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        let now = self.core.now;
        let conn = self.core.conn_mut(id).ok_or(UsageError::Closed)?;
        conn.close(now, code, reason)?;
        self.core.dirty.push(id.slot);
        Ok(())
    }

    /// Pauses (`false`) or resumes (`true`) reading connection `id`. While paused nothing is read
    /// from its socket, so TCP pushes back on the peer (its sends block) and the connection's
    /// memory does not grow: for an application that cannot keep up with this peer (a consumer
    /// that is slow, a queue of its own that is full). The driver also pauses an accepted
    /// connection by itself while its send queue is above the high-water mark, and resumes it once
    /// the queue is at the low-water mark; reading goes on when neither pause holds. Whether it took effect:
    /// `false` when `id` is not an established connection.
    pub fn set_reading(&mut self, id: ConnId, reading: bool) -> bool {
        let Some(s) = self.core.slot_mut(id) else { return false };
        if !matches!(s.stage, Stage::Open(_)) {
            return false;
        }
        s.paused.by_app = !reading;
        if reading && s.unread && !s.paused.any() {
            self.core.resume.push(id.slot);
        }
        true
    }

    /// Sets the application timer of connection `id` to `at` (replacing any earlier setting):
    /// [`Handler::on_timer`] is called once at that time, on this loop's thread, with no other
    /// thread or clock of the application's own. For periodic work set it again from there.
    /// Returns `false` (and sets nothing) when `id` is not an established connection; the timer
    /// goes with the connection when it ends.
    pub fn set_timer(&mut self, id: ConnId, at: Instant) -> bool {
        let Some(s) = self.core.slot_mut(id) else { return false };
        if !matches!(s.stage, Stage::Open(_)) {
            return false;
        }
        s.app_timer = Some(at);
        self.core.reschedule(id.slot);
        true
    }

    /// Cancels the application timer of connection `id`; returns whether one was set.
    pub fn clear_timer(&mut self, id: ConnId) -> bool {
        self.core.slot_mut(id).and_then(|s| s.app_timer.take()).is_some()
    }

    /// What the TLS handshake of `id` agreed (the server name the client asked for, ALPN, version,
    /// cipher suite), from [`Handler::on_request`] on: `None` for a plain connection, or before
    /// the TLS handshake is complete.
    pub fn tls_info(&self, id: ConnId) -> Option<crate::TlsInfo> {
        self.core.slots.get(id.slot)?.as_ref().filter(|s| s.generation == id.generation)?.tls_info()
    }

    /// The connection `id`, while it is established.
    pub fn connection(&self, id: ConnId) -> Option<&Connection> {
        match &self.core.slots.get(id.slot)?.as_ref().filter(|s| s.generation == id.generation)?.stage {
            Stage::Open(conn) => Some(conn),
            _ => None,
        }
    }

    /// The connection `id`, mutably, for everything else the core offers (streamed fragments,
    /// pings, statistics). Its output is written when the callback returns.
    pub fn connection_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        self.core.dirty.push(id.slot);
        self.core.conn_mut(id)
    }

    /// The established connections.
    pub fn connections(&self) -> Vec<ConnId> {
        self.core.open_ids()
    }

    /// How many connections are established.
    pub fn open_count(&self) -> usize {
        self.core.open
    }

    /// The loop's counters and gauges, as of now.
    pub fn metrics(&self) -> Metrics {
        self.core.snapshot()
    }

    /// Opens a connection to `url` (`ws://host:port/path`) with the loop's client settings.
    pub fn connect(&mut self, url: &str) -> Result<ConnId, ConnectError> {
        let config = self.core.config.client.clone();
        self.core.connect(url, config, None)
    }

    /// Opens a connection to `url` with these handshake settings.
    pub fn connect_with(&mut self, url: &str, config: ClientConfig) -> Result<ConnId, ConnectError> {
        self.core.connect(url, config, None)
    }

    /// Opens a connection to `url` at these addresses, without resolving its host (which still
    /// goes in the `Host` header): each is tried in turn, as a resolved host's addresses are. For
    /// a host reached at an address of the application's choosing (a resolver of its own, a
    /// test, a server behind a name not yet in DNS).
    pub fn connect_to(
        &mut self,
        url: &str,
        config: ClientConfig,
        addrs: &[SocketAddr],
    ) -> Result<ConnId, ConnectError> {
        self.core.connect(url, config, Some(addrs))
    }

    /// Starts a graceful shutdown with this grace period.
    pub fn shutdown(&mut self, grace: Duration) {
        self.core.start_shutdown(grace);
    }

    /// A thread-safe handle to this loop.
    pub fn handle(&self) -> Handle {
        self.core.handle.clone()
    }

    /// The server this loop is part of (`None` for an [`EventLoop`] run alone): to send to a
    /// connection of another loop, or to broadcast to every loop in one order.
    pub fn server(&self) -> Option<&ServerHandle> {
        self.core.server.as_ref()
    }
}

/// A mio event loop driving WebSocket connections of both roles for one [`Handler`].
///
/// ```no_run
/// use sansio_ws::connection::Message;
/// use sansio_ws_mio::{ConnId, Ctx, DriverConfig, EventLoop, Handler};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
///         if let Err(refused) = ctx.send(id, message) {
///             // Backpressure: this peer is not reading its echoes. Nothing is dropped silently.
///             eprintln!("{id}: echo refused ({refused}), closing");
///             if let Err(e) = ctx.close(id, sansio_ws::frame::CloseCode::POLICY_VIOLATION, "not reading") {
///                 eprintln!("{id}: close refused: {e}");
///             }
///         }
///     }
/// }
///
/// let mut event_loop = EventLoop::new(DriverConfig::default(), Echo)?;
/// let addr = event_loop.listen("127.0.0.1:9001".parse().unwrap())?;
/// println!("listening on ws://{addr}");
/// event_loop.run()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop<H> {
    core: Core,
    handler: H,
    events: Events,
    scratch: Vec<u8>,
    /// The events of one poll, reused.
    ready: Vec<(Token, Readiness)>,
}

impl<H: Handler> EventLoop<H> {
    /// A loop with no listener and no connection yet.
    pub fn new(config: DriverConfig, handler: H) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, commands) = mpsc::channel();
        let clock = Clock::new();
        // One read buffer for every socket of the loop: the handshake reads into it, and an open
        // connection copies out only what it keeps. Idle connections hold no read buffer.
        let scratch = vec![0; config.read_size.max(1024)];
        let frame_size = config.connection.send_frame_size;
        let published = Arc::new(std::sync::Mutex::new(Metrics::default()));
        let core = Core {
            now: clock.now(),
            clock,
            poll,
            config,
            slots: Vec::new(),
            free: Vec::new(),
            serials: Arc::new(AtomicU64::new(1)),
            loop_index: 0,
            server: None,
            timers: Timers::default(),
            listener: None,
            commands,
            handle: Handle { tx, waker, frame_size, metrics: published.clone() },
            dirty: Vec::new(),
            resume: Vec::new(),
            open: 0,
            handshakes: VecDeque::new(),
            live: 0,
            accept_retry: None,
            held: 0,
            over_budget_since: None,
            budget_paused: Vec::new(),
            metrics: Metrics::default(),
            published: published.clone(),
            shutdown: None,
            resolver: Resolver::default(),
            #[cfg(feature = "tls")]
            tls_server: None,
            #[cfg(feature = "tls")]
            tls_client: None,
        };
        Ok(EventLoop { core, handler, events: Events::with_capacity(1024), scratch, ready: Vec::new() })
    }

    /// Listens on `addr` and returns the bound address (useful with port 0).
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        self.listen_with(TcpListener::bind(addr)?)
    }

    /// Accepts on a listener bound elsewhere: handed over by a service manager (socket
    /// activation), bound to a privileged port before dropping rights, or bound to port 0 by a
    /// test that needs the address first. It is made non-blocking. Returns its address.
    pub fn listen_on(&mut self, listener: std::net::TcpListener) -> io::Result<SocketAddr> {
        listener.set_nonblocking(true)?;
        self.listen_with(TcpListener::from_std(listener))
    }

    /// Listens on `addr` for `wss://`: every accepted socket speaks TLS with these settings (for
    /// instance [`tls::server_config`](crate::tls::server_config)). Returns the bound address.
    #[cfg(feature = "tls")]
    pub fn listen_tls(&mut self, addr: SocketAddr, config: Arc<rustls::ServerConfig>) -> io::Result<SocketAddr> {
        let local = self.listen_with(TcpListener::bind(addr)?)?;
        self.core.tls_server = Some(config);
        Ok(local)
    }

    /// [`listen_on`](Self::listen_on) for `wss://`.
    #[cfg(feature = "tls")]
    pub fn listen_on_tls(
        &mut self,
        listener: std::net::TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<SocketAddr> {
        let local = self.listen_on(listener)?;
        self.core.tls_server = Some(config);
        Ok(local)
    }

    fn listen_with(&mut self, mut listener: TcpListener) -> io::Result<SocketAddr> {
        #[cfg(feature = "tls")]
        {
            self.core.tls_server = None;
        }
        self.core.poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let local = listener.local_addr()?;
        if let Some(mut old) = self.core.listener.replace(listener) {
            let _ = self.core.poll.registry().deregister(&mut old);
        }
        Ok(local)
    }

    /// Makes this loop number `index` of a server: connection ids come from `serials`, shared
    /// by the loops, and carry `index`.
    pub(crate) fn join_server(&mut self, index: usize, serials: Arc<AtomicU64>, server: ServerHandle) {
        self.core.loop_index = index;
        self.core.serials = serials;
        self.core.server = Some(server);
    }

    /// Opens a connection to `url` with the loop's client settings. Its timeout and timings count
    /// from now (not from the loop's last turn).
    pub fn connect(&mut self, url: &str) -> Result<ConnId, ConnectError> {
        self.core.now = self.core.clock.now();
        let config = self.core.config.client.clone();
        self.core.connect(url, config, None)
    }

    /// A thread-safe handle to this loop.
    pub fn handle(&self) -> Handle {
        self.core.handle.clone()
    }

    /// The loop's counters and gauges, as of now.
    pub fn metrics(&self) -> Metrics {
        self.core.snapshot()
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Runs `f` with the handler and a [`Ctx`], outside any callback (between turns, from the
    /// thread that owns the loop): to send, connect or close on the application's own schedule.
    /// What it queues is written before this returns, as far as the sockets take it.
    pub fn with_ctx<R>(&mut self, f: impl FnOnce(&mut H, &mut Ctx<'_>) -> R) -> R {
        self.core.now = self.core.clock.now();
        let (handler, mut ctx) = self.ctx();
        let result = f(handler, &mut ctx);
        self.settle_dirty();
        result
    }

    /// Runs until a graceful shutdown completes, or (with no listener) until no connection is left.
    pub fn run(&mut self) -> io::Result<ShutdownReport> {
        loop {
            if let Some(report) = self.finished() {
                return Ok(report);
            }
            self.turn(None)?;
        }
    }

    /// One turn: wait for readiness or the next deadline (at most `max_wait`), then handle all of it.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<()> {
        let now = self.core.clock.now();
        let grace_end = self.core.over_budget_since.map(|since| since + self.core.config.memory_grace);
        let next = self
            .core
            .timers
            .next()
            .into_iter()
            .chain(self.core.shutdown.as_ref().map(|s| s.deadline))
            .chain(grace_end)
            .chain(self.core.accept_retry.map(|(at, _)| at))
            .min();
        let until_timer = next.map(|t| self.core.clock.until(now, t));
        let mut wait = match (until_timer, max_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Connections left unread by the last turn's budget go on in this one, after the new
        // events; those that use up their budget in this turn wait for the next.
        let resume = std::mem::take(&mut self.core.resume);
        if !resume.is_empty() {
            wait = Some(Duration::ZERO);
        }
        if let Err(e) = self.core.poll.poll(&mut self.events, wait) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        self.core.now = self.core.clock.now();
        let mut ready = std::mem::take(&mut self.ready);
        ready.extend(self.events.iter().map(|e| {
            let closed = e.is_read_closed() || e.is_error();
            (e.token(), Readiness { readable: e.is_readable() || closed, writable: e.is_writable(), closed })
        }));
        for &(token, readiness) in &ready {
            match token {
                LISTENER => self.accept_all(),
                WAKER => self.run_commands(),
                Token(slot) => self.service(slot, readiness),
            }
            self.settle_dirty();
        }
        ready.clear();
        self.ready = ready;
        self.read_resumed(resume);
        let now = self.core.now;
        while let Some((at, slot, generation)) = self.core.timers.pop_due(now) {
            self.on_timer(slot, generation, at);
            self.settle_dirty();
        }
        if self.core.accept_retry.is_some_and(|(at, _)| at <= now) {
            self.accept_all();
            self.settle_dirty();
        }
        self.enforce_budget();
        self.check_shutdown();
        self.core.publish();
        Ok(())
    }

    fn ctx(&mut self) -> (&mut H, Ctx<'_>) {
        (&mut self.handler, Ctx { core: &mut self.core })
    }

    /// The loop is done: returns the report.
    fn finished(&mut self) -> Option<ShutdownReport> {
        if self.core.shutdown.is_some() {
            // Draining: done once only requests still arriving are left (they are dropped).
            if self.core.live != self.core.handshaking() {
                return None;
            }
            self.core.close_listener();
            for slot in 0..self.core.slots.len() {
                if self.core.slots[slot].is_some() {
                    self.core.remove(slot);
                    if let Some(sd) = self.core.shutdown.as_mut() {
                        sd.report.handshakes_dropped += 1;
                    }
                }
            }
            return self.core.shutdown.as_ref().map(|s| s.report);
        }
        (self.core.live == 0 && self.core.listener.is_none()).then(ShutdownReport::default)
    }

    /// How many sockets the loop holds: connections, handshakes, and sockets lingering after their
    /// connection ended (reading the peer's last bytes). Zero when every socket is finished.
    pub fn sockets(&self) -> usize {
        self.core.live
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = self.core.listener.as_ref() else { return };
            match listener.accept() {
                Ok((sock, peer)) => {
                    self.core.metrics.accepted += 1;
                    // Handshake slots are bounded apart from connections: the oldest makes room.
                    if self.core.handshaking() >= self.core.config.max_handshakes.max(1) {
                        if let Some(oldest) = self.core.handshakes.pop_front() {
                            self.core.remove(oldest.slot);
                            self.core.metrics.handshakes_evicted += 1;
                        }
                    }
                    let _ = sock.set_nodelay(true);
                    let now = self.core.now;
                    let hs = ServerHandshake::new(self.core.config.server.clone(), now);
                    // A refusal of this request must be written by the same deadline.
                    let deadline = now + self.core.config.server.timeout;
                    let stage = Stage::AwaitRequest(Box::new(hs));
                    let Some(io) = self.core.accepted(sock, peer) else { continue };
                    if let Ok(slot) = self.core.insert(Some(io), peer, stage, deadline, false) {
                        if let Some(generation) = self.core.slots[slot].as_ref().map(|s| s.generation) {
                            self.core.handshakes.push_back(ConnId { slot, generation });
                        }
                        self.core.reschedule(slot);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.core.accept_retry = None;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A connection reset or aborted before it was accepted: on to the next.
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => {}
                Err(e) => {
                    // Out of descriptors (or memory). The connections waiting stay in the listen
                    // backlog, and no readiness event will tell of them again: try again after a
                    // delay that doubles while this lasts (10 ms up to 500 ms), so they are
                    // accepted soon after descriptors free up.
                    let first = self.core.accept_retry.is_none();
                    let delay = self.core.accept_retry.map_or(ACCEPT_RETRY_MIN, |(_, d)| (d * 2).min(ACCEPT_RETRY_MAX));
                    self.core.accept_retry = Some((self.core.now + delay, delay));
                    if out_of_descriptors(&e) {
                        self.core.metrics.accept_out_of_descriptors += 1;
                    } else {
                        self.core.metrics.accept_errors_other += 1;
                    }
                    if first {
                        report!(warn, "cannot accept connections: {e}; retrying while it lasts");
                        let (handler, mut ctx) = self.ctx();
                        handler.on_accept_error(&mut ctx, &e);
                    }
                    return;
                }
            }
        }
    }

    fn run_commands(&mut self) {
        while let Ok(command) = self.core.commands.try_recv() {
            let (handler, mut ctx) = self.ctx();
            match command {
                Command::Send(id, message) => {
                    if let Err(refused) = ctx.send(id, message) {
                        handler.on_send_refused(&mut ctx, id, refused);
                    }
                }
                Command::Broadcast(prepared) => {
                    let result = ctx.broadcast_prepared(&prepared);
                    for id in result.refused {
                        let refused = SendError::new(SendErrorKind::Backpressure, prepared.message().clone());
                        handler.on_send_refused(&mut ctx, id, refused);
                    }
                }
                Command::Close(id, code, reason) => {
                    let _ = ctx.close(id, code, &reason);
                }
                Command::SetReading(id, reading) => {
                    ctx.set_reading(id, reading);
                }
                Command::Shutdown(grace) => ctx.shutdown(grace),
                Command::Resolved(id, addrs) => self.resolved(id, addrs),
            }
            self.settle_dirty();
        }
    }

    /// Readiness on a connection's socket.
    fn service(&mut self, slot: usize, readiness: Readiness) {
        let now = self.core.now;
        let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        if let Stage::Connecting(_) = s.stage {
            match s.io.as_ref().and_then(|io| connect_result(&io.sock)) {
                None => return,
                Some(Ok(())) => {
                    let Stage::Connecting(mut dial) = std::mem::replace(&mut s.stage, Stage::Lingering) else { return };
                    dial.connected = Some(now);
                    dial.hs.write_request(&mut s.pending);
                    s.stage = Stage::AwaitResponse(dial);
                }
                Some(Err(e)) => {
                    // This address refused: the next one, if any.
                    if let Stage::Connecting(dial) = &mut s.stage {
                        dial.last_error = Some(e);
                    }
                    return self.dial_next(slot);
                }
            }
        }
        s.peer_closed |= readiness.closed;
        if readiness.readable || readiness.writable {
            self.read_all(slot, now);
        }
        self.settle(slot);
    }

    /// Reads, for one budget each, the connections the last turn left with unread bytes (those
    /// that had a readiness event in this turn have been read already, and are skipped).
    fn read_resumed(&mut self, mut resume: Vec<usize>) {
        let now = self.core.now;
        resume.sort_unstable();
        resume.dedup();
        for &slot in &resume {
            let Some(s) = self.core.slots.get(slot).and_then(Option::as_ref) else { continue };
            if s.unread && !s.paused.any() && !self.core.resume.contains(&slot) {
                self.read_all(slot, now);
                self.settle(slot);
                self.settle_dirty();
            }
        }
    }

    /// Reads until the socket is drained, acting on each piece as it comes, within the turn's
    /// read budget and unless reading is paused. A read that returns less than the buffer's size
    /// has drained the socket (readiness is edge-triggered: new data raises a new event), so no
    /// further read is made just to see it would block, unless the peer has closed its side: then
    /// reading goes on to the end of the stream. Stopping early (budget, pause) marks the socket
    /// as holding unread bytes, to be read on a later turn.
    fn read_all(&mut self, slot: usize, now: Instant) {
        let budget = self.core.config.read_budget.max(1);
        let (high, low) = (self.core.config.connection.high_water_mark, self.core.config.connection.low_water_mark);
        let mut taken = 0;
        loop {
            let over_budget = self.core.held > self.core.config.memory_budget;
            let share = self.core.read_allowance();
            let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return };
            s.unread = false;
            if let Stage::Open(conn) = &s.stage {
                // The peer does not read what we send: stop reading it until the queue drains.
                // Accepted connections only: an outgoing one always reads, so that two ends of this
                // driver with full queues cannot both stop reading and wait on each other.
                if conn.role() == Role::Server && conn.buffered_amount() > high.max(low) {
                    s.paused.by_backpressure = true;
                }
            }
            if over_budget && !s.paused.by_budget && s.held > share {
                // The connections hold more than the budget, this one more than its share.
                s.paused.by_budget = true;
                self.core.budget_paused.push(ConnId { slot, generation: s.generation });
                self.core.metrics.budget_pauses += 1;
            }
            if s.paused.any() || taken >= budget {
                s.unread = true;
                if !s.paused.any() {
                    self.core.resume.push(slot);
                }
                return;
            }
            let raw_before = s.io.as_ref().map_or(0, |io| io.raw_read);
            let got = s.read_step(now, &mut self.scratch);
            let n = if let Incoming::Data(n) = got { n } else { 0 };
            let raw = s.io.as_ref().map_or(0, |io| io.raw_read) - raw_before;
            let (closed, short_drains) = (s.peer_closed, s.short_read_drains());
            if let (Stage::AwaitResponse(dial), Some(io)) = (&mut s.stage, s.io.as_ref()) {
                if dial.secured.is_none() && !io.is_handshaking() {
                    dial.secured = Some(now);
                }
            }
            taken += n.max(usize::try_from(raw).unwrap_or(usize::MAX));
            self.core.metrics.bytes_read += raw;
            match got {
                Incoming::Data(n) => self.on_read(slot, n),
                Incoming::WouldBlock => return,
                Incoming::Eof => return self.on_eof(slot, false),
                #[cfg(feature = "tls")]
                Incoming::Truncated => return self.on_eof(slot, true),
                #[cfg(feature = "tls")]
                Incoming::TlsFailed(e) => return self.on_tls_failed(slot, e),
            }
            self.dispatch(slot);
            self.core.account(slot);
            let drained = short_drains && n > 0 && n < self.scratch.len() && !closed;
            if drained || !self.core.slots.get(slot).is_some_and(Option::is_some) {
                return;
            }
        }
    }

    /// Bytes read into the scratch buffer (handshake stages) or the connection (open).
    fn on_read(&mut self, slot: usize, n: usize) {
        let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        let id = ConnId { slot, generation: s.generation };
        let peer = s.peer;
        let got = match &mut s.stage {
            Stage::AwaitRequest(hs) => match hs.handle_input(&self.scratch[..n]) {
                Ok(None) => return,
                Ok(Some(request)) => Got::Request(request),
                Err(e) => Got::BadRequest(e, hs.plain_http_path().map(String::from)),
            },
            Stage::AwaitResponse(dial) => match dial.hs.handle_input(&self.scratch[..n]) {
                Ok(None) => return,
                Ok(Some(upgraded)) => Got::Upgraded(upgraded, dial.hs.target().resource(), dial.timing(self.core.now)),
                Err(e) => Got::BadResponse(e),
            },
            // Open: the bytes are already in the connection. Rejecting, lingering: discarded.
            _ => return,
        };
        let now = self.core.now;
        match got {
            Got::Request(request) => {
                let draining = self.core.shutdown.is_some();
                if draining || self.core.open >= self.core.config.max_connections {
                    let retry_after = self.core.config.busy_retry_after.as_secs().max(1);
                    let why = match self.core.shutdown.as_mut() {
                        Some(sd) => {
                            sd.report.refused_draining += 1;
                            self.core.metrics.refused_draining += 1;
                            "the server is shutting down"
                        }
                        None => {
                            self.core.metrics.refused_busy += 1;
                            "the server has its maximum of connections"
                        }
                    };
                    let Some(s) = self.core.slot_mut(id) else { return };
                    let busy = Reject::new(503)
                        .with_header("Retry-After", retry_after.to_string())
                        .with_body(format!("{why}; retry in {retry_after} s\n"));
                    if busy.write(&mut s.pending).is_err() {
                        unreachable!("a 503 with a Retry-After is a valid refusal");
                    }
                    s.stage = Stage::Rejecting;
                    return;
                }
                let (handler, mut ctx) = self.ctx();
                let decision = handler.on_request(&mut ctx, id, &request);
                if matches!(decision, Decision::Reject(_)) {
                    self.core.metrics.refused_by_application += 1;
                }
                let Some(s) = self.core.slot_mut(id) else { return };
                match decision {
                    Decision::Accept(accept) => {
                        let Stage::AwaitRequest(hs) = std::mem::replace(&mut s.stage, Stage::Rejecting) else { return };
                        let upgraded = match hs.accept(&request, accept) {
                            Ok(upgraded) => upgraded,
                            Err(e) => {
                                // The application chose an option the client did not offer: our fault.
                                let body = format!("the server cannot accept this request: {e}\n");
                                if Reject::new(500).with_body(body).write(&mut s.pending).is_err() {
                                    unreachable!("a 500 with a text body is a valid refusal");
                                }
                                return;
                            }
                        };
                        let mut opened = opened(Role::Server, peer, request.path().into(), &upgraded, None);
                        opened.tls = s.tls_info();
                        let conn = upgraded.into_connection(self.core.config.connection.clone(), now);
                        self.open(id, opened, conn);
                    }
                    Decision::Reject(reject) => {
                        if reject.write(&mut s.pending).is_err() {
                            let _ = Reject::new(500).write(&mut s.pending);
                        }
                        s.stage = Stage::Rejecting;
                    }
                }
            }
            Got::BadRequest(e, plain_path) => {
                let page = match (&e, plain_path) {
                    (HandshakeError::MissingUpgrade, Some(path)) => {
                        let (handler, mut ctx) = self.ctx();
                        handler.on_http(&mut ctx, &path)
                    }
                    _ => None,
                };
                let Some(s) = self.core.slot_mut(id) else { return };
                let served = match page {
                    Some(page) => page.write(&mut s.pending).is_ok(),
                    None => false,
                };
                if !served {
                    e.write_response(&mut s.pending);
                }
                s.stage = Stage::Rejecting;
                if served {
                    self.core.metrics.http_responses += 1;
                } else {
                    report!(debug, "{peer}: request refused with {}: {e}", e.status());
                    self.core.metrics.count_bad_request(&e);
                }
            }
            Got::Upgraded(upgraded, path, timing) => {
                let mut opened = opened(Role::Client, peer, path, &upgraded, Some(timing));
                opened.tls = self.core.slot_mut(id).and_then(|s| s.tls_info());
                let conn = upgraded.into_connection(self.core.config.connection.clone(), now);
                self.open(id, opened, conn);
            }
            Got::BadResponse(e) => self.connect_failed(slot, ConnectError::Handshake(e)),
        }
    }

    /// The handshake completed: the connection is established.
    fn open(&mut self, id: ConnId, opened: Opened, conn: Connection) {
        let Some(s) = self.core.slot_mut(id) else { return };
        report!(debug, "{id} opened: {:?} with {} ({})", opened.role, opened.peer, opened.path);
        s.stage = Stage::Open(Box::new(conn));
        s.counted = true;
        self.core.open += 1;
        self.core.metrics.connections_opened += 1;
        let (handler, mut ctx) = self.ctx();
        handler.on_open(&mut ctx, id, &opened);
        if self.core.shutdown.is_some() {
            let now = self.core.now;
            if let Some(conn) = self.core.conn_mut(id) {
                let _ = conn.close(now, CloseCode::GOING_AWAY, SHUTDOWN_REASON);
            }
        }
        self.core.dirty.push(id.slot);
    }

    /// The end of the peer's stream; `truncated`: a TLS stream that ended without close_notify.
    fn on_eof(&mut self, slot: usize, truncated: bool) {
        let now = self.core.now;
        let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        match &mut s.stage {
            Stage::Open(conn) => {
                if truncated {
                    conn.handle_truncation(now);
                } else {
                    conn.handle_eof(now);
                }
                self.dispatch(slot);
                self.core.remove(slot);
            }
            Stage::Connecting(_) => self.dial_next(slot),
            Stage::AwaitResponse(_) => {
                let error = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection during the handshake",
                );
                self.connect_failed(slot, ConnectError::Io { phase: ConnectPhase::Handshake, error });
            }
            _ => self.core.remove(slot),
        }
    }

    /// The TLS layer failed: a handshake refused (a certificate, an alert, no protocol in common)
    /// or a bad record. The alert goes out, then the socket closes; the connection, if it was
    /// open, ends as cut; an outgoing one that was not yet open fails with the reason.
    #[cfg(feature = "tls")]
    fn on_tls_failed(&mut self, slot: usize, error: rustls::Error) {
        let now = self.core.now;
        let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        let id = ConnId { slot, generation: s.generation };
        let peer = s.peer;
        let why = crate::tls::describe(&error);
        // The alert rustls queued, where the socket takes it now.
        if let Some(io) = s.io.as_mut() {
            let _ = io.flush(&mut self.core.metrics.bytes_written);
        }
        match &mut s.stage {
            Stage::AwaitRequest(_) => {
                self.core.metrics.refused_tls_handshake += 1;
                report!(info, "{peer}: TLS handshake failed: {why}");
                s.stage = Stage::Rejecting;
                s.deadline = now + self.core.config.linger;
                self.core.dirty.push(slot);
            }
            Stage::Connecting(_) | Stage::AwaitResponse(_) => {
                self.connect_failed(slot, ConnectError::Tls { error, description: why });
            }
            Stage::Open(conn) => {
                report!(info, "{id}: TLS failed: {why}");
                conn.handle_truncation(now);
                self.dispatch(slot);
                self.core.remove(slot);
            }
            _ => self.core.remove(slot),
        }
    }

    /// The host's addresses arrived from a resolver thread: connect to the first.
    fn resolved(&mut self, id: ConnId, addrs: io::Result<Vec<SocketAddr>>) {
        let now = self.core.now;
        // Gone meanwhile: timed out, or the loop is shutting down.
        let Some(Stage::Resolving(dial)) = self.core.slot_mut(id).map(|s| &mut s.stage) else { return };
        dial.resolved = Some(now);
        match addrs {
            Ok(addrs) if !addrs.is_empty() => {
                dial.addrs = addrs.into();
                self.dial_next(id.slot);
            }
            result => {
                let error = result.err().unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
                let host = dial.host.clone();
                self.connect_failed(id.slot, ConnectError::Resolve { host, error });
            }
        }
    }

    /// Connects to the next address of slot's host; when none is left, the connection fails.
    fn dial_next(&mut self, slot: usize) {
        match self.core.dial_next(slot) {
            Ok(()) => self.core.reschedule(slot),
            Err(error) => self.connect_failed(slot, ConnectError::Io { phase: ConnectPhase::Connecting, error }),
        }
    }

    fn connect_failed(&mut self, slot: usize, error: ConnectError) {
        self.core.metrics.connect_errors += 1;
        let Some(generation) = self.core.slots.get(slot).and_then(Option::as_ref).map(|s| s.generation) else { return };
        self.core.remove(slot);
        let id = ConnId { slot, generation };
        report!(info, "{id}: the outgoing connection did not open: {error}");
        let (handler, mut ctx) = self.ctx();
        handler.on_connect_error(&mut ctx, id, error);
    }

    /// Hands the connection's events to the handler; returns how many.
    fn dispatch(&mut self, slot: usize) -> usize {
        let mut count = 0;
        loop {
            let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return count };
            let id = ConnId { slot, generation: s.generation };
            let Stage::Open(conn) = &mut s.stage else { return count };
            let Some(event) = conn.poll_event() else { return count };
            count += 1;
            match &event {
                Event::Message(_) | Event::Fragment(_) => self.core.metrics.messages_received += 1,
                Event::Ping(_) => self.core.metrics.pings_received += 1,
                Event::Pong(_) => self.core.metrics.pongs_received += 1,
                _ => {}
            }
            let (handler, mut ctx) = self.ctx();
            match event {
                Event::Message(m) => handler.on_message(&mut ctx, id, m),
                Event::Closed(closed) => {
                    let stats = self.core.conn_mut(id).map(|c| c.stats()).unwrap_or_default();
                    let srtt = stats.srtt;
                    report!(
                        info,
                        "{id} ended: {}; {} bytes in, {} out, {} messages in, {} out, unsent {} bytes in {} messages{}",
                        closed.cause,
                        stats.bytes_received,
                        stats.bytes_sent,
                        stats.messages_received,
                        stats.messages_sent,
                        closed.unsent.bytes,
                        closed.unsent.messages,
                        srtt.map_or(String::new(), |rtt| format!(", round trip {} ms", rtt.as_millis()))
                    );
                    self.core.metrics.count_close(&closed, srtt);
                    // The handler first: the connection (its final statistics) is still there.
                    let (handler, mut ctx) = self.ctx();
                    handler.on_close(&mut ctx, id, &closed);
                    self.core.on_closed(slot, &closed);
                }
                other => handler.on_event(&mut ctx, id, &other),
            }
        }
    }

    /// Writes what is pending, hands events on, moves stages forward, and reschedules the timer.
    fn settle(&mut self, slot: usize) {
        let now = self.core.now;
        for _ in 0..64 {
            let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return };
            match s.flush(now, &mut self.core.metrics.bytes_written) {
                Ok(more) => {
                    if let Stage::Open(conn) = &s.stage {
                        let low = self.core.config.connection.low_water_mark;
                        if s.paused.by_backpressure && conn.buffered_amount() <= low {
                            // The peer reads again: so do we.
                            s.paused.by_backpressure = false;
                            if s.unread && !s.paused.any() {
                                self.core.resume.push(slot);
                            }
                        }
                    }
                    let registry = self.core.poll.registry();
                    if s.update_interest(registry, Token(slot), more).is_err() {
                        return self.on_eof(slot, false);
                    }
                    if !more && matches!(s.stage, Stage::Rejecting) {
                        s.shutdown_write(&mut self.core.metrics.bytes_written);
                        s.stage = Stage::Lingering;
                        s.deadline = now + self.core.config.linger;
                    }
                }
                // Reset or broken pipe: the peer is gone.
                Err(_) => return self.on_eof(slot, false),
            }
            // Events may make the handler send: write again until nothing new comes.
            if self.dispatch(slot) == 0 {
                break;
            }
        }
        self.core.account(slot);
        self.core.reschedule(slot);
    }

    fn settle_dirty(&mut self) {
        while let Some(slot) = self.core.dirty.pop() {
            self.settle(slot);
        }
    }

    fn on_timer(&mut self, slot: usize, generation: u64, at: Instant) {
        let now = self.core.now;
        let Some(s) = self.core.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        if s.generation != generation || s.scheduled != Some(at) {
            return;
        }
        s.scheduled = None;
        match &mut s.stage {
            Stage::Open(conn) => {
                conn.handle_timeout(now);
                let due = s.app_timer.is_some_and(|at| at <= now);
                if due {
                    s.app_timer = None;
                }
                self.settle(slot);
                let id = ConnId { slot, generation };
                // Unless the connection ended meanwhile.
                if due && self.core.conn_mut(id).is_some() {
                    let (handler, mut ctx) = self.ctx();
                    handler.on_timer(&mut ctx, id);
                    self.core.dirty.push(slot);
                }
            }
            Stage::AwaitRequest(hs) => match hs.handle_timeout(now) {
                Ok(()) => self.core.reschedule(slot),
                Err(e) => {
                    // The request did not arrive in time: answer 408 and close (no answer to a
                    // peer still in its TLS handshake: there is no secure channel to answer on).
                    self.core.metrics.count_bad_request(&e);
                    if !s.io.as_ref().is_some_and(Transport::is_handshaking) {
                        e.write_response(&mut s.pending);
                    }
                    s.stage = Stage::Rejecting;
                    s.deadline = now + self.core.config.linger;
                    self.core.dirty.push(slot);
                    self.core.reschedule(slot);
                }
            },
            Stage::Connecting(dial) if now >= s.deadline && !dial.addrs.is_empty() => {
                // This address's share of the time is over: the next one.
                let timeout = dial.hs.poll_timeout().map(|end| end.saturating_duration_since(dial.started));
                dial.last_error = Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within its share of the {} ms timeout", timeout.unwrap_or_default().as_millis()),
                ));
                self.dial_next(slot);
            }
            Stage::Resolving(_) | Stage::Connecting(_) | Stage::AwaitResponse(_) => {
                let (phase, dial) = match &mut s.stage {
                    Stage::Resolving(dial) => (ConnectPhase::Resolving, dial),
                    Stage::Connecting(dial) => (ConnectPhase::Connecting, dial),
                    Stage::AwaitResponse(dial) if s.io.as_ref().is_some_and(Transport::is_handshaking) => {
                        (ConnectPhase::Tls, dial)
                    }
                    Stage::AwaitResponse(dial) => (ConnectPhase::Handshake, dial),
                    _ => return,
                };
                match dial.hs.handle_timeout(now) {
                    Ok(()) => self.core.reschedule(slot),
                    Err(ClientHandshakeError::Timeout { after }) => {
                        self.connect_failed(slot, ConnectError::Timeout { phase, after });
                    }
                    Err(e) => self.connect_failed(slot, ConnectError::Handshake(e)),
                }
            }
            _ if now < s.deadline => self.core.reschedule(slot),
            _ => self.core.remove(slot),
        }
    }

    /// The memory budget's policy, once per turn. Back under seven eighths of the budget: read the
    /// connections it paused again. Over the budget, or with connections paused and the total not
    /// yet under that mark, for longer than the grace: close the largest holders with 1013 until
    /// the rest are under the mark. (Waiting for the total to fall on its own would wait forever
    /// when what is held are partial messages of the peers not read.)
    fn enforce_budget(&mut self) {
        let (budget, now) = (self.core.config.memory_budget, self.core.now);
        let resume_mark = budget - budget / 8;
        if self.core.held <= resume_mark {
            self.core.over_budget_since = None;
            for id in std::mem::take(&mut self.core.budget_paused) {
                let Some(s) = self.core.slot_mut(id) else { continue };
                s.paused.by_budget = false;
                if s.unread && !s.paused.any() {
                    self.core.resume.push(id.slot);
                }
            }
            return;
        }
        let slots = &self.core.slots;
        self.core.budget_paused.retain(|id| {
            slots
                .get(id.slot)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.generation == id.generation && s.paused.by_budget)
        });
        if self.core.held <= budget && self.core.budget_paused.is_empty() {
            self.core.over_budget_since = None;
            return;
        }
        let since = *self.core.over_budget_since.get_or_insert(now);
        if now < since + self.core.config.memory_grace {
            return;
        }
        // Pausing did not help: what is held stays (partial messages of peers we do not read,
        // queues of peers that do not read). Largest first, close until the rest fit.
        // Connections already closing count as freed: what they hold goes when they end.
        let mut holders: Vec<(usize, ConnId)> = self
            .core
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| {
                let s = s.as_ref()?;
                let Stage::Open(conn) = &s.stage else { return None };
                let closable = !s.budget_closed && conn.state() == State::Open && s.held > 0;
                closable.then_some((s.held, ConnId { slot, generation: s.generation }))
            })
            .collect();
        holders.sort_unstable_by_key(|&(held, _)| std::cmp::Reverse(held));
        let mut rest: usize = holders.iter().map(|(held, _)| held).sum();
        for (held, id) in holders {
            if rest <= resume_mark {
                break;
            }
            rest -= held;
            let Some(s) = self.core.slot_mut(id) else { continue };
            s.budget_closed = true;
            if let Stage::Open(conn) = &mut s.stage {
                if conn.close(now, CloseCode::TRY_AGAIN_LATER, "server memory budget exceeded").is_err() {
                    continue;
                }
            }
            self.core.metrics.budget_closes += 1;
            report!(
                warn,
                "{id} closed with 1013: the loop holds more than its memory budget, and it held {held} bytes"
            );
            self.core.dirty.push(id.slot);
            let (handler, mut ctx) = self.ctx();
            handler.on_memory_budget(&mut ctx, id, held);
            self.settle_dirty();
        }
        // The closes take a while to free what they hold: the next round waits a grace again.
        self.core.over_budget_since = Some(now);
    }

    fn check_shutdown(&mut self) {
        let Some(deadline) = self.core.shutdown.as_ref().map(|s| s.deadline) else { return };
        if self.core.now < deadline {
            return;
        }
        // Grace is over: force-close what is left.
        self.core.close_listener();
        for slot in 0..self.core.slots.len() {
            let Some(s) = self.core.slots[slot].as_mut() else { continue };
            if let Stage::Open(conn) = &mut s.stage {
                conn.abort();
                if let Some(sd) = self.core.shutdown.as_mut() {
                    sd.report.forced += 1;
                }
                self.dispatch(slot);
            }
            self.core.remove(slot);
        }
    }
}

/// What a handshake stage produced from one read.
enum Got {
    Request(Request),
    BadRequest(HandshakeError, Option<String>),
    Upgraded(Upgraded, String, ConnectTiming),
    BadResponse(ClientHandshakeError),
}

/// What the application is told of a connection that opens.
fn opened(role: Role, peer: SocketAddr, path: String, upgraded: &Upgraded, timing: Option<ConnectTiming>) -> Opened {
    Opened {
        role,
        peer,
        path,
        subprotocol: upgraded.subprotocol().map(String::from),
        extensions: upgraded.extensions().to_vec(),
        response: upgraded.server_response().cloned(),
        timing,
        tls: None,
    }
}

/// Whether a non-blocking connect has finished: `None` while in progress.
fn connect_result(sock: &TcpStream) -> Option<io::Result<()>> {
    match sock.take_error() {
        Ok(Some(e)) | Err(e) => return Some(Err(e)),
        Ok(None) => {}
    }
    match sock.peer_addr() {
        Ok(_) => Some(Ok(())),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
        Err(e) => Some(Err(e)),
    }
}

impl Core {
    fn slot_mut(&mut self, id: ConnId) -> Option<&mut Slot> {
        self.slots.get_mut(id.slot)?.as_mut().filter(|s| s.generation == id.generation)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        match &mut self.slot_mut(id)?.stage {
            Stage::Open(conn) => Some(conn),
            _ => None,
        }
    }

    /// How many accepted sockets are in their opening handshake; forgets those that moved on.
    fn handshaking(&mut self) -> usize {
        let slots = &self.slots;
        self.handshakes.retain(|&id| awaits_request(slots, id));
        self.handshakes.len()
    }

    /// Recounts what slot's connection holds into the loop's total.
    fn account(&mut self, slot: usize) {
        let Some(s) = self.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        let held = s.holding();
        self.held = self.held - s.held + held;
        s.held = held;
        self.metrics.memory_peak = self.metrics.memory_peak.max(self.held);
    }

    /// Over the memory budget, what a connection may hold and still be read: an even share of the
    /// budget among the established connections, at most one read. Connections between messages
    /// (holding next to nothing) go on being served; those holding more wait.
    fn read_allowance(&self) -> usize {
        (self.config.memory_budget / self.open.max(1)).min(self.config.read_size)
    }

    fn snapshot(&self) -> Metrics {
        let handshaking = self.handshakes.iter().filter(|&&id| awaits_request(&self.slots, id)).count();
        Metrics { open: self.open, handshaking, memory_held: self.held, ..self.metrics }
    }

    /// Refreshes the snapshot other threads read.
    fn publish(&self) {
        let snapshot = self.snapshot();
        *self.published.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
    }

    fn open_ids(&self) -> Vec<ConnId> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| {
                let s = s.as_ref()?;
                matches!(s.stage, Stage::Open(_)).then_some(ConnId { slot, generation: s.generation })
            })
            .collect()
    }

    /// Gives `io` (none while resolving) a slot, registered with the poll.
    fn insert(
        &mut self,
        mut io: Option<Transport>,
        peer: SocketAddr,
        stage: Stage,
        deadline: Instant,
        write: bool,
    ) -> io::Result<usize> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let interest = if write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
        if let Some(io) = io.as_mut() {
            if let Err(e) = self.poll.registry().register(&mut io.sock, Token(slot), interest) {
                self.free.push(slot);
                return Err(e);
            }
        }
        let generation = (self.serials.fetch_add(1, Ordering::Relaxed) << LOOP_BITS) | self.loop_index as u64;
        self.live += 1;
        self.slots[slot] = Some(Slot {
            generation,
            io,
            peer,
            stage,
            pending: Vec::new(),
            pending_written: 0,
            deadline,
            scheduled: None,
            writable_interest: write,
            paused: Paused::default(),
            unread: false,
            peer_closed: false,
            counted: false,
            held: 0,
            budget_closed: false,
            app_timer: None,
        });
        Ok(slot)
    }

    fn remove(&mut self, slot: usize) {
        let Some(mut s) = self.slots.get_mut(slot).and_then(Option::take) else { return };
        if let Some(io) = s.io.as_mut() {
            let _ = self.poll.registry().deregister(&mut io.sock);
        }
        if s.counted {
            self.open -= 1;
        }
        self.held -= s.held;
        self.live -= 1;
        self.free.push(slot);
    }

    /// The final event of slot's connection: shut our write side and linger for the peer's EOF.
    fn on_closed(&mut self, slot: usize, closed: &Closed) {
        if let Some(sd) = self.shutdown.as_mut() {
            match closed.cause {
                CloseCause::Clean { .. } => sd.report.clean += 1,
                CloseCause::LocalAbort => {}
                _ => sd.report.other += 1,
            }
            if closed.cause == CloseCause::LocalAbort {
                sd.report.unsent_bytes += closed.unsent.bytes;
                sd.report.unsent_messages += closed.unsent.messages;
            }
        }
        let now = self.now;
        let linger = self.config.linger;
        let Some(s) = self.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        s.shutdown_write(&mut self.metrics.bytes_written);
        if s.counted {
            s.counted = false;
            self.open -= 1;
        }
        s.app_timer = None;
        s.stage = Stage::Lingering;
        s.deadline = now + linger;
        self.dirty.push(slot);
    }

    /// Makes sure the timer heap will wake the slot at its next deadline.
    fn reschedule(&mut self, slot: usize) {
        let Some(s) = self.slots.get_mut(slot).and_then(Option::as_mut) else { return };
        let Some(at) = s.next_deadline() else { return };
        if s.scheduled.is_none_or(|scheduled| at < scheduled) {
            s.scheduled = Some(at);
            self.timers.push(at, slot, s.generation);
        }
    }

    /// Opens an outgoing connection: to `addrs` if given, else to the URL's host, resolved on a
    /// helper thread unless it is an IP address.
    fn connect(
        &mut self,
        url: &str,
        config: ClientConfig,
        addrs: Option<&[SocketAddr]>,
    ) -> Result<ConnId, ConnectError> {
        // The handshake's timeout counts from here, so it bounds resolving and connecting too.
        let now = self.now;
        let hs = ClientHandshake::new(url, config, now).map_err(ConnectError::Request)?;
        let secure = hs.target().is_secure();
        let mut dial = Dial::new(hs, now);
        if secure {
            self.secure(&mut dial)?;
        }
        let port = dial.hs.target().port();
        let known: Option<Vec<SocketAddr>> =
            addrs.map(<[SocketAddr]>::to_vec).or_else(|| dial.literal().map(|a| vec![a]));
        let placeholder = known.as_ref().and_then(|a| a.first().copied());
        let placeholder = placeholder.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], port)));
        let literal = known.is_some();
        if let Some(known) = known {
            dial.resolved = Some(now);
            dial.addrs.extend(known);
        }
        let host = dial.host.clone();
        let slot = self
            .insert(None, placeholder, Stage::Resolving(Box::new(dial)), now, false)
            .map_err(|error| ConnectError::Io { phase: ConnectPhase::Connecting, error })?;
        let generation = self.slots[slot].as_ref().map_or(0, |s| s.generation);
        let id = ConnId { slot, generation };
        let started = if literal {
            // Addresses known: connect at once; a failure of every one already is the end.
            self.dial_next(slot).map_err(|error| ConnectError::Io { phase: ConnectPhase::Connecting, error })
        } else {
            // A name: resolved on a helper thread, never on the loop's.
            self.resolver.resolve(id, host.clone(), port, self.handle.clone()).map_err(|error| {
                let error = io::Error::new(error.kind(), format!("cannot start resolving: {error}"));
                ConnectError::Resolve { host, error }
            })
        };
        if let Err(e) = started {
            self.remove(slot);
            return Err(e);
        }
        self.reschedule(slot);
        Ok(id)
    }

    /// Readies `dial` for `wss://`: the client's TLS settings and the name to verify.
    #[cfg(feature = "tls")]
    fn secure(&mut self, dial: &mut Dial) -> Result<(), ConnectError> {
        let config = match (&self.tls_client, &self.config.tls_client) {
            (Some(cached), _) => cached.clone(),
            (None, Some(configured)) => configured.clone(),
            (None, None) => crate::tls::client_config(crate::tls::webpki_roots()),
        };
        self.tls_client = Some(config.clone());
        let name = rustls::pki_types::ServerName::try_from(dial.host.clone()).map_err(|e| {
            let error =
                io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a name TLS can verify: {e}", dial.host));
            ConnectError::Io { phase: ConnectPhase::Tls, error }
        })?;
        dial.tls = Some((config, name));
        Ok(())
    }

    #[cfg(not(feature = "tls"))]
    fn secure(&mut self, _dial: &mut Dial) -> Result<(), ConnectError> {
        let error =
            io::Error::new(io::ErrorKind::Unsupported, "wss:// needs TLS: build sansio-ws-mio with its `tls` feature");
        Err(ConnectError::Io { phase: ConnectPhase::Connecting, error })
    }

    /// The transport of a socket just accepted: TLS if the listener has it.
    fn accepted(&mut self, sock: TcpStream, peer: SocketAddr) -> Option<Transport> {
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls_server {
            return match rustls::ServerConnection::new(config.clone()) {
                Ok(tls) => Some(Transport::tls(sock, tls.into())),
                Err(e) => {
                    report!(warn, "{peer}: cannot start TLS: {e}");
                    None
                }
            };
        }
        let _ = peer;
        Some(Transport::plain(sock))
    }

    /// Starts a TCP connection to the next address of slot's outgoing connection, giving it an
    /// equal share of the time left when more addresses remain after it. Addresses that fail at
    /// once are skipped. The error when none is left.
    fn dial_next(&mut self, slot: usize) -> io::Result<()> {
        let now = self.now;
        let Some(s) = self.slots.get_mut(slot).and_then(Option::as_mut) else { return Ok(()) };
        let mut dial = match std::mem::replace(&mut s.stage, Stage::Lingering) {
            Stage::Resolving(dial) | Stage::Connecting(dial) => dial,
            other => {
                s.stage = other;
                return Ok(());
            }
        };
        if let Some(mut old) = s.io.take() {
            let _ = self.poll.registry().deregister(&mut old.sock);
        }
        let result = loop {
            let Some(addr) = dial.addrs.pop_front() else { break Err(dial.exhausted()) };
            dial.attempts += 1;
            let mut sock = match TcpStream::connect(addr) {
                Ok(sock) => sock,
                Err(e) => {
                    dial.last_error = Some(e);
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            if let Err(e) =
                self.poll.registry().register(&mut sock, Token(slot), Interest::READABLE | Interest::WRITABLE)
            {
                dial.last_error = Some(e);
                continue;
            }
            let left = dial.hs.poll_timeout().map_or(Duration::ZERO, |end| end.saturating_duration_since(now));
            s.deadline = now + left / (dial.addrs.len() as u32 + 1);
            s.io = match dial.transport(sock) {
                Ok(io) => Some(io),
                Err(e) => {
                    dial.last_error = Some(e);
                    continue;
                }
            };
            s.peer = addr;
            s.writable_interest = true;
            break Ok(());
        };
        s.stage = Stage::Connecting(dial);
        result
    }

    fn close_listener(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
    }

    fn start_shutdown(&mut self, grace: Duration) {
        if self.shutdown.is_some() {
            return;
        }
        let now = self.now;
        self.shutdown = Some(ShutdownState { deadline: now + grace, report: ShutdownReport::default() });
        // The listener stays: a request arriving while draining is answered 503 (not reset).
        for slot in 0..self.slots.len() {
            let Some(s) = self.slots[slot].as_mut() else { continue };
            match &mut s.stage {
                Stage::Open(conn) => {
                    let _ = conn.close(now, CloseCode::GOING_AWAY, SHUTDOWN_REASON);
                    self.dirty.push(slot);
                }
                // Requests on their way are answered 503 when complete.
                Stage::AwaitRequest(_) => {}
                Stage::Resolving(_) | Stage::Connecting(_) | Stage::AwaitResponse(_) => {
                    if let Some(sd) = self.shutdown.as_mut() {
                        sd.report.handshakes_dropped += 1;
                    }
                    self.remove(slot);
                }
                Stage::Rejecting | Stage::Lingering => {}
            }
        }
    }
}

/// Whether `id` is a socket still waiting for its opening request.
fn awaits_request(slots: &[Option<Slot>], id: ConnId) -> bool {
    slots
        .get(id.slot)
        .and_then(Option::as_ref)
        .is_some_and(|s| s.generation == id.generation && matches!(s.stage, Stage::AwaitRequest(_)))
}

/// Whether `accept` failed for want of file descriptors (`EMFILE`, `ENFILE`).
fn out_of_descriptors(e: &io::Error) -> bool {
    // The numbers are the same on Linux, the BSDs and macOS; Windows: WSAEMFILE.
    if cfg!(windows) { e.raw_os_error() == Some(10024) } else { matches!(e.raw_os_error(), Some(23 | 24)) }
}

/// What a socket is ready for, from one poll event.
#[derive(Debug, Clone, Copy)]
struct Readiness {
    readable: bool,
    writable: bool,
    /// The peer closed its side, or the socket failed: read to the end.
    closed: bool,
}

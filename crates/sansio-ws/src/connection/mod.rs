//! The state machine of an established WebSocket: one [`Connection`] per connection, either role.
//!
//! # The run loop
//!
//! A [`Connection`] has four kinds of method, as in other Sans-IO engines:
//! - **inputs** `handle_*`: bytes read ([`handle_input`](Connection::handle_input), or the
//!   zero-copy [`input_buffer`](Connection::input_buffer) + [`handle_input_buffer`](Connection::handle_input_buffer)),
//!   end of stream ([`handle_eof`](Connection::handle_eof)), a deadline reached
//!   ([`handle_timeout`](Connection::handle_timeout));
//! - **commands** that only queue work: [`send_text`](Connection::send_text),
//!   [`send_binary`](Connection::send_binary), [`send_fragment`](Connection::send_fragment),
//!   [`ping`](Connection::ping), [`close`](Connection::close), [`abort`](Connection::abort);
//! - **outputs** `poll_*`: bytes to write ([`poll_transmit`](Connection::poll_transmit), or the
//!   vectored [`transmit_chunks`](Connection::transmit_chunks) + [`advance_transmit`](Connection::advance_transmit)),
//!   events ([`poll_event`](Connection::poll_event)), the next deadline ([`poll_timeout`](Connection::poll_timeout));
//! - **getters**: [`state`](Connection::state), [`buffered_amount`](Connection::buffered_amount),
//!   [`stats`](Connection::stats)…
//!
//! **The drain contract:** after every input or command, handle every `poll_event` (the
//! application may send in answer), write out what `poll_transmit` gives, and re-read
//! `poll_timeout`; repeat while events keep coming (writing a Close can produce the final event).
//!
//! **Time.** The connection never reads a clock: `now` is passed in, on the embedder's scale
//! ([`Instant`]). It is taken by everything that can start, move or fire a timer: the
//! constructors (the heartbeat and idle timers count from the connection's birth, so no deadline
//! can start in the past), every input (received bytes restart the heartbeat's silence and the
//! idle timer), [`close`](Connection::close) (arms the drain deadline), and
//! [`poll_transmit`](Connection::poll_transmit) / [`advance_transmit`](Connection::advance_transmit)
//! (writing our Close arms the close deadline; output counts as activity for the idle timer).
//! Sends and pings only queue work and start no timer, so they take no `now`; neither do the
//! getters and `poll_event` / `poll_timeout`.
//!
//! A peer's Close or a protocol violation that arrives behind messages the application has not
//! taken yet takes effect once they are taken, so those messages can still be answered: an echo
//! server echoes the last message before the peer's Close, as RFC 6455 §5.5.1 allows.
//!
//! A connection usually comes from a finished opening handshake,
//! [`Upgraded::into_connection`](crate::handshake::Upgraded::into_connection) (see
//! [`handshake`](crate::handshake) for the whole life); [`Connection::server`] and
//! `Connection::client` build one directly, over a transport whose handshake was done elsewhere.
//!
//! ```
//! use sansio_ws::connection::{Config, Connection, Event, Message};
//! use sansio_ws::Instant;
//!
//! let now = Instant::from_secs(1);
//! let mut conn = Connection::server(Config::default(), now);
//! // A masked client frame: text "Hello" (RFC 6455 §5.7).
//! conn.handle_input(now, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! let mut out = Vec::new();
//! while let Some(event) = conn.poll_event() {
//!     if let Event::Message(Message::Text(text)) = event {
//!         assert_eq!(text, "Hello");
//!         conn.send_text(text).unwrap(); // echo
//!     }
//! }
//! while conn.poll_transmit(now, &mut out) > 0 {}
//! assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
//! // The heartbeat's: 30 s of silence from `now`, the connection's birth.
//! assert_eq!(conn.poll_timeout(), Some(now + core::time::Duration::from_secs(30)));
//! ```

mod config;
mod event;
mod heartbeat;
mod prepared;
mod rate;
mod recv;
mod send;
mod state;
mod timers;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

pub use config::{Config, HeartbeatConfig, ReceiveMode};
pub use event::{CloseCause, Closed, Event, Fragment, Message, MessageKind, Side, Unsent, Utf8Bytes};
pub use prepared::PreparedMessage;
pub use state::State;

use crate::error::{ProtocolError, SendError, SendErrorKind, UsageError};
use crate::frame::{CloseCode, DecodeRules, MAX_CONTROL_PAYLOAD, OpCode, truncate_reason};
use crate::rand::Randomness;
use crate::utf8::Utf8Validator;
use crate::{Instant, Role};
use heartbeat::Heartbeat;
use rate::RateLimit;
use recv::{Incoming, Receiver};
use send::{Progress, Sender};
use state::{Input, Phase};
use timers::{Timer, TimerTable};

/// Counters and the round-trip estimate of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes given to `handle_input*`.
    pub bytes_received: u64,
    /// Bytes the transport took from `poll_transmit`/`advance_transmit`.
    pub bytes_sent: u64,
    /// Frames received (all opcodes).
    pub frames_received: u64,
    /// Frames encoded for sending.
    pub frames_sent: u64,
    /// Data messages (or streamed message ends) received.
    pub messages_received: u64,
    /// Data messages whose last byte reached the transport.
    pub messages_sent: u64,
    /// Heartbeat Pings sent.
    pub heartbeat_pings: u64,
    /// Pings received from the peer.
    pub pings_received: u64,
    /// Pending Pongs replaced by a newer one (a peer pinging faster than it reads).
    pub pongs_replaced: u64,
    /// Input bytes ignored because the connection had stopped reading (closing or closed).
    pub bytes_ignored: u64,
    /// Smoothed round-trip time from heartbeat Pongs.
    pub srtt: Option<Duration>,
    /// Round-trip variation.
    pub rttvar: Duration,
    /// The latest round-trip sample.
    pub last_rtt: Option<Duration>,
    /// How long the heartbeat waits for the Pong of its next Ping (of the one in flight, when
    /// a Ping is unanswered): the round-trip estimate plus four deviations, within the configured
    /// floor and ceiling, doubled per Ping missed so far. `None` without a heartbeat.
    pub pong_timeout: Option<Duration>,
}

/// An established WebSocket connection, either role. See the [module docs](self) for the run loop.
pub struct Connection {
    role: Role,
    config: Config,
    phase: Phase,
    recv: Receiver,
    send: Sender,
    events: VecDeque<Event>,
    heartbeat: Option<Heartbeat>,
    /// The peer's Pings and Pongs, limited to a rate (`Config::max_control_frames_per_second`).
    control_rate: Option<RateLimit>,
    /// Every deadline; the heartbeat's and the idle one are refreshed from their sources after
    /// each input (`refresh_timers`).
    timers: TimerTable,
    last_activity: Instant,
    /// The latest time given to any input.
    now: Instant,
    /// A peer's Close or a violation found behind events the application has not taken yet: it
    /// takes effect once they are taken, so the application can still answer them.
    deferred: Option<Input>,
    /// The streamed message being sent, if one is open.
    sending_stream: Option<MessageKind>,
    send_utf8: Utf8Validator,
    /// Offset into `recv.buf` reserved by `input_buffer`.
    input_reserved: Option<usize>,
    stats: Stats,
    #[cfg(feature = "deflate")]
    deflater: Option<crate::deflate::Deflater>,
    #[cfg(feature = "deflate")]
    deflate_threshold: usize,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("send", &self.send)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A server-side connection whose transport was established at `now` (servers never mask,
    /// so no randomness is needed). The heartbeat and idle timers count from `now`.
    ///
    /// After an opening handshake done with [`handshake`](crate::handshake), use
    /// [`Upgraded::into_connection`](crate::handshake::Upgraded::into_connection) instead: it also
    /// queues the handshake's response, turns permessage-deflate on and feeds the bytes that
    /// followed the handshake. This constructor is for a handshake done elsewhere (an HTTP server
    /// that performed the upgrade).
    pub fn server(config: Config, now: Instant) -> Self {
        Self::new(Role::Server, config, None, now)
    }

    /// A client-side connection established at `now`, masking with the operating system's random
    /// generator. See [`server`](Self::server) for when to use it.
    #[cfg(feature = "std")]
    pub fn client(config: Config, now: Instant) -> Self {
        Self::new(Role::Client, config, Some(Box::new(crate::rand::OsRandom::new())), now)
    }

    /// A client-side connection established at `now`, masking with `rng` (required without
    /// `std`; handy for reproducible tests with [`SeededRandom`](crate::rand::SeededRandom)).
    pub fn client_with_randomness(config: Config, now: Instant, rng: Box<dyn Randomness>) -> Self {
        Self::new(Role::Client, config, Some(rng), now)
    }

    pub(crate) fn new(role: Role, config: Config, rng: Option<Box<dyn Randomness>>, now: Instant) -> Self {
        let rules = DecodeRules { max_frame_size: config.max_frame_size, ..DecodeRules::new(role) };
        let mut conn = Connection {
            role,
            phase: Phase::Open,
            recv: Receiver::new(rules, config.receive_mode, config.max_message_size),
            send: Sender::new(role, rng, config.send_frame_size, config.max_pending_pongs, config.low_water_mark),
            events: VecDeque::new(),
            heartbeat: config.heartbeat.map(|cfg| Heartbeat::new(cfg, now)),
            control_rate: config.max_control_frames_per_second.map(|rate| RateLimit::new(rate, now)),
            timers: TimerTable::default(),
            last_activity: now,
            now,
            deferred: None,
            sending_stream: None,
            send_utf8: Utf8Validator::new(),
            input_reserved: None,
            stats: Stats::default(),
            #[cfg(feature = "deflate")]
            deflater: None,
            #[cfg(feature = "deflate")]
            deflate_threshold: usize::MAX,
            config,
        };
        conn.refresh_timers();
        conn
    }

    /// Queues bytes to go out before any frame: the handshake's `101` response.
    pub(crate) fn queue_preamble(&mut self, bytes: Vec<u8>) {
        self.send.push_preamble(Bytes::from(bytes));
    }

    // ----- inputs -----

    /// Bytes read from the transport, processed at once: events, replies and deadlines are ready
    /// when this returns. What is not yet a message is copied into the connection; the payload
    /// of a large frame still arriving is copied once, straight into its message's buffer, and
    /// unmasked (and validated, for text) in the same pass. Reading into one buffer shared by
    /// every connection and calling this is the fastest way to feed a connection, and idle
    /// connections then hold no read buffer.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        // A region reserved by `input_buffer` and not filled is not input.
        self.cancel_reservation();
        if !self.on_input(now, data.len()) {
            return;
        }
        let mut data = data;
        while !data.is_empty() {
            if !self.phase.reads_frames() {
                self.stats.bytes_ignored += data.len() as u64;
                break;
            }
            if self.deferred.is_some() {
                // Held behind a peer's Close or a violation, as if it had been read at once.
                self.recv.buf.extend_from_slice(data);
                break;
            }
            let n = self.recv.absorb(data);
            data = &data[n..];
            self.process(now);
        }
    }

    /// A zeroed region of at least `min` bytes at the end of the receive buffer, to read into
    /// directly. Follow with [`handle_input_buffer`](Self::handle_input_buffer). Small messages
    /// read this way are handed up without any copy, but the region is zeroed first (safe code
    /// cannot read into uninitialised memory) and the connection holds the buffer meanwhile; see
    /// [`handle_input`](Self::handle_input) for the usually faster way.
    pub fn input_buffer(&mut self, min: usize) -> &mut [u8] {
        self.cancel_reservation();
        let start = self.recv.buf.len();
        self.input_reserved = Some(start);
        self.recv.buf.resize(start + min.max(1), 0);
        &mut self.recv.buf[start..]
    }

    /// `n` bytes were read into the region [`input_buffer`](Self::input_buffer) returned.
    pub fn handle_input_buffer(&mut self, now: Instant, n: usize) {
        let Some(start) = self.input_reserved.take() else { return };
        if start > self.recv.buf.len() {
            // The connection dropped its buffer meanwhile (it ended): the bytes are not read.
            self.stats.bytes_ignored += n as u64;
            return;
        }
        let n = n.min(self.recv.buf.len() - start);
        self.recv.buf.truncate(start + n);
        if self.on_input(now, n) {
            self.process(now);
        } else {
            self.recv.buf.truncate(start);
            self.recv.release_if_idle();
        }
    }

    /// Forgets a region reserved by `input_buffer`, trimming its zeros off the buffer.
    fn cancel_reservation(&mut self) {
        if let Some(start) = self.input_reserved.take() {
            self.recv.buf.truncate(start);
        }
    }

    /// Counts input and says whether it is to be processed.
    fn on_input(&mut self, now: Instant, n: usize) -> bool {
        self.now = self.now.max(now);
        if n == 0 {
            return false;
        }
        if !self.phase.reads_frames() || self.deferred.is_some() {
            self.stats.bytes_ignored += n as u64;
            return false;
        }
        self.stats.bytes_received += n as u64;
        self.last_activity = self.last_activity.max(now);
        if let Some(hb) = self.heartbeat.as_mut() {
            hb.on_receive(now);
        }
        true
    }

    /// The transport reached end of stream, or failed (reset, broken pipe). The connection ends:
    /// cleanly if the close handshake was complete, as [`CloseCause::PeerVanished`] otherwise.
    pub fn handle_eof(&mut self, now: Instant) {
        self.end_of_input(now, false);
    }

    /// The transport ended without its own orderly close: a TLS connection whose TCP stream ended
    /// (or was reset) without the peer's `close_notify`. What arrived before can be trusted, but
    /// not that the stream ended where the peer meant it to. As [`handle_eof`](Self::handle_eof),
    /// except that before the close handshake completes the cause is
    /// [`CloseCause::Truncated`] instead of [`CloseCause::PeerVanished`]; once it is complete (a
    /// peer that closed TCP without `close_notify` after the WebSocket Close), the ending is clean.
    pub fn handle_truncation(&mut self, now: Instant) {
        self.end_of_input(now, true);
    }

    fn end_of_input(&mut self, now: Instant, truncated: bool) {
        self.now = self.now.max(now);
        self.deferred = None;
        self.step(now, Input::Eof { truncated });
    }

    /// A deadline from [`poll_timeout`](Self::poll_timeout) has passed. Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        // A buffer kept for the next large message is let go at every timer (heartbeat, idle),
        // so an idle connection does not hold it.
        self.recv.drop_spare();
        // Each expired timer is disarmed when taken; handling it either moves the lifecycle on
        // (which can only happen a few times) or re-arms it later than `now` (the heartbeat's
        // intervals are at least 1 ms). So this ends, even with zero drain or close timeouts.
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                Timer::Drain => self.step(now, Input::DrainTimeout),
                Timer::Close => self.step(now, Input::CloseTimeout),
                Timer::Heartbeat => self.on_heartbeat_timer(now),
                Timer::Idle => {
                    let reason = "idle timeout".into();
                    self.step(now, Input::LocalClose { code: CloseCode::GOING_AWAY, reason, idle: true });
                }
            }
            self.refresh_timers();
        }
    }

    fn on_heartbeat_timer(&mut self, now: Instant) {
        let Some(hb) = self.heartbeat.as_mut() else { return };
        match hb.on_timeout(now) {
            heartbeat::Action::Nothing => {}
            heartbeat::Action::SendPing(payload) => {
                self.stats.heartbeat_pings += 1;
                self.send.push_ping(Bytes::copy_from_slice(&payload));
            }
            heartbeat::Action::Dead { misses, last_rtt } => self.step(now, Input::HeartbeatDead { misses, last_rtt }),
        }
    }

    /// Re-reads the deadlines that follow activity: the heartbeat's and the idle timeout, both
    /// only while the connection is open.
    fn refresh_timers(&mut self) {
        let open = self.phase.is_open();
        let heartbeat = self.heartbeat.as_ref().filter(|_| open).map(Heartbeat::deadline);
        let idle = self.config.idle_timeout.filter(|_| open).map(|d| self.last_activity + d);
        self.timers.set(Timer::Heartbeat, heartbeat);
        self.timers.set(Timer::Idle, idle);
    }

    /// Runs the receive side over the buffered input.
    fn process(&mut self, now: Instant) {
        while self.phase.reads_frames() && self.deferred.is_none() {
            match self.recv.next() {
                Ok(None) => break,
                Ok(Some(incoming)) => self.on_incoming(now, incoming),
                Err(e) => self.defer(now, Input::Violation(e)),
            }
        }
        self.stats.frames_received = self.recv.frames_received;
        if !self.phase.reads_frames() {
            self.stats.bytes_ignored += self.recv.buf.len() as u64;
            self.recv.clear();
        }
        self.recv.release_if_idle();
        // Bytes arrived (the heartbeat's silence restarts, a Pong may have answered its Ping).
        self.refresh_timers();
    }

    fn on_incoming(&mut self, now: Instant, incoming: Incoming) {
        if let (Incoming::Ping(_) | Incoming::Pong(_), Some(rate)) = (&incoming, self.control_rate.as_mut()) {
            if !rate.allow(now) {
                let limit = rate.per_second();
                return self.defer(now, Input::Violation(ProtocolError::ControlFrameFlood { limit }));
            }
        }
        match incoming {
            Incoming::Message(m) => {
                self.stats.messages_received += 1;
                self.events.push_back(Event::Message(m));
            }
            Incoming::Fragment(f) => {
                if f.last {
                    self.stats.messages_received += 1;
                }
                self.events.push_back(Event::Fragment(f));
            }
            Incoming::Ping(payload) => {
                self.stats.pings_received += 1;
                if self.phase.is_open() {
                    self.send.push_pong(payload.clone());
                    self.stats.pongs_replaced = self.send.pongs_replaced;
                }
                self.events.push_back(Event::Ping(payload));
            }
            Incoming::Pong(payload) => {
                let ours = self.heartbeat.as_mut().is_some_and(|hb| hb.on_pong(now, &payload));
                if !ours {
                    self.events.push_back(Event::Pong(payload));
                }
            }
            Incoming::Close { code, reason } => self.defer(now, Input::PeerClose { code, reason }),
        }
    }

    /// Applies a peer's Close or a violation now if the application has taken every earlier
    /// event, or else once it has (see `poll_event`): messages that arrived before it can still
    /// be answered.
    fn defer(&mut self, now: Instant, input: Input) {
        if self.events.is_empty() {
            self.apply_received(now, input);
        } else {
            self.deferred = Some(input);
        }
    }

    fn apply_received(&mut self, now: Instant, input: Input) {
        if let Input::PeerClose { code, reason } = &input {
            self.events.push_back(Event::CloseReceived { code: *code, reason: reason.clone() });
        }
        self.step(now, input);
        if !self.phase.reads_frames() {
            self.stats.bytes_ignored += self.recv.buf.len() as u64;
            self.recv.clear();
        }
    }

    /// Feeds the lifecycle and carries out what it says.
    fn step(&mut self, now: Instant, input: Input) {
        let fx = self.phase.step(self.role, input);
        if let Some(order) = fx.queue_close {
            self.send.push_close(order.code, &order.reason);
            self.sending_stream = None;
        }
        if fx.arm_drain {
            self.timers.set(Timer::Drain, Some(now + self.config.drain_timeout));
        }
        if fx.disarm_drain {
            self.timers.set(Timer::Drain, None);
        }
        if fx.arm_close {
            self.timers.set(Timer::Close, Some(now + self.config.close_timeout_for(self.role)));
        }
        if let Some(cause) = fx.finish {
            let unsent = self.send.discard();
            self.deferred = None;
            self.timers.clear();
            self.recv.clear();
            self.events.push_back(Event::Closed(Closed { cause, unsent }));
        }
        self.refresh_timers();
    }

    // ----- commands -----

    /// Checks that a data send is possible now; the error says why not.
    fn check_send(&mut self, streamed: bool) -> Result<(), SendErrorKind> {
        if !self.phase.accepts_sends() {
            return Err(SendErrorKind::Usage(UsageError::Closed));
        }
        if !streamed && self.sending_stream.is_some() {
            return Err(SendErrorKind::Usage(UsageError::MessageInProgress));
        }
        if self.send.queued_bytes() > self.config.high_water_mark {
            self.send.note_backpressure();
            return Err(SendErrorKind::Backpressure);
        }
        Ok(())
    }

    /// Queues a message. On refusal the message comes back in the error.
    pub fn send(&mut self, message: Message) -> Result<(), SendError<Message>> {
        if let Err(kind) = self.check_send(false) {
            return Err(SendError::new(kind, message));
        }
        self.queue_message(message);
        Ok(())
    }

    /// Frames a whole message onto the send queue, compressed when permessage-deflate is on and
    /// the message reaches the threshold.
    fn queue_message(&mut self, message: Message) {
        let (opcode, payload) = match message {
            Message::Text(t) => (OpCode::Text, t.into_bytes()),
            Message::Binary(b) => (OpCode::Binary, b),
        };
        if !self.queue_compressed(opcode, &payload) {
            self.send.push_data(opcode, payload, true, false);
        }
    }

    /// Compresses and queues a whole message if permessage-deflate is on and the message reaches
    /// the threshold; whether it did.
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    fn queue_compressed(&mut self, opcode: OpCode, payload: &[u8]) -> bool {
        #[cfg(feature = "deflate")]
        if let Some(deflater) = self.deflater.as_mut().filter(|_| payload.len() >= self.deflate_threshold) {
            let compressed = deflater.compress(payload);
            self.send.push_data(opcode, Bytes::from(compressed), true, true);
            return true;
        }
        false
    }

    /// Turns on permessage-deflate with the parameters agreed in a handshake done elsewhere (an
    /// HTTP server that performed the upgrade, with [`DeflateConfig::negotiate`]); after this
    /// crate's handshakes, [`Upgraded::into_connection`] has done it already. Call before the
    /// first input.
    ///
    /// [`DeflateConfig::negotiate`]: crate::deflate::DeflateConfig::negotiate
    /// [`Upgraded::into_connection`]: crate::handshake::Upgraded::into_connection
    #[cfg(feature = "deflate")]
    pub fn enable_deflate(&mut self, params: crate::deflate::DeflateParams, config: &crate::deflate::DeflateConfig) {
        let (own_bits, own_reset) = params.sender(self.role);
        let (peer_bits, peer_reset) = params.sender(self.role.peer());
        let release = config.release_between_messages;
        self.deflater = crate::deflate::Deflater::new(own_bits, own_reset, config.level, release);
        self.deflate_threshold = config.threshold;
        self.recv.enable_inflate(crate::deflate::Inflater::new(peer_bits, peer_reset, release));
    }

    /// Whether permessage-deflate is on.
    pub fn is_deflate_enabled(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.recv.inflater.is_some();
        #[cfg(not(feature = "deflate"))]
        return false;
    }

    /// Queues a message framed in advance and shared with other connections (see
    /// [`PreparedMessage`]). A client-role connection sends the message normally, masked.
    pub fn send_prepared<'a>(&mut self, prepared: &'a PreparedMessage) -> Result<(), SendError<&'a PreparedMessage>> {
        if let Err(kind) = self.check_send(false) {
            return Err(SendError::new(kind, prepared));
        }
        match self.role {
            Role::Server => self.send.push_prepared(prepared.frames()),
            Role::Client => self.queue_message(prepared.message().clone()),
        }
        Ok(())
    }

    /// Queues a text message copied from `text`, for text not already held in a [`Utf8Bytes`]
    /// (formatted JSON, a slice of a larger buffer): no allocation while the send queue has room
    /// or the message is small, as the payload is copied straight next to its frame header.
    /// Otherwise it is copied once into a buffer of its own. Refused for the same reasons as
    /// [`send`](Self::send).
    ///
    /// ```
    /// use sansio_ws::connection::{Config, Connection};
    ///
    /// let mut server = Connection::server(Config::default(), sansio_ws::Instant::ZERO);
    /// let name = "world";
    /// server.send_text_copy(&format!("hello, {name}")).unwrap();
    /// let wire: Vec<u8> = server.transmit_chunks().flatten().copied().collect();
    /// assert_eq!(wire, b"\x81\x0chello, world");
    /// ```
    pub fn send_text_copy<'a>(&mut self, text: &'a str) -> Result<(), SendError<&'a str>> {
        self.send_copied(OpCode::Text, text.as_bytes()).map_err(|kind| SendError::new(kind, text))
    }

    /// Queues a binary message copied from `data`; see [`send_text_copy`](Self::send_text_copy).
    pub fn send_binary_copy<'a>(&mut self, data: &'a [u8]) -> Result<(), SendError<&'a [u8]>> {
        self.send_copied(OpCode::Binary, data).map_err(|kind| SendError::new(kind, data))
    }

    fn send_copied(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendErrorKind> {
        self.check_send(false)?;
        if !self.queue_compressed(opcode, payload) {
            self.send.push_copied(opcode, payload);
        }
        Ok(())
    }

    /// Queues a text message.
    pub fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), SendError<Utf8Bytes>> {
        let text = text.into();
        if let Err(kind) = self.check_send(false) {
            return Err(SendError::new(kind, text));
        }
        self.queue_message(Message::Text(text));
        Ok(())
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), SendError<Bytes>> {
        let data = data.into();
        if let Err(kind) = self.check_send(false) {
            return Err(SendError::new(kind, data));
        }
        self.queue_message(Message::Binary(data));
        Ok(())
    }

    /// Queues one piece of a message sent in pieces (for data produced over time, or too large to
    /// hold). The first piece fixes the message's kind; `last` ends it. Text pieces are checked
    /// incrementally: a piece that makes the text invalid UTF-8 is refused.
    pub fn send_fragment(&mut self, kind: MessageKind, data: Bytes, last: bool) -> Result<(), SendError<Bytes>> {
        if let Err(kind) = self.check_send(true) {
            return Err(SendError::new(kind, data));
        }
        let opcode = match self.sending_stream {
            None => {
                self.send_utf8.reset();
                if kind == MessageKind::Text { OpCode::Text } else { OpCode::Binary }
            }
            Some(open) if open == kind => OpCode::Continuation,
            Some(_) => return Err(SendError::usage(UsageError::MessageInProgress, data)),
        };
        if kind == MessageKind::Text {
            let mut check = self.send_utf8.clone();
            let ok = check.feed(&data).is_ok() && (!last || check.clone().finish().is_ok());
            if !ok {
                return Err(SendError::usage(UsageError::InvalidUtf8, data));
            }
            self.send_utf8 = check;
        }
        self.sending_stream = if last { None } else { Some(kind) };
        self.send.push_data(opcode, data, last, false);
        Ok(())
    }

    /// Queues a Ping (at most 125 bytes). Its Pong arrives as [`Event::Pong`].
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError<Bytes>> {
        let payload = payload.into();
        if payload.len() > MAX_CONTROL_PAYLOAD {
            let n = payload.len();
            return Err(SendError::usage(UsageError::ControlTooLong(n), payload));
        }
        if !self.phase.accepts_sends() {
            return Err(SendError::usage(UsageError::Closed, payload));
        }
        self.send.push_ping(payload);
        Ok(())
    }

    /// Starts the close handshake: every message already queued goes out first, then a Close frame
    /// with `code` and `reason` (cut to 123 bytes on a character boundary). The connection then
    /// waits for the peer's Close, bounded by the drain and close timeouts.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if !code.is_allowed_on_wire() {
            return Err(UsageError::InvalidCloseCode(code));
        }
        match self.phase.state() {
            State::Open => {}
            State::Closing => return Err(UsageError::AlreadyClosing),
            State::Closed => return Err(UsageError::Closed),
        }
        self.step(now, Input::LocalClose { code, reason: truncate_reason(reason).into(), idle: false });
        Ok(())
    }

    /// Ends the connection at once, without a close handshake: queued output is discarded (and
    /// counted in the final event), and the transport is to be closed.
    pub fn abort(&mut self) {
        self.step(self.last_activity, Input::Abort);
    }

    // ----- outputs -----

    /// Appends bytes to write to `out` and returns how many: a bounded batch per call (about 64 KiB
    /// plus at most one frame). Call until it returns 0. The bytes count as handed to the transport.
    #[must_use = "call until it returns 0: the count says whether more output is waiting"]
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        for chunk in self.send.chunks() {
            out.extend_from_slice(chunk);
        }
        let n = out.len() - before;
        self.advance_transmit(now, n);
        n
    }

    /// The bytes waiting to be written, in order, without copying them. Write a prefix, then call
    /// [`advance_transmit`](Self::advance_transmit) with its length.
    pub fn transmit_chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.send.chunks()
    }

    /// Fills `dst` with [`IoSlice`](std::io::IoSlice)s of the bytes waiting to be written, for a
    /// vectored write, and returns how many it filled.
    #[cfg(feature = "std")]
    pub fn transmit_io_slices<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(self.send.chunks()) {
            *slot = std::io::IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// `n` bytes from the front of [`transmit_chunks`](Self::transmit_chunks) were written.
    pub fn advance_transmit(&mut self, now: Instant, n: usize) {
        self.now = self.now.max(now);
        if n == 0 {
            return;
        }
        let Progress { close_written, writable } = self.send.advance(n);
        self.stats.bytes_sent += n as u64;
        self.last_activity = self.last_activity.max(now);
        if self.config.idle_timeout.is_some() {
            self.refresh_timers();
        }
        if writable && self.phase.accepts_sends() {
            self.events.push_back(Event::Writable);
        }
        if close_written {
            self.step(now, Input::CloseWritten);
        }
    }

    /// Whether bytes are waiting to be written (a driver registers write interest while true).
    pub fn wants_write(&self) -> bool {
        self.send.chunks().next().is_some()
    }

    /// Whether [`poll_event`](Self::poll_event) has an event to give now. A driver that reads
    /// only while the application has taken every event (its backpressure on the peer) asks this
    /// instead of taking an event early: a peer's Close behind undelivered messages takes effect
    /// only once they are taken, so taking them ahead of the application would close the
    /// connection before it could answer them.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty() || self.deferred.is_some()
    }

    /// The next event. [`Event::Closed`] is the last one, reported exactly once.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            let input = self.deferred.take()?;
            let now = self.now;
            self.apply_received(now, input);
            // The rest of the input buffered behind the Close is read no more; a violation's
            // remainder is dropped with it.
        }
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called; `None` when no timer
    /// runs (after the end, or with every timer off).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- getters -----

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Open, closing or closed.
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// While closing, who started it.
    pub fn closing_initiator(&self) -> Option<Side> {
        self.phase.initiator()
    }

    /// Whether the connection is over (the final event has been queued).
    pub fn is_closed(&self) -> bool {
        self.phase.state() == State::Closed
    }

    /// Bytes queued for sending and not yet handed to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.send.queued_bytes()
    }

    /// Bytes of the peer's data this connection holds: input not yet parsed, the message being
    /// reassembled (and its inflated text) and the payloads of message events not yet taken.
    /// With [`buffered_amount`](Self::buffered_amount), what the connection costs in memory
    /// beyond its fixed size: a driver adds both up across its connections to keep the process
    /// within a budget. It grows with what the peer sends and shrinks as messages are taken;
    /// [`Config::max_message_size`] bounds the partial message.
    pub fn buffered_input(&self) -> usize {
        let events: usize = self
            .events
            .iter()
            .map(|e| match e {
                Event::Message(m) => m.len(),
                Event::Fragment(f) => f.data.len(),
                _ => 0,
            })
            .sum();
        self.recv.held_bytes() + events
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters and round-trip estimate.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.frames_sent = self.send.frames_sent;
        s.messages_sent = self.send.messages_sent;
        if let Some(hb) = &self.heartbeat {
            s.srtt = hb.rtt.srtt;
            s.rttvar = hb.rtt.rttvar;
            s.last_rtt = hb.rtt.latest;
            s.pong_timeout = Some(hb.current_pong_timeout());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame (mask 0, so the payload reads as sent): FIN + `opcode`, `payload`.
    fn client_frame(opcode: u8, payload: &[u8]) -> alloc::vec::Vec<u8> {
        let mut frame = alloc::vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn has_events_tells_what_poll_event_would_give_without_taking_it() {
        let now = Instant::from_secs(1);
        let mut conn = Connection::server(Config::default(), now);
        assert!(!conn.has_events(), "a new connection has nothing to tell");
        // A message, then the peer's Close right behind it, in one read.
        let mut input = client_frame(0x1, b"last words");
        input.extend(client_frame(0x8, &[0x03, 0xe8]));
        conn.handle_input(now, &input);
        assert!(conn.has_events());
        assert!(conn.has_events(), "asking takes nothing");
        assert!(matches!(conn.poll_event(), Some(Event::Message(Message::Text(t))) if t == "last words"));
        // The Close waits behind the message (deferred): it is still an event to come, and the
        // connection has not answered it yet, so the message can still be echoed.
        assert!(conn.has_events(), "the deferred Close is still to come");
        assert_eq!(conn.state(), State::Open);
        conn.send_text("echo").unwrap();
        assert!(matches!(conn.poll_event(), Some(Event::CloseReceived { code, .. }) if code == CloseCode::NORMAL));
        let mut out = alloc::vec::Vec::new();
        while conn.poll_transmit(now, &mut out) > 0 {}
        assert!(matches!(conn.poll_event(), Some(Event::Closed(_))));
        assert!(!conn.has_events(), "nothing after the final event");
        assert_eq!(conn.poll_event(), None);
    }
}

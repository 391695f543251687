//! [`WebSocketStream`]: one connection over one transport, as async methods and as a
//! `Stream` + `Sink` of messages.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use sansio_ws::connection::{Closed, Config, Connection, Event, Message, State, Stats};
use sansio_ws::error::{SendError, SendErrorKind, UsageError};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::Upgraded;
use sansio_ws::time::Epoch;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::engine::Engine;
use crate::error::Error;
use crate::split::{ReadHalf, WriteHalf, split};

/// A WebSocket connection over the transport `S` (a `TcpStream`, a TLS stream, hyper's upgraded
/// connection…).
///
/// # What runs when
///
/// Nothing runs in the background: every poll of the stream (any of its methods, its `Stream`
/// or `Sink` side, or either half after [`split`](Self::split)) does all the work due at that
/// moment — it fires the heartbeat and close timers, answers Pings, writes what is queued and
/// reads while every event has been taken — and registers the task with what it waits for,
/// including the next deadline (a receive that finds messages of the last read still waiting just
/// takes the next; what is due meanwhile runs at the first poll that finds none). So the timers
/// and the Pongs run **while a receive is pending**
/// (`recv`, `next`, or the read half's), which is what a reading task does anyway. A connection
/// that nobody receives from is not read from either: its messages wait in the peer's send
/// buffer, and the peer's Pings and Close go unanswered until someone receives again (or, for
/// a write-only application, until the read half is dropped, which makes the connection discard
/// messages and keep everything else running during sends and flushes).
///
/// # Cancel safety
///
/// - [`recv`](Self::recv), [`recv_event`](Self::recv_event) and `StreamExt::next`: cancel-safe.
///   A message is taken from the connection only when the call returns it.
/// - [`send`](Self::send): cancel-safe in that a message is either queued whole or not at all: a
///   send cancelled while it waits for room drops its message without sending any of it. Once
///   queued, a message goes out with the next polls, whether or not that `send` is still awaited.
/// - [`flush`](Self::flush) and [`close`](Self::close): cancel-safe; cancelling leaves the work
///   queued (the Close stays queued too), and calling again resumes.
pub struct WebSocketStream<S> {
    engine: Engine<S>,
    /// The scale of the connection's instants.
    epoch: Epoch,
}

impl<S> std::fmt::Debug for WebSocketStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketStream").field("connection", &self.engine.conn).finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// The connection of a finished opening handshake over `io`: the bytes that followed the
    /// handshake are fed to it, and, for a server, the `101` answer goes out with the first
    /// frames. This is how a handshake done elsewhere (hyper, a proxy) becomes a stream.
    pub fn from_upgraded(io: S, upgraded: Upgraded, config: Config) -> Self {
        Self::from_upgraded_at(io, upgraded, config, Epoch::new(crate::engine::clock()))
    }

    /// As [`from_upgraded`](Self::from_upgraded), on the scale of a handshake's `epoch`.
    pub(crate) fn from_upgraded_at(io: S, upgraded: Upgraded, config: Config, epoch: Epoch) -> Self {
        let conn = upgraded.into_connection(config, epoch.instant(crate::engine::clock()));
        Self::from_connection(io, conn, epoch)
    }

    /// A connection whose handshake was done by other means, over `io`; `epoch` is the scale of
    /// the `now` it was built with.
    pub fn from_connection(io: S, conn: Connection, epoch: Epoch) -> Self {
        WebSocketStream { engine: Engine::new(io, conn, epoch), epoch }
    }

    /// The next message; `None` after a clean close, and before it, once, an error when the
    /// connection did not end cleanly ([`close_info`](Self::close_info) says why either way).
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.engine.poll_message(cx)).await
    }

    /// The next event of any kind: messages (or fragments in streaming mode), the peer's Pings and
    /// Pongs (already answered), its Close, `Writable`, and last [`Event::Closed`] with the cause;
    /// `None` after that. Cancel-safe.
    pub async fn recv_event(&mut self) -> Option<Event> {
        poll_fn(|cx| self.engine.poll_event(cx)).await
    }

    /// Queues a message, waiting while the send queue is above its high-water mark
    /// ([`Config::high_water_mark`]); it is written out as the transport takes it (see
    /// [`flush`](Self::flush) to wait for that). A refusal hands the message back: the
    /// connection is closing or closed ([`UsageError::Closed`]), or a streamed message is open.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), SendError<Message>> {
        let mut slot = Some(message.into());
        poll_fn(|cx| self.engine.poll_send(cx, &mut slot)).await
    }

    /// Queues a Ping (its Pong comes as [`Event::Pong`]). It does not wait.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError<Bytes>> {
        self.engine.conn.ping(payload)
    }

    /// Waits until everything queued is written to the transport and flushed.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.engine.poll_flush(cx)).await
    }

    /// Closes the connection: sends a Close with `code` and `reason` (unless the close handshake
    /// has started already), waits for the peer's Close (the close timeout bounds it), closes
    /// the transport, and gives the final event. Messages that arrive while it is polled are
    /// discarded; to read them, call [`start_close`](Self::start_close) and keep receiving until
    /// `None`. Cancelled, it leaves the Close queued and discards nothing more: `recv` receives
    /// what comes next, and calling `close` again resumes the handshake.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<Closed, UsageError> {
        self.engine.start_close(code, reason)?;
        Ok(poll_fn(|cx| self.engine.poll_end(cx)).await)
    }

    /// Queues a Close with `code` and `reason` and returns: the handshake completes as the
    /// stream is polled (keep receiving until `None`).
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        self.engine.start_close(code, reason)
    }

    /// Splits the stream into a read half and a write half that can be used from different tasks.
    /// Either half's polls make all the progress described [above](Self#what-runs-when), so a
    /// Pong owed while the writer is idle goes out from the reader's polls.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        split(self.engine)
    }
}

impl<S> WebSocketStream<S> {
    /// The final event — why the connection ended and what was left unsent — once the stream has
    /// reached it.
    pub fn close_info(&self) -> Option<&Closed> {
        self.engine.closed()
    }

    /// The connection's counters and round-trip estimate.
    pub fn stats(&self) -> Stats {
        self.engine.conn.stats()
    }

    /// Open, closing or closed.
    pub fn state(&self) -> State {
        self.engine.conn.state()
    }

    /// Bytes queued for sending and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.engine.conn.buffered_amount()
    }

    /// The connection, for its settings and getters.
    pub fn connection(&self) -> &Connection {
        &self.engine.conn
    }

    /// The connection itself, for the commands this type has no method for (streamed messages
    /// with [`send_fragment`](Connection::send_fragment), [`send_prepared`](Connection::send_prepared)):
    /// what they queue goes out with the stream's next poll. Events must still be taken through
    /// the stream (`recv`, `recv_event`), and input only comes from the transport: taking events
    /// or feeding bytes here would hide them from the stream.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.engine.conn
    }

    /// The scale the connection's instants are on.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.engine.io
    }

    /// The transport. Reading from or writing to it directly breaks the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.engine.io
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.engine.poll_message(cx)
    }
}

/// The sink of messages. `poll_ready` waits while the send queue is above its high-water mark;
/// `poll_close` sends a Close 1000, waits for the end (discarding the messages that still come)
/// and closes the transport.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.engine.poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.engine.conn.send(item).map_err(|e| Error::Send(e.kind()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.engine.poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.engine.start_close(CloseCode::NORMAL, "").map_err(|e| Error::Send(SendErrorKind::Usage(e)))?;
        self.engine.poll_end(cx).map(|_| Ok(()))
    }
}

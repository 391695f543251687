//! The two halves of a split stream: one engine behind a lock, and a waker that wakes both
//! halves' tasks, since either half's poll may be what the other waits for (the reader's read
//! brings the Writable the writer waits for; the writer's poll fires the timer the reader sleeps
//! on).

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use sansio_ws::connection::{Closed, Event, Message, State, Stats};
use sansio_ws::error::{SendError, SendErrorKind, UsageError};
use sansio_ws::frame::CloseCode;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::engine::Engine;
use crate::error::Error;

/// Which half is polling.
#[derive(Clone, Copy)]
enum Side {
    Read = 0,
    Write = 1,
}

/// The latest waker of each half; waking it wakes both.
#[derive(Default)]
struct Wakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Wakers {
    fn register(&self, side: Side, waker: &Waker) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = &mut slots[side as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = std::mem::take(&mut *self.slots.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

/// What both halves hold.
struct Shared<S> {
    engine: Mutex<Engine<S>>,
    wakers: Arc<Wakers>,
    /// The waker made of `wakers`, made once.
    waker: Waker,
}

impl<S> Shared<S> {
    /// The engine, locked (a panic in another half's poll leaves it usable: its state is only
    /// ever changed through the connection's own transitions).
    fn lock(&self) -> MutexGuard<'_, Engine<S>> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the engine for `side`, with a context that wakes both halves.
    fn poll<T>(&self, side: Side, cx: &mut Context<'_>, f: impl FnOnce(&mut Engine<S>, &mut Context<'_>) -> T) -> T {
        self.wakers.register(side, cx.waker());
        let mut both = Context::from_waker(&self.waker);
        f(&mut self.lock(), &mut both)
    }
}

pub(crate) fn split<S>(engine: Engine<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    let wakers = Arc::new(Wakers::default());
    let waker = Waker::from(wakers.clone());
    let shared = Arc::new(Shared { engine: Mutex::new(engine), wakers, waker });
    (ReadHalf { shared: shared.clone() }, WriteHalf { shared })
}

/// The receiving half of a [`WebSocketStream`](crate::WebSocketStream): a `Stream` of messages.
/// Its polls run the whole connection (timers, Pongs, queued writes), so a task that awaits it
/// keeps the connection alive. Dropping it makes the connection discard incoming messages while
/// the write half keeps the rest running.
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The sending half of a [`WebSocketStream`](crate::WebSocketStream): a `Sink` of messages.
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S> std::fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<S> Drop for ReadHalf<S> {
    fn drop(&mut self) {
        self.shared.lock().discard_messages = true;
        // The writer may wait for room that only reading can make.
        self.shared.wakers.wake_by_ref();
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// The next message, as [`WebSocketStream::recv`](crate::WebSocketStream::recv). Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.poll(Side::Read, cx, Engine::poll_message)).await
    }

    /// The next event of any kind, as [`WebSocketStream::recv_event`](crate::WebSocketStream::recv_event).
    /// Cancel-safe.
    pub async fn recv_event(&mut self) -> Option<Event> {
        poll_fn(|cx| self.shared.poll(Side::Read, cx, Engine::poll_event)).await
    }

    /// Whether `other` is the write half of the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<S> ReadHalf<S> {
    /// The final event, once the connection has ended.
    pub fn close_info(&self) -> Option<Closed> {
        self.shared.lock().closed().cloned()
    }

    /// The connection's counters and round-trip estimate.
    pub fn stats(&self) -> Stats {
        self.shared.lock().conn.stats()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// Queues a message, waiting for room, as [`WebSocketStream::send`](crate::WebSocketStream::send)
    /// (the same cancel safety: queued whole or not at all).
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), SendError<Message>> {
        let mut slot = Some(message.into());
        poll_fn(|cx| self.shared.poll(Side::Write, cx, |e, cx| e.poll_send(cx, &mut slot))).await
    }

    /// Queues a Ping. It does not wait.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError<Bytes>> {
        self.shared.lock().conn.ping(payload)
    }

    /// Waits until everything queued is written and flushed. Cancel-safe.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll(Side::Write, cx, Engine::poll_flush)).await
    }

    /// Sends a Close with `code` and `reason` and waits until it is written; the read half sees
    /// the rest of the close handshake and the end. Cancel-safe (the Close stays queued).
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.lock().start_close(code, reason).map_err(|e| Error::Send(SendErrorKind::Usage(e)))?;
        self.flush().await
    }

    /// Queues a Close and returns.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        self.shared.lock().start_close(code, reason)
    }
}

impl<S> WriteHalf<S> {
    /// Open, closing or closed.
    pub fn state(&self) -> State {
        self.shared.lock().conn.state()
    }

    /// Bytes queued for sending and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.shared.lock().conn.buffered_amount()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll(Side::Read, cx, Engine::poll_message)
    }
}

/// As the stream's sink, except that `poll_close` ends once our Close is written: the read half
/// sees the peer's answer and the end.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(Side::Write, cx, Engine::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.shared.lock().conn.send(item).map_err(|e| Error::Send(e.kind()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(Side::Write, cx, Engine::poll_flush)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.lock().start_close(CloseCode::NORMAL, "").map_err(|e| Error::Send(SendErrorKind::Usage(e)))?;
        self.shared.poll(Side::Write, cx, Engine::poll_flush)
    }
}

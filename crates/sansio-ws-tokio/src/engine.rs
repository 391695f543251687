//! The connection and its transport: one `drive` that reads, writes, fires the core's timers and
//! ends the transport, called from every poll of the stream or of either half.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use sansio_ws::Instant;
use sansio_ws::connection::{CloseCause, Closed, Connection, Event, Message, State};
use sansio_ws::error::{SendError, SendErrorKind, UsageError};
use sansio_ws::frame::CloseCode;
use sansio_ws::time::Epoch;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::error::Error;

/// How much room each read asks the connection for.
const READ_CHUNK: usize = 64 * 1024;
/// The most slices handed to one vectored write.
const MAX_SLICES: usize = 64;
/// How long the transport is read (and what comes discarded) after our sending side is shut, so
/// that unread input does not turn the end into a reset that destroys our last frames in the
/// peer's receive buffer.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

thread_local! {
    /// The read buffer of every connection driven on this thread (see [`Engine::read`]).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
}

/// The current time as tokio's timers see it: under tokio's paused test clock
/// (`tokio::time::pause`) it is the paused time, so the connection's deadlines and the timers
/// armed for them agree.
pub(crate) fn clock() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Where the transport is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The connection runs.
    Open,
    /// The final event came and every byte is written: shut our sending side.
    Shutdown,
    /// Shut: read and discard until the peer's end of stream or the deadline.
    Lingering(Instant),
    /// Nothing more will be done.
    Done,
}

/// A connection over a transport `S`, and the state of that transport.
pub(crate) struct Engine<S> {
    pub(crate) io: S,
    pub(crate) conn: Connection,
    epoch: Epoch,
    sleep: Pin<Box<Sleep>>,
    /// The instant `sleep` is set to, if it is armed.
    armed: Option<Instant>,
    stage: Stage,
    /// The transport's end of stream (or a failure) was given to the connection.
    eof_given: bool,
    /// Writes failed: nothing more is written.
    write_failed: bool,
    /// Bytes were written since the transport was last flushed.
    unflushed: bool,
    /// The final event, once it came.
    closed: Option<Closed>,
    /// The transport error that ended the connection, if one did.
    io_error: Option<io::Error>,
    /// Messages are thrown away as they come (the read half was dropped), so that Pings, the
    /// close handshake and the end still happen.
    pub(crate) discard_messages: bool,
    /// A `close` is being polled: the messages that come meanwhile are thrown away. Set only
    /// for the length of one poll, so a cancelled `close` leaves `recv` receiving as before.
    closing: bool,
    /// The end of the stream has been reported (its error, if any, given once).
    end_reported: bool,
}

impl<S> Engine<S> {
    /// The engine of `conn` over `io`; `epoch` is the scale `conn` was built on.
    pub(crate) fn new(io: S, conn: Connection, epoch: Epoch) -> Self {
        let sleep = Box::pin(tokio::time::sleep_until(tokio::time::Instant::now()));
        Engine {
            io,
            conn,
            epoch,
            sleep,
            armed: None,
            stage: Stage::Open,
            eof_given: false,
            write_failed: false,
            unflushed: false,
            closed: None,
            io_error: None,
            discard_messages: false,
            closing: false,
            end_reported: false,
        }
    }

    /// The current time on the connection's scale.
    pub(crate) fn now(&self) -> Instant {
        self.epoch.instant(clock())
    }

    /// The final event, once the connection has ended.
    pub(crate) fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    /// Whether the connection is over and the transport closed (the stream's end).
    pub(crate) fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Takes the transport error that ended the connection, if one did.
    pub(crate) fn take_io_error(&mut self) -> Option<io::Error> {
        self.io_error.take()
    }

    /// Whether the connection ended without a clean close handshake.
    pub(crate) fn ended_badly(&self) -> bool {
        self.closed.as_ref().is_some_and(|c| !matches!(c.cause, CloseCause::Clean { .. }))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Engine<S> {
    /// Makes every step of progress possible now: fires due timers, writes what the connection
    /// has, reads while the application has taken every event, and ends the transport after the
    /// final event. Registers `cx` with whatever it waits for: the transport and the next deadline.
    ///
    /// Output waits while the connection still has events for the application (unless `flush`,
    /// or the queue is above its high-water mark): the answers to a burst of messages then leave
    /// in one write once the last of them is taken.
    pub(crate) fn drive(&mut self, cx: &mut Context<'_>, flush: bool) {
        // One reading of the clock serves the whole pass: the steps below take microseconds, and
        // a deadline that passes meanwhile is seen when the timer is armed (which reads it again).
        let mut now = self.now();
        loop {
            if self.stage == Stage::Open && self.conn.poll_timeout().is_some_and(|d| d <= now) {
                self.conn.handle_timeout(now);
            }
            if self.discard_messages || self.closing {
                // Before the write: the answers to what is discarded (a Pong) go in it.
                self.discard();
            }
            if flush || !self.output_waits() || self.conn.is_closed() {
                self.write(cx, now);
            }
            let mut again = false;
            match self.stage {
                Stage::Open => again = self.read(cx, now),
                Stage::Shutdown => match Pin::new(&mut self.io).poll_shutdown(cx) {
                    Poll::Ready(_) => {
                        self.stage = Stage::Lingering(now + LINGER);
                        again = true;
                    }
                    Poll::Pending => {}
                },
                Stage::Lingering(until) => again = self.linger(cx, now, until),
                Stage::Done => {}
            }
            if again {
                continue;
            }
            if self.arm(cx) {
                now = self.now();
                continue;
            }
            return;
        }
    }

    /// Whether output waits for the application: events of the last read are still to be taken
    /// (and nobody is discarding them) and the send queue is at or below its high-water mark.
    /// Then `drive` neither writes (unless asked to flush) nor reads, so polls may skip it.
    fn output_waits(&self) -> bool {
        self.conn.has_events()
            && !self.discard_messages
            && !self.closing
            && self.conn.buffered_amount() <= self.conn.config().high_water_mark
    }

    /// Writes until the connection has nothing more or the transport is full, then flushes.
    fn write(&mut self, cx: &mut Context<'_>, now: Instant) {
        while !self.write_failed && self.conn.wants_write() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = self.conn.transmit_io_slices(&mut slices);
            match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n]) {
                Poll::Ready(Ok(0)) => self.write_error(now, io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(written)) => {
                    self.conn.advance_transmit(now, written);
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => self.write_error(now, e),
                Poll::Pending => break,
            }
        }
        if self.unflushed && !self.write_failed {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => self.write_error(now, e),
                Poll::Pending => {}
            }
        }
        if self.conn.is_closed() && self.stage == Stage::Open && (self.write_failed || !self.conn.wants_write()) {
            self.stage = if self.write_failed { Stage::Done } else { Stage::Shutdown };
        }
    }

    /// A failed write: the connection hears it as the end of the stream.
    fn write_error(&mut self, now: Instant, e: io::Error) {
        self.write_failed = true;
        if !self.eof_given {
            self.end_of_stream(now, Some(e));
        }
    }

    /// The next event for the application; the final one is kept for [`closed`](Self::closed)
    /// too.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        let event = self.conn.poll_event()?;
        if let Event::Closed(closed) = &event {
            self.closed = Some(closed.clone());
        }
        Some(event)
    }

    /// Throws away the events the application will never take (its read half is gone).
    fn discard(&mut self) {
        while self.conn.has_events() && self.next_event().is_some() {}
    }

    /// One read into the connection, if the application has taken every event (what the
    /// connection holds stays bounded: the peer waits while we do). Returns whether to go round
    /// again.
    ///
    /// The bytes land in a buffer of the thread's, not of the connection: the connection keeps
    /// only what it has not made into events yet, so an idle connection holds no read buffer.
    fn read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        if self.eof_given || self.conn.has_events() || self.conn.is_closed() {
            return false;
        }
        let io = &mut self.io;
        let conn = &mut self.conn;
        let mut read_into = |buf: &mut [u8]| {
            let mut rb = ReadBuf::new(buf);
            let got = Pin::new(&mut *io).poll_read(cx, &mut rb);
            let n = rb.filled().len();
            if n > 0 {
                conn.handle_input(now, rb.filled());
            }
            got.map_ok(|()| n)
        };
        let got = SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => read_into(&mut scratch[..]),
            // A transport whose own read drives another connection on this thread: this read
            // takes a smaller buffer of its own.
            Err(_) => read_into(&mut [0; 4096]),
        });
        match got {
            Poll::Ready(Ok(0)) => self.end_of_stream(now, None),
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => self.end_of_stream(now, Some(e)),
            Poll::Pending => return false,
        }
        true
    }

    /// The transport's end (or failure) as the connection's end of stream.
    fn end_of_stream(&mut self, now: Instant, error: Option<io::Error>) {
        if let Some(e) = error {
            self.io_error.get_or_insert(e);
        }
        self.eof_given = true;
        self.conn.handle_eof(now);
    }

    /// Reads and discards after our sending side is shut, until the peer's end or `until`.
    fn linger(&mut self, cx: &mut Context<'_>, now: Instant, until: Instant) -> bool {
        if self.eof_given || now >= until {
            self.stage = Stage::Done;
            return false;
        }
        let mut scratch = [0u8; 4096];
        loop {
            let mut rb = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(_) => {
                    self.stage = Stage::Done;
                    return false;
                }
                Poll::Pending => return false,
            }
        }
    }

    /// Sets the timer to the next deadline (the connection's, or the end of lingering) and
    /// registers `cx` with it. Returns true if the deadline has already passed.
    fn arm(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = match self.stage {
            Stage::Open => self.conn.poll_timeout(),
            Stage::Lingering(until) => Some(until),
            Stage::Shutdown | Stage::Done => None,
        };
        let Some(deadline) = deadline else {
            self.armed = None;
            return false;
        };
        if self.armed != Some(deadline) {
            let at = tokio::time::Instant::from_std(self.epoch.to_std(deadline));
            self.sleep.as_mut().reset(at);
            self.armed = Some(deadline);
        }
        self.sleep.as_mut().poll(cx).is_ready()
    }
}

/// What the application asks for, as polls: the stream, the sink and both halves are built on
/// these.
impl<S: AsyncRead + AsyncWrite + Unpin> Engine<S> {
    /// The next event of any kind; `None` once the final event has been taken and the transport
    /// is closed.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        if self.output_waits() {
            // `drive` would neither read nor write now, so the next event is taken without it.
            // Due timers fire at the first poll that finds no event, a few microseconds later.
            if let Some(event) = self.next_event() {
                return Poll::Ready(Some(event));
            }
        }
        self.drive(cx, false);
        if let Some(event) = self.next_event() {
            return Poll::Ready(Some(event));
        }
        // Asking may have applied what waited behind the events just taken (a peer's Close, a
        // violation): that queues output and changes what to wait for, so drive once more.
        self.drive(cx, false);
        if let Some(event) = self.next_event() {
            return Poll::Ready(Some(event));
        }
        if self.is_done() { Poll::Ready(None) } else { Poll::Pending }
    }

    /// The next whole message. Pings, Pongs, the peer's Close and `Writable` are handled here and
    /// not handed on; after the final event, one error if the connection did not end cleanly,
    /// then `None`.
    pub(crate) fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match std::task::ready!(self.poll_event(cx)) {
                Some(Event::Message(message)) => return Poll::Ready(Some(Ok(message))),
                Some(Event::Fragment(fragment)) => return Poll::Ready(Some(Err(Error::Fragment(fragment)))),
                Some(_) => {}
                None => return Poll::Ready(self.end_error().map(Err)),
            }
        }
    }

    /// The error the end of the stream reports, once: the transport's failure, or a final event
    /// that was not a clean close.
    fn end_error(&mut self) -> Option<Error> {
        if self.end_reported {
            return None;
        }
        self.end_reported = true;
        if let Some(e) = self.take_io_error() {
            return Some(Error::Io(e));
        }
        if self.ended_badly() {
            return self.closed.clone().map(|c| Error::Closed(Box::new(c)));
        }
        None
    }

    /// Queues `slot`'s message once the send queue is at or below its high-water mark (waiting
    /// meanwhile); a refusal other than backpressure is returned with the message.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<Message>,
    ) -> Poll<Result<(), SendError<Message>>> {
        let Some(message) = slot.take() else { return Poll::Ready(Ok(())) };
        // Queued first, then written: the message leaves in the same write as those queued
        // before it.
        let message = match self.conn.send(message) {
            Ok(()) => {
                self.after_send(cx);
                return Poll::Ready(Ok(()));
            }
            Err(e) if e.is_backpressure() => e.into_payload(),
            Err(e) => return Poll::Ready(Err(e)),
        };
        // Above the high-water mark: write what the transport takes, then try again.
        self.drive(cx, false);
        match self.conn.send(message) {
            Ok(()) => {
                self.after_send(cx);
                Poll::Ready(Ok(()))
            }
            Err(e) if e.is_backpressure() => {
                *slot = Some(e.into_payload());
                // `drive` left the transport's write readiness registered: it wakes us.
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Writes what was just queued where the transport takes it, unless output waits for the
    /// application (see [`output_waits`](Self::output_waits)): the answers to a burst of messages
    /// then leave together once the last event is taken.
    fn after_send(&mut self, cx: &mut Context<'_>) {
        if !self.output_waits() {
            self.drive(cx, false);
        }
    }

    /// Whether a message may be queued now (the sink's readiness).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.drive(cx, false);
        if self.conn.state() != State::Open {
            return Poll::Ready(Err(Error::Send(SendErrorKind::Usage(UsageError::Closed))));
        }
        if self.conn.buffered_amount() <= self.conn.config().high_water_mark {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Waits until everything queued has been written and flushed (or can never be: the
    /// connection ended, and the error says how).
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.drive(cx, true);
        if self.write_failed {
            return Poll::Ready(Err(match &self.io_error {
                Some(e) => Error::Io(io::Error::new(e.kind(), e.to_string())),
                None => Error::Io(io::ErrorKind::BrokenPipe.into()),
            }));
        }
        if !self.conn.wants_write() && !self.unflushed {
            return Poll::Ready(Ok(()));
        }
        if self.conn.is_closed() && self.stage != Stage::Open {
            // The final event came: what is still queued was discarded with it.
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }

    /// Starts the close handshake with `code` and `reason` (nothing if it has started already).
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        let now = self.now();
        match self.conn.close(now, code, reason) {
            Ok(()) | Err(UsageError::AlreadyClosing | UsageError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits for the end of the connection and of its transport, discarding the messages that
    /// still come; gives the final event.
    pub(crate) fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Closed> {
        self.closing = true;
        self.drive(cx, true);
        self.closing = false;
        match (&self.closed, self.is_done()) {
            (Some(closed), true) => Poll::Ready(closed.clone()),
            _ => Poll::Pending,
        }
    }
}

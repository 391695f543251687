//! What every driver shares: the clock, the application callbacks, and the echo application.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::time::Duration;

use bytes::Bytes;
use sansio_ws::Instant;
use sansio_ws::connection::{Closed, Connection, Event, Fragment, Message, MessageKind};
use sansio_ws::error::SendErrorKind;
use sansio_ws::frame::CloseCode;
use sansio_ws::time::Epoch;

/// How long a driver keeps reading after it shut down its sending side, so that unread input does
/// not turn the close into a reset (which can destroy the peer's copy of our last frames).
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// How much room a driver asks [`Connection::input_buffer`] for on each read.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// The most [`std::io::IoSlice`]s handed to one vectored write.
pub(crate) const MAX_SLICES: usize = 64;

/// The text that asks the echo server to start the close handshake itself.
pub(crate) const CLOSE_REQUEST: &str = "please close";

/// The driver's clock: the system's monotonic clock read on the core's scale through an
/// [`Epoch`]. Only differences matter, so each connection may have its own epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    epoch: Epoch,
}

impl Clock {
    /// A clock whose epoch is now.
    pub(crate) fn new() -> Self {
        Clock { epoch: Epoch::new(std::time::Instant::now()) }
    }

    /// The current time on the core's scale.
    pub(crate) fn now(self) -> Instant {
        self.epoch.instant(std::time::Instant::now())
    }

    /// A core deadline as a `std::time::Instant` (for `sleep_until` and friends).
    pub(crate) fn to_std(self, t: Instant) -> std::time::Instant {
        self.epoch.to_std(t)
    }
}

/// The application: called by a driver with the connection, so that it can answer with commands
/// (`send_*`, `ping`, `close`), which only queue work; the driver writes it out afterwards.
pub(crate) trait Handler {
    /// The connection is open (handshake done, bytes that followed it already given to the
    /// connection). Called once, before any event.
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        let _ = (conn, now);
    }

    /// Every event but the final [`Event::Closed`], which the driver returns instead.
    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: Event);
}

/// A connection that completed its opening handshake, with the transport it runs on.
#[derive(Debug)]
pub(crate) struct Established<S> {
    /// The transport.
    pub(crate) stream: S,
    /// The connection from the handshake's [`Upgraded`](sansio_ws::handshake::Upgraded): the
    /// server's `101` queued as its first output (it goes out with the first frames, one write),
    /// the bytes that followed the handshake already fed in.
    pub(crate) conn: Connection,
}

/// An error for a handshake that failed (refused, malformed, or not finished in time).
pub(crate) fn handshake_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("opening handshake failed: {e}"))
}

/// The drain every driver runs after each input or command: write what the connection has, hand
/// every event to the handler, and repeat while the handler queues more. Returns the
/// final event once it comes; otherwise returns when there is nothing left to do or the transport
/// cannot take more bytes now.
///
/// `write` is one vectored, non-blocking (or briefly blocking) write: `Ok(n)` for `n` bytes
/// written, `WouldBlock`/`TimedOut` when the transport is full. Any other error means the transport
/// failed: the connection hears it as end of stream, and `transport_failed` stops further writes.
pub(crate) fn drain<H: Handler>(
    conn: &mut Connection,
    handler: &mut H,
    clock: Clock,
    transport_failed: &mut bool,
    mut write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
) -> Option<Closed> {
    loop {
        let mut stalled = true;
        if !*transport_failed {
            match write_out(conn, clock, &mut write) {
                Ok(s) => stalled = s,
                Err(_) => {
                    // A reset or broken pipe: for the core, the stream is over.
                    *transport_failed = true;
                    conn.handle_eof(clock.now());
                }
            }
        }
        let now = clock.now();
        let mut any_event = false;
        while let Some(event) = conn.poll_event() {
            any_event = true;
            match event {
                Event::Closed(closed) => return Some(closed),
                event => handler.on_event(conn, now, event),
            }
        }
        // The handler may have queued more output: go round until quiet.
        if !any_event && (stalled || !conn.wants_write()) {
            return None;
        }
    }
}

/// Writes the connection's output with vectored writes until everything is out or the transport
/// is full. Returns whether it is full ("stalled").
fn write_out(
    conn: &mut Connection,
    clock: Clock,
    write: &mut impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
) -> io::Result<bool> {
    while conn.wants_write() {
        let result = {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = conn.transmit_io_slices(&mut slices);
            write(&slices[..n])
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            // A partial write is normal: consume what went out, in order.
            Ok(n) => conn.advance_transmit(clock.now(), n),
            Err(e) if is_would_block(&e) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// What one read into [`Connection::input_buffer`] came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadResult {
    /// Bytes arrived and were handed to the connection.
    Data,
    /// Nothing for now (`WouldBlock`, a timeout, an interruption).
    Nothing,
    /// End of stream or a failed socket: the connection has been told (`handle_eof`).
    Ended,
}

/// Reports the result of a read into the connection's input buffer to the connection.
pub(crate) fn report_read(conn: &mut Connection, now: Instant, result: io::Result<usize>) -> ReadResult {
    match result {
        Ok(0) => {
            conn.handle_input_buffer(now, 0);
            conn.handle_eof(now);
            ReadResult::Ended
        }
        Ok(n) => {
            conn.handle_input_buffer(now, n);
            ReadResult::Data
        }
        Err(e) if is_would_block(&e) || e.kind() == io::ErrorKind::Interrupted => {
            conn.handle_input_buffer(now, 0);
            ReadResult::Nothing
        }
        Err(_) => {
            // A reset or other failure: for the core, the stream is over.
            conn.handle_input_buffer(now, 0);
            conn.handle_eof(now);
            ReadResult::Ended
        }
    }
}

/// The transport is full or empty for now: `WouldBlock`, or `TimedOut` for a blocking socket's
/// timeout on Windows.
pub(crate) fn is_would_block(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The echo application: every message goes back as it came (whole, or piece by piece when the
/// connection streams), except [`CLOSE_REQUEST`], which makes it close the connection itself.
///
/// Echoes refused for backpressure wait in a backlog until [`Event::Writable`]. (A server facing
/// untrusted clients would also stop reading while its backlog is long.)
#[derive(Debug, Default)]
pub(crate) struct Echo {
    /// Pinged once the connection opens, if set.
    pub(crate) ping_on_open: Option<Bytes>,
    /// Messages (or streamed message ends) received.
    pub(crate) messages: usize,
    /// Payload bytes received.
    pub(crate) bytes: u64,
    /// Pings received.
    pub(crate) pings: usize,
    /// Pongs received (answers to `ping_on_open`).
    pub(crate) pongs: Vec<Bytes>,
    /// Whether the peer's Close arrived.
    pub(crate) close_received: Option<CloseCode>,
    /// Whether permessage-deflate was on when the connection opened.
    pub(crate) deflate: bool,
    backlog: VecDeque<Outgoing>,
}

#[derive(Debug)]
enum Outgoing {
    Whole(Message),
    Piece(MessageKind, Bytes, bool),
}

impl Echo {
    /// An echo application that pings once with `payload` when the connection opens.
    pub(crate) fn pinging(payload: &'static [u8]) -> Self {
        Echo { ping_on_open: Some(Bytes::from_static(payload)), ..Echo::default() }
    }

    /// Sends what the backlog holds until the connection refuses for backpressure.
    fn flush(&mut self, conn: &mut Connection) {
        while let Some(out) = self.backlog.pop_front() {
            let refused = match out {
                Outgoing::Whole(m) => conn.send(m).err().map(|e| (e.kind(), Outgoing::Whole(e.into_payload()))),
                Outgoing::Piece(kind, data, last) => conn
                    .send_fragment(kind, data, last)
                    .err()
                    .map(|e| (e.kind(), Outgoing::Piece(kind, e.into_payload(), last))),
            };
            match refused {
                None => {}
                Some((SendErrorKind::Backpressure, out)) => {
                    self.backlog.push_front(out);
                    return;
                }
                // Closing (or any other refusal): nothing more can be sent.
                Some((_, _)) => {
                    self.backlog.clear();
                    return;
                }
            }
        }
    }
}

impl Handler for Echo {
    fn on_open(&mut self, conn: &mut Connection, _now: Instant) {
        self.deflate = conn.is_deflate_enabled();
        if let Some(payload) = self.ping_on_open.clone() {
            // Refused only when the connection is already over; nothing to do then.
            let _ = conn.ping(payload);
        }
    }

    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        match event {
            Event::Message(Message::Text(text)) if text == CLOSE_REQUEST => {
                self.messages += 1;
                // Refused only if closing has already begun.
                let _ = conn.close(now, CloseCode::NORMAL, "as requested");
            }
            Event::Message(message) => {
                self.messages += 1;
                self.bytes += message.len() as u64;
                self.backlog.push_back(Outgoing::Whole(message));
            }
            Event::Fragment(Fragment { kind, data, first, last, .. }) => {
                if first && last && kind == MessageKind::Text && data == CLOSE_REQUEST.as_bytes() {
                    self.messages += 1;
                    let _ = conn.close(now, CloseCode::NORMAL, "as requested");
                    return;
                }
                self.messages += usize::from(last);
                self.bytes += data.len() as u64;
                self.backlog.push_back(Outgoing::Piece(kind, data, last));
            }
            Event::Ping(_) => self.pings += 1,
            Event::Pong(payload) => self.pongs.push(payload),
            Event::CloseReceived { code, .. } => self.close_received = Some(code),
            // The final event never reaches a handler; `Writable` is handled below; events added
            // later are not the echo's business.
            _ => {}
        }
        self.flush(conn);
    }
}

/// The examples' client: sends a text, a binary and a fragmented message and a Ping, reports each
/// answer through `print`, then closes.
#[derive(Debug)]
pub(crate) struct DemoClient {
    /// Where the client reports what happens.
    pub(crate) print: fn(String),
    /// Answers still awaited.
    awaited: usize,
}

impl DemoClient {
    /// A client reporting through `print`.
    pub(crate) fn new(print: fn(String)) -> Self {
        DemoClient { print, awaited: 0 }
    }
}

impl Handler for DemoClient {
    fn on_open(&mut self, conn: &mut Connection, _now: Instant) {
        // Fresh connections have room: these small sends are not refused.
        let sent = [
            conn.send_text("Hello, WebSocket").map_err(|e| e.kind()),
            conn.send_binary(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef])).map_err(|e| e.kind()),
            conn.send_fragment(MessageKind::Text, Bytes::from_static(b"sent in "), false).map_err(|e| e.kind()),
            conn.send_fragment(MessageKind::Text, Bytes::from_static(b"two pieces"), true).map_err(|e| e.kind()),
            conn.ping(Bytes::from_static(b"are you there?")).map_err(|e| e.kind()),
        ];
        for result in sent {
            if let Err(e) = result {
                (self.print)(format!("send refused: {e:?}"));
            }
        }
        self.awaited = 4;
    }

    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        match event {
            Event::Message(Message::Text(text)) => (self.print)(format!("echo (text): {text}")),
            Event::Message(Message::Binary(bytes)) => (self.print)(format!("echo (binary): {:02x?}", &bytes[..])),
            Event::Pong(payload) => (self.print)(format!("pong: {}", String::from_utf8_lossy(&payload))),
            Event::CloseReceived { code, reason } => {
                (self.print)(format!("Close from the server: {} {reason:?}", code.as_u16()));
                return;
            }
            _ => return,
        }
        self.awaited = self.awaited.saturating_sub(1);
        if self.awaited == 0 {
            (self.print)("every answer is in; closing".into());
            let _ = conn.close(now, CloseCode::NORMAL, "done");
        }
    }
}

//! One [`Connection`] driven by a script of inputs, timer events and application commands, with the
//! invariants every run must keep.

use arbitrary::Arbitrary;
use sansio_ws::connection::{CloseCause, Connection, Event, MessageKind, State};
use sansio_ws::frame::{CloseCode, OpCode};
use sansio_ws::rand::SeededRandom;
use sansio_ws::{Instant, Role};

use crate::wire::{RawFrame, close_code, sent_frames};
use crate::{FuzzConfig, FuzzDeflate, drain};

/// One step of a script.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Raw bytes from the peer.
    Bytes(Vec<u8>),
    /// A frame from the peer (any first byte, minimal length, optional mask).
    Frame(RawFrame),
    Eof,
    /// Move the clock forward by this many milliseconds, then `handle_timeout`.
    Advance(u16),
    /// Jump to `poll_timeout()`, then `handle_timeout`.
    FireTimer,
    /// Read into `input_buffer(min)`, then `handle_input_buffer` with what fits.
    ReadInto {
        min: u16,
        data: Vec<u8>,
    },
    /// `input_buffer(min)` and no read: the next input cancels the reservation.
    Reserve(u16),
    /// The transport takes at most this many bytes.
    Write(u16),
    /// The transport takes everything.
    Drain,
    Text(String),
    Binary(Vec<u8>),
    /// `send_text_copy`: a borrowed payload.
    TextCopy(String),
    /// `send_binary_copy`.
    BinaryCopy(Vec<u8>),
    Fragment {
        text: bool,
        data: Vec<u8>,
        last: bool,
    },
    Ping(Vec<u8>),
    Close(u16, String),
    Abort,
}

/// Runs `ops` against a connection of `role` and checks, after every step and at the end:
/// - once [`Event::Closed`] is out, nothing more is transmitted or reported, whatever the input;
/// - [`Event::Closed`] comes at most once, last, exactly when `is_closed()` turns true;
/// - after `handle_timeout(t)`, `poll_timeout()` is `None` or later than `t` (no busy loop);
/// - the bytes transmitted are frames the peer must accept (RSV1 only with permessage-deflate),
///   nothing follows a Close frame, and
///   every Close carries a wire-legal code;
/// - a connection failed for a protocol violation (with every byte written) ends its output with a
///   Close frame carrying the violation's code, or the code of a Close it had already sent.
pub fn run(role: Role, cfg: &FuzzConfig, deflate: Option<&FuzzDeflate>, ops: &[Op]) {
    let config = cfg.to_config(0);
    // Known issue (docs/FUZZING.md): with a zero Pong timeout the heartbeat re-arms its deadline at
    // `now`. Set to false once the crate rejects or survives such a configuration.
    // A clock far from zero (a Unix-epoch one): the connection's timers count from its creation.
    let start = Instant::from_secs(1_700_000_000);
    let mut conn = match role {
        Role::Server => Connection::server(config, start),
        Role::Client => Connection::client_with_randomness(config, start, Box::new(SeededRandom::new(7))),
    };
    if let Some(d) = deflate {
        d.enable(&mut conn);
    }
    let mut now = start;
    let mut wire = Vec::new();
    let mut events = Vec::new();
    let mut local_close: Option<u16> = None;
    for op in ops {
        let (events_before, wire_before) = (events.len(), wire.len());
        let was_closed = conn.is_closed();
        let mut timeout_at = None;
        match op {
            Op::Bytes(b) => conn.handle_input(now, b),
            Op::Frame(f) => {
                let mut b = Vec::new();
                f.encode(&mut b);
                conn.handle_input(now, &b);
            }
            Op::Eof => conn.handle_eof(now),
            Op::ReadInto { min, data } => {
                let buf = conn.input_buffer(usize::from(*min));
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                conn.handle_input_buffer(now, n);
            }
            Op::Reserve(min) => drop(conn.input_buffer(usize::from(*min))),
            Op::Advance(ms) => {
                now = Instant::from_nanos(now.as_nanos() + u64::from(*ms) * 1_000_000);
                timeout_at = Some(now);
            }
            Op::FireTimer => {
                now = now.max(conn.poll_timeout().unwrap_or(now));
                timeout_at = Some(now);
            }
            Op::Write(max) => write(&mut conn, now, &mut wire, usize::from(*max)),
            Op::Drain => while conn.poll_transmit(now, &mut wire) > 0 {},
            Op::Text(s) => drop(conn.send_text(s.as_str())),
            Op::Binary(b) => drop(conn.send_binary(b.clone())),
            Op::TextCopy(s) => drop(conn.send_text_copy(s)),
            Op::BinaryCopy(b) => drop(conn.send_binary_copy(b)),
            Op::Fragment { text, data, last } => {
                let kind = if *text { MessageKind::Text } else { MessageKind::Binary };
                drop(conn.send_fragment(kind, data.clone().into(), *last));
            }
            Op::Ping(p) => drop(conn.ping(p.clone())),
            Op::Close(code, reason) => {
                if conn.close(now, CloseCode::from_u16(*code), reason).is_ok() {
                    local_close = Some(*code);
                }
            }
            Op::Abort => conn.abort(),
        }
        if let Some(t) = timeout_at {
            let was_open = conn.state() == State::Open;
            conn.handle_timeout(t);
            if was_open && conn.state() == State::Closing {
                // The idle timeout started the close handshake with 1001.
                local_close = Some(CloseCode::GOING_AWAY.as_u16());
            }
            let next = conn.poll_timeout();
            assert!(next.is_none_or(|d| d > t), "after handle_timeout({t:?}), poll_timeout() = {next:?}");
        }
        events.extend(core::iter::from_fn(|| conn.poll_event()));
        if was_closed {
            while conn.poll_transmit(now, &mut wire) > 0 {}
            assert_eq!(events.len(), events_before, "events after Closed: {:?}", &events[events_before..]);
            assert_eq!(wire.len(), wire_before, "bytes transmitted after Closed");
        }
        let closed_events = events.iter().filter(|e| matches!(e, Event::Closed(_))).count();
        assert_eq!(conn.is_closed(), closed_events == 1, "is_closed() disagrees with {closed_events} Closed events");
    }
    drain(&mut conn, now, &mut events, &mut wire);
    if let Some(i) = events.iter().position(|e| matches!(e, Event::Closed(_))) {
        assert_eq!(i, events.len() - 1, "Closed is not the last event: {events:?}");
    }
    let (frames, partial) = sent_frames(&wire, role, deflate.is_some());
    let closes: Vec<u16> = frames.iter().filter(|f| f.opcode == OpCode::Close).map(close_code).collect();
    for &code in &closes {
        assert!(CloseCode::from_u16(code).is_allowed_on_wire(), "sent close code {code}");
    }
    if let Some(Event::Closed(closed)) = events.last()
        && let CloseCause::ProtocolViolation(e) = closed.cause
        && closed.unsent.bytes == 0
        && !partial
    {
        let last = frames.last().filter(|f| f.opcode == OpCode::Close).map(close_code);
        let code = e.close_code().as_u16();
        assert!(
            last == Some(code) || (last.is_some() && last == local_close),
            "failed with {e:?} (code {code}) but the last frame sent is {:?}",
            frames.last()
        );
    }
}

/// A transport that takes at most `max` bytes.
fn write(conn: &mut Connection, now: Instant, wire: &mut Vec<u8>, max: usize) {
    let before = wire.len();
    for chunk in conn.transmit_chunks() {
        let room = max - (wire.len() - before);
        wire.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    conn.advance_transmit(now, wire.len() - before);
}

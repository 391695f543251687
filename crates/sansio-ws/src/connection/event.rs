//! What a connection reports: messages, control frames, backpressure, and the one final event.

use alloc::string::String;
use core::fmt;
use core::ops::Deref;
use core::time::Duration;

use bytes::Bytes;

use crate::error::ProtocolError;
use crate::frame::CloseCode;

/// Bytes that are valid UTF-8, shared without copying.
///
/// A text message received in one frame is a slice of the receive buffer: no copy. The bytes were
/// validated once, as they arrived; [`as_str`](Self::as_str) and `Deref` cost nothing more.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps `bytes` if they are valid UTF-8.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        if simdutf8::basic::from_utf8(&bytes).is_ok() { Ok(Utf8Bytes(bytes)) } else { Err(bytes) }
    }

    /// A static string, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// The text.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: the bytes are valid UTF-8. The field is private and `Bytes` is immutable, and
        // every constructor checks or inherits validity: `try_from_bytes` validates,
        // `from_static`, `From<String>` and `From<&str>` start from a `str`, and `from_validated`
        // is only called by the receive side on text it validated as it arrived (re-checked by a
        // debug assertion there, which the tests and fuzz targets run with).
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes, by value.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No bytes at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Wraps bytes the caller has already validated. [`as_str`](Self::as_str) relies on it.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok(), "text handed up without validation");
        Utf8Bytes(bytes)
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Message::Text(Utf8Bytes::from_static(s))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 1).
    Text,
    /// Arbitrary bytes (opcode 2).
    Binary,
}

/// A complete data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message, validated as UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message (`String`, `&str` or [`Utf8Bytes`]).
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message (`Vec<u8>`, [`Bytes`], a static slice…).
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// Text or binary.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Binary(_) => MessageKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// Length of the payload in bytes.
    pub fn len(&self) -> usize {
        self.payload().len()
    }

    /// An empty payload.
    pub fn is_empty(&self) -> bool {
        self.payload().is_empty()
    }
}

/// A piece of a data message, delivered as it arrives in
/// [`ReceiveMode::Streaming`](super::ReceiveMode::Streaming).
///
/// For text, each piece has passed incremental UTF-8 validation, but a piece may end inside a
/// multi-byte character that the next piece completes; the concatenation of all pieces is valid UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fragment {
    /// The message's kind, repeated on every piece.
    pub kind: MessageKind,
    /// The bytes, unmasked.
    pub data: Bytes,
    /// This is the first piece of a message.
    pub first: bool,
    /// This is the last piece of a message.
    pub last: bool,
}

/// Which endpoint did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// This endpoint.
    Local,
    /// The peer.
    Remote,
}

/// Why the connection ended: exactly one per connection, in [`Closed::cause`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The close handshake completed.
    Clean {
        /// The code in the first Close frame ([`CloseCode::NO_STATUS`] if it had none).
        code: CloseCode,
        /// Its reason.
        reason: String,
        /// Who sent the first Close frame.
        initiator: Side,
    },
    /// The transport ended (EOF or reset) before the close handshake completed: the peer vanished
    /// (close code 1006, "abnormal closure").
    PeerVanished {
        /// We had already sent our Close frame and were waiting for the answer.
        during_close: bool,
    },
    /// The secure transport was cut: it ended (TCP EOF or reset) without its own orderly close
    /// (TLS `close_notify`) before the close handshake completed
    /// ([`Connection::handle_truncation`](super::Connection::handle_truncation)). Close code
    /// 1006; the end of the stream is not the peer's word, whoever cut it.
    Truncated {
        /// We had already sent our Close frame and were waiting for the answer.
        during_close: bool,
    },
    /// The peer broke the protocol; the connection was failed with a Close frame carrying
    /// [`ProtocolError::close_code`].
    ProtocolViolation(ProtocolError),
    /// The peer stopped answering pings.
    HeartbeatTimeout {
        /// Consecutive pings that went unanswered.
        misses: u32,
        /// The last round-trip time measured, if any pong ever came back.
        last_rtt: Option<Duration>,
    },
    /// The peer never answered our Close frame within the close timeout.
    CloseTimeout,
    /// Queued output could not be written within the drain timeout (the peer stopped reading).
    DrainTimeout,
    /// Nothing at all was sent or received for the idle timeout; the connection was closed with
    /// 1001 (Going Away).
    IdleTimeout,
    /// [`Connection::abort`](super::Connection::abort) was called.
    LocalAbort,
}

impl CloseCause {
    /// The close code that best describes the ending, as a browser would report it: the clean
    /// close's code, the protocol error's code, or 1006 for endings without a Close handshake.
    pub fn code(&self) -> CloseCode {
        match self {
            CloseCause::Clean { code, .. } => *code,
            CloseCause::ProtocolViolation(e) => e.close_code(),
            CloseCause::IdleTimeout => CloseCode::GOING_AWAY,
            _ => CloseCode::ABNORMAL,
        }
    }
}

/// A line for a log: what ended the connection, with its close code.
impl core::fmt::Display for CloseCause {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CloseCause::Clean { code, reason, initiator } => {
                let by = match initiator {
                    Side::Local => "we",
                    Side::Remote => "the peer",
                };
                write!(f, "closed cleanly, {by} closed first with {code}")?;
                if !reason.is_empty() {
                    write!(f, " {reason:?}")?;
                }
                Ok(())
            }
            CloseCause::PeerVanished { during_close: false } => f.write_str("the peer vanished (1006: no Close)"),
            CloseCause::Truncated { during_close: false } => {
                f.write_str("the secure transport was cut without close_notify (1006: no Close)")
            }
            CloseCause::Truncated { during_close: true } => {
                f.write_str("the secure transport was cut without close_notify during the close handshake (1006)")
            }
            CloseCause::PeerVanished { during_close: true } => {
                f.write_str("the peer vanished during the close handshake (1006)")
            }
            CloseCause::ProtocolViolation(e) => write!(f, "protocol violation, closed with {}: {e}", e.close_code()),
            CloseCause::HeartbeatTimeout { misses, last_rtt } => {
                write!(f, "heartbeat timeout: {misses} Pings unanswered (1006)")?;
                match last_rtt {
                    Some(rtt) => write!(f, ", last round trip {} ms", rtt.as_millis()),
                    None => f.write_str(", no Pong ever came back"),
                }
            }
            CloseCause::CloseTimeout => f.write_str("close timeout: the peer never answered our Close (1006)"),
            CloseCause::DrainTimeout => f.write_str("drain timeout: the peer stopped reading while we closed (1006)"),
            CloseCause::IdleTimeout => f.write_str("idle timeout (1001)"),
            CloseCause::LocalAbort => f.write_str("aborted here (1006)"),
        }
    }
}

/// What was still queued for sending when the connection ended: never dropped silently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unsent {
    /// Bytes of output (frames and payloads) that never reached the transport.
    pub bytes: u64,
    /// Data messages (or streamed fragments) of which not every byte was written.
    pub messages: u64,
}

/// The final event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Closed {
    /// Why the connection ended.
    pub cause: CloseCause,
    /// What could not be sent.
    pub unsent: Unsent,
}

/// Something the application should know. See [`Connection::poll_event`](super::Connection::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A complete message ([`ReceiveMode::Whole`](super::ReceiveMode::Whole)).
    Message(Message),
    /// A piece of a message ([`ReceiveMode::Streaming`](super::ReceiveMode::Streaming)).
    Fragment(Fragment),
    /// The peer pinged; the Pong is already queued.
    Ping(Bytes),
    /// A Pong that did not answer a heartbeat ping: the answer to [`Connection::ping`](super::Connection::ping)
    /// or an unsolicited one.
    Pong(Bytes),
    /// The peer sent a Close frame. If it started the close handshake, the reply is already queued.
    CloseReceived {
        /// Its code, or [`CloseCode::NO_STATUS`] for an empty Close frame.
        code: CloseCode,
        /// Its reason.
        reason: String,
    },
    /// The send queue fell back below the low-water mark after a send was refused for backpressure.
    Writable,
    /// The connection is over: close the transport once every byte taken from `poll_transmit` is
    /// written. Always the last event, exactly once.
    Closed(Closed),
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec::Vec;

    use super::*;
    use crate::Instant;
    use crate::connection::{Config, Connection};

    #[test]
    fn messages_are_made_from_text_and_bytes() {
        let text = Message::text(String::from("héllo"));
        assert_eq!(text, Message::Text(Utf8Bytes::from("héllo")));
        assert_eq!((text.kind(), text.len()), (MessageKind::Text, 6));
        let binary = Message::binary(alloc::vec![0xff, 0x00]);
        assert_eq!(binary, Message::Binary(Bytes::from_static(&[0xff, 0x00])));
        assert_eq!((binary.kind(), binary.payload().as_ref()), (MessageKind::Binary, &[0xff, 0x00][..]));
    }

    #[test]
    fn close_causes_read_as_log_lines() {
        let clean = CloseCause::Clean { code: CloseCode::GOING_AWAY, reason: "bye".into(), initiator: Side::Local };
        let lines = [
            (clean, "closed cleanly, we closed first with 1001 (GoingAway) \"bye\""),
            (
                CloseCause::Clean { code: CloseCode::NORMAL, reason: String::new(), initiator: Side::Remote },
                "closed cleanly, the peer closed first with 1000 (Normal)",
            ),
            (CloseCause::PeerVanished { during_close: false }, "the peer vanished (1006: no Close)"),
            (CloseCause::PeerVanished { during_close: true }, "the peer vanished during the close handshake (1006)"),
            (
                CloseCause::Truncated { during_close: false },
                "the secure transport was cut without close_notify (1006: no Close)",
            ),
            (
                CloseCause::Truncated { during_close: true },
                "the secure transport was cut without close_notify during the close handshake (1006)",
            ),
            (
                CloseCause::HeartbeatTimeout { misses: 3, last_rtt: Some(Duration::from_millis(42)) },
                "heartbeat timeout: 3 Pings unanswered (1006), last round trip 42 ms",
            ),
            (
                CloseCause::HeartbeatTimeout { misses: 2, last_rtt: None },
                "heartbeat timeout: 2 Pings unanswered (1006), no Pong ever came back",
            ),
            (CloseCause::CloseTimeout, "close timeout: the peer never answered our Close (1006)"),
            (CloseCause::DrainTimeout, "drain timeout: the peer stopped reading while we closed (1006)"),
            (CloseCause::IdleTimeout, "idle timeout (1001)"),
            (CloseCause::LocalAbort, "aborted here (1006)"),
        ];
        for (cause, line) in lines {
            assert_eq!(cause.to_string(), line);
        }
        let violation = CloseCause::ProtocolViolation(crate::error::ProtocolError::ControlFrameFlood { limit: 100 });
        assert!(
            violation.to_string().starts_with("protocol violation, closed with 1008 (PolicyViolation): "),
            "{violation}"
        );
    }

    #[test]
    fn every_constructor_reads_back_its_text() {
        let text = "héllo, wörld ✓ 🦀";
        let all = [
            Utf8Bytes::from_static(text),
            Utf8Bytes::from(text),
            Utf8Bytes::from(text.to_string()),
            Utf8Bytes::try_from_bytes(Bytes::from_static(text.as_bytes())).unwrap(),
        ];
        for t in &all {
            assert_eq!(t.as_str(), text);
            assert_eq!(&**t, text);
            assert_eq!(t.len(), text.len());
        }
        assert_eq!(Utf8Bytes::default().as_str(), "");
        // Invalid bytes are handed back, never wrapped.
        let bad = Bytes::from_static(b"ok \xf0\x9f\xa6");
        assert_eq!(Utf8Bytes::try_from_bytes(bad.clone()), Err(bad));
    }

    /// Text received in pieces (multi-byte characters split between reads and frames) reads back
    /// through `as_str` as sent: the receive side's validation is what `as_str` relies on.
    #[test]
    fn received_text_reads_back_through_as_str() {
        let text = "ü€𝄞 texte reçu en morceaux, 𝄞€ü";
        let key = [0x12, 0x34, 0x56, 0x78];
        let mut wire = Vec::new();
        // One masked frame, then the same text in three fragments split inside characters.
        let pieces: [&[u8]; 4] =
            [text.as_bytes(), &text.as_bytes()[..1], &text.as_bytes()[1..5], &text.as_bytes()[5..]];
        for (i, piece) in pieces.iter().enumerate() {
            let (fin, op) = match i {
                0 => (true, 0x1),
                1 => (false, 0x1),
                2 => (false, 0x0),
                _ => (true, 0x0),
            };
            wire.push(if fin { 0x80 | op } else { op });
            wire.push(0x80 | piece.len() as u8);
            wire.extend_from_slice(&key);
            wire.extend(piece.iter().enumerate().map(|(j, b)| b ^ key[j % 4]));
        }
        let now = Instant::from_secs(1);
        let mut conn = Connection::server(Config::default(), now);
        for chunk in wire.chunks(3) {
            conn.handle_input(now, chunk);
        }
        let mut got = Vec::new();
        while let Some(event) = conn.poll_event() {
            if let Event::Message(Message::Text(t)) = event {
                got.push(t.as_str().to_string());
            }
        }
        assert_eq!(got, [text, text]);
    }
}

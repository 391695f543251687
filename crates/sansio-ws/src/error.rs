//! Errors, split by blame.
//!
//! - [`ProtocolError`]: the **peer** broke RFC 6455. Each maps to the close code the connection fails
//!   with ([`ProtocolError::close_code`]).
//! - [`UsageError`]: **this** side asked for something impossible (send after close, an illegal close
//!   code). Nothing goes on the wire; the call is refused and says why.
//! - [`SendError`]: a send refused for backpressure or misuse, handing the message back so nothing is
//!   lost.

use core::fmt;

use crate::frame::{CloseCode, CloseError, FrameError, OpCode};
use crate::utf8::Utf8Error;

/// A violation of RFC 6455 by the peer. The connection fails with [`close_code`](Self::close_code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header broke a rule of §5.2 (or the frame size limit).
    Frame(FrameError),
    /// A Close frame with a malformed payload (§5.5.1, §7.4).
    Close(CloseError),
    /// A continuation frame with no fragmented message in progress (§5.4).
    UnexpectedContinuation,
    /// A new Text or Binary frame while a fragmented message was still in progress (§5.4).
    ExpectedContinuation(OpCode),
    /// Text that is not UTF-8 (§8.1); `offset` is the first bad byte within the message.
    InvalidUtf8 {
        /// Offset of the invalid sequence from the start of the message.
        offset: u64,
    },
    /// A message grew beyond the configured limit.
    MessageTooLarge {
        /// Bytes received so far (the message was abandoned there).
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A compressed message (permessage-deflate) that does not inflate (RFC 7692 §7.2.2).
    InvalidCompressedData,
    /// More Pings and Pongs than [`Config::max_control_frames_per_second`] allows: not a breach
    /// of RFC 6455 but of this endpoint's policy, answered with 1008.
    ///
    /// [`Config::max_control_frames_per_second`]: crate::connection::Config::max_control_frames_per_second
    ControlFrameFlood {
        /// The limit, per second.
        limit: u32,
    },
}

impl ProtocolError {
    /// The close code this violation is answered with: 1007 for invalid UTF-8, 1009 for size
    /// limits, 1002 for everything else (RFC 6455 §7.4.1).
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::Frame(e) => e.close_code(),
            ProtocolError::Close(e) => e.close_code(),
            ProtocolError::InvalidUtf8 { .. } | ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::ControlFrameFlood { .. } => CloseCode::POLICY_VIOLATION,
            ProtocolError::UnexpectedContinuation | ProtocolError::ExpectedContinuation(_) => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason for the Close frame (ASCII, well under 123 bytes).
    pub const fn reason(&self) -> &'static str {
        match self {
            ProtocolError::Frame(FrameError::ReservedOpcode(_)) => "reserved opcode",
            ProtocolError::Frame(FrameError::ReservedBits(_)) => "reserved bits set",
            ProtocolError::Frame(FrameError::FragmentedControl(_)) => "fragmented control frame",
            ProtocolError::Frame(FrameError::ControlTooLong(_)) => "control frame too long",
            ProtocolError::Frame(FrameError::Unmasked) => "unmasked client frame",
            ProtocolError::Frame(FrameError::Masked) => "masked server frame",
            ProtocolError::Frame(FrameError::LengthMsbSet) => "invalid payload length",
            ProtocolError::Frame(FrameError::NonMinimalLength { .. }) => "non-minimal payload length",
            ProtocolError::Frame(FrameError::FrameTooLarge { .. }) => "frame too large",
            ProtocolError::Close(CloseError::InvalidUtf8 { .. }) => "close reason is not UTF-8",
            ProtocolError::Close(_) => "invalid close payload",
            ProtocolError::UnexpectedContinuation => "unexpected continuation frame",
            ProtocolError::ExpectedContinuation(_) => "expected a continuation frame",
            ProtocolError::InvalidUtf8 { .. } => "invalid UTF-8 in text message",
            ProtocolError::MessageTooLarge { .. } => "message too large",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
            ProtocolError::ControlFrameFlood { .. } => "too many control frames",
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> Self {
        ProtocolError::Frame(e)
    }
}

impl From<CloseError> for ProtocolError {
    fn from(e: CloseError) -> Self {
        ProtocolError::Close(e)
    }
}

impl From<Utf8Error> for ProtocolError {
    fn from(e: Utf8Error) -> Self {
        ProtocolError::InvalidUtf8 { offset: e.valid_up_to() }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => fmt::Display::fmt(e, f),
            ProtocolError::Close(e) => fmt::Display::fmt(e, f),
            ProtocolError::UnexpectedContinuation => f.write_str("continuation frame with no message in progress"),
            ProtocolError::ExpectedContinuation(op) => {
                write!(f, "{op} frame while a fragmented message was in progress")
            }
            ProtocolError::InvalidUtf8 { offset } => write!(f, "text message is not UTF-8 at byte {offset}"),
            ProtocolError::MessageTooLarge { size, max } => {
                write!(f, "message of at least {size} bytes exceeds the limit of {max}")
            }
            ProtocolError::InvalidCompressedData => f.write_str("compressed message does not inflate"),
            ProtocolError::ControlFrameFlood { limit } => {
                write!(f, "more Pings and Pongs than the limit of {limit} a second")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

/// A request this side made that the connection cannot carry out. Nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// The connection is closing or closed: no more data or pings can be sent.
    Closed,
    /// `close` was already called (or the peer's Close already answered).
    AlreadyClosing,
    /// A close code that may not be sent (1004–1006, 1015, 1016–2999, or outside 1000–4999).
    InvalidCloseCode(CloseCode),
    /// A ping payload over 125 bytes.
    ControlTooLong(usize),
    /// A whole message was sent while a streamed message was still open, or a fragment of one kind
    /// continued a streamed message of another.
    MessageInProgress,
    /// A text piece that would make the message invalid UTF-8.
    InvalidUtf8,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Closed => f.write_str("the connection is closing or closed"),
            UsageError::AlreadyClosing => f.write_str("the close handshake has already started"),
            UsageError::InvalidCloseCode(code) => write!(f, "close code {} may not be sent", code.as_u16()),
            UsageError::ControlTooLong(n) => write!(f, "control payload of {n} bytes exceeds 125"),
            UsageError::MessageInProgress => f.write_str("a streamed message is still in progress"),
            UsageError::InvalidUtf8 => f.write_str("text piece is not valid UTF-8"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UsageError {}

/// A refused send. The payload comes back to the caller: a refused message is never dropped.
///
/// Every send command returns this one shape: `T` is what was handed in (a [`Message`], a
/// [`Utf8Bytes`], [`Bytes`], a borrowed `&str` or `&[u8]`, a `&PreparedMessage`), and
/// [`kind`](Self::kind) says why it was refused.
///
/// [`Message`]: crate::connection::Message
/// [`Utf8Bytes`]: crate::connection::Utf8Bytes
/// [`Bytes`]: bytes::Bytes
#[derive(Clone, PartialEq, Eq)]
#[must_use = "a refused send hands its payload back; dropping it loses the message"]
pub struct SendError<T> {
    kind: SendErrorKind,
    payload: T,
}

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// The bytes queued for sending are above the high-water mark; wait for
    /// [`Event::Writable`](crate::connection::Event::Writable) and send again.
    Backpressure,
    /// The request itself is not possible now.
    Usage(UsageError),
}

impl<T> SendError<T> {
    /// A refusal of `payload` for `kind` (drivers that queue sends of their own report refusals
    /// with it).
    pub const fn new(kind: SendErrorKind, payload: T) -> Self {
        SendError { kind, payload }
    }

    pub(crate) const fn usage(e: UsageError, payload: T) -> Self {
        SendError { kind: SendErrorKind::Usage(e), payload }
    }

    /// Why the send was refused.
    pub const fn kind(&self) -> SendErrorKind {
        self.kind
    }

    /// Whether it was refused for backpressure only (sending again after
    /// [`Event::Writable`](crate::connection::Event::Writable) will succeed).
    pub const fn is_backpressure(&self) -> bool {
        matches!(self.kind, SendErrorKind::Backpressure)
    }

    /// The payload that was not queued.
    pub const fn payload(&self) -> &T {
        &self.payload
    }

    /// The payload that was not queued, by value.
    pub fn into_payload(self) -> T {
        self.payload
    }

    /// The same refusal with the payload transformed (e.g. a borrowed payload copied into an
    /// owned one to keep it).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> SendError<U> {
        SendError { kind: self.kind, payload: f(self.payload) }
    }
}

/// Leaves the payload out: a refused message may be megabytes long, and `unwrap` on a send
/// would print all of it.
impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SendErrorKind::Backpressure => f.write_str("send buffer above its high-water mark; message handed back"),
            SendErrorKind::Usage(e) => fmt::Display::fmt(&e, f),
        }
    }
}

#[cfg(feature = "std")]
impl<T> std::error::Error for SendError<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc_7_4_1() {
        assert_eq!(ProtocolError::InvalidUtf8 { offset: 3 }.close_code().as_u16(), 1007);
        assert_eq!(ProtocolError::MessageTooLarge { size: 10, max: 5 }.close_code().as_u16(), 1009);
        assert_eq!(ProtocolError::Frame(FrameError::FrameTooLarge { len: 9, max: 1 }).close_code().as_u16(), 1009);
        assert_eq!(ProtocolError::UnexpectedContinuation.close_code().as_u16(), 1002);
        assert_eq!(ProtocolError::Close(CloseError::InvalidUtf8 { valid_up_to: 0 }).close_code().as_u16(), 1007);
        assert_eq!(ProtocolError::Close(CloseError::OneByte).close_code().as_u16(), 1002);
        assert!(ProtocolError::Frame(FrameError::Unmasked).reason().len() <= 123);
    }
}

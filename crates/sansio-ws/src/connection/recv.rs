//! The receive side: frames out of the input buffer, unmasked, text validated as it arrives,
//! fragments reassembled (or streamed), control frames handed up.
//!
//! Every input byte is looked at once: a frame's payload is unmasked and UTF-8-checked as its bytes
//! arrive (so invalid text fails at the first bad byte, even mid-frame) and never rescanned. Three
//! paths, fastest first:
//!
//! - a whole message in one frame, all buffered: unmasked in place and handed up as a slice of
//!   the input buffer (no copy), with a fast check for short ASCII text;
//! - a large frame still arriving (whole mode, uncompressed): its payload goes straight into the
//!   message's own buffer, unmasked and validated while it is copied there ("direct" frames,
//!   see [`Receiver::absorb`]); that buffer becomes the message, and is reused for the next large
//!   message once the application has dropped the last one;
//! - everything else frame by frame from the input buffer.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};

#[cfg(feature = "deflate")]
use crate::deflate::{InflateError, Inflater};
use crate::error::ProtocolError;
use crate::frame::mask::extend_masked;
use crate::frame::{
    CloseCode, DecodeRules, Decoded, FrameError, FrameHeader, OpCode, Rsv, apply_mask, parse_close_payload,
};
use crate::utf8::Utf8Validator;

use super::config::ReceiveMode;
use super::event::{Fragment, Message, MessageKind, Utf8Bytes};

/// Data frames with at least this much payload not yet buffered when their header is read are
/// received directly into their message (see [`Receiver::absorb`]).
const DIRECT_MIN: usize = 512;
/// Text received directly is validated in steps of this size, as it is copied.
const VALIDATE_STEP: usize = 8 * 1024;
/// Room is made in advance for at most this much of a direct frame's payload.
const RESERVE_MAX: usize = 1 << 20;

/// Appends `data`, a frame's payload bytes from position `offset`, to `out`, unmasking them on
/// the way.
fn push_payload(out: &mut Vec<u8>, data: &[u8], mask: Option<[u8; 4]>, offset: usize) {
    match mask {
        Some(key) => extend_masked(out, data, key, offset),
        None => out.extend_from_slice(data),
    }
}

/// A message at least this large (and at most [`SPARE_MAX`]) leaves its buffer for reuse (see
/// `Receiver::spare`).
const SPARE_MIN: usize = 64 * 1024;
/// Larger buffers are not kept for reuse, so that a connection does not hold one after a huge
/// message.
const SPARE_MAX: usize = 4 << 20;

/// How many recent large messages keep a handle for reuse: an application that echoes or forwards
/// a message holds it until it is sent, while the next ones arrive.
const SPARES: usize = 2;

/// An emptied buffer for a message of `len` bytes from a kept message that nothing else refers
/// to any more. A buffer far larger than `len` is let go instead: the application would hold it
/// all for a smaller message.
fn reclaim_spare(spare: &mut [Option<Bytes>; SPARES], len: usize) -> Option<Vec<u8>> {
    for slot in spare {
        let Some(bytes) = slot.take() else { continue };
        match bytes.try_into_mut() {
            Ok(buf) if buf.capacity() <= 2 * len => {
                let mut buf = Vec::from(buf);
                buf.clear();
                return Some(buf);
            }
            Ok(_) => {}
            Err(still_held) => *slot = Some(still_held),
        }
    }
    None
}

/// The inflate buffer is kept for reuse up to this capacity.
#[cfg(feature = "deflate")]
const INFLATED_KEEP: usize = 256 * 1024;

/// A received message of `kind` whose payload (text: already validated) is `bytes`.
fn validated_message(kind: MessageKind, bytes: Bytes) -> Message {
    match kind {
        MessageKind::Text => Message::Text(Utf8Bytes::from_validated(bytes)),
        MessageKind::Binary => Message::Binary(bytes),
    }
}

/// What the receive side produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    Message(Message),
    Fragment(Fragment),
    Ping(Bytes),
    Pong(Bytes),
    Close { code: CloseCode, reason: String },
}

#[derive(Debug, Clone, Copy)]
struct InFrame {
    header: FrameHeader,
    /// Payload length as a `usize` (bounded by the frame size limit).
    len: usize,
    /// Payload bytes already taken out of the buffer (streaming mode).
    taken: usize,
    /// Payload bytes at the front of the buffer already unmasked and validated (of a direct
    /// frame: payload bytes already validated).
    checked: usize,
    /// The payload goes straight to the message (`InMessage::parts`), unmasked while it is
    /// copied there, instead of waiting in `buf`: see [`Receiver::absorb`].
    direct: bool,
    /// Payload bytes of a direct frame already in the message.
    received: usize,
}

#[derive(Debug)]
struct InMessage {
    kind: MessageKind,
    /// Payload bytes so far, all frames.
    len: u64,
    /// Earlier frames' payloads (whole mode; empty while the message is one frame), or the
    /// inflated text of a compressed message.
    parts: Vec<u8>,
    /// RSV1 was set on the first frame: permessage-deflate.
    compressed: bool,
    /// Inflated bytes so far (compressed messages).
    #[cfg(feature = "deflate")]
    inflated: u64,
    /// A piece has been delivered (streaming mode).
    announced: bool,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    rules: DecodeRules,
    mode: ReceiveMode,
    max_message: u64,
    pub(crate) buf: BytesMut,
    /// Recent large messages handed up (second handles to them): once the
    /// application has dropped one, its buffer receives the next large message, instead of fresh
    /// memory that the allocator maps and the kernel zeroes page by page. Released by
    /// `drop_spare`.
    spare: [Option<Bytes>; SPARES],
    frame: Option<InFrame>,
    msg: Option<InMessage>,
    utf8: Utf8Validator,
    pub(crate) frames_received: u64,
    #[cfg(feature = "deflate")]
    pub(crate) inflater: Option<Inflater>,
    /// Inflated bytes of the compressed message (or piece) in progress; reused.
    #[cfg(feature = "deflate")]
    inflated: Vec<u8>,
}

impl Receiver {
    pub(crate) fn new(rules: DecodeRules, mode: ReceiveMode, max_message: u64) -> Self {
        Receiver {
            rules,
            mode,
            max_message,
            buf: BytesMut::new(),
            spare: Default::default(),
            frame: None,
            msg: None,
            utf8: Utf8Validator::new(),
            frames_received: 0,
            #[cfg(feature = "deflate")]
            inflater: None,
            #[cfg(feature = "deflate")]
            inflated: Vec::new(),
        }
    }

    /// Accepts RSV1 (permessage-deflate) from now on.
    #[cfg(feature = "deflate")]
    pub(crate) fn enable_inflate(&mut self, inflater: Inflater) {
        self.rules.allowed_rsv = Rsv::RSV1;
        self.inflater = Some(inflater);
    }

    /// Gives a large, empty receive buffer back to the allocator, so that an idle connection holds
    /// no read buffer (a driver reads into a fresh region next time).
    pub(crate) fn release_if_idle(&mut self) {
        const KEEP: usize = 4 * 1024;
        if self.buf.is_empty() && self.buf.capacity() > KEEP {
            self.buf = BytesMut::new();
        }
    }

    /// Takes a prefix of `data` as input and returns its length; the caller processes it before
    /// offering the rest.
    ///
    /// The payload of a large data frame received whole (not streamed, not compressed) is copied
    /// straight into its message's own buffer and unmasked in the same pass: one pass over each
    /// byte, where buffering it would take a copy and an in-place pass, and a single-frame
    /// message is that buffer, handed up without another copy. So that this starts at a large
    /// frame's first payload byte, a complete header of such a frame is taken by itself.
    pub(crate) fn absorb(&mut self, data: &[u8]) -> usize {
        match (self.frame.as_mut(), self.msg.as_mut()) {
            (Some(f), Some(m)) if f.direct && self.buf.is_empty() => {
                let n = (f.len - f.received).min(data.len());
                if m.kind == MessageKind::Text && f.checked == f.received {
                    // Validated in steps, each while it is still in the L1 cache.
                    let start = f.received;
                    for piece in data[..n].chunks(VALIDATE_STEP) {
                        push_payload(&mut m.parts, piece, f.header.mask, f.received);
                        f.received += piece.len();
                        if self.utf8.feed(&m.parts[m.parts.len() - piece.len()..]).is_err() {
                            // Left unchecked: `next_direct` reports the error (it is sticky).
                            return f.received - start;
                        }
                        f.checked = f.received;
                    }
                } else {
                    push_payload(&mut m.parts, &data[..n], f.header.mask, f.received);
                    f.received += n;
                }
                n
            }
            (None, _) if self.buf.is_empty() => {
                if let Ok(Decoded::Complete { header, len }) = FrameHeader::decode(data, &self.rules) {
                    if header.payload_len >= DIRECT_MIN as u64 && len < data.len() {
                        self.buf.extend_from_slice(&data[..len]);
                        return len;
                    }
                }
                self.buf.extend_from_slice(data);
                data.len()
            }
            _ => {
                self.buf.extend_from_slice(data);
                data.len()
            }
        }
    }

    /// Continues a direct frame (see [`absorb`](Self::absorb)): takes its payload bytes that
    /// were read into `buf`, validates what is new, and ends the frame once it is complete.
    fn next_direct(&mut self, mut f: InFrame) -> Result<Option<Incoming>, ProtocolError> {
        let Some(m) = self.msg.as_mut() else { return Err(ProtocolError::UnexpectedContinuation) };
        let n = (f.len - f.received).min(self.buf.len());
        if n > 0 {
            push_payload(&mut m.parts, &self.buf[..n], f.header.mask, f.received);
            self.buf.advance(n);
            f.received += n;
        }
        if m.kind == MessageKind::Text && f.received > f.checked {
            let fresh = f.received - f.checked;
            self.utf8.feed(&m.parts[m.parts.len() - fresh..])?;
            f.checked = f.received;
        }
        if f.received < f.len {
            self.frame = Some(f);
            return Ok(None);
        }
        self.frame = None;
        if !f.header.fin {
            return Ok(None);
        }
        let m = self.end_message()?;
        let bytes = Bytes::from(m.parts);
        if (SPARE_MIN..=SPARE_MAX).contains(&bytes.len()) {
            match self.spare.iter_mut().find(|slot| slot.is_none()) {
                Some(free) => *free = Some(bytes.clone()),
                None => {
                    self.spare.rotate_left(1);
                    self.spare[SPARES - 1] = Some(bytes.clone());
                }
            }
        }
        Ok(Some(Incoming::Message(validated_message(m.kind, bytes))))
    }

    /// Bytes of the peer's data held here: input not yet made into frames, the message being
    /// reassembled and, for a compressed one, its inflated text.
    pub(crate) fn held_bytes(&self) -> usize {
        let partial = self.msg.as_ref().map_or(0, |m| m.parts.len());
        #[cfg(feature = "deflate")]
        let partial = partial + self.inflated.len();
        self.buf.len() + partial
    }

    /// Lets go of the buffers kept for the next large messages.
    pub(crate) fn drop_spare(&mut self) {
        self.spare = Default::default();
    }

    /// Drops buffered input and any partial message (the connection stopped reading).
    pub(crate) fn clear(&mut self) {
        self.buf = BytesMut::new();
        self.drop_spare();
        #[cfg(feature = "deflate")]
        {
            self.inflated = Vec::new();
        }
        self.frame = None;
        self.msg = None;
    }

    /// The next thing the buffered input holds, `None` when more input is needed.
    pub(crate) fn next(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            if self.frame.is_none() && self.msg.is_none() {
                if let Some(message) = self.next_single_frame()? {
                    return Ok(Some(Incoming::Message(message)));
                }
            }
            let mut f = match self.frame {
                Some(f) => f,
                None => match FrameHeader::decode(&self.buf, &self.rules)? {
                    Decoded::Incomplete { .. } => return Ok(None),
                    Decoded::Complete { header, len } => {
                        self.buf.advance(len);
                        self.begin_frame(header)?
                    }
                },
            };

            if f.direct {
                match self.next_direct(f)? {
                    None if self.frame.is_none() => continue,
                    next => return Ok(next),
                }
            }

            // Unmask and validate whatever part of the payload has newly arrived.
            let have = self.buf.len().min(f.len - f.taken);
            if have > f.checked {
                let fresh = &mut self.buf[f.checked..have];
                if let Some(key) = f.header.mask {
                    apply_mask(fresh, key, f.taken + f.checked);
                }
                let plain_text = self.msg.as_ref().is_some_and(|m| m.kind == MessageKind::Text && !m.compressed);
                if f.header.opcode.is_data() && plain_text {
                    self.utf8.feed(fresh)?;
                }
                f.checked = have;
            }
            let frame_done = f.taken + have == f.len;

            #[cfg(feature = "deflate")]
            if f.header.opcode.is_data() && self.msg.as_ref().is_some_and(|m| m.compressed) {
                let last = frame_done && f.header.fin;
                let data = self.buf.split_to(have);
                f.taken += have;
                f.checked = 0;
                self.frame = if frame_done { None } else { Some(f) };
                if let Some(incoming) = self.inflate(&data, last)? {
                    return Ok(Some(incoming));
                }
                if frame_done {
                    continue;
                }
                return Ok(None);
            }

            if self.mode == ReceiveMode::Streaming && f.header.opcode.is_data() {
                let last = frame_done && f.header.fin;
                if have == 0 && !last {
                    self.frame = if frame_done { None } else { Some(f) };
                    if frame_done {
                        continue;
                    }
                    return Ok(None);
                }
                let data = self.buf.split_to(have).freeze();
                f.taken += have;
                f.checked = 0;
                self.frame = if frame_done { None } else { Some(f) };
                return self.piece(data, last).map(Some);
            }

            if !frame_done {
                self.frame = Some(f);
                return Ok(None);
            }
            self.frame = None;
            let payload = self.buf.split_to(f.len).freeze();
            match f.header.opcode {
                OpCode::Ping => return Ok(Some(Incoming::Ping(payload))),
                OpCode::Pong => return Ok(Some(Incoming::Pong(payload))),
                OpCode::Close => {
                    return Ok(Some(match parse_close_payload(&payload)? {
                        Some(c) => Incoming::Close { code: c.code, reason: c.reason.into() },
                        None => Incoming::Close { code: CloseCode::NO_STATUS, reason: String::new() },
                    }));
                }
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    if let Some(m) = self.whole(payload, f.header.fin)? {
                        return Ok(Some(Incoming::Message(m)));
                    }
                }
            }
        }
    }

    /// The fast path for the commonest case: a whole message in one frame, all of it buffered,
    /// uncompressed, in whole mode. `None` leaves everything else (more input needed, control
    /// frames, errors) to the general path.
    fn next_single_frame(&mut self) -> Result<Option<Message>, ProtocolError> {
        let Ok(Decoded::Complete { header, len }) = FrameHeader::decode(&self.buf, &self.rules) else {
            return Ok(None);
        };
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            _ => return Ok(None),
        };
        let buffered = (self.buf.len() - len) as u64;
        let plain = header.fin && header.rsv == Rsv::NONE && self.mode == ReceiveMode::Whole;
        if !plain || header.payload_len > buffered || header.payload_len > self.max_message {
            return Ok(None);
        }
        self.frames_received += 1;
        // The whole frame is split off and its header skipped in the frozen handle: cheaper than
        // advancing the receive buffer first.
        let mut frame = self.buf.split_to(len + header.payload_len as usize);
        let payload = &mut frame[len..];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        if kind == MessageKind::Text && !crate::utf8::is_valid(payload) {
            // Invalid: the validator says where.
            self.utf8.reset();
            self.utf8.feed(payload)?;
            self.utf8.finish()?;
        }
        let mut payload = frame.freeze();
        payload.advance(len);
        Ok(Some(validated_message(kind, payload)))
    }

    /// Checks a new frame against the message in progress and the size limit.
    fn begin_frame(&mut self, header: FrameHeader) -> Result<InFrame, ProtocolError> {
        self.frames_received += 1;
        let too_large =
            ProtocolError::Frame(FrameError::FrameTooLarge { len: header.payload_len, max: self.rules.max_frame_size });
        let len = usize::try_from(header.payload_len).map_err(|_| too_large)?;
        // RFC 7692 §6: RSV1 marks a compressed message on its first frame only.
        let rsv1 = header.rsv.contains(Rsv::RSV1);
        if rsv1 && (header.opcode.is_control() || header.opcode == OpCode::Continuation) {
            return Err(FrameError::ReservedBits(Rsv::RSV1).into());
        }
        match (header.opcode, &mut self.msg) {
            (op, _) if op.is_control() => {}
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(m)) => {
                m.len += header.payload_len;
                // A compressed message's limit applies to its inflated size, checked while inflating.
                if m.len > self.max_message && !m.compressed {
                    return Err(ProtocolError::MessageTooLarge { size: m.len, max: self.max_message });
                }
            }
            (op, Some(_)) => return Err(ProtocolError::ExpectedContinuation(op)),
            (op, None) => {
                if header.payload_len > self.max_message && !rsv1 {
                    return Err(ProtocolError::MessageTooLarge { size: header.payload_len, max: self.max_message });
                }
                let kind = if op == OpCode::Text { MessageKind::Text } else { MessageKind::Binary };
                self.utf8.reset();
                #[cfg(feature = "deflate")]
                self.inflated.clear();
                self.msg = Some(InMessage {
                    kind,
                    len: header.payload_len,
                    parts: Vec::new(),
                    compressed: rsv1,
                    #[cfg(feature = "deflate")]
                    inflated: 0,
                    announced: false,
                });
            }
        }
        // A large data frame not yet all here is received directly (see `absorb`).
        let whole_mode = self.mode == ReceiveMode::Whole && !self.msg.as_ref().is_some_and(|m| m.compressed);
        let direct = header.opcode.is_data() && whole_mode && len >= DIRECT_MIN && self.buf.len() < len;
        if let Some(m) = self.msg.as_mut().filter(|_| direct) {
            let room = len.min(RESERVE_MAX);
            if m.parts.capacity() == 0 && len >= SPARE_MIN {
                if let Some(buf) = reclaim_spare(&mut self.spare, len) {
                    m.parts = buf;
                }
            }
            m.parts.reserve(room);
        }
        Ok(InFrame { header, len, taken: 0, checked: 0, direct, received: 0 })
    }

    /// Ends the message in progress: the trailing UTF-8 check for text.
    fn end_message(&mut self) -> Result<InMessage, ProtocolError> {
        let m = self.msg.take().ok_or(ProtocolError::UnexpectedContinuation)?;
        if m.kind == MessageKind::Text {
            self.utf8.finish()?;
        }
        Ok(m)
    }

    /// A data frame is complete (whole mode).
    fn whole(&mut self, payload: Bytes, fin: bool) -> Result<Option<Message>, ProtocolError> {
        if !fin {
            if let Some(m) = self.msg.as_mut() {
                m.parts.extend_from_slice(&payload);
            }
            return Ok(None);
        }
        let m = self.end_message()?;
        let bytes = if m.parts.is_empty() {
            // The message was a single frame: hand up the input buffer's slice.
            payload
        } else {
            let mut parts = m.parts;
            parts.extend_from_slice(&payload);
            Bytes::from(parts)
        };
        Ok(Some(validated_message(m.kind, bytes)))
    }

    /// Inflates a piece of a compressed message: into the message (whole mode, which returns the
    /// message at its end) or as a piece (streaming mode). The message size limit applies to the
    /// inflated bytes, while inflating.
    #[cfg(feature = "deflate")]
    fn inflate(&mut self, data: &[u8], last: bool) -> Result<Option<Incoming>, ProtocolError> {
        let max = self.max_message;
        let (Some(inflater), Some(m)) = (self.inflater.as_mut(), self.msg.as_mut()) else {
            return Err(FrameError::ReservedBits(Rsv::RSV1).into());
        };
        let streaming = self.mode == ReceiveMode::Streaming;
        // Whole mode gathers the message here; streaming mode each piece.
        let out = &mut self.inflated;
        if streaming {
            out.clear();
        }
        let before = out.len();
        let room = usize::try_from(max.saturating_sub(m.inflated)).unwrap_or(usize::MAX);
        let limit = before.saturating_add(room);
        inflater.inflate(data, last, out, limit).map_err(|e| match e {
            InflateError::TooLarge => ProtocolError::MessageTooLarge { size: max.saturating_add(1), max },
            InflateError::Corrupt => ProtocolError::InvalidCompressedData,
        })?;
        m.inflated += (out.len() - before) as u64;
        if m.kind == MessageKind::Text {
            self.utf8.feed(&out[before..])?;
        }
        if streaming {
            if out.is_empty() && !last {
                return Ok(None);
            }
            let data = self.take_inflated();
            return self.piece(data, last).map(Some);
        }
        if !last {
            return Ok(None);
        }
        let m = self.end_message()?;
        let bytes = self.take_inflated();
        Ok(Some(Incoming::Message(validated_message(m.kind, bytes))))
    }

    /// The inflated bytes gathered, as a message or piece. The buffer is reused: for each message,
    /// zlib then writes into memory already in place, in one go, and the result is copied out at
    /// its exact size. A buffer grown past [`INFLATED_KEEP`] (or with memory released between
    /// messages) is handed over instead.
    #[cfg(feature = "deflate")]
    fn take_inflated(&mut self) -> Bytes {
        let keep = self.inflater.as_ref().is_some_and(|i| !i.releases_memory());
        if keep && self.inflated.capacity() <= INFLATED_KEEP {
            let bytes = Bytes::copy_from_slice(&self.inflated);
            self.inflated.clear();
            bytes
        } else {
            Bytes::from(core::mem::take(&mut self.inflated))
        }
    }

    /// A piece of a data frame (streaming mode).
    fn piece(&mut self, data: Bytes, last: bool) -> Result<Incoming, ProtocolError> {
        let (kind, first) = match self.msg.as_mut() {
            Some(m) => {
                let first = !m.announced;
                m.announced = true;
                (m.kind, first)
            }
            None => return Err(ProtocolError::UnexpectedContinuation),
        };
        if last {
            self.end_message()?;
        }
        Ok(Incoming::Fragment(Fragment { kind, data, first, last }))
    }
}

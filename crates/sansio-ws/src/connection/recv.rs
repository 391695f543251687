//! The receive side: frames out of the input buffer, unmasked in place, text validated as it
//! arrives, fragments reassembled (or streamed), control frames handed up.
//!
//! Every input byte is looked at once: a frame's payload is unmasked and UTF-8-checked as its bytes
//! arrive (so invalid text fails at the first bad byte, even mid-frame) and never rescanned. A
//! message that arrives in one frame is handed up as a slice of the input buffer, without a copy.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};

#[cfg(feature = "deflate")]
use crate::deflate::{InflateError, Inflater};
use crate::error::ProtocolError;
use crate::frame::{
    CloseCode, DecodeRules, Decoded, FrameError, FrameHeader, OpCode, Rsv, apply_mask, parse_close_payload,
};
use crate::utf8::Utf8Validator;

use super::config::ReceiveMode;
use super::event::{Fragment, Message, MessageKind, Utf8Bytes};

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
    /// Payload bytes at the front of the buffer already unmasked and validated.
    checked: usize,
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
    frame: Option<InFrame>,
    msg: Option<InMessage>,
    utf8: Utf8Validator,
    pub(crate) frames_received: u64,
    #[cfg(feature = "deflate")]
    pub(crate) inflater: Option<Inflater>,
}

impl Receiver {
    pub(crate) fn new(rules: DecodeRules, mode: ReceiveMode, max_message: u64) -> Self {
        Receiver {
            rules,
            mode,
            max_message,
            buf: BytesMut::new(),
            frame: None,
            msg: None,
            utf8: Utf8Validator::new(),
            frames_received: 0,
            #[cfg(feature = "deflate")]
            inflater: None,
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

    /// Drops buffered input and any partial message (the connection stopped reading).
    pub(crate) fn clear(&mut self) {
        self.buf = BytesMut::new();
        self.frame = None;
        self.msg = None;
    }

    /// The next thing the buffered input holds, `None` when more input is needed.
    pub(crate) fn next(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        loop {
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
        Ok(InFrame { header, len, taken: 0, checked: 0 })
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
        Ok(Some(match m.kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(bytes)),
            MessageKind::Binary => Message::Binary(bytes),
        }))
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
        let mut piece = Vec::new();
        let out = if streaming { &mut piece } else { &mut m.parts };
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
            if piece.is_empty() && !last {
                return Ok(None);
            }
            return self.piece(Bytes::from(piece), last).map(Some);
        }
        if !last {
            return Ok(None);
        }
        let m = self.end_message()?;
        let bytes = Bytes::from(m.parts);
        Ok(Some(Incoming::Message(match m.kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(bytes)),
            MessageKind::Binary => Message::Binary(bytes),
        })))
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

//! The receive side: frames out of the input buffer, unmasked in place, text validated as it
//! arrives, fragments reassembled (or streamed), control frames handed up.
//!
//! Every input byte is looked at once: a frame's payload is unmasked and UTF-8-checked as its bytes
//! arrive (so invalid text fails at the first bad byte, even mid-frame) and never rescanned. A
//! message that arrives in one frame is handed up as a slice of the input buffer, without a copy.

use alloc::string::String;

use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::frame::{CloseCode, DecodeRules, Decoded, FrameError, FrameHeader, OpCode, apply_mask, parse_close_payload};
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
    /// Earlier frames' payloads (whole mode; empty while the message is one frame).
    parts: BytesMut,
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
                if f.header.opcode.is_data() && self.msg.as_ref().is_some_and(|m| m.kind == MessageKind::Text) {
                    self.utf8.feed(fresh)?;
                }
                f.checked = have;
            }
            let frame_done = f.taken + have == f.len;

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
        match (header.opcode, &mut self.msg) {
            (op, _) if op.is_control() => {}
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(m)) => {
                m.len += header.payload_len;
                if m.len > self.max_message {
                    return Err(ProtocolError::MessageTooLarge { size: m.len, max: self.max_message });
                }
            }
            (op, Some(_)) => return Err(ProtocolError::ExpectedContinuation(op)),
            (op, None) => {
                if header.payload_len > self.max_message {
                    return Err(ProtocolError::MessageTooLarge { size: header.payload_len, max: self.max_message });
                }
                let kind = if op == OpCode::Text { MessageKind::Text } else { MessageKind::Binary };
                self.utf8.reset();
                self.msg = Some(InMessage { kind, len: header.payload_len, parts: BytesMut::new(), announced: false });
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
            parts.freeze()
        };
        Ok(Some(match m.kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(bytes)),
            MessageKind::Binary => Message::Binary(bytes),
        }))
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

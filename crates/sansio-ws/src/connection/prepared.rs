//! Messages encoded once and sent to many connections (a broadcast).

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::event::Message;
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, Rsv};

/// A message framed once, in the unmasked form a server sends, and shared by every connection it
/// is queued on: a broadcast to ten thousand clients encodes it one time. A client-role connection
/// (which must mask with its own keys) sends the message normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedMessage {
    message: Message,
    frames: Vec<Bytes>,
}

impl PreparedMessage {
    /// Frames `message` with at most `frame_size` bytes of payload per frame (use the receiving
    /// connections' [`Config::send_frame_size`](super::Config::send_frame_size)).
    pub fn new(message: Message, frame_size: usize) -> Self {
        let payload = message.payload();
        let opcode = match message {
            Message::Text(_) => OpCode::Text,
            Message::Binary(_) => OpCode::Binary,
        };
        let size = frame_size.max(1);
        let mut frames = Vec::new();
        let mut offset = 0;
        loop {
            let end = payload.len().min(offset + size);
            let h = FrameHeader {
                fin: end == payload.len(),
                rsv: Rsv::NONE,
                opcode: if offset == 0 { opcode } else { OpCode::Continuation },
                mask: None,
                payload_len: (end - offset) as u64,
            };
            let mut head = [0u8; MAX_HEADER_LEN];
            let n = h.encode(&mut head);
            let mut frame = BytesMut::with_capacity(n + end - offset);
            frame.extend_from_slice(&head[..n]);
            frame.extend_from_slice(&payload[offset..end]);
            frames.push(frame.freeze());
            offset = end;
            if offset == payload.len() {
                return PreparedMessage { message, frames };
            }
        }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The encoded frames.
    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }
}

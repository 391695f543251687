//! The send side: queues of control frames and data messages, framing and masking, and the wire
//! segments handed to the transport.
//!
//! Data is framed lazily. Messages wait in `data` as the application gave them; `fill` turns them
//! into frames only while fewer than [`FILL_TARGET`] bytes are ready to write, and at most
//! `send_frame_size` bytes of payload per frame. So a Pong or a Close never waits behind more than
//! about one frame, and a large unmasked payload is handed to the transport as a slice of the
//! application's own buffer, without a copy.

use alloc::boxed::Box;
use alloc::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::Role;
use crate::frame::{CloseCode, FrameHeader, MAX_HEADER_LEN, OpCode, Rsv, apply_mask, encode_close_payload};
use crate::rand::Randomness;

use super::event::Unsent;

/// Frames are encoded until this many bytes wait for the transport.
const FILL_TARGET: usize = 64 * 1024;
/// Unmasked payloads up to this size are copied next to their header; longer ones are handed out
/// as their own segment.
const INLINE_MAX: usize = 1024;

/// A data message (or a streamed piece of one) waiting to be framed.
#[derive(Debug)]
struct OutData {
    /// Text or Binary for a message's first piece, Continuation for later pieces.
    opcode: OpCode,
    payload: Bytes,
    /// This piece ends its message.
    fin: bool,
    /// Frames already encoded from this piece (the rest continue with opcode Continuation).
    started: bool,
    /// RSV1 on the first frame: the payload is compressed (permessage-deflate).
    compressed: bool,
    /// Frames encoded in advance (a prepared broadcast): sent as they are, `payload` is unused.
    prepared: Option<VecDeque<Bytes>>,
}

#[derive(Debug)]
enum Control {
    Ping(Bytes),
    Pong(Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseStage {
    None,
    /// Queued behind the data.
    Queued,
    /// Encoded; the wire position after its last byte.
    Encoded {
        end: u64,
    },
}

/// What a transmit step changed, for the connection to act on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Our Close frame has now been handed to the transport in full.
    pub(crate) close_written: bool,
    /// The queue fell to the low-water mark after a refused send.
    pub(crate) writable: bool,
}

pub(crate) struct Sender {
    role: Role,
    rng: Option<Box<dyn Randomness>>,
    frame_size: usize,
    max_pending_pongs: usize,
    low_water_mark: usize,
    control: VecDeque<Control>,
    data: VecDeque<OutData>,
    /// Payload bytes in `data` not yet framed.
    data_len: usize,
    close: CloseStage,
    close_payload: ([u8; 125], usize),
    /// Segments ready for the transport; the first may be partly written.
    wire: VecDeque<Bytes>,
    front_written: usize,
    /// Bytes in `wire` not yet written.
    wire_len: usize,
    staging: BytesMut,
    /// Total bytes ever encoded and ever written: positions on the wire.
    encoded_total: u64,
    written_total: u64,
    /// Wire positions at which a data message's last frame ends.
    message_ends: VecDeque<u64>,
    /// A send was refused; report `writable` once the queue drains.
    backpressured: bool,
    pub(crate) frames_sent: u64,
    pub(crate) messages_sent: u64,
    pub(crate) pongs_replaced: u64,
}

impl core::fmt::Debug for Sender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sender")
            .field("queued", &self.queued_bytes())
            .field("control", &self.control.len())
            .field("data", &self.data.len())
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub(crate) fn new(
        role: Role,
        rng: Option<Box<dyn Randomness>>,
        frame_size: usize,
        max_pending_pongs: usize,
        low_water_mark: usize,
    ) -> Self {
        Sender {
            role,
            rng,
            frame_size: frame_size.max(1),
            max_pending_pongs: max_pending_pongs.max(1),
            low_water_mark,
            control: VecDeque::new(),
            data: VecDeque::new(),
            data_len: 0,
            close: CloseStage::None,
            close_payload: ([0; 125], 0),
            wire: VecDeque::new(),
            front_written: 0,
            wire_len: 0,
            staging: BytesMut::new(),
            encoded_total: 0,
            written_total: 0,
            message_ends: VecDeque::new(),
            backpressured: false,
            frames_sent: 0,
            messages_sent: 0,
            pongs_replaced: 0,
        }
    }

    /// Bytes queued for sending: payload not yet framed plus framed bytes not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.data_len + self.wire_len
    }

    fn close_pending(&self) -> bool {
        self.close == CloseStage::Queued
    }

    /// Remembers that a send was refused, so that draining reports `writable`.
    pub(crate) fn note_backpressure(&mut self) {
        self.backpressured = true;
    }

    pub(crate) fn push_data(&mut self, opcode: OpCode, payload: Bytes, fin: bool, compressed: bool) {
        self.data_len += payload.len();
        self.data.push_back(OutData { opcode, payload, fin, started: false, compressed, prepared: None });
        self.fill();
    }

    /// Queues a message whose frames were encoded in advance (unmasked, so server role only).
    pub(crate) fn push_prepared(&mut self, frames: &[Bytes]) {
        debug_assert_eq!(self.role, Role::Server);
        self.data_len += frames.iter().map(Bytes::len).sum::<usize>();
        let prepared = Some(frames.iter().cloned().collect());
        self.data.push_back(OutData {
            opcode: OpCode::Binary,
            payload: Bytes::new(),
            fin: true,
            started: false,
            compressed: false,
            prepared,
        });
        self.fill();
    }

    pub(crate) fn push_ping(&mut self, payload: Bytes) {
        self.control.push_back(Control::Ping(payload));
        self.fill();
    }

    /// Queues a Pong; beyond the cap the oldest pending Pong is dropped (RFC 6455 §5.5.3 lets an
    /// endpoint answer only the most recent Ping).
    pub(crate) fn push_pong(&mut self, payload: Bytes) {
        let pending = self.control.iter().filter(|c| matches!(c, Control::Pong(_))).count();
        if pending >= self.max_pending_pongs {
            if let Some(i) = self.control.iter().position(|c| matches!(c, Control::Pong(_))) {
                self.control.remove(i);
                self.pongs_replaced += 1;
            }
        }
        self.control.push_back(Control::Pong(payload));
        self.fill();
    }

    /// Queues our Close frame behind every message already queued (nothing queued is lost; the
    /// drain timeout bounds how long that may take). A second call replaces the payload of a
    /// Close not yet framed.
    pub(crate) fn push_close(&mut self, code: CloseCode, reason: &str) {
        if matches!(self.close, CloseStage::Encoded { .. }) {
            return;
        }
        let mut buf = [0u8; 125];
        let len = encode_close_payload(code, reason, &mut buf);
        self.close_payload = (buf, len);
        self.close = CloseStage::Queued;
        self.fill();
    }

    fn drop_data(&mut self) -> Unsent {
        let mut unsent = Unsent::default();
        for item in self.data.drain(..) {
            unsent.bytes += item.payload.len() as u64;
            unsent.bytes += item.prepared.iter().flatten().map(|f| f.len() as u64).sum::<u64>();
            if item.fin || !item.started {
                unsent.messages += 1;
            }
        }
        self.data_len = 0;
        unsent
    }

    /// Discards everything still queued and says what it was.
    pub(crate) fn discard(&mut self) -> Unsent {
        let mut unsent = self.drop_data();
        unsent.bytes += self.wire_len as u64;
        unsent.messages += self.message_ends.len() as u64;
        self.control.clear();
        self.wire.clear();
        self.wire_len = 0;
        self.front_written = 0;
        self.staging.clear();
        self.message_ends.clear();
        if self.close_pending() {
            self.close = CloseStage::None;
        }
        unsent
    }

    /// Frames queued items while fewer than [`FILL_TARGET`] bytes are ready.
    fn fill(&mut self) {
        while self.wire_len + self.staging.len() < FILL_TARGET {
            if matches!(self.close, CloseStage::Encoded { .. }) {
                // Nothing follows a Close frame.
                break;
            }
            if let Some(c) = self.control.pop_front() {
                match c {
                    Control::Ping(p) => self.encode(OpCode::Ping, Rsv::NONE, true, &p),
                    Control::Pong(p) => self.encode(OpCode::Pong, Rsv::NONE, true, &p),
                }
                continue;
            }
            let close_now = self.close == CloseStage::Queued && self.data.is_empty();
            if close_now {
                let (buf, len) = self.close_payload;
                self.encode(OpCode::Close, Rsv::NONE, true, &buf[..len]);
                self.close = CloseStage::Encoded { end: self.encoded_total };
                continue;
            }
            let Some(item) = self.data.front_mut() else { break };
            if let Some(frames) = item.prepared.as_mut() {
                item.started = true;
                let frame = frames.pop_front().unwrap_or_default();
                let last = frames.is_empty();
                if last {
                    self.data.pop_front();
                }
                self.data_len -= frame.len();
                self.flush_staging();
                self.encoded_total += frame.len() as u64;
                self.frames_sent += 1;
                self.wire_len += frame.len();
                self.wire.push_back(frame);
                if last {
                    self.message_ends.push_back(self.encoded_total);
                }
                continue;
            }
            let take = item.payload.len().min(self.frame_size);
            let chunk = item.payload.split_to(take);
            let (opcode, rsv) = match item.started {
                true => (OpCode::Continuation, Rsv::NONE),
                false if item.compressed => (item.opcode, Rsv::RSV1),
                false => (item.opcode, Rsv::NONE),
            };
            item.started = true;
            let last_of_item = item.payload.is_empty();
            let fin = last_of_item && item.fin;
            self.data_len -= take;
            if last_of_item {
                self.data.pop_front();
            }
            self.encode_data(opcode, rsv, fin, chunk);
            if fin {
                self.message_ends.push_back(self.encoded_total);
            }
        }
        self.flush_staging();
    }

    fn flush_staging(&mut self) {
        if !self.staging.is_empty() {
            let seg = self.staging.split().freeze();
            self.wire_len += seg.len();
            self.wire.push_back(seg);
        }
    }

    fn header(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, len: usize) -> Option<[u8; 4]> {
        let mask = match self.role {
            Role::Server => None,
            Role::Client => {
                let mut key = [0u8; 4];
                if let Some(rng) = self.rng.as_mut() {
                    rng.fill(&mut key);
                }
                Some(key)
            }
        };
        let h = FrameHeader { fin, rsv, opcode, mask, payload_len: len as u64 };
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut buf);
        self.staging.extend_from_slice(&buf[..n]);
        self.encoded_total += (n + len) as u64;
        self.frames_sent += 1;
        mask
    }

    /// A frame whose payload is copied next to its header (and masked there for a client).
    fn encode(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, payload: &[u8]) {
        let mask = self.header(opcode, rsv, fin, payload.len());
        let start = self.staging.len();
        self.staging.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.staging[start..], key, 0);
        }
    }

    /// A data frame: a large unmasked payload becomes its own segment, without a copy.
    fn encode_data(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, payload: Bytes) {
        if self.role == Role::Client || payload.len() <= INLINE_MAX {
            self.encode(opcode, rsv, fin, &payload);
        } else {
            self.header(opcode, rsv, fin, payload.len());
            self.flush_staging();
            self.wire_len += payload.len();
            self.wire.push_back(payload);
        }
    }

    /// The bytes ready for the transport, in order.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let skip = self.front_written;
        self.wire.iter().enumerate().map(move |(i, seg)| if i == 0 { &seg[skip..] } else { &seg[..] })
    }

    /// `n` bytes from the front of [`chunks`](Self::chunks) were written.
    pub(crate) fn advance(&mut self, mut n: usize) -> Progress {
        n = n.min(self.wire_len);
        self.wire_len -= n;
        self.written_total += n as u64;
        while n > 0 {
            let Some(front) = self.wire.front() else { break };
            let left = front.len() - self.front_written;
            if n >= left {
                n -= left;
                self.wire.pop_front();
                self.front_written = 0;
            } else {
                self.front_written += n;
                n = 0;
            }
        }
        while self.message_ends.front().is_some_and(|&end| end <= self.written_total) {
            self.message_ends.pop_front();
            self.messages_sent += 1;
        }
        self.fill();
        let mut progress = Progress::default();
        if let CloseStage::Encoded { end } = self.close {
            progress.close_written = end <= self.written_total;
        }
        if self.backpressured && self.queued_bytes() <= self.low_water_mark {
            self.backpressured = false;
            progress.writable = true;
        }
        progress
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::frame::{DecodeRules, Decoded};

    fn drain(s: &mut Sender) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let before = out.len();
            for c in s.chunks() {
                out.extend_from_slice(c);
            }
            let n = out.len() - before;
            if n == 0 {
                return out;
            }
            s.advance(n);
        }
    }

    fn frames(mut wire: &[u8], role: Role) -> Vec<(OpCode, bool, Vec<u8>)> {
        let rules = DecodeRules { max_frame_size: u64::MAX, ..DecodeRules::new(role.peer()) };
        let mut out = Vec::new();
        while !wire.is_empty() {
            let Ok(Decoded::Complete { header, len }) = FrameHeader::decode(wire, &rules) else { panic!("bad frame") };
            let end = len + header.payload_len as usize;
            let mut payload = wire[len..end].to_vec();
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            out.push((header.opcode, header.fin, payload));
            wire = &wire[end..];
        }
        out
    }

    fn server(frame_size: usize) -> Sender {
        Sender::new(Role::Server, None, frame_size, 4, 0)
    }

    #[test]
    fn large_messages_are_fragmented_and_pongs_go_between_fragments() {
        let mut s = server(100);
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![7u8; 250]), true, false);
        // The first frames are already framed; a Pong queued now goes before the next fragment.
        let first = s.chunks().map(<[u8]>::len).sum::<usize>();
        s.advance(first);
        let got = frames(&drain(&mut s), Role::Server);
        assert!(got.iter().all(|f| f.0 != OpCode::Pong));
        let mut s = Sender::new(Role::Server, None, 100, 4, 0);
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![7u8; 250]), true, false);
        s.push_pong(Bytes::from_static(b"p"));
        let got = frames(&drain(&mut s), Role::Server);
        let kinds: Vec<_> = got.iter().map(|f| (f.0, f.1, f.2.len())).collect();
        assert_eq!(
            kinds,
            [
                (OpCode::Binary, false, 100),
                (OpCode::Continuation, false, 100),
                (OpCode::Continuation, true, 50),
                (OpCode::Pong, true, 1)
            ]
        );
    }

    #[test]
    fn close_waits_for_every_queued_message() {
        let mut s = server(10);
        s.push_data(OpCode::Text, Bytes::from_static(b"a"), true, false);
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![0u8; 200_000]), true, false);
        s.push_close(CloseCode::NORMAL, "");
        let got = frames(&drain(&mut s), Role::Server);
        assert_eq!(got.first().map(|f| f.0), Some(OpCode::Text));
        assert_eq!(got.iter().filter(|f| f.0 == OpCode::Continuation).count(), 19_999);
        let last = got.last().unwrap();
        assert_eq!((last.0, &last.2[..]), (OpCode::Close, &1000u16.to_be_bytes()[..]));
    }

    #[test]
    fn nothing_follows_close_and_close_written_is_reported_once_out() {
        let mut s = server(1 << 20);
        s.push_close(CloseCode::NORMAL, "done");
        s.push_pong(Bytes::from_static(b"late"));
        let total: usize = s.chunks().map(<[u8]>::len).sum();
        assert!(!s.advance(total - 1).close_written);
        assert!(s.advance(1).close_written);
        assert!(s.chunks().next().is_none(), "the Pong after the Close is never sent");
    }

    #[test]
    fn client_frames_are_masked_with_fresh_keys() {
        let mut s = Sender::new(Role::Client, Some(Box::new(crate::rand::SeededRandom::new(1))), 1 << 20, 4, 0);
        s.push_data(OpCode::Text, Bytes::from_static(b"hello"), true, false);
        s.push_data(OpCode::Text, Bytes::from_static(b"hello"), true, false);
        let wire = drain(&mut s);
        assert_eq!(frames(&wire, Role::Client).iter().map(|f| f.2.clone()).collect::<Vec<_>>(), [b"hello"; 2]);
        assert_ne!(wire[2..6], wire[13..17], "each frame gets its own key");
    }

    #[test]
    fn large_unmasked_payloads_are_not_copied() {
        let payload = Bytes::from(alloc::vec![1u8; 10_000]);
        let mut s = server(1 << 20);
        s.push_data(OpCode::Binary, payload.clone(), true, false);
        let segs: Vec<&[u8]> = s.chunks().collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1].as_ptr(), payload.as_ptr(), "the payload segment is the caller's buffer");
    }

    #[test]
    fn pending_pongs_are_capped() {
        let mut s = Sender::new(Role::Server, None, 1 << 20, 2, 0);
        // Fill the wire so Pongs stay queued.
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![0u8; 200_000]), true, false);
        for i in 0..10u8 {
            s.push_pong(Bytes::copy_from_slice(&[i]));
        }
        assert_eq!(s.pongs_replaced, 8);
        let pongs: Vec<_> = frames(&drain(&mut s), Role::Server).into_iter().filter(|f| f.0 == OpCode::Pong).collect();
        assert_eq!(pongs.iter().map(|f| f.2[0]).collect::<Vec<_>>(), [8, 9]);
    }

    #[test]
    fn discard_counts_what_was_left() {
        let mut s = server(1000);
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![0u8; 100_000]), true, false);
        s.push_data(OpCode::Text, Bytes::from_static(b"x"), true, false);
        let queued = s.queued_bytes() as u64;
        let unsent = s.discard();
        assert_eq!(unsent.messages, 2);
        assert!(unsent.bytes >= 100_001 && unsent.bytes <= queued);
        assert_eq!((s.queued_bytes(), s.chunks().count()), (0, 0));
    }
}

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
use alloc::vec::Vec;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::Role;
use crate::frame::mask::extend_masked;
use crate::frame::{CloseCode, FrameHeader, MAX_HEADER_LEN, OpCode, Rsv, apply_mask, encode_close_payload};
use crate::rand::Randomness;

use super::event::Unsent;

/// Frames are encoded until this many bytes wait for the transport.
const FILL_TARGET: usize = 64 * 1024;
/// Unmasked payloads up to this size are copied next to their header; longer ones are handed out
/// as their own segment.
const INLINE_MAX: usize = 1024;
/// A staging buffer up to this capacity is kept for reuse once everything is written; a larger
/// one goes back to the allocator.
const STAGING_KEEP: usize = 16 * 1024;
/// Where `Sender::route` sends a new piece of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Nothing waits before it and it fits one frame: framed now.
    Now,
    /// Small, but the wire is full or something waits: framed into the backlog.
    Backlog,
    /// Queued in `data`, framed as the wire drains.
    Queue,
}

/// Alignment of a large payload copied into a frame of its own (see `Sender::frame_alone`).
const CACHE_LINE: usize = 64;
/// Marks a backlog frame that ends its message.
const BACKLOG_FIN: u32 = 1 << 31;

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
    /// Frames encoded in advance (a prepared broadcast, or a borrowed payload that could not be
    /// framed at once): sent as they are, `payload` is unused.
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
    /// Segments ready for the transport, in order, followed by `staging`.
    wire: VecDeque<Bytes>,
    /// Bytes already written of the first segment (of `staging` when `wire` is empty).
    front_written: usize,
    /// Bytes in `wire` and `staging` not yet written.
    wire_len: usize,
    /// The last segment, still growing: headers and small payloads are encoded here.
    staging: BytesMut,
    /// Small messages sent while the wire was full, framed already (masked, for a client) but
    /// not yet on the wire, so control frames can still go before them; they go to the wire
    /// before anything in `data`, which only takes messages while this is empty.
    backlog: BytesMut,
    /// The frames in `backlog`: their lengths, with [`BACKLOG_FIN`] set on a message's last.
    backlog_frames: VecDeque<u32>,
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
            backlog: BytesMut::new(),
            backlog_frames: VecDeque::new(),
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
        self.data_len + self.wire_len + self.backlog.len()
    }

    fn close_pending(&self) -> bool {
        self.close == CloseStage::Queued
    }

    /// Remembers that a send was refused, so that draining reports `writable`.
    pub(crate) fn note_backpressure(&mut self) {
        self.backpressured = true;
    }

    /// Where a new piece of data of `len` bytes goes.
    fn route(&self, len: usize) -> Route {
        if !self.data.is_empty() || self.close != CloseStage::None || len > self.frame_size {
            return Route::Queue;
        }
        if self.backlog.is_empty() && self.control.is_empty() && self.wire_len < FILL_TARGET {
            Route::Now
        } else if len <= INLINE_MAX {
            Route::Backlog
        } else {
            Route::Queue
        }
    }

    pub(crate) fn push_data(&mut self, opcode: OpCode, payload: Bytes, fin: bool, compressed: bool) {
        let rsv = if compressed { Rsv::RSV1 } else { Rsv::NONE };
        match self.route(payload.len()) {
            Route::Now => {
                self.encode_data(opcode, rsv, fin, payload);
                if fin {
                    self.message_ends.push_back(self.encoded_total);
                }
            }
            Route::Backlog => self.push_backlog(opcode, rsv, fin, &payload),
            Route::Queue => {
                self.data_len += payload.len();
                self.data.push_back(OutData { opcode, payload, fin, started: false, compressed, prepared: None });
                self.fill();
            }
        }
    }

    /// A whole uncompressed message from a borrowed payload: copied next to its header when it
    /// can be framed now or goes to the backlog, else framed now into buffers of its own (masked
    /// while copied, for a client) that wait in `data` like a prepared message.
    pub(crate) fn push_copied(&mut self, opcode: OpCode, payload: &[u8]) {
        match self.route(payload.len()) {
            Route::Now => {
                self.encode_copied(opcode, Rsv::NONE, true, payload);
                self.message_ends.push_back(self.encoded_total);
            }
            Route::Backlog => self.push_backlog(opcode, Rsv::NONE, true, payload),
            Route::Queue => {
                let count = payload.len().div_ceil(self.frame_size).max(1);
                let mut frames = VecDeque::with_capacity(count);
                for i in 0..count {
                    let start = i * self.frame_size;
                    let piece = &payload[start..payload.len().min(start + self.frame_size)];
                    let op = if i == 0 { opcode } else { OpCode::Continuation };
                    frames.push_back(self.frame_alone(op, i + 1 == count, piece));
                }
                self.push_framed(frames);
            }
        }
    }

    /// A data frame in a buffer of its own, for the queue.
    fn frame_alone(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) -> Bytes {
        let mask = self.mask_key();
        let header = FrameHeader { fin, rsv: Rsv::NONE, opcode, mask, payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        // The payload starts on a cache line: wide stores into it then never straddle two. The
        // header sits just before it, after up to a line of padding skipped below.
        let mut frame = Vec::with_capacity(CACHE_LINE + n + payload.len());
        let start = (frame.as_ptr() as usize + n).next_multiple_of(CACHE_LINE) - frame.as_ptr() as usize - n;
        frame.resize(start, 0);
        frame.extend_from_slice(&head[..n]);
        extend_payload(&mut frame, payload, mask);
        let mut frame = Bytes::from(frame);
        frame.advance(start);
        frame
    }

    /// Frames a small piece behind the other small messages; it moves to the wire later.
    fn push_backlog(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, payload: &[u8]) {
        let before = self.backlog.len();
        let mask = self.mask_key();
        write_frame(&mut self.backlog, FrameHeader { fin, rsv, opcode, mask, payload_len: 0 }, payload);
        let len = (self.backlog.len() - before) as u32;
        self.backlog_frames.push_back(if fin { len | BACKLOG_FIN } else { len });
    }

    /// Queues a message whose frames were encoded in advance (unmasked, so server role only).
    pub(crate) fn push_prepared(&mut self, frames: &[Bytes]) {
        debug_assert_eq!(self.role, Role::Server);
        self.push_framed(frames.iter().cloned().collect());
    }

    /// Queues a whole message's frames, encoded already.
    fn push_framed(&mut self, frames: VecDeque<Bytes>) {
        self.data_len += frames.iter().map(Bytes::len).sum::<usize>();
        let prepared = Some(frames);
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

    /// Queues bytes that are not a frame ahead of everything else: the handshake's response, on
    /// a connection that has sent nothing yet.
    pub(crate) fn push_preamble(&mut self, bytes: Bytes) {
        debug_assert_eq!(self.encoded_total, 0, "the preamble comes before any frame");
        self.seal_staging();
        self.encoded_total += bytes.len() as u64;
        self.wire_len += bytes.len();
        self.wire.push_back(bytes);
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
            unsent.bytes += item.prepared.as_ref().map_or(0, |p| p.iter().map(|f| f.len() as u64).sum::<u64>());
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
        unsent.bytes += (self.wire_len + self.backlog.len()) as u64;
        unsent.messages += (self.message_ends.len() + self.backlog_frames.len()) as u64;
        self.backlog = BytesMut::new();
        self.backlog_frames.clear();
        self.control.clear();
        self.wire.clear();
        self.wire_len = 0;
        self.front_written = 0;
        self.staging = BytesMut::new();
        self.message_ends.clear();
        if self.close_pending() {
            self.close = CloseStage::None;
        }
        unsent
    }

    /// Frames queued items while fewer than [`FILL_TARGET`] bytes are ready.
    fn fill(&mut self) {
        while self.wire_len < FILL_TARGET {
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
            if !self.backlog_frames.is_empty() {
                self.move_backlog();
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
                self.seal_staging();
                self.encoded_total += frame.len() as u64;
                self.frames_sent += 1;
                self.wire_len += frame.len();
                self.wire.push_back(frame);
                if last {
                    self.message_ends.push_back(self.encoded_total);
                }
                continue;
            }
            let (opcode, rsv) = match item.started {
                true => (OpCode::Continuation, Rsv::NONE),
                false if item.compressed => (item.opcode, Rsv::RSV1),
                false => (item.opcode, Rsv::NONE),
            };
            let (chunk, fin) = if item.payload.len() <= self.frame_size {
                // The item's last frame: take it off the queue.
                let fin = item.fin;
                let chunk = core::mem::take(&mut item.payload);
                self.data.pop_front();
                (chunk, fin)
            } else {
                item.started = true;
                (item.payload.split_to(self.frame_size), false)
            };
            self.data_len -= chunk.len();
            self.encode_data(opcode, rsv, fin, chunk);
            if fin {
                self.message_ends.push_back(self.encoded_total);
            }
        }
    }

    /// Ends the staging segment, so that a segment of its own can follow it.
    fn seal_staging(&mut self) {
        if !self.staging.is_empty() {
            let seg = self.staging.split().freeze();
            self.wire.push_back(seg);
        }
    }

    /// Moves whole frames from the backlog to the wire, as many as fit under [`FILL_TARGET`]
    /// (at least one), as one segment.
    fn move_backlog(&mut self) {
        let room = FILL_TARGET.saturating_sub(self.wire_len);
        let mut take = 0;
        while let Some(&entry) = self.backlog_frames.front() {
            let len = (entry & !BACKLOG_FIN) as usize;
            if take > 0 && take + len > room {
                break;
            }
            self.backlog_frames.pop_front();
            take += len;
            self.encoded_total += len as u64;
            self.frames_sent += 1;
            if entry & BACKLOG_FIN != 0 {
                self.message_ends.push_back(self.encoded_total);
            }
        }
        self.seal_staging();
        self.wire_len += take;
        self.wire.push_back(self.backlog.split_to(take).freeze());
    }

    /// A fresh masking key for a client's frame.
    fn mask_key(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            Role::Client => {
                let mut key = [0u8; 4];
                if let Some(rng) = self.rng.as_mut() {
                    rng.fill(&mut key);
                }
                Some(key)
            }
        }
    }

    fn header(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, len: usize) -> Option<[u8; 4]> {
        let mask = self.mask_key();
        let h = FrameHeader { fin, rsv, opcode, mask, payload_len: len as u64 };
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut buf);
        self.staging.extend_from_slice(&buf[..n]);
        self.wire_len += n;
        self.encoded_total += (n + len) as u64;
        self.frames_sent += 1;
        mask
    }

    /// A frame whose payload is copied next to its header (and masked there for a client).
    fn encode(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, payload: &[u8]) {
        let mask = self.mask_key();
        let n = write_frame(&mut self.staging, FrameHeader { fin, rsv, opcode, mask, payload_len: 0 }, payload);
        self.wire_len += n;
        self.encoded_total += n as u64;
        self.frames_sent += 1;
    }

    /// A data frame. A large unmasked payload becomes a segment of its own: the caller's buffer
    /// itself, without a copy.
    fn encode_data(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, payload: Bytes) {
        if payload.len() <= INLINE_MAX || self.role == Role::Client {
            self.encode_copied(opcode, rsv, fin, &payload);
            return;
        }
        self.header(opcode, rsv, fin, payload.len());
        self.seal_staging();
        self.wire_len += payload.len();
        self.wire.push_back(payload);
    }

    /// A data frame whose payload is copied: next to its header, or for a large masked payload
    /// into a segment of exactly its size, masked on the way (one pass).
    fn encode_copied(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, payload: &[u8]) {
        if payload.len() <= INLINE_MAX || self.role == Role::Server {
            self.encode(opcode, rsv, fin, payload);
            return;
        }
        let mask = self.header(opcode, rsv, fin, payload.len());
        self.seal_staging();
        self.wire_len += payload.len();
        let mut seg = Vec::with_capacity(payload.len());
        extend_payload(&mut seg, payload, mask);
        self.wire.push_back(Bytes::from(seg));
    }

    /// The bytes ready for the transport, in order.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let skip = self.front_written;
        let segments = self.wire.iter().map(|seg| &seg[..]).chain(core::iter::once(&self.staging[..]));
        segments.enumerate().map(move |(i, seg)| if i == 0 { &seg[skip..] } else { seg }).filter(|seg| !seg.is_empty())
    }

    /// `n` bytes from the front of [`chunks`](Self::chunks) were written.
    pub(crate) fn advance(&mut self, mut n: usize) -> Progress {
        n = n.min(self.wire_len);
        self.wire_len -= n;
        self.written_total += n as u64;
        while n > 0 {
            let Some(front) = self.wire.front() else {
                // The rest is in the staging segment.
                self.front_written += n;
                break;
            };
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
        if self.wire_len == 0 {
            // Everything is out: reuse the staging buffer from its start, or give a large one back.
            self.wire.clear();
            self.front_written = 0;
            if self.staging.capacity() > STAGING_KEEP {
                self.staging = BytesMut::new();
            } else {
                self.staging.clear();
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

/// Appends `payload` to `dst`, masked with `mask` if there is one (one pass either way).
fn extend_payload(dst: &mut Vec<u8>, payload: &[u8], mask: Option<[u8; 4]>) {
    match mask {
        Some(key) => extend_masked(dst, payload, key, 0),
        None => dst.extend_from_slice(payload),
    }
}

/// Appends a whole frame, `header` (its length set here) and `payload` (masked with the
/// header's key), to `dst`, and returns how many bytes that took.
fn write_frame(dst: &mut BytesMut, mut header: FrameHeader, payload: &[u8]) -> usize {
    header.payload_len = payload.len() as u64;
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    dst.reserve(n + payload.len());
    if n == 2 {
        // The commonest header (unmasked, short) without a call to copy two bytes.
        dst.put_u8(head[0]);
        dst.put_u8(head[1]);
    } else {
        dst.extend_from_slice(&head[..n]);
    }
    let start = dst.len();
    dst.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut dst[start..], key, 0);
    }
    n + payload.len()
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
    fn a_borrowed_payload_is_framed_as_an_owned_one() {
        // Sizes around the inline limit, a frame-size split, and enough small messages to fill the
        // wire and go through the backlog; a Pong in the middle. Without randomness a client's key
        // is zero, so both ways must give the same bytes.
        let mut sizes = alloc::vec![0, 16, INLINE_MAX, INLINE_MAX + 1, 70_000];
        sizes.extend(core::iter::repeat_n(100, 2_000));
        sizes.extend([300_000, 5_000, 16]);
        for role in [Role::Server, Role::Client] {
            let mut owned = Sender::new(role, None, 200_000, 4, 0);
            let mut copied = Sender::new(role, None, 200_000, 4, 0);
            for (i, &len) in sizes.iter().enumerate() {
                let payload: Vec<u8> = (0..len).map(|k| (i + k) as u8).collect();
                owned.push_data(OpCode::Binary, Bytes::from(payload.clone()), true, false);
                copied.push_copied(OpCode::Binary, &payload);
                if i == 10 {
                    owned.push_pong(Bytes::from_static(b"p"));
                    copied.push_pong(Bytes::from_static(b"p"));
                }
            }
            assert!(!copied.backlog_frames.is_empty(), "the backlog is exercised");
            let wire = drain(&mut copied);
            assert_eq!(wire, drain(&mut owned));
            let got = frames(&wire, role);
            assert_eq!(got.iter().filter(|f| f.1 && f.0 != OpCode::Pong).count(), sizes.len());
            assert_eq!(copied.messages_sent, sizes.len() as u64);
        }
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
    fn partial_writes_of_the_staging_segment_then_a_large_payload() {
        let mut s = server(1 << 20);
        s.push_data(OpCode::Text, Bytes::from_static(b"first"), true, false);
        let mut out = Vec::new();
        let head: Vec<u8> = s.chunks().flatten().copied().take(3).collect();
        out.extend_from_slice(&head);
        s.advance(3);
        // A payload large enough to get a segment of its own seals the partly written staging.
        let big = Bytes::from(alloc::vec![5u8; 5000]);
        s.push_data(OpCode::Binary, big.clone(), true, false);
        s.push_data(OpCode::Text, Bytes::from_static(b"last"), true, false);
        assert_eq!(s.queued_bytes(), 7 - 3 + 4 + 5000 + 6);
        out.extend_from_slice(&drain(&mut s));
        let got = frames(&out, Role::Server);
        let want: [(OpCode, bool, &[u8]); 3] =
            [(OpCode::Text, true, b"first"), (OpCode::Binary, true, &big), (OpCode::Text, true, b"last")];
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0, g.1, &g.2[..]), w);
        }
        assert_eq!((s.queued_bytes(), s.messages_sent), (0, 3));
        // Everything written: the staging buffer starts over.
        s.push_data(OpCode::Text, Bytes::from_static(b"again"), true, false);
        assert_eq!(frames(&drain(&mut s), Role::Server)[0].2, b"again");
    }

    #[test]
    fn small_messages_sent_while_the_wire_is_full_wait_framed_and_a_pong_goes_first() {
        let mut s = server(1 << 20);
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![9u8; 70_000]), true, false);
        for i in 0..100u8 {
            s.push_data(OpCode::Text, Bytes::from(alloc::vec![b'a' + i % 26; 10]), true, false);
        }
        // Not small: queued unframed, behind the small ones; so is everything after it.
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![7u8; 5000]), true, false);
        s.push_data(OpCode::Text, Bytes::from_static(b"after"), true, false);
        s.push_pong(Bytes::from_static(b"p"));
        s.push_close(CloseCode::NORMAL, "");
        // Framed: the first (10-byte header) and the small ones; still unframed: the rest. The Pong
        // and the Close are not counted.
        assert_eq!(s.queued_bytes(), 10 + 70_000 + 100 * 12 + 5000 + 5);
        let got = frames(&drain(&mut s), Role::Server);
        let kinds: Vec<_> = got.iter().map(|f| (f.0, f.2.len())).collect();
        let mut want = alloc::vec![(OpCode::Binary, 70_000), (OpCode::Pong, 1)];
        want.extend((0..100).map(|_| (OpCode::Text, 10)));
        want.extend([(OpCode::Binary, 5000), (OpCode::Text, 5), (OpCode::Close, 2)]);
        assert_eq!(kinds, want);
        for (i, f) in got[2..102].iter().enumerate() {
            assert_eq!(f.2, alloc::vec![b'a' + (i % 26) as u8; 10]);
        }
        assert_eq!((s.messages_sent, s.queued_bytes()), (103, 0));
    }

    #[test]
    fn the_backlog_is_masked_per_frame_and_counted_when_discarded() {
        let mut s = Sender::new(Role::Client, Some(Box::new(crate::rand::SeededRandom::new(7))), 1 << 20, 4, 0);
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![1u8; 70_000]), true, false);
        for _ in 0..3 {
            s.push_data(OpCode::Text, Bytes::from_static(b"hello"), true, false);
        }
        let wire = drain(&mut s);
        let got = frames(&wire, Role::Client);
        assert_eq!(got.iter().skip(1).map(|f| f.2.clone()).collect::<Vec<_>>(), [b"hello"; 3]);
        let keys: Vec<&[u8]> = (0..3).map(|i| &wire[70_014 + i * 11 + 2..70_014 + i * 11 + 6]).collect();
        assert!(keys[0] != keys[1] && keys[1] != keys[2], "each frame gets its own key");

        let mut s = server(1 << 20);
        s.push_data(OpCode::Binary, Bytes::from(alloc::vec![1u8; 70_000]), true, false);
        for _ in 0..3 {
            s.push_data(OpCode::Text, Bytes::from_static(b"hello"), true, false);
        }
        let unsent = s.discard();
        assert_eq!((unsent.messages, unsent.bytes), (4, 10 + 70_000 + 3 * 7));
        assert_eq!(s.queued_bytes(), 0);
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

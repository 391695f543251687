//! Shared pieces of the sansio-ws benchmarks: workload generation with an independent frame
//! encoder, in-memory streams that replay pre-generated wire bytes, and one decoder/encoder
//! adapter per implementation (sansio-ws, tungstenite, fastwebsockets; with `--features peers`,
//! tokio-websockets and yawc too, in [`peers`]).
//!
//! Every implementation decodes the same bytes, in the server role (client frames are masked), and
//! every decoded message is checked against what was generated: a full comparison of every message
//! of the workload once before measuring ([`Workload::check_full`]), then, inside the measured loop,
//! the kind, the length and sampled bytes of every message ([`Workload::check_fast`]; full comparison
//! for payloads of 64 bytes or less). A wrong decode panics.
//!
//! [`deflate`] holds the permessage-deflate counterparts: compressed workloads, flate2 called
//! directly as the reference, and sansio-ws with deflate enabled.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use sansio_ws::Instant;
use sansio_ws::connection::{Config, Connection, Event, Message, Utf8Bytes};
use sansio_ws::error::SendError;

pub mod deflate;
#[cfg(feature = "peers")]
pub mod peers;
#[cfg(feature = "peers")]
pub use peers::{TokioWsDecoder, TokioWsEncoder, YawcDecoder, YawcEncoder};

/// The largest read the in-memory streams serve, as a socket read of a 64 KiB buffer would.
pub const READ_SIZE: usize = 64 * 1024;

/// The time given to the sansio-ws connections (no timers run: heartbeat off).
pub const NOW: Instant = Instant::from_secs(1);

// ----- generation -----

/// A small deterministic generator (SplitMix64): the workloads are the same on every run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A nonzero masking key.
    pub fn mask(&mut self) -> [u8; 4] {
        let k = (self.next_u64() as u32) | 1;
        k.to_be_bytes()
    }
}

/// Appends one frame to `out` (RFC 6455 §5.2), masked with `mask` if given. Written here rather than
/// taken from any implementation under test.
pub fn encode_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    encode_frame_rsv1(out, fin, false, opcode, payload, mask);
}

/// [`encode_frame`] with the RSV1 bit (permessage-deflate: a compressed message's first frame) set
/// if `rsv1`.
pub fn encode_frame_rsv1(out: &mut Vec<u8>, fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    out.push(if fin { 0x80 } else { 0 } | if rsv1 { 0x40 } else { 0 } | opcode);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xffff {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        None => out.extend_from_slice(payload),
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
        }
    }
}

/// A frame read back by [`parse_frames`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1 bit (only [`parse_frames_rsv1`] accepts it).
    pub rsv1: bool,
    /// Opcode.
    pub opcode: u8,
    /// Whether the frame was masked.
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// Splits `wire` into frames (the reference decoder that checks the encoders' output). Panics on a
/// truncated or malformed frame, or one with a reserved bit set.
pub fn parse_frames(wire: &[u8]) -> Vec<RawFrame> {
    let frames = parse_frames_rsv1(wire);
    assert!(frames.iter().all(|f| !f.rsv1), "reserved bits set");
    frames
}

/// [`parse_frames`] accepting RSV1 (permessage-deflate); RSV2 and RSV3 still panic.
pub fn parse_frames_rsv1(mut wire: &[u8]) -> Vec<RawFrame> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        assert!(wire.len() >= 2, "truncated frame header");
        let fin = wire[0] & 0x80 != 0;
        let rsv1 = wire[0] & 0x40 != 0;
        assert_eq!(wire[0] & 0x30, 0, "reserved bits set");
        let opcode = wire[0] & 0x0f;
        let masked = wire[1] & 0x80 != 0;
        let (len, mut at) = match wire[1] & 0x7f {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize, 10),
            n => (n as usize, 2),
        };
        let key = if masked {
            let k: [u8; 4] = wire[at..at + 4].try_into().unwrap();
            at += 4;
            Some(k)
        } else {
            None
        };
        assert!(wire.len() >= at + len, "truncated frame payload");
        let mut payload = wire[at..at + len].to_vec();
        if let Some(k) = key {
            payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= k[i & 3]);
        }
        frames.push(RawFrame { fin, rsv1, opcode, masked, payload });
        wire = &wire[at + len..];
    }
    frames
}

/// Random printable ASCII.
pub fn ascii(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| b' ' + rng.below(95) as u8).collect()
}

/// Random bytes.
pub fn binary(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Exactly `len` bytes of valid UTF-8 mixing ASCII (about 60 % of the characters) with 2-, 3- and
/// 4-byte sequences (Latin, Cyrillic, Greek, CJK, symbols, emoji).
pub fn mixed_utf8(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WIDE: [char; 12] = ['é', 'ß', 'ж', 'Ω', 'ñ', '€', '中', '文', 'ü', '→', '😀', '🎉'];
    let mut s = String::with_capacity(len);
    while s.len() + 4 < len {
        if rng.below(10) < 6 {
            s.push((b' ' + rng.below(95) as u8) as char);
        } else {
            s.push(WIDE[rng.below(WIDE.len() as u64) as usize]);
        }
    }
    while s.len() < len {
        s.push('a');
    }
    s.into_bytes()
}

// ----- workloads -----

/// Pre-generated wire bytes of client (masked) frames and the messages they carry.
pub struct Workload {
    /// The frames, back to back; replayed cyclically.
    pub wire: Vec<u8>,
    /// Whether the messages are text.
    pub text: bool,
    /// The payloads, back to back.
    data: Vec<u8>,
    /// `(start, end)` of each message in `data`.
    spans: Vec<(usize, usize)>,
}

impl Workload {
    /// Frames `messages` as masked client frames; `fragment` splits each message into frames of at
    /// most that many bytes.
    pub fn client(rng: &mut Rng, text: bool, messages: Vec<Vec<u8>>, fragment: Option<usize>) -> Workload {
        let mut wire = Vec::new();
        let mut data = Vec::new();
        let mut spans = Vec::with_capacity(messages.len());
        let opcode = if text { 1 } else { 2 };
        for m in &messages {
            let start = data.len();
            data.extend_from_slice(m);
            spans.push((start, data.len()));
            match fragment {
                None => encode_frame(&mut wire, true, opcode, m, Some(rng.mask())),
                Some(size) => {
                    let pieces: Vec<&[u8]> = m.chunks(size).collect();
                    for (i, piece) in pieces.iter().enumerate() {
                        let op = if i == 0 { opcode } else { 0 };
                        encode_frame(&mut wire, i + 1 == pieces.len(), op, piece, Some(rng.mask()));
                    }
                }
            }
        }
        Workload { wire, text, data, spans }
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no messages.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Payload of message `i` (modulo the count).
    pub fn payload(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i % self.spans.len()];
        &self.data[a..b]
    }

    /// Total payload bytes of all the messages.
    pub fn payload_bytes(&self) -> usize {
        self.data.len()
    }

    /// Checks message `i` completely.
    #[track_caller]
    pub fn check_full(&self, i: usize, text: bool, got: &[u8]) {
        assert_eq!(text, self.text, "message {i}: wrong kind");
        let want = self.payload(i);
        assert!(got == want, "message {i}: payload differs (len {} vs {})", got.len(), want.len());
    }

    /// Checks message `i`: kind, length, and the whole payload up to 64 bytes, else its first,
    /// middle and last 16 bytes.
    #[inline]
    #[track_caller]
    pub fn check_fast(&self, i: usize, text: bool, got: &[u8]) {
        let want = self.payload(i);
        let ok = text == self.text
            && got.len() == want.len()
            && if want.len() <= 64 {
                got == want
            } else {
                let n = want.len();
                let m = n / 2;
                got[..16] == want[..16] && got[m..m + 16] == want[m..m + 16] && got[n - 16..] == want[n - 16..]
            };
        if !ok {
            self.check_full(i, text, got);
            panic!("message {i}: decoded wrongly");
        }
    }
}

/// 1,000,000 text messages of 16 bytes, one frame each.
pub fn small_text(count: usize) -> Workload {
    let mut rng = Rng::new(1);
    let msgs = (0..count).map(|_| ascii(&mut rng, 16)).collect();
    Workload::client(&mut rng, true, msgs, None)
}

/// `count` binary messages of 64 KiB.
pub fn binary_64k(count: usize) -> Workload {
    let mut rng = Rng::new(2);
    let msgs = (0..count).map(|_| binary(&mut rng, 64 << 10)).collect();
    Workload::client(&mut rng, false, msgs, None)
}

/// `count` text messages of 1 MiB mixing ASCII and multi-byte UTF-8, in one frame or in fragments.
pub fn text_1m(count: usize, fragment: Option<usize>) -> Workload {
    let mut rng = Rng::new(3);
    let msgs = (0..count).map(|_| mixed_utf8(&mut rng, 1 << 20)).collect();
    Workload::client(&mut rng, true, msgs, fragment)
}

// ----- in-memory streams -----

/// What was written to a [`Replay`] stream, shared with whoever reads the results.
#[derive(Debug, Default)]
pub struct Written {
    /// Bytes written.
    pub count: usize,
    /// The bytes, when capturing.
    pub captured: Option<Vec<u8>>,
}

/// Serves `wire` cyclically, at most [`READ_SIZE`] bytes per read; writes are discarded (counted,
/// or kept when capturing).
pub struct Replay {
    wire: &'static [u8],
    pos: usize,
    /// What was written.
    pub out: Rc<RefCell<Written>>,
}

impl Replay {
    /// A stream replaying `wire` (empty for a write-only sink).
    pub fn new(wire: &'static [u8]) -> Self {
        Replay { wire, pos: 0, out: Rc::default() }
    }

    /// A write-only sink, capturing what is written if `capture`.
    pub fn sink(capture: bool) -> Self {
        let s = Replay::new(&[]);
        s.out.borrow_mut().captured = capture.then(Vec::new);
        s
    }

    /// Copies the next bytes into `dst` and returns how many.
    #[inline]
    pub fn fill(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(READ_SIZE).min(self.wire.len() - self.pos);
        dst[..n].copy_from_slice(&self.wire[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.wire.len() {
            self.pos = 0;
        }
        n
    }

    fn take(&mut self, buf: &[u8]) -> usize {
        let mut out = self.out.borrow_mut();
        out.count += buf.len();
        if let Some(c) = out.captured.as_mut() {
            c.extend_from_slice(buf);
        }
        buf.len()
    }
}

impl io::Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.fill(buf))
    }
}

impl io::Write for Replay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.take(buf))
    }

    /// Takes every slice, as a socket's `writev` with room for all of it.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        Ok(bufs.iter().map(|b| self.take(b)).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Replay {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = buf.remaining().min(READ_SIZE).min(this.wire.len() - this.pos);
        buf.put_slice(&this.wire[this.pos..this.pos + n]);
        this.pos += n;
        if this.pos == this.wire.len() {
            this.pos = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Replay {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().take(buf)))
    }

    /// Takes every slice, as tokio's `TcpStream` does with `writev`.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        Poll::Ready(Ok(bufs.iter().map(|b| this.take(b)).sum()))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ----- decoders -----

/// One implementation decoding client frames in the server role.
pub trait Decode {
    /// Decodes the next `count` messages, handing each to `f` as `(is_text, payload)`.
    fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8]));
}

/// Runs `dec` over one full cycle of `w` with full comparison of every message.
pub fn verify(dec: &mut dyn Decode, w: &Workload) {
    let mut i = 0;
    dec.decode(w.len(), &mut |text, p| {
        w.check_full(i, text, p);
        i += 1;
    });
    assert_eq!(i, w.len());
}

/// The configuration every sansio-ws connection of the benchmarks uses: no heartbeat, default limits
/// (16 MiB frames, 64 MiB messages).
pub fn ours_config() -> Config {
    Config::default().with_heartbeat(None)
}

/// sansio-ws, fed as its mio driver feeds it: a read (at most 64 KiB) into one reused buffer,
/// `handle_input`, then every event.
pub struct OursDecoder {
    conn: Connection,
    src: Replay,
    /// The read buffer, as the mio driver's: one, reused for every read.
    read_buf: Vec<u8>,
}

impl OursDecoder {
    /// A server connection reading `wire`.
    pub fn new(wire: &'static [u8]) -> Self {
        OursDecoder::with_connection(Connection::server(ours_config(), NOW), wire)
    }

    /// `conn` reading `wire`.
    pub fn with_connection(conn: Connection, wire: &'static [u8]) -> Self {
        OursDecoder { conn, src: Replay::new(wire), read_buf: vec![0; READ_SIZE] }
    }
}

impl Decode for OursDecoder {
    #[inline]
    fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8])) {
        let mut left = count;
        loop {
            while left > 0 {
                match self.conn.poll_event() {
                    Some(Event::Message(Message::Text(t))) => f(true, t.as_bytes()),
                    Some(Event::Message(Message::Binary(b))) => f(false, &b),
                    Some(other) => panic!("sansio-ws: unexpected event {other:?}"),
                    None => break,
                }
                left -= 1;
            }
            if left == 0 {
                return;
            }
            let n = self.src.fill(&mut self.read_buf);
            self.conn.handle_input(NOW, &self.read_buf[..n]);
        }
    }
}

/// tungstenite's blocking `WebSocket` over the in-memory stream.
pub struct TungsteniteDecoder {
    ws: tungstenite::WebSocket<Replay>,
}

impl TungsteniteDecoder {
    /// A server-role socket reading `wire`.
    pub fn new(wire: &'static [u8]) -> Self {
        let ws = tungstenite::WebSocket::from_raw_socket(Replay::new(wire), tungstenite::protocol::Role::Server, None);
        TungsteniteDecoder { ws }
    }
}

impl Decode for TungsteniteDecoder {
    #[inline]
    fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8])) {
        for _ in 0..count {
            match self.ws.read().expect("tungstenite: decode failed") {
                tungstenite::Message::Text(t) => f(true, t.as_bytes()),
                tungstenite::Message::Binary(b) => f(false, &b),
                other => panic!("tungstenite: unexpected message {other:?}"),
            }
        }
    }
}

/// A current-thread tokio runtime (no I/O driver, no timers: the stream is in memory).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("a tokio runtime")
}

/// fastwebsockets' `WebSocket::read_frame` (one frame per message), or its `FragmentCollector` for
/// fragmented messages.
pub struct FastDecoder {
    rt: tokio::runtime::Runtime,
    ws: FastSocket,
}

enum FastSocket {
    Frames(fastwebsockets::WebSocket<Replay>),
    Collect(fastwebsockets::FragmentCollector<Replay>),
}

impl FastDecoder {
    /// A server-role socket reading `wire`; `collect` reassembles fragmented messages.
    pub fn new(wire: &'static [u8], collect: bool) -> Self {
        let ws = fastwebsockets::WebSocket::after_handshake(Replay::new(wire), fastwebsockets::Role::Server);
        let ws = if collect {
            FastSocket::Collect(fastwebsockets::FragmentCollector::new(ws))
        } else {
            FastSocket::Frames(ws)
        };
        FastDecoder { rt: runtime(), ws }
    }
}

fn fast_deliver(frame: &fastwebsockets::Frame<'_>, f: &mut dyn FnMut(bool, &[u8])) {
    assert!(frame.fin, "fastwebsockets: unexpected fragment");
    match frame.opcode {
        fastwebsockets::OpCode::Text => f(true, &frame.payload),
        fastwebsockets::OpCode::Binary => f(false, &frame.payload),
        other => panic!("fastwebsockets: unexpected opcode {other:?}"),
    }
}

impl Decode for FastDecoder {
    #[inline]
    fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8])) {
        let ws = &mut self.ws;
        self.rt.block_on(async move {
            for _ in 0..count {
                let frame = match ws {
                    FastSocket::Frames(ws) => ws.read_frame().await,
                    FastSocket::Collect(ws) => ws.read_frame().await,
                };
                fast_deliver(&frame.expect("fastwebsockets: decode failed"), f);
            }
        });
    }
}

// ----- encoders -----

/// One implementation encoding a batch of messages into a byte sink.
pub trait Encode {
    /// Encodes every message of the batch (as text or binary) and returns the bytes produced.
    fn encode(&mut self) -> usize;
    /// Everything written since the encoder was made with capture on; capturing stops.
    fn captured(&mut self) -> Vec<u8>;
}

/// A batch of messages to encode, in each implementation's own payload type (cheap clones).
pub struct Batch {
    /// Whether the messages are text.
    pub text: bool,
    /// The payloads.
    pub raw: Vec<Vec<u8>>,
    ours_text: Vec<Utf8Bytes>,
    /// The text payloads as `str` (borrowed sends), empty for binary.
    raw_str: Vec<String>,
    ours_bin: Vec<Bytes>,
    tung: Vec<tungstenite::Message>,
}

impl Batch {
    /// A batch of `raw` messages.
    pub fn new(text: bool, raw: Vec<Vec<u8>>) -> Self {
        let ours_text = if text {
            raw.iter().map(|r| Utf8Bytes::from(String::from_utf8(r.clone()).expect("text"))).collect()
        } else {
            Vec::new()
        };
        let raw_str =
            if text { raw.iter().map(|r| String::from_utf8(r.clone()).expect("text")).collect() } else { Vec::new() };
        let ours_bin = if text { Vec::new() } else { raw.iter().map(|r| Bytes::from(r.clone())).collect() };
        let tung = raw
            .iter()
            .map(|r| {
                if text {
                    tungstenite::Message::Text(String::from_utf8(r.clone()).expect("text").into())
                } else {
                    tungstenite::Message::Binary(Bytes::from(r.clone()))
                }
            })
            .collect();
        Batch { text, raw, ours_text, raw_str, ours_bin, tung }
    }

    /// Total payload bytes.
    pub fn payload_bytes(&self) -> usize {
        self.raw.iter().map(Vec::len).sum()
    }

    /// Checks that `wire` carries the batch, masked or not as `masked` says (a message may be sent
    /// as several frames).
    pub fn check_wire(&self, wire: &[u8], masked: bool) {
        let opcode = if self.text { 1 } else { 2 };
        let mut messages: Vec<Vec<u8>> = Vec::new();
        let mut open = false;
        for (i, f) in parse_frames(wire).into_iter().enumerate() {
            assert_eq!(f.masked, masked, "frame {i}: mask bit");
            if open {
                assert_eq!(f.opcode, 0, "frame {i}: expected a continuation");
                messages.last_mut().unwrap().extend_from_slice(&f.payload);
            } else {
                assert_eq!(f.opcode, opcode, "frame {i}: opcode");
                messages.push(f.payload);
            }
            open = !f.fin;
        }
        assert!(!open, "the last message is not finished");
        assert_eq!(messages.len(), self.raw.len(), "message count");
        for (i, (got, want)) in messages.iter().zip(&self.raw).enumerate() {
            assert!(got == want, "message {i}: payload differs");
        }
    }
}

/// sansio-ws: `send_text`/`send_binary` for the batch, then its output chunks (`transmit_chunks`,
/// `advance_transmit`) are written into a discarding sink, as the other encoders' are.
pub struct OursEncoder {
    conn: Connection,
    batch: &'static Batch,
    sink: Replay,
    /// Capture every batch (so `captured` is always the last one), not only the first.
    recapture: bool,
    /// Send borrowed payloads (`send_*_copy`, as fastwebsockets' `Payload::Borrowed`) rather than
    /// handles to owned ones (`send_*`, as tungstenite's `Message`).
    borrowed: bool,
}

impl OursEncoder {
    /// A server (unmasked) or client (masking with OS-seeded randomness) connection sending
    /// borrowed payloads.
    pub fn new(client: bool, batch: &'static Batch) -> Self {
        OursEncoder { borrowed: true, ..OursEncoder::owned(client, batch) }
    }

    /// As [`new`](Self::new), sending handles to owned payloads (`Bytes` clones).
    pub fn owned(client: bool, batch: &'static Batch) -> Self {
        let conn = if client { Connection::client(ours_config(), NOW) } else { Connection::server(ours_config(), NOW) };
        OursEncoder::with_connection(conn, batch, false)
    }

    /// `conn` encoding `batch` from owned payloads; with `recapture`, every batch is captured,
    /// not only the first.
    pub fn with_connection(conn: Connection, batch: &'static Batch, recapture: bool) -> Self {
        OursEncoder { conn, batch, sink: Replay::sink(true), recapture, borrowed: false }
    }
}

impl Encode for OursEncoder {
    #[inline]
    fn encode(&mut self) -> usize {
        if self.recapture {
            self.sink.out.borrow_mut().captured = Some(Vec::new());
        }
        if self.borrowed && self.batch.text {
            for t in &self.batch.raw_str {
                self.conn.send_text_copy(t).unwrap_or_else(refused);
            }
        } else if self.borrowed {
            for r in &self.batch.raw {
                self.conn.send_binary_copy(r).unwrap_or_else(refused);
            }
        } else if self.batch.text {
            for t in &self.batch.ours_text {
                self.conn.send_text(t.clone()).unwrap_or_else(refused);
            }
        } else {
            for b in &self.batch.ours_bin {
                self.conn.send_binary(b.clone()).unwrap_or_else(refused);
            }
        }
        let before = self.sink.out.borrow().count;
        loop {
            let mut n = 0;
            for chunk in self.conn.transmit_chunks() {
                n += self.sink.take(chunk);
            }
            if n == 0 {
                break;
            }
            self.conn.advance_transmit(NOW, n);
        }
        self.sink.out.borrow().count - before
    }

    fn captured(&mut self) -> Vec<u8> {
        take_captured(&self.sink.out)
    }
}

/// A refused send: panics with the reason only (a `SendError` hands the payload back, and its
/// `Debug` would print all of it).
#[cold]
fn refused<T>(e: SendError<T>) {
    panic!("sansio-ws: send refused: {:?}", e.kind());
}

pub(crate) fn take_captured(out: &Rc<RefCell<Written>>) -> Vec<u8> {
    out.borrow_mut().captured.take().unwrap_or_default()
}

/// tungstenite: `write` for the batch, then `flush` into a discarding sink.
pub struct TungsteniteEncoder {
    ws: tungstenite::WebSocket<Replay>,
    out: Rc<RefCell<Written>>,
    batch: &'static Batch,
}

impl TungsteniteEncoder {
    /// A server or client socket writing into a sink.
    pub fn new(client: bool, batch: &'static Batch, capture: bool) -> Self {
        use tungstenite::protocol::Role;
        let sink = Replay::sink(capture);
        let out = sink.out.clone();
        let role = if client { Role::Client } else { Role::Server };
        TungsteniteEncoder { ws: tungstenite::WebSocket::from_raw_socket(sink, role, None), out, batch }
    }
}

impl Encode for TungsteniteEncoder {
    #[inline]
    fn encode(&mut self) -> usize {
        let before = self.out.borrow().count;
        for m in &self.batch.tung {
            self.ws.write(m.clone()).expect("tungstenite: write failed");
        }
        self.ws.flush().expect("tungstenite: flush failed");
        self.out.borrow().count - before
    }

    fn captured(&mut self) -> Vec<u8> {
        take_captured(&self.out)
    }
}

/// fastwebsockets: `write_frame` of borrowed payloads into a discarding sink.
pub struct FastEncoder {
    rt: tokio::runtime::Runtime,
    ws: fastwebsockets::WebSocket<Replay>,
    out: Rc<RefCell<Written>>,
    batch: &'static Batch,
}

impl FastEncoder {
    /// A server or client socket writing into a sink.
    pub fn new(client: bool, batch: &'static Batch, capture: bool) -> Self {
        let sink = Replay::sink(capture);
        let out = sink.out.clone();
        let role = if client { fastwebsockets::Role::Client } else { fastwebsockets::Role::Server };
        FastEncoder { rt: runtime(), ws: fastwebsockets::WebSocket::after_handshake(sink, role), out, batch }
    }
}

impl Encode for FastEncoder {
    #[inline]
    fn encode(&mut self) -> usize {
        use fastwebsockets::{Frame, Payload};
        let before = self.out.borrow().count;
        let (ws, batch) = (&mut self.ws, self.batch);
        self.rt.block_on(async move {
            for r in &batch.raw {
                let payload = Payload::Borrowed(r);
                let frame = if batch.text { Frame::text(payload) } else { Frame::binary(payload) };
                ws.write_frame(frame).await.expect("fastwebsockets: write failed");
            }
        });
        self.out.borrow().count - before
    }

    fn captured(&mut self) -> Vec<u8> {
        take_captured(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(w: Workload) -> &'static Workload {
        Box::leak(Box::new(w))
    }

    #[test]
    fn reference_encoder_and_parser_agree() {
        let mut rng = Rng::new(9);
        let msgs = vec![ascii(&mut rng, 5), ascii(&mut rng, 200), ascii(&mut rng, 70_000)];
        let w = Workload::client(&mut rng, true, msgs.clone(), None);
        let frames = parse_frames(&w.wire);
        assert_eq!(frames.len(), 3);
        for (f, m) in frames.iter().zip(&msgs) {
            assert!(f.fin && f.masked && f.opcode == 1 && &f.payload == m);
        }
        let fragmented = Workload::client(&mut rng, false, msgs, Some(64));
        assert!(parse_frames(&fragmented.wire).len() > 3);
    }

    #[test]
    fn every_decoder_passes_verification() {
        let mut rng = Rng::new(10);
        let text: Vec<Vec<u8>> = (0..50).map(|i| mixed_utf8(&mut rng, 10 + i * 997)).collect();
        for fragment in [None, Some(100)] {
            let w = leak(Workload::client(&mut rng, true, text.clone(), fragment));
            verify(&mut OursDecoder::new(&w.wire), w);
            verify(&mut TungsteniteDecoder::new(&w.wire), w);
            verify(&mut FastDecoder::new(&w.wire, fragment.is_some()), w);
            #[cfg(feature = "peers")]
            {
                verify(&mut TokioWsDecoder::new(&w.wire), w);
                verify(&mut YawcDecoder::new(&w.wire), w);
            }
        }
        // Binary, one frame per message, as the 64 KiB workload.
        let bin: Vec<Vec<u8>> = (0..20).map(|i| binary(&mut rng, 1 + i * 7001)).collect();
        let w = leak(Workload::client(&mut rng, false, bin, None));
        verify(&mut OursDecoder::new(&w.wire), w);
        verify(&mut TungsteniteDecoder::new(&w.wire), w);
        verify(&mut FastDecoder::new(&w.wire, false), w);
        #[cfg(feature = "peers")]
        {
            verify(&mut TokioWsDecoder::new(&w.wire), w);
            verify(&mut YawcDecoder::new(&w.wire), w);
        }
    }

    /// Every peer refuses a text message that is not UTF-8, so none skips the validation that
    /// sansio-ws always does (its own tests cover its refusal; a failed connection yields no
    /// message, so its adapter would wait forever here).
    #[test]
    fn every_peer_validates_text() {
        let mut rng = Rng::new(12);
        let mut bad = ascii(&mut rng, 300);
        bad[150] = 0xff;
        let w = leak(Workload::client(&mut rng, true, vec![bad], None));
        let decoders: Vec<(&str, Box<dyn Decode>)> = vec![
            ("tungstenite", Box::new(TungsteniteDecoder::new(&w.wire))),
            ("fastwebsockets", Box::new(FastDecoder::new(&w.wire, false))),
            #[cfg(feature = "peers")]
            ("tokio-websockets", Box::new(TokioWsDecoder::new(&w.wire))),
            #[cfg(feature = "peers")]
            ("yawc", Box::new(YawcDecoder::new(&w.wire))),
        ];
        for (name, mut dec) in decoders {
            let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                dec.decode(1, &mut |_, _| {});
            }))
            .is_err();
            assert!(refused, "{name} accepted invalid UTF-8");
        }
    }

    #[test]
    #[should_panic(expected = "payload differs")]
    fn a_wrong_payload_panics() {
        let w = small_text(4);
        let mut bad = w.payload(2).to_vec();
        bad[7] ^= 1;
        w.check_fast(2, true, &bad);
    }

    #[test]
    #[should_panic(expected = "payload differs")]
    fn a_wrong_decode_fails_verification() {
        // A "decoder" that hands back the masked bytes instead of the payload.
        struct Broken(&'static Workload);
        impl Decode for Broken {
            fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8])) {
                for i in 0..count {
                    let p = self.0.payload(i);
                    f(true, &self.0.wire[6 + i * 22..6 + i * 22 + p.len()]);
                }
            }
        }
        let w = leak(small_text(4));
        verify(&mut Broken(w), w);
    }

    #[test]
    fn encoders_produce_the_batch() {
        let mut rng = Rng::new(11);
        let batch: &'static Batch =
            Box::leak(Box::new(Batch::new(false, (0..3).map(|_| binary(&mut rng, 70_000)).collect())));
        for client in [false, true] {
            let encoders: Vec<Box<dyn Encode>> = vec![
                Box::new(OursEncoder::new(client, batch)),
                Box::new(TungsteniteEncoder::new(client, batch, true)),
                Box::new(FastEncoder::new(client, batch, true)),
                #[cfg(feature = "peers")]
                Box::new(TokioWsEncoder::new(client, batch, true)),
                #[cfg(feature = "peers")]
                Box::new(YawcEncoder::new(client, batch, true)),
            ];
            for mut e in encoders {
                let n = e.encode();
                let wire = e.captured();
                assert_eq!(n, wire.len());
                batch.check_wire(&wire, client);
            }
        }
    }
}

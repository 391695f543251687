//! The permessage-deflate (RFC 7692) side of the benchmarks: compressible JSON-like workloads, a
//! direct flate2 sender and receiver (what a minimal permessage-deflate implementation must do
//! around the backend), sansio-ws connections with deflate enabled, and the checks that every
//! compressed byte stream inflates back to the messages.
//!
//! Both sides use the same backend (flate2 on zlib-rs, as the core crate does), the library's
//! default level ([`level`], 6), raw deflate with a 2^15 window and context takeover: message N is
//! compressed against the history of the messages before it, so a compressed stream can only be
//! decoded from its start.

use std::fmt::Write as _;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use sansio_ws::connection::Connection;
use sansio_ws::deflate::{DeflateConfig, DeflateParams};
use sansio_ws::handshake::{Accept, ServerConfig, ServerHandshake, Upgraded};

use crate::{Batch, Decode, Encode, NOW, OursDecoder, OursEncoder, Rng, Workload, encode_frame_rsv1, ours_config};

/// The four bytes a sync flush ends with: RFC 7692 §7.2.1 has the sender remove them from each
/// message and the receiver append them again.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The window both sides compress and decompress with (what default negotiation agrees on).
pub const WINDOW_BITS: u8 = 15;

/// The compression level of both sides: the library's default.
pub fn level() -> u32 {
    DeflateConfig::default().level
}

/// The sansio-ws deflate configuration of the benchmarks: defaults, but every message compressed
/// (threshold 0).
pub fn ours_deflate_config() -> DeflateConfig {
    DeflateConfig::default().with_threshold(0)
}

/// The opening request of a client offering permessage-deflate with the defaults (the offer
/// `ClientConfig::default()` sends; the key is RFC 6455's example, §1.3).
pub const CLIENT_REQUEST: &[u8] = b"GET /bench HTTP/1.1\r\n\
    Host: localhost\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
    \r\n";

/// The `Sec-WebSocket-Accept` value of [`CLIENT_REQUEST`]'s key (RFC 6455 §1.3).
const ACCEPT_KEY: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The server side of the opening handshake with [`CLIENT_REQUEST`], deflate configured as
/// [`ours_deflate_config`]: what a driver gets from `ServerHandshake::accept`.
pub fn ours_deflate_handshake() -> Upgraded {
    let config = ServerConfig::default().with_deflate(Some(ours_deflate_config()));
    let mut handshake = ServerHandshake::new(config, NOW);
    let request = handshake
        .handle_input(CLIENT_REQUEST)
        .unwrap_or_else(|e| panic!("the canned request is refused: {e}"))
        .expect("the canned request is complete");
    let upgraded = handshake.accept(&request, Accept::new()).unwrap_or_else(|e| panic!("accept failed: {e}"));
    assert!(upgraded.trailing().is_empty(), "no frames follow the canned request");
    upgraded
}

/// What `upgraded` (from [`ours_deflate_handshake`]) agreed, checked to be what the direct flate2
/// reference runs: 2^15 windows and context takeover both ways.
pub fn negotiated(upgraded: &Upgraded) -> DeflateParams {
    let params = upgraded.deflate().expect("permessage-deflate is agreed");
    assert!(
        !params.server_no_context_takeover
            && !params.client_no_context_takeover
            && params.server_max_window_bits == WINDOW_BITS
            && params.client_max_window_bits == WINDOW_BITS,
        "unexpected parameters {params:?}"
    );
    params
}

/// A sansio-ws server connection with permessage-deflate as a driver gets it: from the
/// handshake with [`CLIENT_REQUEST`] ([`ours_deflate_handshake`], `into_connection`), its first
/// output (the `101` response, checked here) already written, so that what it sends from now on
/// is frames only.
pub fn ours_deflate_server() -> Connection {
    let upgraded = ours_deflate_handshake();
    negotiated(&upgraded);
    let response = upgraded.response_bytes().to_vec();
    let mut conn = upgraded.into_connection(ours_config(), NOW);
    assert!(conn.is_deflate_enabled(), "into_connection enables deflate");
    let mut written = Vec::new();
    while conn.poll_transmit(NOW, &mut written) > 0 {}
    assert!(written == response, "the connection's first output is the 101 response");
    check_response(&written);
    assert!(!conn.wants_write(), "nothing but the 101 response before the first send");
    conn
}

/// Checks the `101` response to [`CLIENT_REQUEST`]: switching protocols, the accept key, and
/// permessage-deflate agreed.
fn check_response(response: &[u8]) {
    let text = std::str::from_utf8(response).expect("the 101 response is text");
    let lines: Vec<&str> = text.strip_suffix("\r\n\r\n").expect("one whole response head").split("\r\n").collect();
    assert!(lines[0].starts_with("HTTP/1.1 101 "), "status line {:?}", lines[0]);
    let field = |name: &str| {
        lines[1..]
            .iter()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
    };
    assert_eq!(field("Sec-WebSocket-Accept"), Some(ACCEPT_KEY), "{text}");
    let extensions = field("Sec-WebSocket-Extensions").expect("permessage-deflate is in the response");
    assert!(extensions.starts_with("permessage-deflate"), "{text}");
}

// ----- generation -----

const USERS: [&str; 12] =
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "Zoë", "José"];
const EVENTS: [&str; 8] = ["page_view", "click", "add_to_cart", "checkout", "login", "logout", "search", "api_call"];
const PATHS: [&str; 8] =
    ["/", "/products", "/products/item", "/cart", "/search", "/account/settings", "/api/v2/orders", "/help/faq"];
const REGIONS: [&str; 5] = ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1", "sa-east-1"];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "okhttp/4.12.0",
];
const STATUS: [u16; 6] = [200, 200, 200, 201, 304, 404];

fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[rng.below(from.len() as u64) as usize]
}

/// Appends one line of an event log in JSON (about 300 bytes): fixed keys, values drawn from small
/// vocabularies, random numbers and identifiers, a few non-ASCII names.
pub fn json_line(rng: &mut Rng, seq: u64, out: &mut String) {
    let user = rng.below(USERS.len() as u64) as usize;
    let _ = write!(
        out,
        r#"{{"seq":{seq},"ts":"2025-06-{:02}T{:02}:{:02}:{:02}.{:03}Z","user":{{"id":{},"name":"{}"}},"event":"{}","path":"{}/{}","status":{},"latency_ms":{}.{:02},"region":"{}","agent":"{}","cart":["#,
        1 + rng.below(30),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000),
        1000 + user as u64 * 7919,
        USERS[user],
        pick(rng, &EVENTS),
        pick(rng, &PATHS),
        rng.below(100_000),
        STATUS[rng.below(STATUS.len() as u64) as usize],
        rng.below(500),
        rng.below(100),
        pick(rng, &REGIONS),
        pick(rng, &AGENTS),
    );
    for i in 0..rng.below(4) {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            out,
            r#"{sep}{{"sku":"SKU-{:05}","qty":{},"price":{}.{:02}}}"#,
            rng.below(100_000),
            1 + rng.below(5),
            rng.below(200),
            rng.below(100)
        );
    }
    out.push_str("]}\n");
}

/// Exactly `len` bytes of JSON lines (valid UTF-8: cut on a character boundary, padded with spaces).
pub fn json_text(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut s = String::with_capacity(len + 512);
    let mut seq = rng.below(1 << 20);
    while s.len() < len {
        json_line(rng, seq, &mut s);
        seq += 1;
    }
    let mut cut = len;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    while s.len() < len {
        s.push(' ');
    }
    s.into_bytes()
}

/// `count` messages of [`json_text`] of `len` bytes, seeded with `seed`.
pub fn json_messages(seed: u64, count: usize, len: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| json_text(&mut rng, len)).collect()
}

// ----- the direct flate2 sender -----

/// What a minimal permessage-deflate sender does with flate2: one compressor for the connection
/// (context takeover), a sync flush per message, the tail removed, into a reused buffer.
pub struct DirectDeflater {
    c: Compress,
    buf: Vec<u8>,
}

impl Default for DirectDeflater {
    fn default() -> Self {
        DirectDeflater {
            c: Compress::new_with_window_bits(Compression::new(level()), false, WINDOW_BITS),
            buf: Vec::new(),
        }
    }
}

impl DirectDeflater {
    /// Compresses one message: `FlushCompress::Sync`, the `00 00 FF FF` tail removed (RFC 7692
    /// §7.2.1); an empty result becomes one `0x00` octet (§7.2.3.6). Valid until the next call.
    #[inline]
    pub fn compress(&mut self, payload: &[u8]) -> &[u8] {
        let buf = &mut self.buf;
        buf.clear();
        let start = self.c.total_in();
        loop {
            if buf.capacity() - buf.len() < 64 {
                buf.reserve(buf.len().max(4096));
            }
            let done = (self.c.total_in() - start) as usize;
            self.c.compress_vec(&payload[done..], buf, FlushCompress::Sync).expect("deflate failed");
            let done = (self.c.total_in() - start) as usize;
            // The flush is complete once all input is in and zlib stopped short of the room it had.
            if done == payload.len() && buf.len() < buf.capacity() {
                break;
            }
        }
        if buf.ends_with(&TAIL) {
            buf.truncate(buf.len() - TAIL.len());
        }
        if buf.is_empty() {
            buf.push(0x00);
        }
        buf
    }
}

/// The direct sender of a whole batch: [`DirectDeflater::compress`] per message, framed (server
/// role: unmasked, RSV1 set) into one reused output buffer.
pub struct DirectEncoder {
    batch: &'static Batch,
    deflater: DirectDeflater,
    out: Vec<u8>,
}

impl DirectEncoder {
    /// A sender of `batch`.
    pub fn new(batch: &'static Batch) -> Self {
        DirectEncoder { batch, deflater: DirectDeflater::default(), out: Vec::new() }
    }
}

impl Encode for DirectEncoder {
    #[inline]
    fn encode(&mut self) -> usize {
        let opcode = if self.batch.text { 1 } else { 2 };
        self.out.clear();
        for m in &self.batch.raw {
            let z = self.deflater.compress(m);
            encode_frame_rsv1(&mut self.out, true, true, opcode, z, None);
        }
        self.out.len()
    }

    fn captured(&mut self) -> Vec<u8> {
        self.out.clone()
    }
}

/// sansio-ws with deflate on: `send_text`/`send_binary` for the batch, then its output written
/// into a sink that keeps the batch (the codec benchmarks' [`OursEncoder`] on a deflate
/// connection; the direct encoder keeps its output too).
pub fn ours_deflate_encoder(batch: &'static Batch) -> OursEncoder {
    OursEncoder::with_connection(ours_deflate_server(), batch, true)
}

// ----- inflating -----

/// Inflates `input` (a whole message with its tail appended) into `out`, growing it as needed.
/// Panics on corrupt data.
#[inline]
fn inflate_into(d: &mut Decompress, input: &[u8], out: &mut Vec<u8>) {
    let start = d.total_in();
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.len().max(16 * 1024));
        }
        let (in_before, out_before) = (d.total_in(), out.len());
        let done = (in_before - start) as usize;
        d.decompress_vec(&input[done..], out, FlushDecompress::Sync).expect("corrupt compressed data");
        let done = (d.total_in() - start) as usize;
        if done == input.len() && out.len() < out.capacity() {
            return;
        }
        assert!(d.total_in() != in_before || out.len() != out_before, "inflate made no progress");
    }
}

fn decompressor() -> Decompress {
    Decompress::new_with_window_bits(false, WINDOW_BITS)
}

/// The reference receiver that checks compressed output: one decompressor kept across messages
/// and batches (context takeover).
pub struct RefInflater {
    d: Decompress,
}

impl Default for RefInflater {
    fn default() -> Self {
        RefInflater { d: decompressor() }
    }
}

impl RefInflater {
    /// Inflates one message's compressed payload (the tail is appended here).
    pub fn inflate(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::new();
        inflate_into(&mut self.d, &input, &mut out);
        out
    }
}

impl Batch {
    /// Checks that `wire` carries the batch as compressed single-frame messages (FIN and RSV1 set,
    /// the opcode, the mask bit as `masked` says), inflating with `inflater`, which keeps its
    /// history from the batches checked before (context takeover).
    pub fn check_deflated_wire(&self, wire: &[u8], masked: bool, inflater: &mut RefInflater) {
        let opcode = if self.text { 1 } else { 2 };
        let frames = crate::parse_frames_rsv1(wire);
        assert_eq!(frames.len(), self.raw.len(), "message count");
        for (i, (f, want)) in frames.iter().zip(&self.raw).enumerate() {
            assert!(f.fin && f.rsv1, "message {i}: FIN and RSV1 must be set");
            assert_eq!(f.opcode, opcode, "message {i}: opcode");
            assert_eq!(f.masked, masked, "message {i}: mask bit");
            assert!(f.payload.len() < want.len(), "message {i}: not compressed ({} bytes)", f.payload.len());
            let got = inflater.inflate(&f.payload);
            assert!(&got == want, "message {i}: payload differs (len {} vs {})", got.len(), want.len());
        }
    }
}

impl Workload {
    /// Compresses `messages` as a permessage-deflate client does (flate2 directly, [`level`],
    /// 2^15 window, context takeover, sync flush, tail removed) and frames each as one masked
    /// frame with RSV1 set. The wire is one compressed stream: it decodes from its start only.
    pub fn client_deflate(rng: &mut Rng, text: bool, messages: &[Vec<u8>]) -> Workload {
        let mut w = Workload::client(rng, text, messages.to_vec(), None);
        w.wire = deflate_wire(rng, text, messages);
        w
    }
}

/// The wire of [`Workload::client_deflate`].
fn deflate_wire(rng: &mut Rng, text: bool, messages: &[Vec<u8>]) -> Vec<u8> {
    let opcode = if text { 1 } else { 2 };
    let mut deflater = DirectDeflater::default();
    let mut wire = Vec::new();
    for m in messages {
        let z = deflater.compress(m);
        encode_frame_rsv1(&mut wire, true, true, opcode, z, Some(rng.mask()));
    }
    wire
}

/// sansio-ws with deflate on, fed as [`OursDecoder`] is: a read into one reused buffer,
/// `handle_input`, then every event. A fresh connection decodes the stream from its start.
pub fn ours_inflating(wire: &'static [u8]) -> OursDecoder {
    OursDecoder::with_connection(ours_deflate_server(), wire)
}

/// What a minimal permessage-deflate receiver does with flate2, from the client's wire bytes:
/// reads each frame header, unmasks the payload into a reused buffer with the tail appended,
/// inflates with `FlushDecompress::Sync` into a reused buffer and validates text as UTF-8
/// (`std::str::from_utf8`). The decompressor is created on first use, as the library's is.
pub struct DirectInflater {
    wire: &'static [u8],
    pos: usize,
    d: Option<Decompress>,
    input: Vec<u8>,
    out: Vec<u8>,
}

impl DirectInflater {
    /// A receiver of `wire` from its start.
    pub fn new(wire: &'static [u8]) -> Self {
        DirectInflater { wire, pos: 0, d: None, input: Vec::new(), out: Vec::new() }
    }
}

/// Appends `src` unmasked with `key` to `dst`, eight bytes at a time.
#[inline]
fn unmask_into(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4]) {
    let start = dst.len();
    dst.extend_from_slice(src);
    let k = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut words = dst[start..].chunks_exact_mut(8);
    for w in &mut words {
        let v = u64::from_ne_bytes((&*w).try_into().unwrap()) ^ k;
        w.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

impl Decode for DirectInflater {
    #[inline]
    fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8])) {
        for _ in 0..count {
            let w = &self.wire[self.pos..];
            assert!(w.len() >= 2, "direct: the compressed stream ended (it cannot be replayed)");
            assert!(w[0] == 0xc1 || w[0] == 0xc2, "direct: expected a whole compressed message, got {:#04x}", w[0]);
            assert!(w[1] & 0x80 != 0, "direct: client frames are masked");
            let (len, at) = match w[1] & 0x7f {
                126 => (u16::from_be_bytes([w[2], w[3]]) as usize, 4),
                127 => (u64::from_be_bytes(w[2..10].try_into().unwrap()) as usize, 10),
                n => (n as usize, 2),
            };
            let key: [u8; 4] = w[at..at + 4].try_into().unwrap();
            let payload = &w[at + 4..at + 4 + len];
            self.pos += at + 4 + len;
            self.input.clear();
            unmask_into(&mut self.input, payload, key);
            self.input.extend_from_slice(&TAIL);
            self.out.clear();
            inflate_into(self.d.get_or_insert_with(decompressor), &self.input, &mut self.out);
            let text = w[0] & 0x0f == 1;
            if text {
                std::str::from_utf8(&self.out).expect("direct: invalid UTF-8");
            }
            f(text, &self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::{parse_frames_rsv1, verify};

    fn leak<T>(t: T) -> &'static T {
        Box::leak(Box::new(t))
    }

    fn batch(seed: u64) -> &'static Batch {
        let mut msgs = json_messages(seed, 40, 1024);
        msgs.extend(json_messages(seed + 1, 3, 64 << 10));
        msgs.extend(json_messages(seed + 2, 5, 300));
        leak(Batch::new(true, msgs))
    }

    #[test]
    fn the_canned_request_offers_what_a_default_client_offers() {
        let mut offer = String::new();
        sansio_ws::handshake::write_extensions(&[DeflateConfig::default().offer()], &mut offer).unwrap();
        let line = format!("\r\nSec-WebSocket-Extensions: {offer}\r\n");
        assert!(CLIENT_REQUEST.windows(line.len()).any(|w| w == line.as_bytes()), "{offer}");
    }

    #[test]
    fn the_deflate_connection_comes_from_the_handshake_with_its_response_written() {
        // ours_deflate_server checks the 101 response it drains and that nothing else is queued.
        let mut conn = ours_deflate_server();
        conn.send_text_copy("hello hello hello").unwrap_or_else(|e| panic!("{:?}", e.kind()));
        let mut wire = Vec::new();
        while conn.poll_transmit(NOW, &mut wire) > 0 {}
        let frames = parse_frames_rsv1(&wire);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].fin && frames[0].rsv1 && !frames[0].masked && frames[0].opcode == 1);
        assert_eq!(RefInflater::default().inflate(&frames[0].payload), b"hello hello hello");
    }

    #[test]
    fn json_text_is_valid_utf8_of_the_length_asked_and_compressible() {
        let mut rng = Rng::new(30);
        for len in [1, 100, 1024, 5000, 64 << 10] {
            let t = json_text(&mut rng, len);
            assert_eq!(t.len(), len);
            std::str::from_utf8(&t).unwrap();
        }
        let big = json_text(&mut rng, 64 << 10);
        let z = DirectDeflater::default().compress(&big).len();
        assert!(z * 3 < big.len() && z * 20 > big.len(), "64 KiB compress to {z} bytes");
    }

    #[test]
    fn direct_compressor_output_inflates_back() {
        let b = batch(31);
        let mut enc = DirectEncoder::new(b);
        let mut inflater = RefInflater::default();
        for _ in 0..3 {
            let n = enc.encode();
            let wire = enc.captured();
            assert_eq!(n, wire.len());
            b.check_deflated_wire(&wire, false, &mut inflater);
        }
        // An empty message is one 0x00 octet and inflates to nothing, context kept.
        let mut d = DirectDeflater::default();
        let mut r = RefInflater::default();
        for m in [&b"hello"[..], b"", b"hello"] {
            let z = d.compress(m).to_vec();
            assert_eq!(r.inflate(&z), m);
        }
    }

    #[test]
    fn library_output_parses_and_inflates_back_and_matches_the_direct_one() {
        let b = batch(32);
        let mut ours = ours_deflate_encoder(b);
        let mut direct = DirectEncoder::new(b);
        let mut inflater = RefInflater::default();
        for round in 0..3 {
            let n = ours.encode();
            let wire = ours.captured();
            assert_eq!(n, wire.len());
            b.check_deflated_wire(&wire, false, &mut inflater);
            // Same backend, level, window and history: the same bytes.
            direct.encode();
            assert!(wire == direct.captured(), "round {round}: sansio-ws and direct flate2 output differ");
        }
    }

    #[test]
    fn compressed_workloads_use_context_takeover() {
        let m = json_messages(33, 1, 4096).remove(0);
        let w = Workload::client_deflate(&mut Rng::new(1), true, &[m.clone(), m]);
        let frames = parse_frames_rsv1(&w.wire);
        assert!(frames.iter().all(|f| f.fin && f.rsv1 && f.masked && f.opcode == 1));
        // The second copy refers back to the first.
        let (first, second) = (frames[0].payload.len(), frames[1].payload.len());
        assert!(second * 10 < first, "{first} then {second} bytes");
        // Message 1 alone does not decode to the message.
        let mut fresh = RefInflater::default();
        let alone = catch_unwind(AssertUnwindSafe(|| fresh.inflate(&frames[1].payload)));
        assert!(!alone.is_ok_and(|out| out == w.payload(1)));
    }

    #[test]
    fn both_decoders_pass_verification() {
        for text in [true, false] {
            let w = leak(Workload::client_deflate(&mut Rng::new(34), text, &batch(35).raw));
            verify(&mut ours_inflating(&w.wire), w);
            verify(&mut DirectInflater::new(&w.wire), w);
        }
    }

    /// A workload whose wire carries message `i` with its byte `at` changed (an ASCII byte, so the
    /// text stays valid): it inflates fine, to the wrong message.
    fn corrupted(i: usize, at: usize) -> &'static Workload {
        let msgs = batch(36).raw.clone();
        let mut sent = msgs.clone();
        assert!(sent[i][at].is_ascii());
        sent[i][at] ^= 0x01;
        let mut w = Workload::client_deflate(&mut Rng::new(37), true, &msgs);
        w.wire = deflate_wire(&mut Rng::new(37), true, &sent);
        leak(w)
    }

    #[test]
    #[should_panic(expected = "payload differs")]
    fn a_corrupted_message_fails_verification_of_sansio_ws() {
        let w = corrupted(7, 500);
        verify(&mut ours_inflating(&w.wire), w);
    }

    #[test]
    #[should_panic(expected = "payload differs")]
    fn a_corrupted_message_fails_verification_of_direct_flate2() {
        let w = corrupted(41, 40_000);
        verify(&mut DirectInflater::new(&w.wire), w);
    }

    #[test]
    fn a_corrupted_message_fails_the_fast_check_in_the_measured_loop() {
        // check_fast samples the first, middle and last 16 bytes: a change there is caught.
        let w = corrupted(3, 1020);
        for mut dec in [Box::new(ours_inflating(&w.wire)) as Box<dyn Decode>, Box::new(DirectInflater::new(&w.wire))] {
            let mut i = 0;
            let r = catch_unwind(AssertUnwindSafe(|| {
                dec.decode(w.len(), &mut |text, p| {
                    w.check_fast(i, text, p);
                    i += 1;
                })
            }));
            assert!(r.is_err() && i == 3, "the corrupted message 3 was not caught (at {i})");
        }
    }

    #[test]
    fn a_replayed_stream_is_refused_by_the_direct_receiver() {
        let w = leak(Workload::client_deflate(&mut Rng::new(38), true, &json_messages(39, 3, 1024)));
        let mut d = DirectInflater::new(&w.wire);
        verify(&mut d, w);
        let again = catch_unwind(AssertUnwindSafe(|| d.decode(1, &mut |_, _| {})));
        assert!(again.is_err());
    }
}

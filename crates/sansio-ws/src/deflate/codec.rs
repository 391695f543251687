//! The compressor and decompressor of one connection, on flate2 with zlib-rs.

use alloc::vec::Vec;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

/// The four bytes a sync flush ends with; RFC 7692 §7.2.1 removes them from each message and the
/// receiver appends them again.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Compresses outgoing messages.
#[derive(Debug)]
pub(crate) struct Deflater {
    state: Option<Compress>,
    window_bits: u8,
    no_context_takeover: bool,
    release: bool,
    level: u32,
}

impl Deflater {
    /// `None` when zlib cannot honour the window (8 bits): messages then go out uncompressed.
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool, level: u32, release: bool) -> Option<Self> {
        (9..=15).contains(&window_bits).then_some(Deflater {
            state: None,
            window_bits,
            no_context_takeover,
            release,
            level: level.min(9),
        })
    }

    /// One message's payload, compressed, without the sync-flush tail.
    pub(crate) fn compress(&mut self, input: &[u8]) -> Vec<u8> {
        let (bits, level) = (self.window_bits, self.level);
        let c = self.state.get_or_insert_with(|| Compress::new_with_window_bits(Compression::new(level), false, bits));
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        let start = c.total_in();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.len().max(4096));
            }
            let consumed = (c.total_in() - start) as usize;
            // Compressing into a Vec with room cannot fail: the stream is never finished.
            let _ = c.compress_vec(&input[consumed..], &mut out, FlushCompress::Sync);
            let consumed = (c.total_in() - start) as usize;
            // The flush is complete once all input is in and zlib stopped short of the space it had.
            if consumed == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.is_empty() {
            // Nothing new since the last flush (an empty message): zlib emits no bytes at all, but
            // the receiver appends the 4-byte tail and needs a block header before it. One 0x00
            // octet starts an empty stored block (RFC 7692 §7.2.3.6).
            out.push(0x00);
        }
        if self.no_context_takeover {
            if self.release {
                self.state = None;
            } else if let Some(c) = self.state.as_mut() {
                c.reset();
            }
        }
        out
    }
}

/// Why a message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    TooLarge,
    Corrupt,
}

/// Decompresses incoming messages, never producing more than the caller allows.
#[derive(Debug)]
pub(crate) struct Inflater {
    state: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
    release: bool,
}

impl Inflater {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool, release: bool) -> Self {
        // zlib cannot open a 2^8 window; a larger one reads any stream a smaller one wrote.
        Inflater { state: None, window_bits: window_bits.clamp(9, 15), no_context_takeover, release }
    }

    /// Inflates `input` (a piece of a compressed message), appending to `out`, which may grow to
    /// at most `limit` bytes in total; the message ends when `last` (the tail is appended here).
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.feed(input, out, limit)?;
        if last {
            self.feed(&TAIL, out, limit)?;
            if self.no_context_takeover {
                if self.release {
                    self.state = None;
                } else if let Some(d) = self.state.as_mut() {
                    d.reset(false);
                }
            }
        }
        Ok(())
    }

    /// Whether the inflater gives its memory back between messages.
    pub(crate) fn releases_memory(&self) -> bool {
        self.release
    }

    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let bits = self.window_bits;
        let d = self.state.get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let start = d.total_in();
        loop {
            if out.len() == out.capacity() {
                // Room for at most one byte beyond the limit: enough to tell "over" without ever
                // holding more than the limit allows.
                let room = out.len().max(16 * 1024).min(limit.saturating_add(1) - out.len());
                out.reserve_exact(room);
            }
            let (in_before, out_before) = (d.total_in(), out.len());
            d.decompress_vec(&input[(in_before - start) as usize..], out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            if out.len() > limit {
                return Err(InflateError::TooLarge);
            }
            let consumed = (d.total_in() - start) as usize;
            // Done once all input is in and zlib stopped short of the room it had.
            if consumed == input.len() && out.len() < out.capacity() {
                return Ok(());
            }
            if d.total_in() == in_before && out.len() == out_before {
                // No progress with room to spare: the stream is broken.
                return Err(InflateError::Corrupt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    /// RFC 7692 §7.2.3.1: "Hello" compressed is `f2 48 cd c9 c9 07 00`.
    #[test]
    fn rfc_7692_hello_examples() {
        let mut d = Deflater::new(15, false, 6, false).unwrap();
        assert_eq!(d.compress(b"Hello"), [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        // With context takeover the second "Hello" refers back to the first (§7.2.3.2).
        let second = d.compress(b"Hello");
        assert!(second.len() < 7, "{second:02x?}");
        let mut i = Inflater::new(15, false, false);
        let mut out = Vec::new();
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], true, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        out.clear();
        i.inflate(&second, true, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.2 gives this exact second message for a shared context.
        out.clear();
        let mut j = Inflater::new(15, false, false);
        j.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], true, &mut out, 100).unwrap();
        out.clear();
        j.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], true, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // Without context takeover every message stands alone.
        let mut d = Deflater::new(15, true, 6, false).unwrap();
        assert_eq!(d.compress(b"Hello"), d.compress(b"Hello"));
        // §7.2.3.3: an uncompressed (stored) block also inflates.
        let mut out = Vec::new();
        Inflater::new(15, false, false)
            .inflate(&[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00], true, &mut out, 100)
            .unwrap();
        assert_eq!(out, b"Hello");
    }

    /// An empty message between others, with a shared context: it must still be a complete
    /// deflate block, or the receiver reads the next message's bytes as part of it.
    #[test]
    fn empty_messages_are_a_stored_block() {
        let mut d = Deflater::new(15, false, 1, false).unwrap();
        let mut i = Inflater::new(15, false, false);
        for (n, msg) in [&b"Hello"[..], b"", b"", &[7u8; 300][..], b"", b"world"].iter().enumerate() {
            let z = d.compress(msg);
            if msg.is_empty() && n > 0 {
                assert_eq!(z, [0x00], "message {n}");
            }
            let mut out = Vec::new();
            i.inflate(&z, true, &mut out, 1000).unwrap();
            assert_eq!(&out[..], *msg, "message {n}");
        }
        // A strict decoder (a fresh one fed the whole stream with the tails) agrees: every message
        // ends on a block boundary.
        let mut d = Deflater::new(15, false, 1, false).unwrap();
        let mut stream = Vec::new();
        for msg in [&b"a"[..], b"", b"b"] {
            stream.extend(d.compress(msg));
            stream.extend(TAIL);
        }
        let mut out = Vec::new();
        Inflater::new(15, false, false).inflate(&stream, false, &mut out, 100).unwrap();
        assert_eq!(out, b"ab");
    }

    #[test]
    fn inflating_stops_at_the_limit() {
        let bomb = Deflater::new(15, true, 9, false).unwrap().compress(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "10 MiB of zeros compress to {} bytes", bomb.len());
        let mut out = Vec::new();
        let err = Inflater::new(15, true, false).inflate(&bomb, true, &mut out, 1 << 20);
        assert_eq!(err, Err(InflateError::TooLarge));
        assert!(out.capacity() <= (1 << 20) + 1, "memory stayed within the limit: {}", out.capacity());
        // Exactly at the limit is fine.
        let exact = Deflater::new(15, true, 9, false).unwrap().compress(&vec![7u8; 4096]);
        let mut out = Vec::new();
        Inflater::new(15, true, false).inflate(&exact, true, &mut out, 4096).unwrap();
        assert_eq!(out.len(), 4096);
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut out = Vec::new();
        let e = Inflater::new(15, false, false).inflate(&[0xff, 0xff, 0xff, 0xff], true, &mut out, 100);
        assert_eq!(e, Err(InflateError::Corrupt));
    }

    #[test]
    fn small_windows_round_trip() {
        for bits in 9..=15 {
            let text: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8 ^ (i / 700) as u8).collect();
            let mut d = Deflater::new(bits, false, 6, false).unwrap();
            let mut i = Inflater::new(bits, false, false);
            for _ in 0..3 {
                let z = d.compress(&text);
                let mut out = Vec::new();
                i.inflate(&z, true, &mut out, usize::MAX).unwrap();
                assert_eq!(out, text, "window {bits}");
            }
        }
        assert!(Deflater::new(8, false, 6, false).is_none(), "zlib cannot compress with 2^8");
    }
}

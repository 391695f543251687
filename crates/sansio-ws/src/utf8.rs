//! Streaming UTF-8 validation for text messages.
//!
//! The payload of a WebSocket text message must be valid UTF-8 (RFC 6455 §5.6), but it reaches an
//! endpoint in pieces: a message may be fragmented into many frames, every frame may be split across
//! many reads, and any of those boundaries may fall inside a multi-byte code point.
//!
//! RFC 6455 §8.1 asks an endpoint that receives invalid UTF-8 in a text message to *fail the
//! WebSocket connection* (close code 1007). Waiting for the end of the message before checking would
//! mean buffering or delivering text that is already known to be garbage, possibly for a very long
//! (or never-ending) message. The Autobahn test suite checks this explicitly (cases 6.4.x): it sends
//! a text message whose first fragment is valid, then a fragment that makes the text invalid, and
//! expects the connection to be failed at that point, before the final fragment arrives.
//!
//! [`Utf8Validator`] therefore checks every chunk as it arrives and reports an error as soon as the
//! bytes seen so far cannot be the beginning of valid UTF-8 — a byte that can never appear
//! (`0xC0`, `0xC1`, `0xF5`–`0xFF`), an overlong or surrogate encoding (`E0 80`, `ED A0`), a code
//! point above U+10FFFF (`F4 90`), or a missing continuation byte — while a sequence that is merely
//! cut short by the chunk boundary is carried over (at most 3 bytes, no allocation) and completed
//! from the next chunk. Only at the end of the message, in [`Utf8Validator::finish`], is a trailing
//! incomplete sequence an error.
//!
//! Long runs are validated with SIMD through [`simdutf8`]; the validator only does extra work for
//! the few bytes of a code point that straddles a chunk boundary.
//!
//! ```
//! use sansio_ws::utf8::Utf8Validator;
//!
//! let text = "naïve ☃ 𝄞".as_bytes();
//! let mut v = Utf8Validator::new();
//! // Split in the middle of the 4-byte G clef.
//! let (a, b) = text.split_at(text.len() - 2);
//! v.feed(a).unwrap();
//! assert!(!v.is_complete());
//! v.feed(b).unwrap();
//! assert!(v.is_complete());
//! v.finish().unwrap();
//!
//! // 0xF4 0x90 would encode a code point above U+10FFFF: rejected at the second byte.
//! v.feed(b"ok \xF4").unwrap();
//! let err = v.feed(b"\x90").unwrap_err();
//! assert_eq!(err.valid_up_to(), 3);
//! ```

use core::fmt;

/// An invalid UTF-8 sequence found by a [`Utf8Validator`].
///
/// It records where the valid text ended, counted from the start of everything fed since the
/// validator was last reset or finished: the same value as
/// [`core::str::Utf8Error::valid_up_to`] on the concatenation of the chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Error {
    valid_up_to: u64,
    incomplete: bool,
}

impl Utf8Error {
    /// The offset, from the start of the message (everything fed since the last reset or finish),
    /// of the first byte of the invalid sequence. All bytes before it are valid UTF-8.
    pub fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }

    /// Whether the error is a code point left incomplete at the end of the message (reported by
    /// [`Utf8Validator::finish`]) rather than a byte sequence that can never be valid.
    pub fn is_incomplete(&self) -> bool {
        self.incomplete
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.incomplete {
            write!(f, "incomplete UTF-8 sequence at end of text from offset {}", self.valid_up_to)
        } else {
            write!(f, "invalid UTF-8 sequence at offset {}", self.valid_up_to)
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Utf8Error {}

/// Validates UTF-8 text that arrives in chunks split at arbitrary byte positions.
///
/// Feed every chunk of a message with [`feed`](Self::feed), then call [`finish`](Self::finish) at
/// the end of the message. An error is returned by the first call that makes the text impossible
/// to complete into valid UTF-8; from then on the validator stays failed, returning the same error,
/// until [`reset`](Self::reset) or [`finish`](Self::finish).
///
/// The validator does not allocate: a code point split across chunks is carried in a small inline
/// buffer.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// The bytes of a code point started but not finished by the chunks fed so far.
    partial: [u8; 4],
    /// How many bytes of `partial` are in use (0 to 3).
    partial_len: u8,
    /// Total number of bytes fed since the last reset, including `partial`.
    fed: u64,
    /// The first error found, if any; sticky until reset.
    error: Option<Utf8Error>,
}

/// The length of the UTF-8 sequence introduced by `lead`: 1 for ASCII, 2, 3 or 4 for a byte that
/// can start a multi-byte sequence. Other bytes give 2 or 4, which is harmless: the sequence is
/// then rejected by validation.
#[inline]
fn sequence_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator { partial: [0; 4], partial_len: 0, fed: 0, error: None }
    }

    /// Validates the next chunk of the message.
    ///
    /// A code point cut by the end of `chunk` is remembered and completed by the next call, so a
    /// message may be split anywhere.
    ///
    /// # Errors
    ///
    /// Returns an error as soon as the bytes fed so far cannot be the start of valid UTF-8, with
    /// [`Utf8Error::valid_up_to`] giving the offset of the first byte of the bad sequence within the
    /// whole message. Once failed, every later call returns the same error until the validator is
    /// reset.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let mut rest = chunk;

        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let partial_start = self.fed - u64::from(self.partial_len);
            let need = sequence_len(self.partial[0]);
            let take = need.saturating_sub(have).min(rest.len());
            self.partial[have..have + take].copy_from_slice(&rest[..take]);
            let filled = have + take;
            match core::str::from_utf8(&self.partial[..filled]) {
                Ok(_) => {
                    // The carried code point is now complete.
                    self.partial_len = 0;
                    self.fed += take as u64;
                    rest = &rest[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix: the chunk ran out before the code point did.
                    debug_assert_eq!(take, rest.len());
                    self.partial_len = filled as u8;
                    self.fed += take as u64;
                    return Ok(());
                }
                Err(e) => {
                    return Err(self.fail(partial_start + e.valid_up_to() as u64, false));
                }
            }
        }

        // Short ASCII first: the SIMD validator hands short input to the standard library's,
        // which costs more than this check. (Not `is_valid` on longer input: a piece often ends
        // inside a character, which that check fails, and the bytes would be validated twice.)
        if rest.len() < 64 && rest.is_ascii() {
            self.fed += rest.len() as u64;
            return Ok(());
        }
        let base = self.fed;
        // Validate up to the last code point the chunk finishes with the fast validator, which
        // gives no error position; only invalid input is validated again, to find where it fails.
        let cut = unfinished_tail_start(rest);
        let (body, tail) = rest.split_at(cut);
        if simdutf8::basic::from_utf8(body).is_err() {
            let valid = simdutf8::compat::from_utf8(body).err().map_or(body.len(), |e| e.valid_up_to());
            return Err(self.fail(base + valid as u64, false));
        }
        // The tail (at most three bytes) must be the start of a code point.
        if let Err(e) = core::str::from_utf8(tail) {
            if e.error_len().is_some() {
                return Err(self.fail(base + (cut + e.valid_up_to()) as u64, false));
            }
        }
        self.partial[..tail.len()].copy_from_slice(tail);
        self.partial_len = tail.len() as u8;
        self.fed += rest.len() as u64;
        Ok(())
    }

    /// Ends the message: checks that no code point is left incomplete, then resets the validator
    /// for the next message.
    ///
    /// # Errors
    ///
    /// Returns the error already found by [`feed`](Self::feed), if any, or an error whose
    /// [`Utf8Error::is_incomplete`] is true if the message ends inside a code point. The validator
    /// is reset either way.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let result = match self.error {
            Some(err) => Err(err),
            None if self.partial_len > 0 => {
                Err(Utf8Error { valid_up_to: self.fed - u64::from(self.partial_len), incomplete: true })
            }
            None => Ok(()),
        };
        self.reset();
        result
    }

    /// Forgets everything fed so far, including any error, to start a new message.
    pub fn reset(&mut self) {
        *self = Utf8Validator::new();
    }

    /// Whether everything fed so far is valid UTF-8 that ends on a code point boundary: no error and
    /// no partial code point waiting for more bytes.
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && self.partial_len == 0
    }

    /// The error found so far, if the validator has failed.
    pub fn error(&self) -> Option<Utf8Error> {
        self.error
    }

    /// The number of bytes, from the start of the message, known to be complete and valid UTF-8.
    ///
    /// This excludes a pending partial code point, and after an error equals
    /// [`Utf8Error::valid_up_to`].
    pub fn bytes_validated(&self) -> u64 {
        match self.error {
            Some(err) => err.valid_up_to,
            None => self.fed - u64::from(self.partial_len),
        }
    }

    /// Records `valid_up_to` as the validator's error and returns it.
    fn fail(&mut self, valid_up_to: u64, incomplete: bool) -> Utf8Error {
        let err = Utf8Error { valid_up_to, incomplete };
        self.error = Some(err);
        self.partial_len = 0;
        err
    }
}

/// Where the code point that `bytes` ends inside of starts: the offset of a lead byte among the last
/// three bytes whose sequence is longer than the bytes left after it, or `bytes.len()` if the last
/// code point is complete (or the bytes are not UTF-8, which validation then reports).
#[inline]
fn unfinished_tail_start(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(3) {
        let b = bytes[len - back];
        if b & 0xC0 != 0x80 {
            // Not a continuation byte: an ASCII byte or a lead.
            return if b >= 0xC0 && sequence_len(b) > back { len - back } else { len };
        }
    }
    len
}

/// Whether `bytes` is valid UTF-8, as fast as possible: short input is checked for ASCII (the
/// SIMD validator hands short input to the standard library's, which costs more), longer input
/// with the SIMD validator without error details.
#[inline]
pub(crate) fn is_valid(bytes: &[u8]) -> bool {
    if bytes.len() < 64 && bytes.is_ascii() {
        return true;
    }
    simdutf8::basic::from_utf8(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// Feeds `chunks` and returns the index of the chunk whose feed failed with its error, or
    /// `(chunks.len(), err)` if the error came from `finish`.
    fn run(chunks: &[&[u8]]) -> Result<(), (usize, Utf8Error)> {
        let mut v = Utf8Validator::new();
        for (i, c) in chunks.iter().enumerate() {
            v.feed(c).map_err(|e| (i, e))?;
        }
        v.finish().map_err(|e| (chunks.len(), e))
    }

    #[test]
    fn accepts_ascii_and_multibyte() {
        assert_eq!(run(&[b"hello"]), Ok(()));
        assert_eq!(run(&["κόσμε ☃ 𝄞".as_bytes()]), Ok(()));
        assert_eq!(run(&[]), Ok(()));
        assert_eq!(run(&[b"", b""]), Ok(()));
    }

    #[test]
    fn rfc_examples_fail_at_the_offending_byte() {
        // Above U+10FFFF.
        let mut v = Utf8Validator::new();
        v.feed(b"\xF4").unwrap();
        assert_eq!(v.feed(b"\x90").unwrap_err().valid_up_to(), 0);
        // Overlong three-byte form.
        let mut v = Utf8Validator::new();
        v.feed(b"ab\xE0").unwrap();
        assert_eq!(v.feed(b"\x80").unwrap_err().valid_up_to(), 2);
        // Surrogate.
        let mut v = Utf8Validator::new();
        v.feed(b"\xED").unwrap();
        assert_eq!(v.feed(b"\xA0").unwrap_err().valid_up_to(), 0);
        // The same, inside one chunk.
        assert_eq!(run(&[b"x\xED\xA0"]), Err((0, err(1))));
        assert_eq!(run(&[b"x\xF4\x90"]), Err((0, err(1))));
    }

    #[test]
    fn impossible_bytes_fail_immediately() {
        for b in [0xC0u8, 0xC1, 0xF5, 0xF8, 0xFE, 0xFF, 0x80, 0xBF] {
            let mut v = Utf8Validator::new();
            v.feed(b"abc").unwrap();
            let e = v.feed(&[b]).unwrap_err();
            assert_eq!(e.valid_up_to(), 3, "byte {b:#x}");
            assert!(!e.is_incomplete());
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let text = "aé€𝄞z".as_bytes();
        let mut v = Utf8Validator::new();
        for (i, b) in text.iter().enumerate() {
            v.feed(core::slice::from_ref(b)).unwrap();
            let boundary = core::str::from_utf8(&text[..=i]).is_ok();
            assert_eq!(v.is_complete(), boundary, "after byte {i}");
        }
        assert_eq!(v.bytes_validated(), text.len() as u64);
        v.finish().unwrap();
    }

    #[test]
    fn missing_continuation_is_detected_at_the_next_byte() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xE2\x82").unwrap();
        let e = v.feed(b"A").unwrap_err();
        assert_eq!(e.valid_up_to(), 0);
    }

    #[test]
    fn finish_rejects_incomplete_tail_and_resets() {
        let mut v = Utf8Validator::new();
        v.feed(b"hi \xF0\x9F").unwrap();
        v.feed(b"\x98").unwrap();
        assert_eq!(v.bytes_validated(), 3);
        let e = v.finish().unwrap_err();
        assert_eq!(e.valid_up_to(), 3);
        assert!(e.is_incomplete());
        // Reset by finish: a new message starts at offset 0.
        assert!(v.is_complete());
        v.feed(b"ok").unwrap();
        assert_eq!(v.bytes_validated(), 2);
        v.finish().unwrap();
    }

    #[test]
    fn errors_are_sticky_until_reset() {
        let mut v = Utf8Validator::new();
        v.feed(b"abc").unwrap();
        let e = v.feed(b"d\xFFe").unwrap_err();
        assert_eq!(e.valid_up_to(), 4);
        assert_eq!(v.feed(b"valid"), Err(e));
        assert_eq!(v.feed(b""), Err(e));
        assert_eq!(v.error(), Some(e));
        assert!(!v.is_complete());
        assert_eq!(v.bytes_validated(), 4);
        v.reset();
        assert_eq!(v.error(), None);
        v.feed("é".as_bytes()).unwrap();
        v.finish().unwrap();
    }

    #[test]
    fn reset_drops_partial_code_point() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xE2\x82").unwrap();
        v.reset();
        assert!(v.is_complete());
        assert_eq!(v.feed(b"\xAC").unwrap_err().valid_up_to(), 0);
    }

    #[test]
    fn display_mentions_offset() {
        use alloc::string::ToString;
        let s = err(7).to_string();
        assert!(s.contains('7'), "{s}");
    }

    #[test]
    fn sequence_lengths_follow_the_lead_byte() {
        // RFC 3629 §4: 00-7F one byte, C2-DF two, E0-EF three, F0-F4 four. The bytes that can
        // never lead a valid sequence (continuations 80-BF, C0, C1, F5-FF) are rejected by
        // validation whatever length they get.
        for b in 0x00..=0x7Fu8 {
            assert_eq!(sequence_len(b), 1, "{b:#04x}");
        }
        for b in 0xC2..=0xDFu8 {
            assert_eq!(sequence_len(b), 2, "{b:#04x}");
        }
        for b in 0xE0..=0xEFu8 {
            assert_eq!(sequence_len(b), 3, "{b:#04x}");
        }
        for b in 0xF0..=0xF4u8 {
            assert_eq!(sequence_len(b), 4, "{b:#04x}");
        }
    }

    #[test]
    fn whole_payload_check_rejects_short_and_long_invalid_text() {
        assert!(is_valid(b""));
        assert!(is_valid(b"plain ascii"));
        assert!(is_valid("caf\u{e9}".as_bytes()));
        // Short input that is not ASCII is still validated.
        assert!(!is_valid(b"\xFF"));
        assert!(!is_valid(b"ab\xC3"));
        assert!(!is_valid(b"\xED\xA0\x80"));
        // Long input, valid and not, on both sides of the 64-byte shortcut.
        for len in [63usize, 64, 65, 200] {
            let mut text = alloc::vec![b'a'; len];
            assert!(is_valid(&text), "{len} ASCII bytes");
            text[len - 1] = 0xC3;
            assert!(!is_valid(&text), "{len} bytes ending in a cut lead");
            text[len - 1] = 0x80;
            assert!(!is_valid(&text), "{len} bytes ending in a lone continuation");
        }
        let long = "\u{2603}".repeat(40);
        assert!(is_valid(long.as_bytes()));
        assert!(!is_valid(&long.as_bytes()[..long.len() - 1]));
    }

    fn err(valid_up_to: u64) -> Utf8Error {
        Utf8Error { valid_up_to, incomplete: false }
    }

    /// Bytes that are often valid UTF-8 or close to it.
    fn near_utf8() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => any::<char>().prop_map(|c| {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf).as_bytes().to_vec()
            }),
            2 => (0x20u8..0x7F).prop_map(|b| alloc::vec![b]),
            1 => (0x80u8..=0xBF).prop_map(|b| alloc::vec![b]),
            1 => prop::sample::select(&[
                0xC0u8, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5,
                0xFF, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
            ][..])
            .prop_map(|b| alloc::vec![b]),
            1 => any::<u8>().prop_map(|b| alloc::vec![b]),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    /// A valid string with a few bytes overwritten and possibly truncated.
    fn corrupted_string() -> impl Strategy<Value = Vec<u8>> {
        (any::<String>(), prop::collection::vec((any::<usize>(), any::<u8>()), 0..3), any::<Option<usize>>()).prop_map(
            |(s, edits, cut)| {
                let mut bytes = s.into_bytes();
                if !bytes.is_empty() {
                    for (at, b) in edits {
                        let i = at % bytes.len();
                        bytes[i] = b;
                    }
                }
                if let Some(c) = cut {
                    bytes.truncate(c % (bytes.len() + 1));
                }
                bytes
            },
        )
    }

    fn input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            near_utf8(),
            corrupted_string(),
            any::<String>().prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..64),
        ]
    }

    /// Splits `whole` at the given cut positions (taken modulo `len + 1`), allowing empty chunks.
    fn split<'a>(whole: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (whole.len() + 1)).collect();
        points.push(0);
        points.push(whole.len());
        points.sort_unstable();
        points.windows(2).map(|w| &whole[w[0]..w[1]]).collect()
    }

    /// The smallest prefix length that std rejects as impossible (not merely incomplete).
    fn first_impossible_prefix(whole: &[u8]) -> Option<usize> {
        (1..=whole.len()).find(|&p| core::str::from_utf8(&whole[..p]).is_err_and(|e| e.error_len().is_some()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn agrees_with_std_and_fails_fast(
            whole in input(),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
        ) {
            let chunks = split(&whole, &cuts);
            let std_result = core::str::from_utf8(&whole);
            let ours = run(&chunks);

            // (a) Same verdict as std.
            prop_assert_eq!(ours.is_ok(), std_result.is_ok());

            if let (Err((chunk_idx, e)), Err(std_err)) = (ours, std_result) {
                // (b) Same position as std.
                prop_assert_eq!(e.valid_up_to(), std_err.valid_up_to() as u64);

                // (c) Detected by the chunk holding the first byte that makes the text impossible.
                match first_impossible_prefix(&whole) {
                    Some(p) => {
                        let mut start = 0;
                        let expected = chunks
                            .iter()
                            .position(|c| {
                                let end = start + c.len();
                                let hit = (start..end).contains(&(p - 1));
                                start = end;
                                hit
                            })
                            .unwrap();
                        prop_assert_eq!(chunk_idx, expected);
                        prop_assert!(!e.is_incomplete());
                    }
                    None => {
                        prop_assert_eq!(chunk_idx, chunks.len(), "error must come from finish");
                        prop_assert!(e.is_incomplete());
                    }
                }
            }
        }

        #[test]
        fn bytes_validated_tracks_longest_complete_prefix(
            whole in input(),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
        ) {
            let chunks = split(&whole, &cuts);
            let mut v = Utf8Validator::new();
            let mut fed = 0;
            for c in &chunks {
                let r = v.feed(c);
                fed += c.len();
                let expected = match core::str::from_utf8(&whole[..fed]) {
                    Ok(_) => fed,
                    Err(e) => e.valid_up_to(),
                };
                prop_assert_eq!(v.bytes_validated(), expected as u64);
                prop_assert_eq!(v.is_complete(), r.is_ok() && expected == fed);
                if r.is_err() {
                    break;
                }
            }
        }
    }
}

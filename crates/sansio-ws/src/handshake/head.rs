//! The incremental reader of an HTTP head, shared by both roles.
//!
//! Bytes arrive in pieces of any size, down to one byte. The reader keeps them (up to the
//! configured bound) and looks for the blank line that ends the head, scanning only bytes it has
//! not looked at before: the search resumes three bytes before the end of the previous piece, in
//! case the `\r\n\r\n` straddles two pieces. A peer sending one byte at a time therefore costs
//! linear work in total, not quadratic. httparse runs once, on the complete head.

use alloc::vec::Vec;

use bytes::Bytes;

use crate::Instant;

/// Bounds on the HTTP head (start line and header fields) a handshake reads.
///
/// A peer that exceeds either bound gets an error (answered with `431 Request Header Fields Too
/// Large` on the server) instead of making the reader grow without limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadLimits {
    /// The largest head accepted, in bytes, including the final blank line.
    pub max_head_size: usize,
    /// The largest number of header fields accepted.
    pub max_headers: usize,
}

impl HeadLimits {
    /// The default [`max_head_size`](Self::max_head_size): 16 KiB.
    pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;
    /// The default [`max_headers`](Self::max_headers): 64.
    pub const DEFAULT_MAX_HEADERS: usize = 64;
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits { max_head_size: Self::DEFAULT_MAX_HEAD_SIZE, max_headers: Self::DEFAULT_MAX_HEADERS }
    }
}

with_setters!(HeadLimits {
    with_max_head_size => max_head_size: usize,
    with_max_headers => max_headers: usize,
});

/// The head did not end within [`HeadLimits::max_head_size`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadTooLarge;

/// A complete head and whatever followed it in the input.
#[derive(Debug)]
pub(crate) struct CompleteHead {
    /// The head, ending with `\r\n\r\n`.
    pub(crate) head: Vec<u8>,
    /// The bytes after the head, in order, none dropped.
    pub(crate) trailing: Vec<u8>,
}

/// Where one side of a handshake is: reading its head, done (later input is kept as trailing
/// bytes), or failed for good (every later call gives the same error).
#[derive(Debug)]
pub(crate) struct HeadPhase<E> {
    state: PhaseState<E>,
    trailing: Vec<u8>,
    /// The head must be complete by then.
    deadline: Instant,
}

#[derive(Debug)]
enum PhaseState<E> {
    Reading(HeadReader),
    Done,
    Failed(E),
}

impl<E: Clone> HeadPhase<E> {
    pub(crate) fn new(limits: &HeadLimits, deadline: Instant) -> Self {
        HeadPhase { state: PhaseState::Reading(HeadReader::new(limits)), trailing: Vec::new(), deadline }
    }

    /// The deadline, while the head is still being read.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        matches!(self.state, PhaseState::Reading(_)).then_some(self.deadline)
    }

    /// Fails the phase with `timeout()` if the head is still being read at or after the
    /// deadline. A failed phase keeps its error; a finished one is not affected.
    pub(crate) fn handle_timeout(&mut self, now: Instant, timeout: impl FnOnce() -> E) -> Result<(), E> {
        match &self.state {
            PhaseState::Reading(_) if now >= self.deadline => {
                let e = timeout();
                self.state = PhaseState::Failed(e.clone());
                Err(e)
            }
            PhaseState::Failed(e) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// Feeds a piece of input; `parse` validates the head once it is complete.
    pub(crate) fn feed<T>(
        &mut self,
        data: &[u8],
        too_large: impl FnOnce() -> E,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        let reader = match &mut self.state {
            PhaseState::Reading(reader) => reader,
            PhaseState::Done => {
                self.trailing.extend_from_slice(data);
                return Ok(None);
            }
            PhaseState::Failed(e) => return Err(e.clone()),
        };
        let result = match reader.push(data) {
            Ok(None) => return Ok(None),
            Ok(Some(done)) => parse(&done.head).map(|value| (value, done.trailing)),
            Err(HeadTooLarge) => Err(too_large()),
        };
        match result {
            Ok((value, trailing)) => {
                self.trailing = trailing;
                self.state = PhaseState::Done;
                Ok(Some(value))
            }
            Err(e) => {
                self.state = PhaseState::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Takes the bytes that followed the head.
    pub(crate) fn take_trailing(&mut self) -> Bytes {
        Bytes::from(core::mem::take(&mut self.trailing))
    }

    /// Whether the head has been read and accepted.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, PhaseState::Done)
    }

    /// Whether the head is still being read.
    pub(crate) fn is_reading(&self) -> bool {
        matches!(self.state, PhaseState::Reading(_))
    }

    /// Fails the phase for good with `e` (every later call returns it), and returns it.
    pub(crate) fn fail(&mut self, e: E) -> E {
        self.state = PhaseState::Failed(e.clone());
        e
    }
}

/// Collects the bytes of a head until its end is found.
#[derive(Debug)]
pub(crate) struct HeadReader {
    buf: Vec<u8>,
    max_head_size: usize,
    /// How many bytes the end-of-head search has looked at in total (for the linear-work test
    /// only: not kept outside tests).
    #[cfg(test)]
    scanned: usize,
}

impl HeadReader {
    pub(crate) fn new(limits: &HeadLimits) -> Self {
        HeadReader {
            buf: Vec::new(),
            max_head_size: limits.max_head_size,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// Adds a piece of input. `Ok(None)` means the head is not complete yet (not an error).
    ///
    /// At most `max_head_size` bytes are ever buffered; bytes of `data` beyond the head are
    /// returned as trailing bytes without being scanned.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<Option<CompleteHead>, HeadTooLarge> {
        if data.is_empty() {
            return Ok(None);
        }
        let old_len = self.buf.len();
        let take = data.len().min(self.max_head_size.saturating_sub(old_len));
        self.buf.extend_from_slice(&data[..take]);

        // The terminator may begin in the last three bytes of what was already buffered.
        let from = old_len.saturating_sub(3);
        #[cfg(test)]
        {
            self.scanned += self.buf.len() - from;
        }
        if let Some(pos) = find_end_of_head(&self.buf[from..]) {
            let end = from + pos + 4;
            let mut trailing = self.buf.split_off(end);
            trailing.extend_from_slice(&data[take..]);
            let head = core::mem::take(&mut self.buf);
            return Ok(Some(CompleteHead { head, trailing }));
        }
        if self.buf.len() >= self.max_head_size { Err(HeadTooLarge) } else { Ok(None) }
    }

    /// Total bytes examined by the end-of-head search so far.
    #[cfg(test)]
    pub(crate) fn scanned(&self) -> usize {
        self.scanned
    }
}

/// The offset of the first `\r\n\r\n` in `buf`.
fn find_end_of_head(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn limits(max: usize) -> HeadLimits {
        HeadLimits { max_head_size: max, max_headers: 64 }
    }

    #[test]
    fn partial_then_complete_with_trailing() {
        let mut r = HeadReader::new(&limits(100));
        assert!(r.push(b"GET / HTTP/1.1\r\n").unwrap().is_none());
        assert!(r.push(b"A: b\r\n\r").unwrap().is_none());
        let done = r.push(b"\nXYZ").unwrap().unwrap();
        assert_eq!(done.head, b"GET / HTTP/1.1\r\nA: b\r\n\r\n");
        assert_eq!(done.trailing, b"XYZ");
    }

    #[test]
    fn terminator_split_across_every_boundary() {
        let input = b"GET / HTTP/1.1\r\n\r\ntail";
        for cut in 0..=input.len() {
            let mut r = HeadReader::new(&limits(100));
            let got = match r.push(&input[..cut]).unwrap() {
                // Complete already: the rest of the input is the caller's to append.
                Some(mut got) => {
                    got.trailing.extend_from_slice(&input[cut..]);
                    got
                }
                None => r.push(&input[cut..]).unwrap().expect("complete"),
            };
            assert_eq!(got.head, b"GET / HTTP/1.1\r\n\r\n", "cut at {cut}");
            assert_eq!(got.trailing, b"tail", "cut at {cut}");
        }
    }

    #[test]
    fn head_exactly_at_limit_is_accepted_one_more_byte_is_not() {
        let head = b"GET / HTTP/1.1\r\n\r\n";
        let mut r = HeadReader::new(&limits(head.len()));
        let mut with_tail = head.to_vec();
        with_tail.extend_from_slice(&[0xAA; 1000]);
        let done = r.push(&with_tail).unwrap().unwrap();
        assert_eq!(done.head, head);
        assert_eq!(done.trailing, [0xAA; 1000]);

        let mut r = HeadReader::new(&limits(head.len() - 1));
        assert_eq!(r.push(head).unwrap_err(), HeadTooLarge);
    }

    #[test]
    fn buffer_never_exceeds_limit() {
        let mut r = HeadReader::new(&limits(64));
        assert_eq!(r.push(&vec![b'a'; 10_000]).unwrap_err(), HeadTooLarge);
        assert!(r.buf.len() <= 64);
    }

    #[test]
    fn search_resumes_near_previous_end() {
        // One byte at a time over 16 KiB: each piece rescans at most 3 old bytes.
        let mut input = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        input.resize(16 * 1024 - 4, b'a');
        input.extend_from_slice(b"\r\n\r\n");
        let mut r = HeadReader::new(&limits(16 * 1024));
        let mut done = None;
        for &b in &input {
            if let Some(d) = r.push(&[b]).unwrap() {
                done = Some(d);
            }
        }
        assert_eq!(done.unwrap().head.len(), input.len());
        assert!(r.scanned() <= 4 * input.len(), "scanned {} bytes for {}", r.scanned(), input.len());

        // Whole input at once: every byte looked at once.
        let mut r = HeadReader::new(&limits(16 * 1024));
        assert!(r.push(&input).unwrap().is_some());
        assert_eq!(r.scanned(), input.len());
    }
}

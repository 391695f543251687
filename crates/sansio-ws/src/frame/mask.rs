//! Payload masking (RFC 6455 §5.3).
//!
//! A client masks every frame it sends: byte `i` of the payload is XORed with byte `i % 4` of the
//! 4-byte masking key carried in the frame header. The same operation unmasks, because XOR is its
//! own inverse.
//!
//! Payloads often arrive (or are produced) in pieces. Every function here takes an `offset`: the
//! number of payload bytes of the same frame already processed. Passing the running count keeps the
//! key aligned across split points, so masking a payload piece by piece gives the same bytes as
//! masking it in one call.
//!
//! The implementation is safe Rust only. It rotates the key by the offset once, repeats it into a
//! fixed-size block and XORs the payload block by block with a fixed-length inner loop, which the
//! compiler turns into SIMD XORs; the last few bytes are handled one at a time.

/// Size of the blocks processed by the wide loop. A multiple of 4, so the key lines up again at the
/// start of every block, and large enough for two to four vector registers per iteration.
const BLOCK: usize = 64;

/// Returns `key` rotated so that its first byte is the one that applies at payload position
/// `offset`.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // In little-endian order byte 0 is the least significant, so moving byte `r` to the front is a
    // right rotation by `8 * r` bits. (A slice rotation would compile to memmove calls.)
    let shift = 8 * (offset % 4) as u32;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

/// Repeats a 4-byte key over a whole block.
#[inline]
fn expand_key(key: [u8; 4]) -> [u8; BLOCK] {
    let mut wide = [0u8; BLOCK];
    for quad in wide.chunks_exact_mut(4) {
        quad.copy_from_slice(&key);
    }
    wide
}

/// XORs `buf` in place with the masking `key`, as RFC 6455 §5.3 describes.
///
/// `buf[0]` is XORed with `key[offset % 4]`, `buf[1]` with `key[(offset + 1) % 4]` and so on. To
/// mask or unmask a payload that arrives in pieces, pass as `offset` the number of payload bytes of
/// the frame already processed; the result is the same as one call over the whole payload.
///
/// Masking and unmasking are the same operation.
///
/// # Examples
///
/// ```
/// use sansio_ws::frame::apply_mask;
///
/// // RFC 6455 §5.7: a masked "Hello".
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = *b"Hello";
/// apply_mask(&mut payload, key, 0);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
///
/// // Unmasking in two pieces, keeping track of the offset.
/// let (first, second) = payload.split_at_mut(2);
/// apply_mask(first, key, 0);
/// apply_mask(second, key, 2);
/// assert_eq!(&payload, b"Hello");
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    let wide = expand_key(key);

    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        for (b, k) in block.iter_mut().zip(wide.iter()) {
            *b ^= *k;
        }
    }
    // Every block is a multiple of 4 bytes long, so the tail starts at key position 0 again.
    for (b, k) in blocks.into_remainder().iter_mut().zip(wide.iter()) {
        *b ^= *k;
    }
}

/// Appends `src` masked with `key` (at payload position `offset`) to `dst`: one pass, writing
/// straight into `dst`'s spare capacity (an exact-size iterator per block lets `Vec::extend`
/// skip per-byte capacity checks, and the XOR vectorises).
pub(crate) fn extend_masked(dst: &mut alloc::vec::Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    let wide = expand_key(rotate_key(key, offset));
    dst.reserve(src.len());
    let mut blocks = src.chunks_exact(BLOCK);
    for block in &mut blocks {
        dst.extend(block.iter().zip(wide.iter()).map(|(b, k)| b ^ k));
    }
    dst.extend(blocks.remainder().iter().zip(wide.iter()).map(|(b, k)| b ^ k));
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn extend_masked_matches_reference_across_steps() {
        for len in [0, 1, 3, 1023, 1024, 1025, 2048, 5000] {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            for offset in 0..4 {
                let mut dst = b"head".to_vec();
                extend_masked(&mut dst, &src, RFC_KEY, offset);
                assert_eq!(&dst[..4], b"head");
                assert_eq!(dst[4..], reference(&src, RFC_KEY, offset)[..], "len {len} offset {offset}");
            }
        }
    }
    const RFC_MASKED_HELLO: [u8; 5] = [0x7f, 0x9f, 0x4d, 0x51, 0x58];

    /// Byte-by-byte reference implementation.
    fn reference(buf: &[u8], key: [u8; 4], offset: usize) -> Vec<u8> {
        buf.iter().enumerate().map(|(i, b)| b ^ key[(offset + i) % 4]).collect()
    }

    #[test]
    fn rfc6455_example_masks_hello() {
        let mut buf = *b"Hello";
        apply_mask(&mut buf, RFC_KEY, 0);
        assert_eq!(buf, RFC_MASKED_HELLO);
        apply_mask(&mut buf, RFC_KEY, 0);
        assert_eq!(&buf, b"Hello");
    }

    #[test]
    fn offsets_continue_across_split_points() {
        for split in 0..=5 {
            let mut buf = RFC_MASKED_HELLO;
            let (a, b) = buf.split_at_mut(split);
            apply_mask(a, RFC_KEY, 0);
            apply_mask(b, RFC_KEY, split);
            assert_eq!(&buf, b"Hello", "split at {split}");
        }
        // Three pieces, one byte at a time for the middle one.
        let mut buf = RFC_MASKED_HELLO;
        apply_mask(&mut buf[..1], RFC_KEY, 0);
        apply_mask(&mut buf[1..2], RFC_KEY, 1);
        apply_mask(&mut buf[2..], RFC_KEY, 2);
        assert_eq!(&buf, b"Hello");
    }

    #[test]
    fn offset_is_taken_modulo_four() {
        let mut a = *b"Hello, world";
        let mut b = a;
        apply_mask(&mut a, RFC_KEY, 1);
        apply_mask(&mut b, RFC_KEY, 4 * 1000 + 1);
        assert_eq!(a, b);
        apply_mask(&mut b, RFC_KEY, usize::MAX);
        let mut c = *b"Hello, world";
        apply_mask(&mut c, RFC_KEY, 1);
        apply_mask(&mut c, RFC_KEY, 3);
        assert_eq!(b, c);
    }

    #[test]
    fn empty_input_appends_nothing() {
        let mut dst = vec![1u8, 2, 3];
        extend_masked(&mut dst, &[], RFC_KEY, 2);
        assert_eq!(dst, [1, 2, 3]);
        extend_masked(&mut dst, b"Hello", RFC_KEY, 0);
        assert_eq!(dst[..3], [1, 2, 3], "what was there stays");
        assert_eq!(dst[3..], RFC_MASKED_HELLO);
    }

    #[test]
    fn long_buffer_matches_reference() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        for offset in 0..4 {
            let mut buf = data.clone();
            apply_mask(&mut buf, RFC_KEY, offset);
            assert_eq!(buf, reference(&data, RFC_KEY, offset));
            let mut out = Vec::new();
            extend_masked(&mut out, &data, RFC_KEY, offset);
            assert_eq!(out, reference(&data, RFC_KEY, offset));
        }
    }

    /// Turns sorted-or-not cut positions into piece boundaries within `0..=len`.
    fn boundaries(len: usize, cuts: &[usize]) -> Vec<usize> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
        points.push(0);
        points.push(len);
        points.sort_unstable();
        points.dedup();
        points
    }

    fn data_and_key() -> impl Strategy<Value = (Vec<u8>, [u8; 4])> {
        (prop::collection::vec(any::<u8>(), 0..=300), any::<[u8; 4]>())
    }

    proptest! {
        #[test]
        fn apply_mask_matches_reference_for_every_length_and_offset(
            data in prop::collection::vec(any::<u8>(), 300),
            key in any::<[u8; 4]>(),
        ) {
            for len in 0..=data.len() {
                for offset in 0..8 {
                    let mut buf = data[..len].to_vec();
                    apply_mask(&mut buf, key, offset);
                    prop_assert_eq!(&buf, &reference(&data[..len], key, offset));
                }
            }
        }

        #[test]
        fn extend_masked_matches_reference_for_every_length_and_offset(
            data in prop::collection::vec(any::<u8>(), 300),
            key in any::<[u8; 4]>(),
        ) {
            for len in 0..=data.len() {
                for offset in 0..8 {
                    let mut out = Vec::new();
                    extend_masked(&mut out, &data[..len], key, offset);
                    prop_assert_eq!(&out, &reference(&data[..len], key, offset));
                }
            }
        }

        #[test]
        fn apply_mask_in_pieces_equals_at_once(
            (data, key) in data_and_key(),
            offset in 0usize..8,
            cuts in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut whole = data.clone();
            apply_mask(&mut whole, key, offset);

            let mut pieces = data.clone();
            let points = boundaries(data.len(), &cuts);
            for w in points.windows(2) {
                apply_mask(&mut pieces[w[0]..w[1]], key, offset + w[0]);
            }
            prop_assert_eq!(&pieces, &whole);
            prop_assert_eq!(&whole, &reference(&data, key, offset));
        }

        #[test]
        fn extend_masked_in_pieces_equals_at_once(
            (data, key) in data_and_key(),
            offset in 0usize..8,
            cuts in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut whole = Vec::new();
            extend_masked(&mut whole, &data, key, offset);

            let mut pieces = Vec::new();
            let points = boundaries(data.len(), &cuts);
            for w in points.windows(2) {
                extend_masked(&mut pieces, &data[w[0]..w[1]], key, offset + w[0]);
            }
            prop_assert_eq!(&pieces, &whole);
            prop_assert_eq!(&whole, &reference(&data, key, offset));
        }
    }
}

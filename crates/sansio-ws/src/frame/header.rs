//! Frame headers (RFC 6455 §5.2): decoding with every receive rule, and minimal encoding.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! [`FrameHeader::decode`] checks the rules in the order of the bytes they depend on, and each rule as
//! soon as its bytes are present. So a prefix of a header either needs more bytes or fails with the
//! same error the whole header would: decoding does not depend on how the input was split.

use core::fmt;

use super::OpCode;
use crate::Role;

/// The longest possible header: 2 fixed bytes, an 8-byte length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The three reserved bits of the first header byte. Extensions claim them (permessage-deflate
/// claims RSV1); without a negotiated extension any set bit is a protocol error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rsv(u8);

impl Rsv {
    /// No bit set.
    pub const NONE: Rsv = Rsv(0);
    /// RSV1 (`0x40` of the first byte).
    pub const RSV1: Rsv = Rsv(0b100);
    /// RSV2 (`0x20` of the first byte).
    pub const RSV2: Rsv = Rsv(0b010);
    /// RSV3 (`0x10` of the first byte).
    pub const RSV3: Rsv = Rsv(0b001);

    /// The bits as the low three bits of a byte: RSV1 is `0b100`.
    pub const fn from_bits(bits: u8) -> Rsv {
        Rsv(bits & 0b111)
    }

    /// The low-three-bit form: RSV1 is `0b100`.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// No bit set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Every bit of `other` is set in `self`.
    pub const fn contains(self, other: Rsv) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits set in either.
    pub const fn union(self, other: Rsv) -> Rsv {
        Rsv(self.0 | other.0)
    }

    /// The bits of `self` that are not in `other`.
    pub const fn without(self, other: Rsv) -> Rsv {
        Rsv(self.0 & !other.0)
    }
}

impl fmt::Debug for Rsv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("Rsv(none)");
        }
        f.write_str("Rsv(")?;
        let mut sep = "";
        for (bit, name) in [(Rsv::RSV1, "RSV1"), (Rsv::RSV2, "RSV2"), (Rsv::RSV3, "RSV3")] {
            if self.contains(bit) {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        f.write_str(")")
    }
}

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// This is the final fragment of a message.
    pub fin: bool,
    /// Reserved bits, meaningful only to a negotiated extension.
    pub rsv: Rsv,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present on every frame a client sends.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// The receive rules a decoder applies beyond the fixed ones of RFC 6455.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeRules {
    /// The role of the endpoint that *receives* the frame: a server requires masked frames, a
    /// client requires unmasked ones (§5.1).
    pub role: Role,
    /// RSV bits claimed by negotiated extensions; any other set bit fails (§5.2).
    pub allowed_rsv: Rsv,
    /// Frames with a longer payload fail with [`FrameError::FrameTooLarge`] (close code 1009).
    pub max_frame_size: u64,
}

impl DecodeRules {
    /// The default largest frame a decoder accepts: 16 MiB.
    pub const DEFAULT_MAX_FRAME_SIZE: u64 = 16 << 20;

    /// The rules for an endpoint of `role` with no extension and a 16 MiB frame limit.
    pub const fn new(role: Role) -> Self {
        DecodeRules { role, allowed_rsv: Rsv::NONE, max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE }
    }
}

/// The result of decoding the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The buffer holds a valid prefix of a header; at least `needed` more bytes are required.
    /// Nothing was consumed: call again with the same bytes plus more.
    Incomplete {
        /// A lower bound on the bytes still missing from the header.
        needed: usize,
    },
    /// A complete header of `len` bytes; the payload starts at `len`.
    Complete {
        /// The header.
        header: FrameHeader,
        /// How many bytes the header took.
        len: usize,
    },
}

/// A frame header that breaks a rule of RFC 6455 §5. Every variant is the peer's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// An opcode reserved for future use (3–7, 0xB–0xF) (§5.2).
    ReservedOpcode(u8),
    /// RSV bits set that no negotiated extension claims (§5.2).
    ReservedBits(Rsv),
    /// A control frame with FIN clear: control frames cannot be fragmented (§5.5).
    FragmentedControl(OpCode),
    /// A control frame announcing more than 125 bytes of payload (§5.5).
    ControlTooLong(OpCode),
    /// A server received a frame without a masking key (§5.1).
    Unmasked,
    /// A client received a frame with a masking key (§5.1).
    Masked,
    /// A 64-bit payload length with its most significant bit set (§5.2).
    LengthMsbSet,
    /// A payload length not in its shortest form: the 16-bit form for less than 126, or the 64-bit
    /// form for less than 65536 (§5.2: "the minimal number of bytes MUST be used").
    NonMinimalLength {
        /// The length that was encoded.
        len: u64,
    },
    /// A frame longer than the configured limit.
    FrameTooLarge {
        /// The announced payload length.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
}

impl FrameError {
    /// The close code to fail the connection with: 1009 for an oversized frame, 1002 otherwise.
    pub const fn close_code(&self) -> super::CloseCode {
        match self {
            FrameError::FrameTooLarge { .. } => super::CloseCode::MESSAGE_TOO_BIG,
            _ => super::CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FrameError::ReservedBits(rsv) => {
                write!(f, "reserved bits set without an extension that claims them: {rsv:?}")
            }
            FrameError::FragmentedControl(op) => {
                write!(f, "{op} frame with FIN clear (control frames cannot be fragmented)")
            }
            FrameError::ControlTooLong(op) => write!(f, "{op} frame with a payload over 125 bytes"),
            FrameError::Unmasked => f.write_str("unmasked frame from a client"),
            FrameError::Masked => f.write_str("masked frame from a server"),
            FrameError::LengthMsbSet => f.write_str("64-bit payload length with its most significant bit set"),
            FrameError::NonMinimalLength { len } => write!(f, "payload length {len} not encoded in its minimal form"),
            FrameError::FrameTooLarge { len, max } => {
                write!(f, "frame payload of {len} bytes exceeds the limit of {max}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

impl FrameHeader {
    /// Decodes a header from the front of `src`, applying every receive rule of §5.2 and `rules`.
    ///
    /// Returns [`Decoded::Incomplete`] (not an error) while `src` holds a valid prefix. A rule that
    /// can be judged from the bytes present is judged at once, so an invalid header fails as early
    /// as possible.
    pub fn decode(src: &[u8], rules: &DecodeRules) -> Result<Decoded, FrameError> {
        // The commonest frame first, with every check it needs: a final Text or Binary frame
        // without RSV bits and with a 7-bit length, masked as the role requires. Anything else
        // (and an incomplete key) takes the general path below.
        if let [b0 @ (0x81 | 0x82), b1, rest @ ..] = src {
            let payload_len = u64::from(b1 & 0x7F);
            let masked = b1 & 0x80 != 0;
            if payload_len < 126 && payload_len <= rules.max_frame_size && masked == (rules.role == Role::Server) {
                let opcode = if *b0 == 0x81 { OpCode::Text } else { OpCode::Binary };
                let header = |mask| FrameHeader { fin: true, rsv: Rsv::NONE, opcode, mask, payload_len };
                match rest {
                    _ if !masked => return Ok(Decoded::Complete { header: header(None), len: 2 }),
                    [k0, k1, k2, k3, ..] => {
                        return Ok(Decoded::Complete { header: header(Some([*k0, *k1, *k2, *k3])), len: 6 });
                    }
                    _ => {}
                }
            }
        }
        Self::decode_general(src, rules)
    }

    /// [`decode`](Self::decode) for every frame, without the shortcut for the commonest one.
    fn decode_general(src: &[u8], rules: &DecodeRules) -> Result<Decoded, FrameError> {
        let Some(&b0) = src.first() else {
            return Ok(Decoded::Incomplete { needed: 2 });
        };
        let fin = b0 & 0x80 != 0;
        let rsv = Rsv::from_bits(b0 >> 4);
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
        let foreign = rsv.without(rules.allowed_rsv);
        if !foreign.is_empty() {
            return Err(FrameError::ReservedBits(foreign));
        }
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControl(opcode));
        }

        let Some(&b1) = src.get(1) else {
            return Ok(Decoded::Incomplete { needed: 1 });
        };
        let masked = b1 & 0x80 != 0;
        match (rules.role, masked) {
            (Role::Server, false) => return Err(FrameError::Unmasked),
            (Role::Client, true) => return Err(FrameError::Masked),
            _ => {}
        }
        let len7 = b1 & 0x7F;
        if opcode.is_control() && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(FrameError::ControlTooLong(opcode));
        }

        let (payload_len, mut pos) = match len7 {
            126 => {
                let Some(ext) = src.get(2..4) else {
                    return Ok(Decoded::Incomplete { needed: 4 - src.len() });
                };
                let len = u64::from(u16::from_be_bytes([ext[0], ext[1]]));
                if len < 126 {
                    return Err(FrameError::NonMinimalLength { len });
                }
                (len, 4)
            }
            127 => {
                if src.get(2).is_some_and(|b| b & 0x80 != 0) {
                    return Err(FrameError::LengthMsbSet);
                }
                let Some(ext) = src.get(2..10) else {
                    return Ok(Decoded::Incomplete { needed: 10 - src.len() });
                };
                let mut be = [0u8; 8];
                be.copy_from_slice(ext);
                let len = u64::from_be_bytes(be);
                if len < 0x1_0000 {
                    return Err(FrameError::NonMinimalLength { len });
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        if payload_len > rules.max_frame_size {
            return Err(FrameError::FrameTooLarge { len: payload_len, max: rules.max_frame_size });
        }

        let mask = if masked {
            let Some(key) = src.get(pos..pos + 4) else {
                return Ok(Decoded::Incomplete { needed: pos + 4 - src.len() });
            };
            pos += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        Ok(Decoded::Complete { header: FrameHeader { fin, rsv, opcode, mask, payload_len }, len: pos })
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Writes the header in its minimal form into `dst` and returns how many bytes it took.
    ///
    /// The header is written as given: the caller keeps control frames within 125 bytes and FIN set,
    /// and `payload_len` below 2⁶³ (a debug assertion checks the latter).
    pub fn encode(&self, dst: &mut [u8; MAX_HEADER_LEN]) -> usize {
        debug_assert!(self.payload_len >> 63 == 0, "payload length over 2^63 - 1");
        dst[0] = (u8::from(self.fin) << 7) | (self.rsv.bits() << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut pos = match self.payload_len {
            // The match arms bound the values, so the casts are lossless.
            n @ 0..=125 => {
                dst[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xFFFF => {
                dst[1] = mask_bit | 126;
                dst[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                dst[1] = mask_bit | 127;
                dst[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            dst[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_shortcut_decodes_as_the_general_path() {
        // Every second byte and key prefix after a final Text or Binary first byte, both roles,
        // frame limits around the 7-bit lengths.
        for role in [Role::Server, Role::Client] {
            for max_frame_size in [0, 10, 125, 126, DecodeRules::DEFAULT_MAX_FRAME_SIZE] {
                let rules = DecodeRules { max_frame_size, ..DecodeRules::new(role) };
                for b0 in [0x81u8, 0x82] {
                    for b1 in 0..=255u8 {
                        let frame = [b0, b1, 1, 2, 3, 4, 5];
                        for end in 0..=frame.len() {
                            let src = &frame[..end];
                            assert_eq!(
                                FrameHeader::decode(src, &rules),
                                FrameHeader::decode_general(src, &rules),
                                "{role:?} max {max_frame_size} {src:02x?}"
                            );
                        }
                    }
                }
            }
        }
    }

    fn server() -> DecodeRules {
        DecodeRules::new(Role::Server)
    }
    fn client() -> DecodeRules {
        DecodeRules::new(Role::Client)
    }

    fn encode(h: &FrameHeader) -> Vec<u8> {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut buf);
        buf[..n].to_vec()
    }

    fn complete(src: &[u8], rules: &DecodeRules) -> (FrameHeader, usize) {
        match FrameHeader::decode(src, rules) {
            Ok(Decoded::Complete { header, len }) => (header, len),
            other => panic!("expected a complete header from {src:02x?}, got {other:?}"),
        }
    }

    /// RFC 6455 §5.7, every example, as golden vectors in both directions.
    #[test]
    fn rfc_5_7_examples() {
        let hello = FrameHeader { fin: true, rsv: Rsv::NONE, opcode: OpCode::Text, mask: None, payload_len: 5 };
        assert_eq!(encode(&hello), [0x81, 0x05]);
        assert_eq!(complete(&[0x81, 0x05, b'H'], &client()), (hello, 2));

        let masked = FrameHeader { mask: Some([0x37, 0xfa, 0x21, 0x3d]), ..hello };
        assert_eq!(encode(&masked), [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(complete(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d], &server()), (masked, 6));

        let first = FrameHeader { fin: false, payload_len: 3, ..hello };
        let last = FrameHeader { fin: true, opcode: OpCode::Continuation, payload_len: 2, ..hello };
        assert_eq!(encode(&first), [0x01, 0x03]);
        assert_eq!(encode(&last), [0x80, 0x02]);

        let ping = FrameHeader { opcode: OpCode::Ping, ..hello };
        assert_eq!(encode(&ping), [0x89, 0x05]);
        let pong = FrameHeader { opcode: OpCode::Pong, mask: Some([0x37, 0xfa, 0x21, 0x3d]), ..hello };
        assert_eq!(encode(&pong), [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d]);

        let bin256 = FrameHeader { opcode: OpCode::Binary, payload_len: 256, ..hello };
        assert_eq!(encode(&bin256), [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(complete(&[0x82, 0x7E, 0x01, 0x00], &client()).0, bin256);

        let bin64k = FrameHeader { payload_len: 65536, ..bin256 };
        assert_eq!(encode(&bin64k), [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(complete(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], &client()).0, bin64k);
    }

    #[test]
    fn length_forms_at_their_edges() {
        for (len, form) in [(0u64, 2usize), (125, 2), (126, 4), (0xFFFF, 4), (0x1_0000, 10), (1 << 40, 10)] {
            let h = FrameHeader { fin: true, rsv: Rsv::NONE, opcode: OpCode::Binary, mask: None, payload_len: len };
            let bytes = encode(&h);
            assert_eq!(bytes.len(), form, "length {len}");
            assert_eq!(h.encoded_len(), form);
            let rules = DecodeRules { max_frame_size: u64::MAX, ..client() };
            assert_eq!(complete(&bytes, &rules), (h, form));
        }
    }

    fn rejects(src: &[u8], rules: &DecodeRules, want: FrameError) {
        assert_eq!(FrameHeader::decode(src, rules), Err(want), "{src:02x?}");
    }

    #[test]
    fn reserved_opcodes_are_rejected() {
        for op in (3u8..=7).chain(0xB..=0xF) {
            rejects(&[0x80 | op, 0x80, 0, 0, 0, 0], &server(), FrameError::ReservedOpcode(op));
            // Judged from the first byte alone.
            rejects(&[0x80 | op], &server(), FrameError::ReservedOpcode(op));
        }
    }

    #[test]
    fn rsv_bits_need_an_extension() {
        for (bits, rsv) in [(0x40, Rsv::RSV1), (0x20, Rsv::RSV2), (0x10, Rsv::RSV3), (0x70, Rsv::from_bits(7))] {
            rejects(&[0x81 | bits, 0x00], &client(), FrameError::ReservedBits(rsv));
        }
        let deflate = DecodeRules { allowed_rsv: Rsv::RSV1, ..client() };
        assert_eq!(complete(&[0xC1, 0x00], &deflate).0.rsv, Rsv::RSV1);
        rejects(&[0xE1, 0x00], &deflate, FrameError::ReservedBits(Rsv::RSV2));
    }

    #[test]
    fn control_frames_are_short_and_final() {
        for op in [OpCode::Close, OpCode::Ping, OpCode::Pong] {
            rejects(&[op.as_u8(), 0x00], &client(), FrameError::FragmentedControl(op));
            rejects(&[0x80 | op.as_u8(), 126, 0, 126], &client(), FrameError::ControlTooLong(op));
            rejects(&[0x80 | op.as_u8(), 127], &client(), FrameError::ControlTooLong(op));
            assert_eq!(complete(&[0x80 | op.as_u8(), 125], &client()).0.payload_len, 125);
        }
    }

    #[test]
    fn masking_follows_the_role() {
        rejects(&[0x81, 0x05], &server(), FrameError::Unmasked);
        rejects(&[0x81, 0x85, 1, 2, 3, 4], &client(), FrameError::Masked);
    }

    #[test]
    fn length_encodings_must_be_minimal() {
        rejects(&[0x82, 126, 0x00, 125], &client(), FrameError::NonMinimalLength { len: 125 });
        rejects(&[0x82, 126, 0x00, 0x00], &client(), FrameError::NonMinimalLength { len: 0 });
        rejects(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF], &client(), FrameError::NonMinimalLength { len: 0xFFFF });
        rejects(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5], &client(), FrameError::NonMinimalLength { len: 5 });
    }

    #[test]
    fn length_msb_is_rejected_from_its_first_byte() {
        rejects(&[0x82, 127, 0x80], &client(), FrameError::LengthMsbSet);
        rejects(&[0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], &client(), FrameError::LengthMsbSet);
    }

    #[test]
    fn frames_over_the_limit_fail_with_1009() {
        let rules = DecodeRules { max_frame_size: 1000, ..client() };
        let err = FrameHeader::decode(&[0x82, 126, 0x03, 0xE9], &rules).unwrap_err();
        assert_eq!(err, FrameError::FrameTooLarge { len: 1001, max: 1000 });
        assert_eq!(err.close_code().as_u16(), 1009);
        assert_eq!(complete(&[0x82, 126, 0x03, 0xE8], &rules).0.payload_len, 1000);
        assert_eq!(FrameError::Unmasked.close_code().as_u16(), 1002);
    }

    #[test]
    fn incomplete_input_needs_more() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7, 6];
        let rules = DecodeRules { max_frame_size: u64::MAX, ..server() };
        for cut in 0..full.len() {
            match FrameHeader::decode(&full[..cut], &rules) {
                Ok(Decoded::Incomplete { needed }) => {
                    assert!(needed >= 1 && cut + needed <= full.len(), "cut {cut} needed {needed}")
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(complete(&full, &rules).1, 14);
    }

    #[test]
    fn rsv_bits_combine_as_a_set_of_three() {
        let (r1, r2, r3) = (Rsv::RSV1, Rsv::RSV2, Rsv::RSV3);
        // Only the low three bits exist: RSV1 is 0b100, RSV3 0b001.
        assert_eq!((r1.bits(), r2.bits(), r3.bits()), (0b100, 0b010, 0b001));
        assert_eq!(Rsv::from_bits(0xFF), Rsv::from_bits(0b111));
        assert_eq!(Rsv::from_bits(0b1000_0101), r1.union(r3));
        assert_eq!(r1.union(r3).bits(), 0b101);
        assert_eq!(r1.union(r1), r1);
        assert_eq!(Rsv::NONE.union(r2), r2);
        assert!(Rsv::NONE.is_empty() && Rsv::from_bits(0b1000).is_empty());
        assert!(!r3.is_empty() && !r1.is_empty());
        let both = r1.union(r3);
        assert!(both.contains(r1) && both.contains(r3) && both.contains(Rsv::NONE) && both.contains(both));
        assert!(!both.contains(r2) && !both.contains(r1.union(r2)) && !Rsv::NONE.contains(r1));
        assert_eq!(Rsv::from_bits(0b111).without(r1), r2.union(r3));
        assert_eq!(both.without(r2), both);
        assert_eq!(both.without(both), Rsv::NONE);
        assert_eq!(r1.without(Rsv::NONE), r1);
    }

    #[test]
    fn rsv_debug_names_the_bits_that_are_set() {
        use alloc::format;
        assert_eq!(format!("{:?}", Rsv::NONE), "Rsv(none)");
        assert_eq!(format!("{:?}", Rsv::RSV2), "Rsv(RSV2)");
        assert_eq!(format!("{:?}", Rsv::RSV1.union(Rsv::RSV3)), "Rsv(RSV1|RSV3)");
        assert_eq!(format!("{:?}", Rsv::from_bits(7)), "Rsv(RSV1|RSV2|RSV3)");
    }

    #[test]
    fn frame_errors_display_what_was_wrong() {
        use alloc::string::ToString;
        let shown = |e: FrameError| e.to_string();
        assert!(shown(FrameError::ReservedOpcode(0xB)).contains("0xb"));
        assert!(shown(FrameError::ReservedBits(Rsv::RSV2)).contains("RSV2"));
        assert!(shown(FrameError::FragmentedControl(OpCode::Ping)).contains("Ping"));
        let long = shown(FrameError::ControlTooLong(OpCode::Close));
        assert!(long.contains("Close") && long.contains("125"), "{long}");
        assert!(shown(FrameError::Unmasked).contains("unmasked"));
        assert!(shown(FrameError::Masked).contains("masked"));
        assert_ne!(shown(FrameError::Unmasked), shown(FrameError::Masked));
        assert!(!shown(FrameError::LengthMsbSet).is_empty());
        assert!(shown(FrameError::NonMinimalLength { len: 125 }).contains("125"));
        let big = shown(FrameError::FrameTooLarge { len: 1001, max: 1000 });
        assert!(big.contains("1001") && big.contains("1000"), "{big}");
    }

    #[test]
    fn the_default_frame_limit_is_16_mib() {
        let rules = DecodeRules::new(Role::Client);
        assert_eq!(rules.max_frame_size, 16 * 1024 * 1024);
        assert_eq!((rules.role, rules.allowed_rsv), (Role::Client, Rsv::NONE));
        let at = |len: u64| {
            let mut b = alloc::vec![0x82, 127];
            b.extend_from_slice(&len.to_be_bytes());
            b
        };
        assert_eq!(complete(&at(16 << 20), &rules).0.payload_len, 16 << 20);
        rejects(&at((16 << 20) + 1), &rules, FrameError::FrameTooLarge { len: (16 << 20) + 1, max: 16 << 20 });
    }

    /// A header is read field by field (§5.2): the two fixed bytes, then the extended length (2 or
    /// 8 bytes) they announce, then the masking key (4). A prefix needs exactly the rest of the
    /// field it stops in, so a caller can wait for that many bytes before trying again.
    #[test]
    fn a_prefix_needs_exactly_the_rest_of_the_field_it_stops_in() {
        let masked = DecodeRules { max_frame_size: u64::MAX, ..server() };
        let unmasked = DecodeRules { max_frame_size: u64::MAX, ..client() };
        // (header, rules, where each field ends)
        let cases: [(&[u8], &DecodeRules, &[usize]); 6] = [
            (&[0x82, 0x85, 1, 2, 3, 4], &masked, &[2, 6]),
            (&[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4], &masked, &[2, 4, 8]),
            (&[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4], &masked, &[2, 10, 14]),
            (&[0x82, 0x7E, 0x01, 0x00], &unmasked, &[2, 4]),
            (&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], &unmasked, &[2, 10]),
            (&[0x02, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], &unmasked, &[2, 10]),
        ];
        for (full, rules, ends) in cases {
            assert_eq!(ends.last(), Some(&full.len()));
            for cut in 0..full.len() {
                let field_end = ends.iter().copied().find(|&e| e > cut).unwrap();
                assert_eq!(
                    FrameHeader::decode(&full[..cut], rules),
                    Ok(Decoded::Incomplete { needed: field_end - cut }),
                    "{:02x?}",
                    &full[..cut]
                );
            }
            assert_eq!(complete(full, rules).1, full.len());
        }
    }

    fn any_header() -> impl Strategy<Value = FrameHeader> {
        let opcode = prop::sample::select(alloc::vec![
            OpCode::Continuation,
            OpCode::Text,
            OpCode::Binary,
            OpCode::Close,
            OpCode::Ping,
            OpCode::Pong
        ]);
        let len = prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..(1 << 63)];
        (any::<bool>(), 0u8..8, opcode, any::<Option<[u8; 4]>>(), len).prop_map(|(fin, rsv, opcode, mask, len)| {
            if opcode.is_control() {
                FrameHeader { fin: true, rsv: Rsv::from_bits(rsv), opcode, mask, payload_len: len % 126 }
            } else {
                FrameHeader { fin, rsv: Rsv::from_bits(rsv), opcode, mask, payload_len: len }
            }
        })
    }

    fn rules_for(h: &FrameHeader) -> DecodeRules {
        let role = if h.mask.is_some() { Role::Server } else { Role::Client };
        DecodeRules { role, allowed_rsv: Rsv::from_bits(7), max_frame_size: u64::MAX }
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(h in any_header(), tail in prop::collection::vec(any::<u8>(), 0..8)) {
            let mut bytes = encode(&h);
            let n = bytes.len();
            prop_assert_eq!(n, h.encoded_len());
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(FrameHeader::decode(&bytes, &rules_for(&h)), Ok(Decoded::Complete { header: h, len: n }));
        }

        /// Any prefix of any byte string either needs more or fails exactly as the whole does.
        #[test]
        fn decoding_does_not_depend_on_chunking(
            bytes in prop::collection::vec(any::<u8>(), 0..16),
            server_role in any::<bool>(),
            max in prop_oneof![Just(u64::MAX), 0u64..70_000],
        ) {
            let role = if server_role { Role::Server } else { Role::Client };
            let rules = DecodeRules { role, allowed_rsv: Rsv::NONE, max_frame_size: max };
            let whole = FrameHeader::decode(&bytes, &rules);
            for cut in 0..=bytes.len() {
                match FrameHeader::decode(&bytes[..cut], &rules) {
                    Ok(Decoded::Incomplete { .. }) => {}
                    Ok(Decoded::Complete { header, len }) => {
                        prop_assert_eq!(whole, Ok(Decoded::Complete { header, len }));
                    }
                    Err(e) => prop_assert_eq!(whole, Err(e)),
                }
            }
        }
    }
}

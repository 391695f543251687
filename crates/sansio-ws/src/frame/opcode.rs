//! Frame opcodes (RFC 6455 §5.2, §11.8).

use core::fmt;

/// A frame opcode that RFC 6455 defines. Reserved opcodes (3–7, 0xB–0xF) have no variant: decoding
/// rejects them, so a value of this type is always legal on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `0x0`: continues a fragmented data message.
    Continuation = 0x0,
    /// `0x1`: the first frame of a text message.
    Text = 0x1,
    /// `0x2`: the first frame of a binary message.
    Binary = 0x2,
    /// `0x8`: connection close (§5.5.1).
    Close = 0x8,
    /// `0x9`: ping (§5.5.2).
    Ping = 0x9,
    /// `0xA`: pong (§5.5.3).
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for the low four bits `n`, or `None` for a reserved value.
    pub const fn from_u8(n: u8) -> Option<OpCode> {
        Some(match n {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Close, Ping and Pong: at most 125 bytes of payload, never fragmented (§5.5).
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// Continuation, Text and Binary.
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }
}

impl fmt::Debug for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            OpCode::Continuation => "Continuation",
            OpCode::Text => "Text",
            OpCode::Binary => "Binary",
            OpCode::Close => "Close",
            OpCode::Ping => "Ping",
            OpCode::Pong => "Pong",
        };
        f.write_str(name)
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_is_defined_or_reserved() {
        for n in 0u8..16 {
            match OpCode::from_u8(n) {
                Some(op) => {
                    assert_eq!(op.as_u8(), n);
                    assert_eq!(op.is_control(), n >= 8);
                    assert_eq!(op.is_data(), n < 8);
                }
                None => assert!((3..=7).contains(&n) || (0xB..=0xF).contains(&n), "{n}"),
            }
        }
    }

    #[test]
    fn debug_and_display_give_the_name() {
        use alloc::format;
        let names = [
            (OpCode::Continuation, "Continuation"),
            (OpCode::Text, "Text"),
            (OpCode::Binary, "Binary"),
            (OpCode::Close, "Close"),
            (OpCode::Ping, "Ping"),
            (OpCode::Pong, "Pong"),
        ];
        for (op, name) in names {
            assert_eq!(format!("{op:?}"), name);
            assert_eq!(format!("{op}"), name);
        }
    }
}

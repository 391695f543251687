//! Close codes (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry") and Close payloads
//! (§5.5.1).

use core::fmt;

/// A close status code. Any `u16` can be held, so codes this crate does not name (for example
/// application codes 4000–4999) round-trip unchanged; [`is_allowed_on_wire`](Self::is_allowed_on_wire)
/// says whether a code may appear in a Close frame.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled (RFC 6455 §7.4.1).
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigated away) (§7.4.1).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol (§7.4.1).
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (§7.4.1).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1004: reserved; never sent or accepted (§7.4.1).
    pub const RESERVED: CloseCode = CloseCode(1004);
    /// 1005: "no status code was present"; reported locally, never on the wire (§7.4.1).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection ended without a Close frame; reported locally, never on the wire (§7.4.1).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type, e.g. invalid UTF-8 in text (§7.4.1).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violates the endpoint's policy (§7.4.1).
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message or frame too big to process (§7.4.1).
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected the server to negotiate an extension (§7.4.1).
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition (§7.4.1).
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later, e.g. overload (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy received an invalid response from upstream (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed; reported locally, never on the wire (§7.4.1).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// The code with value `code`, whether or not it is legal on the wire.
    pub const fn from_u16(code: u16) -> CloseCode {
        CloseCode(code)
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the code may appear in a Close frame: 1000–1003 and 1007–1014 (RFC 6455 and the IANA
    /// registry), 3000–3999 (registered by libraries and frameworks) and 4000–4999 (private use).
    /// 1004–1006 and 1015 are reserved or local-only, 1016–2999 are reserved for future standards,
    /// and values below 1000 or from 5000 are not close codes at all.
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// 4000–4999: codes for an application's private use.
    pub const fn is_private(self) -> bool {
        matches!(self.0, 4000..=4999)
    }

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "Normal",
            1001 => "GoingAway",
            1002 => "ProtocolError",
            1003 => "UnsupportedData",
            1004 => "Reserved",
            1005 => "NoStatus",
            1006 => "Abnormal",
            1007 => "InvalidPayload",
            1008 => "PolicyViolation",
            1009 => "MessageTooBig",
            1010 => "MandatoryExtension",
            1011 => "InternalError",
            1012 => "ServiceRestart",
            1013 => "TryAgainLater",
            1014 => "BadGateway",
            1015 => "TlsHandshake",
            _ => return None,
        })
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        CloseCode(code)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{}({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The code and, for a registered one, its name: `1001 (GoingAway)`, `4000`.
impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The longest close reason: a control payload holds 125 bytes, two of which are the code.
pub const MAX_REASON_LEN: usize = 123;

/// A parsed, non-empty Close payload, borrowing its reason from the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, legal on the wire.
    pub code: CloseCode,
    /// The reason, valid UTF-8, at most 123 bytes.
    pub reason: &'a str,
}

/// A Close payload that breaks §5.5.1 or §7.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseError {
    /// A one-byte payload: the code needs two.
    OneByte,
    /// More than 125 bytes (only reachable when parsing outside a decoded control frame).
    TooLong(usize),
    /// A code that may not appear on the wire.
    InvalidCode(CloseCode),
    /// A reason that is not UTF-8; `valid_up_to` counts reason bytes.
    InvalidUtf8 {
        /// How many bytes of the reason were valid.
        valid_up_to: usize,
    },
}

impl CloseError {
    /// 1007 for a reason that is not UTF-8, 1002 otherwise.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            CloseError::InvalidUtf8 { .. } => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseError::OneByte => f.write_str("close payload of one byte (a code takes two)"),
            CloseError::TooLong(n) => write!(f, "close payload of {n} bytes exceeds 125"),
            CloseError::InvalidCode(code) => write!(f, "close code {} may not be sent on the wire", code.as_u16()),
            CloseError::InvalidUtf8 { valid_up_to } => {
                write!(f, "close reason is not UTF-8 (valid up to byte {valid_up_to})")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CloseError {}

/// Parses the payload of a received Close frame: empty (`Ok(None)`, which the receiver reports as
/// [`CloseCode::NO_STATUS`]) or a wire-legal code followed by a UTF-8 reason.
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame<'_>>, CloseError> {
    match payload {
        [] => Ok(None),
        [_] => Err(CloseError::OneByte),
        _ if payload.len() > 2 + MAX_REASON_LEN => Err(CloseError::TooLong(payload.len())),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_allowed_on_wire() {
                return Err(CloseError::InvalidCode(code));
            }
            let reason =
                core::str::from_utf8(reason).map_err(|e| CloseError::InvalidUtf8 { valid_up_to: e.valid_up_to() })?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}

/// `reason` cut to at most [`MAX_REASON_LEN`] bytes, on a character boundary.
pub fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_REASON_LEN);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Writes a Close payload (code, then the reason cut to 123 bytes on a character boundary) into
/// `dst` and returns its length. The caller checks that the code is
/// [allowed on the wire](CloseCode::is_allowed_on_wire).
pub fn encode_close_payload(code: CloseCode, reason: &str, dst: &mut [u8; 2 + MAX_REASON_LEN]) -> usize {
    let reason = truncate_reason(reason);
    dst[..2].copy_from_slice(&code.0.to_be_bytes());
    dst[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
    2 + reason.len()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn wire_legal_codes_follow_the_registry() {
        let legal = |c: u16| CloseCode::from_u16(c).is_allowed_on_wire();
        for c in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            assert!(legal(c), "{c} should be legal");
        }
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!legal(c), "{c} should be rejected");
        }
    }

    #[test]
    fn parses_empty_code_only_and_code_with_reason() {
        assert_eq!(parse_close_payload(&[]), Ok(None));
        assert_eq!(parse_close_payload(&[0x03, 0xE8]), Ok(Some(CloseFrame { code: CloseCode::NORMAL, reason: "" })));
        assert_eq!(
            parse_close_payload(b"\x0f\xa0bye \xe2\x82\xac"),
            Ok(Some(CloseFrame { code: CloseCode::from_u16(4000), reason: "bye €" }))
        );
    }

    #[test]
    fn rejects_bad_payloads_with_the_right_code() {
        let e = parse_close_payload(&[0x03]).unwrap_err();
        assert_eq!((e, e.close_code()), (CloseError::OneByte, CloseCode::PROTOCOL_ERROR));
        let e = parse_close_payload(&[0x03, 0xED]).unwrap_err();
        assert_eq!((e, e.close_code()), (CloseError::InvalidCode(CloseCode::NO_STATUS), CloseCode::PROTOCOL_ERROR));
        let e = parse_close_payload(b"\x03\xe8ok\xff").unwrap_err();
        assert_eq!((e, e.close_code()), (CloseError::InvalidUtf8 { valid_up_to: 2 }, CloseCode::INVALID_PAYLOAD));
        let long = [b'a'; 126];
        assert_eq!(parse_close_payload(&long), Err(CloseError::TooLong(126)));
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        // 61 two-byte characters plus one more: 124 bytes; the cut must not split the last one.
        let reason: alloc::string::String = core::iter::repeat_n('é', 62).collect();
        let mut buf = [0u8; 125];
        let n = encode_close_payload(CloseCode::NORMAL, &reason, &mut buf);
        assert_eq!(n, 2 + 122);
        let parsed = parse_close_payload(&buf[..n]).unwrap().unwrap();
        assert_eq!(parsed.reason.chars().count(), 61);
        let ascii = "x".repeat(200);
        assert_eq!(encode_close_payload(CloseCode::NORMAL, &ascii, &mut buf), 125);
    }

    #[test]
    fn only_codes_4000_to_4999_are_for_private_use() {
        // RFC 6455 §7.4.2: 4000-4999 are for private use; 3000-3999 are registered with IANA.
        for c in [4000, 4001, 4500, 4999] {
            assert!(CloseCode::from_u16(c).is_private(), "{c} is private");
        }
        for c in [0, 1000, 1011, 3000, 3999, 5000, 65535] {
            assert!(!CloseCode::from_u16(c).is_private(), "{c} is not private");
        }
    }

    #[test]
    fn a_code_converts_to_its_number_unchanged() {
        for c in [1000u16, 1005, 3000, 4321, 65535] {
            assert_eq!(u16::from(CloseCode::from_u16(c)), c);
            assert_eq!(CloseCode::from(c).as_u16(), c);
        }
    }

    #[test]
    fn debug_and_display_give_the_number_and_the_registry_name() {
        use alloc::format;
        // Every code the IANA registry names, 1000-1015, with the name of its constant.
        let named = [
            (CloseCode::NORMAL, "Normal"),
            (CloseCode::GOING_AWAY, "GoingAway"),
            (CloseCode::PROTOCOL_ERROR, "ProtocolError"),
            (CloseCode::UNSUPPORTED_DATA, "UnsupportedData"),
            (CloseCode::RESERVED, "Reserved"),
            (CloseCode::NO_STATUS, "NoStatus"),
            (CloseCode::ABNORMAL, "Abnormal"),
            (CloseCode::INVALID_PAYLOAD, "InvalidPayload"),
            (CloseCode::POLICY_VIOLATION, "PolicyViolation"),
            (CloseCode::MESSAGE_TOO_BIG, "MessageTooBig"),
            (CloseCode::MANDATORY_EXTENSION, "MandatoryExtension"),
            (CloseCode::INTERNAL_ERROR, "InternalError"),
            (CloseCode::SERVICE_RESTART, "ServiceRestart"),
            (CloseCode::TRY_AGAIN_LATER, "TryAgainLater"),
            (CloseCode::BAD_GATEWAY, "BadGateway"),
            (CloseCode::TLS_HANDSHAKE, "TlsHandshake"),
        ];
        for (i, (code, name)) in named.into_iter().enumerate() {
            assert_eq!(code.as_u16(), 1000 + i as u16);
            assert_eq!(format!("{code:?}"), format!("{}({name})", code.as_u16()));
            assert_eq!(format!("{code}"), format!("{} ({name})", code.as_u16()));
        }
        // Codes without a registered name (application, private, unassigned) print bare.
        for c in [999u16, 1016, 3000, 4000] {
            assert_eq!(format!("{:?}", CloseCode::from_u16(c)), format!("{c}"));
            assert_eq!(format!("{}", CloseCode::from_u16(c)), format!("{c}"));
        }
    }

    #[test]
    fn close_errors_display_the_figure_they_carry() {
        use alloc::string::ToString;
        let one = CloseError::OneByte.to_string();
        assert!(one.contains("one byte"), "{one}");
        let long = CloseError::TooLong(126).to_string();
        assert!(long.contains("126") && long.contains("125"), "{long}");
        let code = CloseError::InvalidCode(CloseCode::NO_STATUS).to_string();
        assert!(code.contains("1005"), "{code}");
        let utf8 = CloseError::InvalidUtf8 { valid_up_to: 7 }.to_string();
        assert!(utf8.contains("UTF-8") && utf8.contains('7'), "{utf8}");
    }

    proptest! {
        #[test]
        fn legal_codes_round_trip(code in prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999], reason in ".{0,80}") {
            let mut buf = [0u8; 125];
            let n = encode_close_payload(CloseCode::from_u16(code), &reason, &mut buf);
            let parsed = parse_close_payload(&buf[..n]).unwrap().unwrap();
            prop_assert_eq!(parsed.code.as_u16(), code);
            prop_assert_eq!(parsed.reason, truncate_reason(&reason));
            prop_assert!(reason.starts_with(parsed.reason));
        }

        #[test]
        fn parsing_never_panics_and_accepts_only_legal_codes(payload in prop::collection::vec(any::<u8>(), 0..130)) {
            if let Ok(Some(frame)) = parse_close_payload(&payload) {
                prop_assert!(frame.code.is_allowed_on_wire());
                prop_assert!(frame.reason.len() <= MAX_REASON_LEN);
            }
        }
    }
}

//! Parsing a Close payload never panics; what it accepts has a wire-legal code and a UTF-8 reason
//! of at most 123 bytes, and encodes back to the same payload, which parses to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::frame::{MAX_REASON_LEN, encode_close_payload, parse_close_payload};

fuzz_target!(|payload: &[u8]| {
    let Ok(parsed) = parse_close_payload(payload) else { return };
    let Some(frame) = parsed else {
        assert!(payload.is_empty());
        return;
    };
    assert!(frame.code.is_allowed_on_wire(), "accepted code {:?}", frame.code);
    assert!(frame.reason.len() <= MAX_REASON_LEN);
    let mut buf = [0u8; 2 + MAX_REASON_LEN];
    let n = encode_close_payload(frame.code, frame.reason, &mut buf);
    assert_eq!(&buf[..n], payload);
    assert_eq!(parse_close_payload(&buf[..n]), Ok(Some(frame)));
});

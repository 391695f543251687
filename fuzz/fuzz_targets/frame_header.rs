//! Decodes arbitrary bytes under arbitrary rules. A complete header re-encodes to exactly the bytes
//! it was decoded from (so its length form is minimal) and decodes again to itself; every prefix
//! is incomplete (never asking for bytes past the header's end) or decodes as the whole does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::Role;
use sansio_ws::frame::{DecodeRules, Decoded, FrameHeader, MAX_HEADER_LEN, Rsv};

fuzz_target!(|input: (bool, u8, u64, &[u8])| {
    let (server, rsv, max_frame_size, bytes) = input;
    let role = if server { Role::Server } else { Role::Client };
    let rules = DecodeRules { role, allowed_rsv: Rsv::from_bits(rsv), max_frame_size };
    let whole = FrameHeader::decode(bytes, &rules);
    let end = match whole {
        Ok(Decoded::Complete { len, .. }) => len,
        _ => MAX_HEADER_LEN,
    };
    for cut in 0..bytes.len().min(MAX_HEADER_LEN) {
        match FrameHeader::decode(&bytes[..cut], &rules) {
            Ok(Decoded::Incomplete { needed }) => assert!(needed >= 1 && cut + needed <= end, "prefix {cut}"),
            other => assert_eq!(other, whole, "prefix {cut} of {bytes:02x?}"),
        }
    }
    let Ok(Decoded::Complete { header, len }) = whole else { return };
    let mut buf = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut buf);
    assert_eq!((n, header.encoded_len()), (len, len), "{header:?}");
    assert_eq!(&buf[..n], &bytes[..len], "re-encoding {header:?}");
    assert_eq!(FrameHeader::decode(&buf[..n], &rules), Ok(Decoded::Complete { header, len }));
});

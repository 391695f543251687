//! The streaming validator fed in arbitrary pieces agrees with `core::str::from_utf8` on the whole:
//! it accepts exactly what std accepts, and its error offset is std's `valid_up_to`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::utf8::Utf8Validator;

fuzz_target!(|input: (Vec<u8>, &[u8])| {
    let (cuts, bytes) = input;
    let mut v = Utf8Validator::new();
    let (mut rest, mut fed) = (bytes, 0u64);
    let mut result = Ok(());
    for cut in cuts.iter().map(|&c| usize::from(c)).chain([usize::MAX]) {
        let (piece, tail) = rest.split_at(cut.min(rest.len()));
        rest = tail;
        fed += piece.len() as u64;
        result = v.feed(piece);
        if let Err(e) = result {
            assert!(e.valid_up_to() <= fed && !e.is_incomplete());
            break;
        }
        let prefix = core::str::from_utf8(&bytes[..fed as usize]).map_or_else(|e| e.valid_up_to(), str::len);
        assert_eq!(v.bytes_validated(), prefix as u64, "after {fed} bytes of {bytes:02x?}");
    }
    let ours = result.and_then(|()| v.finish()).map_err(|e| e.valid_up_to());
    let std = core::str::from_utf8(bytes).map(drop).map_err(|e| e.valid_up_to() as u64);
    assert_eq!(ours, std, "{bytes:02x?} cut at {cuts:?}");
});

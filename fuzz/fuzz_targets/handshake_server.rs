//! Arbitrary bytes, fed to a server handshake whole and in arbitrary pieces, give the same
//! outcome and the same trailing bytes (later calls: `Ok(None)` after success, the same error
//! after failure); nothing panics, answering included; and a head that has not ended within the
//! size limit is refused rather than buffered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::handshake::{Accept, HeadLimits, ServerConfig, ServerHandshake};
use sansio_ws_fuzz::{handshake_outcome, pieces};

fuzz_target!(|input: (u16, Vec<u16>, &[u8])| {
    let (max_head_size, cuts, bytes) = input;
    let limits = HeadLimits { max_head_size: usize::from(max_head_size), ..HeadLimits::default() };
    let feed = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut hs = ServerHandshake::new(ServerConfig { limits, ..ServerConfig::default() });
        let outcome = handshake_outcome(pieces.map(|p| hs.handle_input(p)));
        (outcome, hs.take_trailing())
    };
    let whole = feed(&mut [bytes].into_iter());
    assert_eq!(whole, feed(&mut pieces(bytes, &cuts)), "cuts {cuts:?}");
    let mut out = Vec::new();
    match whole.0 {
        None => assert!(bytes.len() <= limits.max_head_size, "{} bytes buffered", bytes.len()),
        Some(Ok(request)) => drop(request.accept(&Accept::new(), &mut out)),
        Some(Err(e)) => {
            e.write_response(&mut out);
            assert!(out.starts_with(format!("HTTP/1.1 {} ", e.status()).as_bytes()));
        }
    }
});

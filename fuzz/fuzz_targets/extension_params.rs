//! permessage-deflate negotiation over arbitrary `Sec-WebSocket-Extensions` values: never panics;
//! an accepted offer yields window sizes within 8–15 and an answer that writes and parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::handshake::{parse_extensions, write_extensions};

fuzz_target!(|header: &[u8]| {
    let Ok(offers) = parse_extensions(header) else { return };
    let server = DeflateConfig::default();
    if let Some((answer, params)) = server.negotiate(&offers) {
        assert!((8..=15).contains(&params.server_max_window_bits));
        assert!((8..=15).contains(&params.client_max_window_bits));
        let mut written = String::new();
        write_extensions(std::slice::from_ref(&answer), &mut written).expect("the answer writes");
        assert_eq!(parse_extensions(written.as_bytes()).expect("and parses"), vec![answer]);
    }
    // The client side checks any answer without panicking, and agrees only within range.
    for offer in &offers {
        if let Ok(params) = DeflateConfig::default().accept_response(offer) {
            assert!((8..=15).contains(&params.server_max_window_bits));
        }
    }
});

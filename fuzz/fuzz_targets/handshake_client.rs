//! Arbitrary bytes, fed to a client handshake whole and in arbitrary pieces, give the same
//! outcome and the same trailing bytes (later calls: `Ok(None)` after success, the same error
//! after failure); nothing panics; and a head that has not ended within the
//! size limit is refused rather than buffered. The key is RFC 6455's example nonce, so the RFC's
//! example response is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::handshake::{ClientConfig, ClientHandshake, HeadLimits};
use sansio_ws::rand::Randomness;
use sansio_ws_fuzz::{handshake_outcome, pieces};

struct SampleNonce;

impl Randomness for SampleNonce {
    fn fill(&mut self, dst: &mut [u8]) {
        dst.iter_mut().zip(b"the sample nonce".iter().cycle()).for_each(|(d, s)| *d = *s);
    }
}

fuzz_target!(|input: (u16, Vec<u16>, &[u8])| {
    let (max_head_size, cuts, bytes) = input;
    let limits = HeadLimits { max_head_size: usize::from(max_head_size), ..HeadLimits::default() };
    let feed = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let config = ClientConfig { limits, ..ClientConfig::default() }.with_subprotocol("chat");
        let mut hs = ClientHandshake::new("ws://server.example.com/chat", config, &mut SampleNonce).unwrap();
        let outcome = handshake_outcome(pieces.map(|p| hs.handle_input(p)));
        (outcome, hs.take_trailing())
    };
    let whole = feed(&mut [bytes].into_iter());
    assert_eq!(whole, feed(&mut pieces(bytes, &cuts)), "cuts {cuts:?}");
    if whole.0.is_none() {
        assert!(bytes.len() <= limits.max_head_size, "{} bytes buffered", bytes.len());
    }
});

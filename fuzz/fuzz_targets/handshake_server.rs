//! Arbitrary bytes, fed to a server handshake whole and in arbitrary pieces, give the same
//! outcome and the same trailing bytes (later calls: `Ok(None)` after success, the same error
//! after failure); nothing panics, answering included; a head that has not ended within the
//! size limit is refused rather than buffered; the deadline holds exactly while the head is
//! incomplete (`handle_timeout` then fails with a 408). A request that is accepted (choosing the
//! first subprotocol offered, which cannot fail) gives an `Upgraded` whose connection writes the
//! 101 first, then only frames a client must accept, whatever the trailing bytes were. Run with
//! the default (same-host) origin policy and with an allow list of the RFC example's origin, so
//! that the RFC seeds reach the accepting path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::connection::{Config, Event};
use sansio_ws::handshake::{Accept, HandshakeError, HeadLimits, OriginPolicy, Request, ServerConfig, ServerHandshake};
use sansio_ws::{Instant, Role};
use sansio_ws_fuzz::wire::{merge_fragments, sent_frames, take_failed_piece};
use sansio_ws_fuzz::{drain, handshake_outcome, pieces};

/// What feeding the handshake gave: the outcome and, once accepted, what its `Upgraded` carried
/// and what the connection made of the trailing bytes.
#[derive(Debug, PartialEq)]
struct Run {
    outcome: Option<Result<Request, HandshakeError>>,
    response: Vec<u8>,
    trailing: Vec<u8>,
    events: Vec<Event>,
    /// The piece of a streamed message failed mid-frame (none here: whole messages).
    failed_piece: Vec<u8>,
    /// Output after the 101.
    output: Vec<u8>,
}

fn run(config: &ServerConfig, pieces: &mut dyn Iterator<Item = &[u8]>) -> Run {
    let now = Instant::from_secs(1);
    let deadline = now + config.timeout;
    let mut hs = ServerHandshake::new(config.clone(), now);
    let outcome = handshake_outcome(pieces.map(|p| hs.handle_input(p)));
    assert_eq!(hs.poll_timeout(), if outcome.is_none() { Some(deadline) } else { None });
    let mut run = Run {
        outcome,
        response: Vec::new(),
        trailing: Vec::new(),
        events: Vec::new(),
        failed_piece: Vec::new(),
        output: Vec::new(),
    };
    match &run.outcome {
        None => {
            let e = hs.handle_timeout(deadline).expect_err("the head is late");
            assert_eq!(e, HandshakeError::Timeout { after: config.timeout });
            let mut out = Vec::new();
            e.write_response(&mut out);
            assert!(out.starts_with(b"HTTP/1.1 408 "));
        }
        Some(Err(e)) => {
            assert_eq!(hs.handle_timeout(deadline).as_ref(), Err(e), "a failure stays");
            let mut out = Vec::new();
            e.write_response(&mut out);
            if *e == HandshakeError::TlsOnPlainText {
                assert!(out.is_empty(), "a TLS client gets no HTTP answer");
            } else {
                assert!(out.starts_with(format!("HTTP/1.1 {} ", e.status()).as_bytes()));
            }
        }
        Some(Ok(request)) => {
            assert_eq!(hs.handle_timeout(deadline), Ok(()), "no deadline once the request is complete");
            let chosen = request.subprotocols().first().cloned();
            let accept = chosen.iter().fold(Accept::new(), |a, p| a.with_subprotocol(p.clone()));
            let upgraded = hs.accept(request, accept).expect("accepting an offered subprotocol");
            assert_eq!(upgraded.role(), Role::Server);
            assert_eq!(upgraded.subprotocol(), chosen.as_deref());
            assert!(upgraded.response_bytes().starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
            assert!(upgraded.response_bytes().ends_with(b"\r\n\r\n"));
            run.response = upgraded.response_bytes().to_vec();
            run.trailing = upgraded.trailing().to_vec();
            let deflate = upgraded.deflate().is_some();
            let mut conn = upgraded.into_connection(Config::default(), now);
            assert_eq!(conn.is_deflate_enabled(), deflate);
            let mut out = Vec::new();
            drain(&mut conn, now, &mut run.events, &mut out);
            assert!(out.starts_with(&run.response), "the 101 goes out first");
            run.output = out.split_off(run.response.len());
            // Every frame after it is one the client must accept.
            sent_frames(&run.output, Role::Server, deflate);
            run.events = merge_fragments(core::mem::take(&mut run.events));
            run.failed_piece = take_failed_piece(&mut run.events);
        }
    }
    run
}

fuzz_target!(|input: (u16, Vec<u16>, &[u8])| {
    let (max_head_size, cuts, bytes) = input;
    let limits = HeadLimits::default().with_max_head_size(usize::from(max_head_size));
    let same_host = ServerConfig::default().with_limits(limits);
    let rfc_origin = same_host.clone().with_origin_policy(OriginPolicy::AllowList(vec!["http://example.com".into()]));
    for config in [same_host, rfc_origin] {
        let whole = run(&config, &mut [bytes].into_iter());
        assert_eq!(whole, run(&config, &mut pieces(bytes, &cuts)), "cuts {cuts:?}");
        if whole.outcome.is_none() {
            assert!(bytes.len() <= limits.max_head_size, "{} bytes buffered", bytes.len());
        }
    }
});

//! Arbitrary bytes, fed to a client handshake whole and in arbitrary pieces, give the same
//! outcome and the same bytes after the response (the `Upgraded`'s trailing bytes, then the input
//! given to the connection: a later call to the handshake is `AlreadyUpgraded`; after a failure,
//! the same error); nothing panics; a head that has not ended within the size limit is refused
//! rather than buffered; the deadline holds exactly while the head is incomplete. On success the
//! `Upgraded` becomes the connection, which reads the bytes after the response (whatever they
//! are) to the same events and output however they were split, and writes only frames a server
//! must accept. The client offers subprotocol `chat` and permessage-deflate (the default), and its
//! key is RFC 6455's example nonce, so that the RFC's example response is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::connection::{Config, Event};
use sansio_ws::deflate::DeflateParams;
use sansio_ws::handshake::{ClientConfig, ClientHandshake, ClientHandshakeError, HeadLimits, Response};
use sansio_ws::rand::Randomness;
use sansio_ws::{Instant, Role};
use sansio_ws_fuzz::wire::{merge_fragments, sent_frames, take_failed_piece};
use sansio_ws_fuzz::{drain, pieces};

struct SampleNonce;

impl Randomness for SampleNonce {
    fn fill(&mut self, dst: &mut [u8]) {
        dst.iter_mut().zip(b"the sample nonce".iter().cycle()).for_each(|(d, s)| *d = *s);
    }
}

/// What feeding the handshake gave: the outcome and, on success, what was agreed, the bytes
/// after the response, and what the connection made of them.
#[derive(Debug, PartialEq)]
struct Run {
    outcome: Option<Result<Response, ClientHandshakeError>>,
    subprotocol: Option<String>,
    deflate: Option<DeflateParams>,
    trailing: Vec<u8>,
    events: Vec<Event>,
    output: Vec<u8>,
}

/// The run, and the piece of a streamed message failed mid-frame (none here: whole messages).
fn run(limits: HeadLimits, pieces: &mut dyn Iterator<Item = &[u8]>) -> (Run, Vec<u8>) {
    let now = Instant::from_secs(1);
    let config = ClientConfig::default().with_limits(limits).with_subprotocol("chat");
    let deadline = now + config.timeout;
    let timeout = config.timeout;
    let mut hs =
        ClientHandshake::with_randomness("ws://server.example.com/chat", config, now, Box::new(SampleNonce)).unwrap();
    let mut run = Run {
        outcome: None,
        subprotocol: None,
        deflate: None,
        trailing: Vec::new(),
        events: Vec::new(),
        output: Vec::new(),
    };
    let mut conn = None;
    for piece in pieces {
        if let Some(conn) = conn.as_mut() {
            // Past the response: the handshake refuses more input, the connection takes it.
            assert!(matches!(hs.handle_input(piece), Err(ClientHandshakeError::AlreadyUpgraded)));
            sansio_ws::connection::Connection::handle_input(conn, now, piece);
            run.trailing.extend_from_slice(piece);
            continue;
        }
        match (&run.outcome, hs.handle_input(piece)) {
            (None, Ok(None)) => {}
            (None, Ok(Some(upgraded))) => {
                assert_eq!(upgraded.role(), Role::Client);
                assert!(upgraded.response_bytes().is_empty());
                let response = upgraded.server_response().expect("the client's Upgraded has the response").clone();
                assert_eq!(upgraded.subprotocol(), response.subprotocol());
                assert_eq!(upgraded.extensions(), response.extensions());
                run.subprotocol = upgraded.subprotocol().map(str::to_string);
                run.deflate = upgraded.deflate();
                run.trailing = upgraded.trailing().to_vec();
                run.outcome = Some(Ok(response));
                let c = upgraded.into_connection(Config::default(), now);
                assert_eq!(c.is_deflate_enabled(), run.deflate.is_some());
                conn = Some(c);
            }
            (None, Err(e)) => run.outcome = Some(Err(e)),
            (Some(Err(e)), r) => assert_eq!(r.err().as_ref(), Some(e), "after failure"),
            (Some(Ok(_)), _) => unreachable!("the connection takes the input after success"),
        }
    }
    assert_eq!(hs.poll_timeout(), if run.outcome.is_none() { Some(deadline) } else { None });
    match &run.outcome {
        None => assert_eq!(hs.handle_timeout(deadline), Err(ClientHandshakeError::Timeout { after: timeout })),
        Some(Err(e)) => assert_eq!(hs.handle_timeout(deadline).as_ref(), Err(e), "a failure stays"),
        Some(Ok(_)) => assert_eq!(hs.handle_timeout(deadline), Ok(()), "no deadline once the response is complete"),
    }
    let mut failed_piece = Vec::new();
    if let Some(mut conn) = conn {
        drain(&mut conn, now, &mut run.events, &mut run.output);
        // Every frame written is one the server must accept.
        sent_frames(&run.output, Role::Client, run.deflate.is_some());
        run.events = merge_fragments(core::mem::take(&mut run.events));
        failed_piece = take_failed_piece(&mut run.events);
    }
    (run, failed_piece)
}

fuzz_target!(|input: (u16, Vec<u16>, &[u8])| {
    let (max_head_size, cuts, bytes) = input;
    let limits = HeadLimits::default().with_max_head_size(usize::from(max_head_size));
    let (whole, whole_piece) = run(limits, &mut [bytes].into_iter());
    let (split, split_piece) = run(limits, &mut pieces(bytes, &cuts));
    assert!(split_piece.starts_with(&whole_piece), "failed piece: whole {whole_piece:02x?}, split {split_piece:02x?}");
    assert_eq!(whole, split, "cuts {cuts:?}");
    if whole.outcome.is_none() {
        assert!(bytes.len() <= limits.max_head_size, "{} bytes buffered", bytes.len());
    }
});

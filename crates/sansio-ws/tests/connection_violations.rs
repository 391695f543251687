//! Every protocol violation fails the connection with the right Close frame and cause, and input
//! after it is ignored.

use sansio_ws::connection::{CloseCause, Config, Connection, Event, Message, Unsent};
use sansio_ws::error::ProtocolError;
use sansio_ws::frame::{CloseCode, CloseError, FrameError, OpCode, Rsv};
use sansio_ws::rand::SeededRandom;
use sansio_ws::{Instant, Role};

mod common;
use common::masked;

fn quiet() -> Config {
    Config::default().with_heartbeat(None)
}

/// Feeds `input` to a server and returns (events, bytes written).
fn run(conn: &mut Connection, input: &[u8]) -> (Vec<Event>, Vec<u8>) {
    let now = Instant::from_secs(1);
    conn.handle_input(now, input);
    let mut events = Vec::new();
    while let Some(e) = conn.poll_event() {
        events.push(e);
    }
    let mut out = Vec::new();
    while conn.poll_transmit(now, &mut out) > 0 {}
    // Writing the Close frame is what completes a failure.
    while let Some(e) = conn.poll_event() {
        events.push(e);
    }
    (events, out)
}

fn assert_fails(conn: &mut Connection, input: &[u8], want: ProtocolError) {
    let (events, out) = run(conn, input);
    match events.last() {
        Some(Event::Closed(closed)) => {
            assert_eq!(closed.cause, CloseCause::ProtocolViolation(want), "input {input:02x?}");
            assert_eq!(closed.unsent, Unsent::default(), "input {input:02x?}");
        }
        other => panic!("input {input:02x?}: the last event is {other:?}, not Closed"),
    }
    // The last frame written is a Close carrying the violation's code.
    let code = want.close_code().as_u16().to_be_bytes();
    let close_at = out.len() - (4 + want.reason().len());
    assert_eq!(out[close_at], 0x88, "a Close frame ends the output: {out:02x?}");
    assert_eq!(&out[close_at + 2..close_at + 4], &code);
    assert!(want.close_code().is_allowed_on_wire());
    // Nothing is processed or written afterwards.
    let (after, out) = run(conn, &masked(0x81, b"more"));
    assert!(after.is_empty() && out.is_empty());
    assert!(conn.is_closed());
}

fn server() -> Connection {
    Connection::server(quiet(), Instant::ZERO)
}

#[test]
fn header_rules() {
    let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
        (masked(0x83, b""), FrameError::ReservedOpcode(3).into()),
        (masked(0x8B, b""), FrameError::ReservedOpcode(0xB).into()),
        (masked(0xC1, b"x"), FrameError::ReservedBits(Rsv::RSV1).into()),
        (masked(0x09, b""), FrameError::FragmentedControl(OpCode::Ping).into()),
        (masked(0x89, &[0; 126]), FrameError::ControlTooLong(OpCode::Ping).into()),
        (vec![0x81, 0x01, b'a'], FrameError::Unmasked.into()),
        (vec![0x82, 0xFE, 0x00, 0x10, 1, 2, 3, 4], FrameError::NonMinimalLength { len: 16 }.into()),
        (vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], FrameError::LengthMsbSet.into()),
    ];
    for (input, want) in cases {
        assert_fails(&mut server(), &input, want);
    }
}

#[test]
fn a_client_rejects_masked_frames() {
    let mut client = Connection::client_with_randomness(quiet(), Instant::ZERO, Box::new(SeededRandom::new(3)));
    let (events, out) = run(&mut client, &masked(0x81, b"hi"));
    assert!(
        matches!(events.last(), Some(Event::Closed(c)) if c.cause == CloseCause::ProtocolViolation(FrameError::Masked.into()))
    );
    // The client's own Close is masked: 0x88, 0x80 | len.
    assert_eq!(&out[..2], &[0x88, 0x80 | (2 + ProtocolError::from(FrameError::Masked).reason().len() as u8)]);
}

#[test]
fn fragmentation_rules() {
    assert_fails(&mut server(), &masked(0x80, b"x"), ProtocolError::UnexpectedContinuation);
    let mut input = masked(0x01, b"a");
    input.extend(masked(0x81, b"b"));
    assert_fails(&mut server(), &input, ProtocolError::ExpectedContinuation(OpCode::Text));
    let mut input = masked(0x02, b"a");
    input.extend(masked(0x89, b"ping between fragments is fine"));
    input.extend(masked(0x80, b"b"));
    let (events, _) = run(&mut server(), &input);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], Event::Message(Message::Binary(bytes::Bytes::from_static(b"ab"))));
}

#[test]
fn invalid_utf8_fails_at_the_first_bad_byte_even_mid_frame() {
    let mut conn = server();
    let frame = masked(0x81, b"valid \xF4\x90 and then much more text that has not arrived yet");
    // Only the header and the first 8 payload bytes arrive: the 0x90 after 0xF4 is already fatal.
    assert_fails(&mut conn, &frame[..6 + 8], ProtocolError::InvalidUtf8 { offset: 6 });

    // Across fragments: the first fragment ends inside a character, the second breaks it.
    let mut input = masked(0x01, b"ok \xE2\x82");
    input.extend(masked(0x00, b"\x28 rest"));
    assert_fails(&mut server(), &input, ProtocolError::InvalidUtf8 { offset: 3 });

    // A message that ends inside a character fails at its end.
    assert_fails(&mut server(), &masked(0x81, b"cut \xE2\x82"), ProtocolError::InvalidUtf8 { offset: 4 });
}

#[test]
fn close_payload_rules() {
    assert_fails(&mut server(), &masked(0x88, &[0x03]), CloseError::OneByte.into());
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        let want = CloseError::InvalidCode(CloseCode::from_u16(code)).into();
        assert_fails(&mut server(), &masked(0x88, &code.to_be_bytes()), want);
    }
    let mut bad_reason = 1000u16.to_be_bytes().to_vec();
    bad_reason.extend(b"\xC0\xAF");
    assert_fails(&mut server(), &masked(0x88, &bad_reason), CloseError::InvalidUtf8 { valid_up_to: 0 }.into());
}

#[test]
fn size_limits_fail_with_1009_before_the_payload_arrives() {
    let cfg = quiet().with_max_frame_size(1000).with_max_message_size(1500);
    let header_only = &masked(0x82, &[0; 1001])[..8];
    assert_fails(
        &mut Connection::server(cfg.clone(), Instant::ZERO),
        header_only,
        FrameError::FrameTooLarge { len: 1001, max: 1000 }.into(),
    );

    let mut input = masked(0x02, &[0; 1000]);
    input.extend(&masked(0x80, &[0; 600])[..8]);
    assert_fails(
        &mut Connection::server(cfg, Instant::ZERO),
        &input,
        ProtocolError::MessageTooLarge { size: 1600, max: 1500 },
    );
}

#[test]
fn data_after_the_peers_close_is_ignored() {
    let mut conn = server();
    let mut input = masked(0x88, &1000u16.to_be_bytes());
    input.extend(masked(0x81, b"after close"));
    let (events, out) = run(&mut conn, &input);
    assert!(!events.iter().any(|e| matches!(e, Event::Message(_))));
    assert_eq!(out, [0x88, 0x02, 0x03, 0xE8], "the reply echoes 1000");
    assert!(matches!(events.last(), Some(Event::Closed(c)) if c.cause.code() == CloseCode::NORMAL));
    assert_eq!(conn.stats().bytes_ignored, masked(0x81, b"after close").len() as u64);
    let _ = Role::Server;
}

/// A message that arrives in the same read as a violation or the peer's Close can still be
/// answered: the answer goes out before our Close.
#[test]
fn messages_ahead_of_a_failure_or_close_can_be_answered() {
    for tail in [masked(0x83, b""), masked(0x88, &1000u16.to_be_bytes())] {
        let mut conn = server();
        let now = Instant::from_secs(1);
        let mut input = masked(0x81, b"Hello");
        input.extend(&tail);
        conn.handle_input(now, &input);
        let mut events = Vec::new();
        while let Some(e) = conn.poll_event() {
            if let Event::Message(m) = &e {
                conn.send(m.clone()).expect("the connection is still open for the answer");
            }
            events.push(e);
        }
        let mut out = Vec::new();
        while conn.poll_transmit(now, &mut out) > 0 {}
        assert_eq!(&out[..7], &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'], "the echo first");
        assert_eq!(out[7], 0x88, "then our Close");
        while let Some(e) = conn.poll_event() {
            events.push(e);
        }
        assert!(matches!(events.last(), Some(Event::Closed(_))), "{events:?}");
    }
}

/// The zero-copy read region: unfilled zeros are never parsed, and a region that outlives the
/// connection's buffer is harmless.
#[test]
fn input_buffer_reservations_are_safe() {
    let mut conn = server();
    let now = Instant::from_secs(1);
    // Reserve, then give input the copying way: the reserved zeros must not be parsed.
    let _ = conn.input_buffer(1024);
    conn.handle_input(now, &masked(0x81, b"hi"));
    assert_eq!(conn.poll_event(), Some(Event::Message(Message::Text("hi".into()))));

    // Reserve with a partial frame buffered, let the connection end, then complete the read.
    conn.handle_input(now, &masked(0x82, b"partial")[..5]);
    let buf = conn.input_buffer(64);
    buf[..3].copy_from_slice(b"abc");
    conn.abort();
    conn.handle_input_buffer(now, 3);
    assert!(matches!(conn.poll_event(), Some(Event::Closed(_))));
    assert_eq!(conn.poll_event(), None);

    // A normal zero-copy read.
    let mut conn = server();
    let frame = masked(0x81, b"zero copy");
    let buf = conn.input_buffer(frame.len());
    buf[..frame.len()].copy_from_slice(&frame);
    conn.handle_input_buffer(now, frame.len());
    assert_eq!(conn.poll_event(), Some(Event::Message(Message::Text("zero copy".into()))));
}

/// A peer's Pings and Pongs are limited to a rate: a burst of the default 100 passes, the next
/// one fails the connection with 1008; the same Pings spread at 100 a second all pass.
#[test]
fn control_frames_beyond_the_rate_fail_with_1008() {
    let limit = Config::default().max_control_frames_per_second.expect("on by default");
    assert_eq!(limit, 100);
    let mut burst = Vec::new();
    for i in 0..limit {
        // Pongs count too: half of the burst is unsolicited Pongs.
        burst.extend(masked(if i % 2 == 0 { 0x89 } else { 0x8A }, b""));
    }
    let mut conn = server();
    let (events, _) = run(&mut conn, &burst);
    assert!(!events.iter().any(|e| matches!(e, Event::Closed(_))), "the burst is allowed");
    assert_fails(&mut conn, &masked(0x89, b"one too many"), ProtocolError::ControlFrameFlood { limit: 100 });
    assert_eq!(ProtocolError::ControlFrameFlood { limit: 100 }.close_code(), CloseCode::POLICY_VIOLATION);

    let mut steady = server();
    for i in 0..1_000u64 {
        steady.handle_input(Instant::from_millis(10 * i), &masked(0x89, b"steady"));
        while let Some(event) = steady.poll_event() {
            assert!(!matches!(event, Event::Closed(_)), "Ping {i} at 100 a second was refused");
        }
    }
    // Without a limit, any burst passes.
    let mut unlimited = Connection::server(quiet().with_max_control_frames_per_second(None), Instant::ZERO);
    let (events, _) = run(&mut unlimited, &burst.repeat(10));
    assert!(!events.iter().any(|e| matches!(e, Event::Closed(_))));
}

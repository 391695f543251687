//! permessage-deflate end to end: negotiation feeding two connections, every parameter
//! combination, streaming receive, limits on the inflated size, and the RSV1 rules.
#![cfg(feature = "deflate")]

use bytes::Bytes;
use proptest::prelude::*;
use sansio_ws::Instant;
use sansio_ws::connection::{CloseCause, Config, Connection, Event, Message, ReceiveMode};
use sansio_ws::deflate::{DeflateConfig, DeflateParams};
use sansio_ws::error::ProtocolError;
use sansio_ws::frame::{FrameError, Rsv};
use sansio_ws::handshake::parse_extensions;
use sansio_ws::sim::Pair;

fn quiet() -> Config {
    Config { heartbeat: None, ..Config::default() }
}

/// Negotiates like a handshake would and turns compression on at both ends.
fn deflate_pair(
    client: DeflateConfig,
    server: DeflateConfig,
    client_cfg: Config,
    server_cfg: Config,
) -> (Pair, DeflateParams) {
    let offer = client.offer();
    let (answer, server_params) = server.negotiate(&[offer]).expect("the server accepts the offer");
    let client_params = client.accept_response(&answer).expect("the client accepts the answer");
    assert_eq!(client_params, server_params, "both ends agree");
    let mut p = Pair::new(client_cfg, server_cfg);
    p.client.enable_deflate(client_params, &client);
    p.server.enable_deflate(server_params, &server);
    (p, server_params)
}

fn messages(events: &[Event]) -> Vec<Message> {
    events.iter().filter_map(|e| if let Event::Message(m) = e { Some(m.clone()) } else { None }).collect()
}

fn corpus() -> Vec<Message> {
    let text: String = (0..4_000).map(|i| ["the ", "quick ", "brown ", "fox ", "é☃ "][i % 5]).collect();
    vec![
        Message::Text("tiny".into()),
        Message::Text(text.clone().into()),
        Message::Binary(Bytes::from((0..70_000u32).map(|i| (i % 7) as u8).collect::<Vec<_>>())),
        Message::Text(text.into()),
        Message::Binary(Bytes::from(
            (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>(),
        )),
        Message::Binary(Bytes::new()),
    ]
}

#[test]
fn every_parameter_combination_round_trips() {
    let mut combos = 0;
    for server_nct in [false, true] {
        for client_nct in [false, true] {
            for server_bits in [8u8, 9, 12, 15] {
                for client_bits in [8u8, 9, 12, 15] {
                    let client = DeflateConfig {
                        server_no_context_takeover: server_nct,
                        client_no_context_takeover: client_nct,
                        server_max_window_bits: server_bits,
                        client_max_window_bits: client_bits,
                        ..DeflateConfig::default()
                    };
                    let (mut p, params) = deflate_pair(client, DeflateConfig::default(), quiet(), quiet());
                    assert_eq!(params.server_max_window_bits, server_bits);
                    assert_eq!(params.client_max_window_bits, client_bits);
                    p.chunk = Some(1000);
                    for m in corpus() {
                        p.client.send(m.clone()).unwrap();
                        p.server.send(m).unwrap();
                    }
                    p.drive();
                    assert_eq!(messages(&p.server_events), corpus(), "{params:?}");
                    assert_eq!(messages(&p.client_events), corpus(), "{params:?}");
                    combos += 1;
                }
            }
        }
    }
    assert_eq!(combos, 64);
}

#[test]
fn compression_shrinks_the_wire_and_small_messages_stay_plain() {
    let (mut p, _) = deflate_pair(DeflateConfig::default(), DeflateConfig::default(), quiet(), quiet());
    let big = Message::Text("abc".repeat(100_000).into());
    p.server.send(big.clone()).unwrap();
    let mut wire = Vec::new();
    while p.server.poll_transmit(Instant::ZERO, &mut wire) > 0 {}
    assert!(wire.len() < 3_000, "300 kB of repetition went out as {} bytes", wire.len());
    assert_eq!(wire[0] & 0x40, 0x40, "RSV1 on the first frame");
    p.client.handle_input(Instant::ZERO, &wire);
    assert_eq!(p.client.poll_event(), Some(Event::Message(big)));
    // Below the threshold: no RSV1.
    p.server.send_text("short").unwrap();
    let mut wire = Vec::new();
    while p.server.poll_transmit(Instant::ZERO, &mut wire) > 0 {}
    assert_eq!(wire[0], 0x81);
}

#[test]
fn streaming_receive_inflates_as_data_arrives() {
    let (mut p, _) = deflate_pair(
        DeflateConfig::default(),
        DeflateConfig::default(),
        Config { receive_mode: ReceiveMode::Streaming, ..quiet() },
        quiet(),
    );
    p.chunk = Some(100);
    let text: String = (0..50_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    p.server.send_text(text.clone()).unwrap();
    p.drive();
    let mut joined = Vec::new();
    let mut pieces = 0;
    for e in &p.client_events {
        if let Event::Fragment(f) = e {
            joined.extend_from_slice(&f.data);
            pieces += 1;
        }
    }
    assert_eq!(String::from_utf8(joined).unwrap(), text);
    assert!(pieces > 1, "delivered in {pieces} pieces");
}

fn final_cause(events: &[Event]) -> Option<CloseCause> {
    events.iter().find_map(|e| if let Event::Closed(c) = e { Some(c.cause.clone()) } else { None })
}

#[test]
fn a_decompression_bomb_fails_with_1009_and_bounded_memory() {
    let limit = Config { max_message_size: 1 << 20, ..quiet() };
    let (mut p, _) = deflate_pair(DeflateConfig::default(), DeflateConfig::default(), quiet(), limit);
    // 64 MiB of zeros compresses to about 64 KiB: the server must stop at 1 MiB.
    p.client.send_binary(vec![0u8; 64 << 20]).unwrap();
    p.drive();
    let cause = final_cause(&p.server_events).expect("the server failed the connection");
    match cause {
        CloseCause::ProtocolViolation(e @ ProtocolError::MessageTooLarge { .. }) => {
            assert_eq!(e.close_code().as_u16(), 1009)
        }
        other => panic!("{other:?}"),
    }
    // The same in streaming mode.
    let limit = Config { max_message_size: 1 << 20, receive_mode: ReceiveMode::Streaming, ..quiet() };
    let (mut p, _) = deflate_pair(DeflateConfig::default(), DeflateConfig::default(), quiet(), limit);
    p.client.send_binary(vec![0u8; 16 << 20]).unwrap();
    p.drive();
    let delivered: usize =
        p.server_events.iter().map(|e| if let Event::Fragment(f) = e { f.data.len() } else { 0 }).sum();
    assert!(delivered <= 1 << 20, "at most the limit was delivered: {delivered}");
    assert!(matches!(
        final_cause(&p.server_events),
        Some(CloseCause::ProtocolViolation(ProtocolError::MessageTooLarge { .. }))
    ));
}

fn enabled_server() -> Connection {
    let mut s = Connection::server(quiet());
    let (_, params) = DeflateConfig::default().negotiate(&parse_extensions(b"permessage-deflate").unwrap()).unwrap();
    s.enable_deflate(params, &DeflateConfig::default());
    s
}

fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let key = [9u8, 8, 7, 6];
    let mut f = vec![b0, 0x80 | payload.len() as u8];
    f.extend(key);
    f.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    f
}

fn fail_cause(mut s: Connection, input: &[u8]) -> Option<CloseCause> {
    s.handle_input(Instant::ZERO, input);
    let mut events = Vec::new();
    for _ in 0..3 {
        while let Some(e) = s.poll_event() {
            events.push(e);
        }
        let mut out = Vec::new();
        while s.poll_transmit(Instant::ZERO, &mut out) > 0 {}
    }
    final_cause(&events)
}

#[test]
fn rsv1_rules() {
    let rsv1 = Some(CloseCause::ProtocolViolation(FrameError::ReservedBits(Rsv::RSV1).into()));
    // On a control frame.
    assert_eq!(fail_cause(enabled_server(), &masked(0xC9, b"")), rsv1);
    // On a continuation frame.
    let mut input = masked(0x41, &[0xf2, 0x48]);
    input.extend(masked(0xC0, &[0xcd, 0xc9, 0xc9, 0x07, 0x00]));
    assert_eq!(fail_cause(enabled_server(), &input), rsv1);
    // Without negotiation RSV1 stays a protocol error.
    assert_eq!(
        fail_cause(Connection::server(quiet()), &masked(0xC1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])),
        rsv1
    );
    // A fragmented compressed message (RFC 7692 §7.2.3.1 "Hello" split in two) is fine.
    let mut s = enabled_server();
    let mut input = masked(0x41, &[0xf2, 0x48, 0xcd]);
    input.extend(masked(0x80, &[0xc9, 0xc9, 0x07, 0x00]));
    s.handle_input(Instant::ZERO, &input);
    assert_eq!(s.poll_event(), Some(Event::Message(Message::Text("Hello".into()))));
    // Garbage that does not inflate fails with 1007.
    let cause = fail_cause(enabled_server(), &masked(0xC2, &[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(cause, Some(CloseCause::ProtocolViolation(ProtocolError::InvalidCompressedData)));
    // Invalid UTF-8 inside compressed text fails with 1007 too: a stored block of "H\xffllo".
    let stored = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0xff, 0x6c, 0x6c, 0x6f, 0x00];
    let cause = fail_cause(enabled_server(), &masked(0xC1, &stored));
    assert_eq!(cause, Some(CloseCause::ProtocolViolation(ProtocolError::InvalidUtf8 { offset: 1 })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_messages_round_trip_with_random_parameters(
        texts in prop::collection::vec(".{0,300}", 1..12),
        server_nct in any::<bool>(), client_nct in any::<bool>(),
        server_bits in 8u8..=15, client_bits in 8u8..=15,
        threshold in 0usize..200, chunk in 1usize..500,
    ) {
        let client = DeflateConfig {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            threshold,
            ..DeflateConfig::default()
        };
        let server = DeflateConfig { threshold, ..DeflateConfig::default() };
        let (mut p, _) = deflate_pair(client, server, quiet(), quiet());
        p.chunk = Some(chunk);
        let sent: Vec<Message> = texts.iter().map(|t| Message::Text(t.repeat(3).into())).collect();
        for m in &sent {
            p.client.send(m.clone()).unwrap();
            p.server.send(m.clone()).unwrap();
        }
        p.drive();
        prop_assert_eq!(&messages(&p.server_events), &sent);
        prop_assert_eq!(&messages(&p.client_events), &sent);
    }
}

proptest! {
    /// Any offer header: negotiation never panics, and whatever it accepts is a well-formed answer
    /// within RFC 7692's ranges that a client offering exactly that would accept.
    #[test]
    fn negotiation_of_arbitrary_offers_is_sound(
        params in prop::collection::vec(
            (prop::sample::select(vec!["server_no_context_takeover", "client_no_context_takeover",
                "server_max_window_bits", "client_max_window_bits", "x"]),
             prop::option::of(prop_oneof![Just("8".to_string()), Just("15".to_string()), "[0-9]{1,3}"])),
            0..6),
    ) {
        let mut header = String::from("permessage-deflate");
        for (name, value) in &params {
            header.push_str("; ");
            header.push_str(name);
            if let Some(v) = value {
                header.push('=');
                header.push_str(v);
            }
        }
        let offers = parse_extensions(header.as_bytes()).unwrap();
        if let Some((answer, agreed)) = DeflateConfig::default().negotiate(&offers) {
            prop_assert!((8..=15).contains(&agreed.server_max_window_bits));
            prop_assert!((8..=15).contains(&agreed.client_max_window_bits));
            let mut written = String::new();
            sansio_ws::handshake::write_extensions(std::slice::from_ref(&answer), &mut written).unwrap();
            prop_assert_eq!(parse_extensions(written.as_bytes()).unwrap(), vec![answer.clone()]);
            // A client whose configuration produced this offer accepts the answer.
            let client = DeflateConfig {
                server_no_context_takeover: header.contains("server_no_context_takeover"),
                server_max_window_bits: offers[0].param("server_max_window_bits")
                    .and_then(|p| p.value.as_deref()?.parse().ok()).unwrap_or(15),
                client_max_window_bits: offers[0].param("client_max_window_bits")
                    .and_then(|p| p.value.as_deref()?.parse().ok()).unwrap_or(15),
                ..DeflateConfig::default()
            };
            prop_assert_eq!(client.accept_response(&answer).map(|p| p.server_max_window_bits), Ok(agreed.server_max_window_bits));
        }
    }
}

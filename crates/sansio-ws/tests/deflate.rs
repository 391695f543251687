//! permessage-deflate end to end: negotiation feeding two connections, every parameter
//! combination, streaming receive, limits on the inflated size, and the RSV1 rules.
#![cfg(feature = "deflate")]

use bytes::Bytes;
use proptest::prelude::*;
use sansio_ws::connection::{CloseCause, Config, Connection, Event, Message, ReceiveMode};
use sansio_ws::deflate::{DeflateConfig, DeflateParams};
use sansio_ws::error::ProtocolError;
use sansio_ws::frame::{FrameError, Rsv};
use sansio_ws::handshake::{Accept, ClientConfig, ClientHandshake, ServerConfig, ServerHandshake, parse_extensions};
use sansio_ws::rand::SeededRandom;
use sansio_ws::sim::Pair;
use sansio_ws::{Instant, Role};

fn quiet() -> Config {
    Config::default().with_heartbeat(None)
}

/// The two ends of a real opening handshake, done at time zero: the client's request goes to the
/// server's handshake, the server accepts it, and the server's first output (its `101` response,
/// followed by whatever it sent at once) goes to the client's handshake; each side's `Upgraded`
/// becomes its connection. permessage-deflate is offered and accepted with `client` and `server`
/// (`None`: not offered, or declined).
fn handshake(
    client: Option<DeflateConfig>,
    server: Option<DeflateConfig>,
    client_cfg: Config,
    server_cfg: Config,
    server_first: impl FnOnce(&mut Connection),
) -> (Connection, Connection, Option<DeflateParams>) {
    let now = Instant::ZERO;
    let mut client_hs = ClientHandshake::with_randomness(
        "ws://example.com/chat",
        ClientConfig::default().with_deflate(client),
        now,
        Box::new(SeededRandom::new(11)),
    )
    .expect("valid request");
    let mut request_bytes = Vec::new();
    client_hs.write_request(&mut request_bytes);

    let mut server_hs = ServerHandshake::new(ServerConfig::default().with_deflate(server), now);
    let request = server_hs.handle_input(&request_bytes).expect("valid request").expect("complete request");
    let upgraded = server_hs.accept(&request, Accept::new()).expect("accepted");
    assert_eq!(upgraded.role(), Role::Server);
    let response = upgraded.response_bytes().to_vec();
    assert!(response.starts_with(b"HTTP/1.1 101 "));
    let server_params = upgraded.deflate();
    let mut server_conn = upgraded.into_connection(server_cfg, now);
    server_first(&mut server_conn);

    // The server's output starts with its response; the client's handshake reads it and hands
    // what follows to the client's connection.
    let mut wire = Vec::new();
    while server_conn.poll_transmit(now, &mut wire) > 0 {}
    assert!(wire.starts_with(&response), "the 101 response goes out first");
    let upgraded = client_hs.handle_input(&wire).expect("valid response").expect("complete response");
    assert_eq!(upgraded.role(), Role::Client);
    assert_eq!(upgraded.trailing(), &wire[response.len()..]);
    assert_eq!(upgraded.deflate(), server_params, "both ends agree");
    let client_conn = upgraded.into_connection(client_cfg, now);
    assert_eq!(client_conn.is_deflate_enabled(), server_params.is_some());
    assert_eq!(server_conn.is_deflate_enabled(), server_params.is_some());
    (client_conn, server_conn, server_params)
}

/// A pair whose connections come from a real handshake with permessage-deflate agreed.
fn deflate_pair(
    client: DeflateConfig,
    server: DeflateConfig,
    client_cfg: Config,
    server_cfg: Config,
) -> (Pair, DeflateParams) {
    let (client_conn, server_conn, agreed) =
        handshake(Some(client), Some(server), client_cfg.clone(), server_cfg.clone(), |_| {});
    let params = expected_params(client, server);
    assert_eq!(agreed, Some(params), "the handshakes agree on what negotiating by hand gives");
    let mut p = Pair::new(client_cfg, server_cfg);
    p.client = client_conn;
    p.server = server_conn;
    (p, params)
}

/// What `client`'s offer and `server`'s answer agree on, negotiated by hand (as an HTTP server
/// that did the upgrade itself would), for comparison.
fn expected_params(client: DeflateConfig, server: DeflateConfig) -> DeflateParams {
    let (answer, server_params) = server.negotiate(&[client.offer()]).expect("the server accepts the offer");
    let client_params = client.accept_response(&answer).expect("the client accepts the answer");
    assert_eq!(client_params, server_params, "both ends agree");
    server_params
}

/// A pair with permessage-deflate turned on by `enable_deflate`, after a handshake done elsewhere.
fn enabled_by_hand(client: DeflateConfig, server: DeflateConfig, client_cfg: Config, server_cfg: Config) -> Pair {
    let params = expected_params(client, server);
    let mut p = Pair::new(client_cfg, server_cfg);
    p.client.enable_deflate(params, &client);
    p.server.enable_deflate(params, &server);
    p
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
                    let client = DeflateConfig::default()
                        .with_server_no_context_takeover(server_nct)
                        .with_client_no_context_takeover(client_nct)
                        .with_server_max_window_bits(server_bits)
                        .with_client_max_window_bits(client_bits);
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
        quiet().with_receive_mode(ReceiveMode::Streaming),
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

/// Everything `conn` has to write at time zero.
fn output(conn: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    while conn.poll_transmit(Instant::ZERO, &mut wire) > 0 {}
    wire
}

fn big_text() -> Message {
    Message::Text("abc".repeat(100_000).into())
}

/// The real handshakes hand the agreed parameters to both connections (no `enable_deflate`
/// call): each end compresses what it sends (RSV1 on the wire) and inflates what it receives.
#[test]
fn handshakes_turn_deflate_on_at_both_ends() {
    let (mut client, mut server, _) =
        handshake(Some(DeflateConfig::default()), Some(DeflateConfig::default()), quiet(), quiet(), |_| {});
    assert!(client.is_deflate_enabled() && server.is_deflate_enabled());
    send_big(&mut client, &mut server, true);
    send_big(&mut server, &mut client, true);
}

/// `from` sends 300 kB of repetition, compressed (RSV1, small on the wire) or not, and `to`
/// receives it intact.
fn send_big(from: &mut Connection, to: &mut Connection, compressed: bool) {
    let big = big_text();
    from.send(big.clone()).unwrap();
    let wire = output(from);
    let role = from.role();
    if compressed {
        assert!(wire.len() < 3_000, "{role:?}: 300 kB of repetition went out as {} bytes", wire.len());
        assert_eq!(wire[0] & 0x40, 0x40, "{role:?}: RSV1 on the first frame");
    } else {
        assert!(wire.len() > 300_000, "{role:?}: sent uncompressed as {} bytes", wire.len());
        assert_eq!(wire[0] & 0x70, 0, "{role:?}: no RSV bit");
    }
    to.handle_input(Instant::ZERO, &wire);
    assert_eq!(to.poll_event(), Some(Event::Message(big)), "{:?} received", to.role());
}

/// A client that does not offer permessage-deflate, or a server that declines it: neither
/// connection compresses, and RSV1 stays off the wire.
#[test]
fn handshakes_without_agreement_leave_both_ends_plain() {
    for (client_offer, server_accept) in
        [(None, Some(DeflateConfig::default())), (Some(DeflateConfig::default()), None)]
    {
        let (mut client, mut server, agreed) = handshake(client_offer, server_accept, quiet(), quiet(), |_| {});
        assert_eq!(agreed, None);
        assert!(!client.is_deflate_enabled() && !server.is_deflate_enabled());
        send_big(&mut client, &mut server, false);
        send_big(&mut server, &mut client, false);
    }
}

/// A server that sends at once: its compressed message goes out in the same write as its `101`,
/// and the client's connection inflates it (deflate is on before the trailing bytes are fed).
#[test]
fn a_compressed_message_right_behind_the_101_is_inflated() {
    let big = big_text();
    let sent = big.clone();
    let (mut client, _server, _) =
        handshake(Some(DeflateConfig::default()), Some(DeflateConfig::default()), quiet(), quiet(), move |server| {
            server.send(sent).unwrap()
        });
    assert_eq!(client.poll_event(), Some(Event::Message(big)));
    assert_eq!(client.poll_event(), None);
}

/// `enable_deflate` after a handshake done elsewhere (an HTTP server that performed the upgrade
/// and negotiated by hand) still works: both ends round-trip the corpus compressed.
#[test]
fn enable_deflate_after_a_handshake_done_elsewhere() {
    let mut p = enabled_by_hand(DeflateConfig::default(), DeflateConfig::default(), quiet(), quiet());
    assert!(p.client.is_deflate_enabled() && p.server.is_deflate_enabled());
    p.server.send(big_text()).unwrap();
    let wire = output(&mut p.server);
    assert_eq!(wire[0] & 0x40, 0x40, "RSV1 on the first frame");
    p.client.handle_input(Instant::ZERO, &wire);
    assert_eq!(p.client.poll_event(), Some(Event::Message(big_text())));
    p.chunk = Some(1000);
    for m in corpus() {
        p.client.send(m.clone()).unwrap();
        p.server.send(m).unwrap();
    }
    p.drive();
    assert_eq!(messages(&p.server_events), corpus());
    assert_eq!(messages(&p.client_events), corpus());
}

fn final_cause(events: &[Event]) -> Option<CloseCause> {
    events.iter().find_map(|e| if let Event::Closed(c) = e { Some(c.cause.clone()) } else { None })
}

#[test]
fn a_decompression_bomb_fails_with_1009_and_bounded_memory() {
    let limit = quiet().with_max_message_size(1 << 20);
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
    let limit = quiet().with_max_message_size(1 << 20).with_receive_mode(ReceiveMode::Streaming);
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
    let mut s = Connection::server(quiet(), Instant::ZERO);
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
        fail_cause(
            Connection::server(quiet(), Instant::ZERO),
            &masked(0xC1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        ),
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
        let client = DeflateConfig::default()
            .with_server_no_context_takeover(server_nct)
            .with_client_no_context_takeover(client_nct)
            .with_server_max_window_bits(server_bits)
            .with_client_max_window_bits(client_bits)
            .with_threshold(threshold);
        let server = DeflateConfig::default().with_threshold(threshold);
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
            let client = DeflateConfig::default()
                .with_server_no_context_takeover(header.contains("server_no_context_takeover"))
                .with_server_max_window_bits(offers[0].param("server_max_window_bits")
                    .and_then(|p| p.value.as_deref()?.parse().ok()).unwrap_or(15))
                .with_client_max_window_bits(offers[0].param("client_max_window_bits")
                    .and_then(|p| p.value.as_deref()?.parse().ok()).unwrap_or(15));
            prop_assert_eq!(client.accept_response(&answer).map(|p| p.server_max_window_bits), Ok(agreed.server_max_window_bits));
        }
    }
}

/// A compressed message arriving counts what has been inflated of it so far in
/// `buffered_input`, not only its few compressed bytes: that is the memory it costs.
#[test]
fn buffered_input_counts_the_inflated_text_of_a_message_arriving() {
    let (mut client, mut server, _) =
        handshake(Some(DeflateConfig::default()), Some(DeflateConfig::default()), quiet(), quiet(), |_| {});
    let big = big_text();
    client.send(big.clone()).unwrap();
    let wire = output(&mut client);
    let (most, last) = wire.split_at(wire.len() - 1);
    server.handle_input(Instant::ZERO, most);
    let held = server.buffered_input();
    assert!(held > 10 * wire.len(), "{held} bytes held of a message sent as {} bytes", wire.len());
    assert!(held <= big.len() + wire.len(), "{held}");
    server.handle_input(Instant::ZERO, last);
    assert_eq!(server.buffered_input(), big.len());
    assert_eq!(server.poll_event(), Some(Event::Message(big)));
    assert_eq!(server.buffered_input(), 0);
}

//! Behaviour of two connections wired together in memory, on a virtual clock.

use std::time::Duration;

use bytes::Bytes;
use sansio_ws::connection::{
    CloseCause, Config, Event, HeartbeatConfig, Message, MessageKind, ReceiveMode, Side, State,
};
use sansio_ws::error::{SendErrorKind, UsageError};
use sansio_ws::frame::CloseCode;
use sansio_ws::sim::Pair;
use sansio_ws::{Instant, Role};

fn quiet() -> Config {
    Config::default().with_heartbeat(None)
}

fn pair() -> Pair {
    Pair::new(quiet(), quiet())
}

fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn final_cause(events: &[Event]) -> CloseCause {
    let finals: Vec<_> = events.iter().filter(|e| matches!(e, Event::Closed(_))).collect();
    assert_eq!(finals.len(), 1, "exactly one final event: {events:?}");
    match events.last() {
        Some(Event::Closed(c)) => c.cause.clone(),
        other => panic!("the final event must be last, got {other:?}"),
    }
}

fn text(s: &str) -> Message {
    Message::Text(s.into())
}

#[test]
fn echo_both_ways_with_every_size() {
    let mut p = pair();
    p.chunk = Some(7);
    let sizes = [0usize, 1, 125, 126, 65_535, 65_536, 200_000, 1 << 20];
    for &n in &sizes {
        p.client.send_binary(vec![(n % 251) as u8; n]).unwrap();
        p.server.send_text("é".repeat(n / 2)).unwrap();
    }
    p.drive();
    let at_server = messages(&p.server_events);
    let at_client = messages(&p.client_events);
    assert_eq!(at_server.len(), sizes.len());
    assert_eq!(at_client.len(), sizes.len());
    for (i, &n) in sizes.iter().enumerate() {
        assert_eq!(at_server[i], Message::Binary(Bytes::from(vec![(n % 251) as u8; n])));
        assert_eq!(at_client[i], text(&"é".repeat(n / 2)));
    }
    assert_eq!(p.client.stats().messages_sent, sizes.len() as u64);
    assert_eq!(p.server.stats().messages_received, sizes.len() as u64);
}

#[test]
fn single_frame_messages_are_not_copied_out_of_the_receive_buffer() {
    use sansio_ws::connection::{Connection, Event};
    let mut client = Connection::client(quiet(), Instant::ZERO);
    for fill in [1u8, 2] {
        client.send_binary(vec![fill; 1000]).unwrap();
    }
    let mut wire = Vec::new();
    while client.poll_transmit(Instant::from_secs(0), &mut wire) > 0 {}
    // Read into the connection's own buffer (`input_buffer`), as a driver does.
    let mut server = Connection::server(quiet(), Instant::ZERO);
    let region = server.input_buffer(wire.len());
    region[..wire.len()].copy_from_slice(&wire);
    let range = region.as_ptr() as usize..region.as_ptr() as usize + wire.len();
    server.handle_input_buffer(Instant::from_secs(0), wire.len());
    let mut got = Vec::new();
    while let Some(Event::Message(m)) = server.poll_event() {
        got.push(m);
    }
    assert_eq!(got.len(), 2);
    for (m, fill) in got.iter().zip([1u8, 2]) {
        assert_eq!(m.payload()[..], vec![fill; 1000][..]);
        let at = m.payload().as_ptr() as usize;
        assert!(range.contains(&at) && range.contains(&(at + 999)), "the payload is the region read into");
    }
}

#[test]
fn streamed_sends_arrive_whole_and_streamed_receives_arrive_in_pieces() {
    let mut p = Pair::new(quiet(), quiet().with_receive_mode(ReceiveMode::Streaming));
    p.chunk = Some(5);
    p.client.send_fragment(MessageKind::Text, Bytes::from_static("héllo ".as_bytes()), false).unwrap();
    // A split inside a multi-byte character is fine as long as the whole is UTF-8.
    let snow = "☃".as_bytes();
    p.client.send_fragment(MessageKind::Text, Bytes::copy_from_slice(&snow[..1]), false).unwrap();
    p.client.ping(Bytes::from_static(b"between")).unwrap();
    p.client.send_fragment(MessageKind::Text, Bytes::copy_from_slice(&snow[1..]), true).unwrap();
    p.drive();
    let mut joined = Vec::new();
    let mut firsts = 0;
    let mut lasts = 0;
    for e in &p.server_events {
        if let Event::Fragment(f) = e {
            assert_eq!(f.kind, MessageKind::Text);
            joined.extend_from_slice(&f.data);
            firsts += usize::from(f.first);
            lasts += usize::from(f.last);
        }
    }
    assert_eq!(String::from_utf8(joined).unwrap(), "héllo ☃");
    assert_eq!((firsts, lasts), (1, 1));
    assert!(p.server_events.contains(&Event::Ping(Bytes::from_static(b"between"))));
    assert!(p.client_events.contains(&Event::Pong(Bytes::from_static(b"between"))));
}

#[test]
fn fragmented_send_refuses_invalid_utf8_and_mixing() {
    let mut p = pair();
    let e = p.client.send_fragment(MessageKind::Text, Bytes::from_static(b"\xff"), false).unwrap_err();
    assert_eq!(e.kind(), SendErrorKind::Usage(UsageError::InvalidUtf8));
    assert_eq!(*e.payload(), Bytes::from_static(b"\xff"), "refused data is handed back");
    p.client.send_fragment(MessageKind::Binary, Bytes::from_static(b"a"), false).unwrap();
    let e = p.client.send_text("whole").unwrap_err();
    assert_eq!(e.kind(), SendErrorKind::Usage(UsageError::MessageInProgress));
    let e = p.client.send_fragment(MessageKind::Text, Bytes::from_static(b"b"), true).unwrap_err();
    assert_eq!(e.kind(), SendErrorKind::Usage(UsageError::MessageInProgress));
    // A text piece ending inside a character cannot end the message.
    p.client.send_fragment(MessageKind::Binary, Bytes::from_static(b"b"), true).unwrap();
    let e = p.client.send_fragment(MessageKind::Text, Bytes::from_static(&[0xE2, 0x98]), true).unwrap_err();
    assert_eq!(e.kind(), SendErrorKind::Usage(UsageError::InvalidUtf8));
    p.drive();
    assert_eq!(messages(&p.server_events), [Message::Binary(Bytes::from_static(b"ab"))]);
}

#[test]
fn pongs_overtake_a_long_queued_message() {
    let cfg = quiet().with_send_frame_size(16 * 1024);
    let mut server = sansio_ws::connection::Connection::server(cfg, Instant::ZERO);
    server.send_binary(vec![0u8; 4 << 20]).unwrap();
    let now = Instant::ZERO;
    let mut out = Vec::new();
    // The transport takes one batch; then a Ping arrives (masked, payload "urgent").
    assert!(server.poll_transmit(now, &mut out) > 0);
    let written_before_ping = out.len();
    let mut ping = vec![0x89, 0x86, 1, 2, 3, 4];
    ping.extend(b"urgent".iter().zip([1u8, 2, 3, 4].iter().cycle()).map(|(b, k)| b ^ k));
    server.handle_input(now, &ping);
    while server.poll_transmit(now, &mut out) > 0 {}
    let pong = [0x8A, 0x06, b'u', b'r', b'g', b'e', b'n', b't'];
    let at = out.windows(pong.len()).position(|w| w == pong).expect("a Pong was sent");
    assert!(at >= written_before_ping);
    // Framed output is kept to about 64 KiB plus one frame, so that is all the Pong waits behind.
    assert!(at <= written_before_ping + 64 * 1024 + 16 * 1024 + 4, "the Pong waited behind {at} bytes");
    assert!(out.len() > 4 << 20);
}

#[test]
fn client_close_is_clean_on_both_sides_and_the_server_closes_tcp_first() {
    let mut p = pair();
    p.latency = Duration::from_millis(10);
    for i in 0..100 {
        p.client.send_text(format!("m{i}")).unwrap();
    }
    p.client.close(p.now, CloseCode::NORMAL, "done").unwrap();
    assert_eq!(p.client.state(), State::Closing);
    assert_eq!(p.client.closing_initiator(), Some(Side::Local));
    assert_eq!(p.client.send_text("late").unwrap_err().kind(), SendErrorKind::Usage(UsageError::Closed));
    assert_eq!(p.client.close(p.now, CloseCode::NORMAL, ""), Err(UsageError::AlreadyClosing));
    assert!(p.run_until_closed(Duration::from_secs(1)));
    // Every message queued before close() arrived, in order, before the Close.
    let got = messages(&p.server_events);
    assert_eq!(got, (0..100).map(|i| text(&format!("m{i}"))).collect::<Vec<_>>());
    let clean = CloseCause::Clean { code: CloseCode::NORMAL, reason: "done".into(), initiator: Side::Local };
    assert_eq!(final_cause(&p.client_events), clean);
    assert_eq!(
        final_cause(&p.server_events),
        CloseCause::Clean { code: CloseCode::NORMAL, reason: "done".into(), initiator: Side::Remote }
    );
    assert!(p.server_events.contains(&Event::CloseReceived { code: CloseCode::NORMAL, reason: "done".into() }));
    // The server closed TCP when its reply was written (10 ms); the client closed on that EOF,
    // which arrived right behind the reply (20 ms).
    assert_eq!(p.now, Instant::from_millis(20));
}

#[test]
fn server_close_with_empty_payload_is_answered_with_1000() {
    let mut p = pair();
    // A Close without status (raw frame: the API always sends a code).
    p.client.handle_input(p.now, &[0x88, 0x00]);
    assert!(p.run_until_closed(Duration::from_secs(10)));
    assert!(p.client_events.contains(&Event::CloseReceived { code: CloseCode::NO_STATUS, reason: String::new() }));
    assert!(matches!(
        final_cause(&p.client_events),
        CloseCause::Clean { code: CloseCode::NO_STATUS, initiator: Side::Remote, .. }
    ));
    // The server saw our reply: 1000.
    assert!(p.server_events.contains(&Event::CloseReceived { code: CloseCode::NORMAL, reason: String::new() }));
}

#[test]
fn simultaneous_close_completes_for_both() {
    let mut p = pair();
    p.latency = Duration::from_millis(5);
    p.client.close(p.now, CloseCode::GOING_AWAY, "client").unwrap();
    p.server.close(p.now, CloseCode::from_u16(4000), "server").unwrap();
    assert!(p.run_until_closed(Duration::from_secs(10)));
    assert!(matches!(final_cause(&p.client_events), CloseCause::Clean { initiator: Side::Local, .. }));
    assert!(matches!(final_cause(&p.server_events), CloseCause::Clean { initiator: Side::Local, .. }));
}

#[test]
fn peer_vanishing_is_reported_as_1006() {
    let mut p = pair();
    p.client.abort();
    p.drive();
    assert_eq!(final_cause(&p.client_events), CloseCause::LocalAbort);
    assert_eq!(final_cause(&p.server_events), CloseCause::PeerVanished { during_close: false });
    assert_eq!(final_cause(&p.server_events).code(), CloseCode::ABNORMAL);
}

/// A secure transport cut without close_notify: `Truncated` (1006) where a plain end of stream
/// would be `PeerVanished`. (Once the close handshake is complete it is a clean end: the
/// lifecycle's unit tests pin that.)
#[test]
fn a_truncated_transport_is_its_own_ending() {
    let mut p = pair();
    p.server.handle_truncation(p.now);
    p.drive();
    assert_eq!(final_cause(&p.server_events), CloseCause::Truncated { during_close: false });
    assert_eq!(final_cause(&p.server_events).code(), CloseCode::ABNORMAL);

    // Our Close written, no answer yet: cut during the close handshake.
    let mut p = pair();
    p.vanished[1] = true;
    p.client.close(p.now, CloseCode::NORMAL, "done").unwrap();
    p.drive();
    p.client.handle_truncation(p.now);
    p.drive();
    assert_eq!(final_cause(&p.client_events), CloseCause::Truncated { during_close: true });
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let mut p = pair();
    p.vanished[1] = true;
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.drive();
    assert!(p.run_until_closed(Duration::from_secs(60)));
    assert_eq!(final_cause(&p.client_events), CloseCause::CloseTimeout);
    assert_eq!(p.now, Instant::from_secs(5), "the client's default close timeout");
}

#[test]
fn client_waits_for_the_server_to_close_tcp_then_gives_up() {
    let mut p = pair();
    p.server.close(p.now, CloseCode::NORMAL, "").unwrap();
    // Deliver the server's Close, let the client answer, then the server's machine disappears
    // before it can close TCP.
    p.step();
    p.step();
    p.vanished[1] = true;
    assert!(p.run_until_closed(Duration::from_secs(60)));
    assert!(matches!(final_cause(&p.client_events), CloseCause::Clean { initiator: Side::Remote, .. }));
    assert_eq!(p.now, Instant::from_secs(5));
}

#[test]
fn drain_timeout_reports_what_was_left_unsent() {
    // A peer that stops reading shows up as a transport that stops taking bytes.
    let mut server =
        sansio_ws::connection::Connection::server(quiet().with_drain_timeout(Duration::from_secs(2)), Instant::ZERO);
    server.send_binary(vec![9u8; 300_000]).unwrap();
    server.send_text("after").unwrap();
    let t0 = Instant::from_secs(1);
    server.close(t0, CloseCode::NORMAL, "").unwrap();
    // The transport accepts only 1000 bytes, then nothing more.
    let mut out = Vec::new();
    let first = server.transmit_chunks().next().unwrap().len().min(1000);
    out.extend_from_slice(&server.transmit_chunks().next().unwrap()[..first]);
    server.advance_transmit(t0, first);
    assert_eq!(server.poll_timeout(), Some(Instant::from_secs(3)));
    server.handle_timeout(Instant::from_secs(3));
    match server.poll_event() {
        Some(Event::Closed(c)) => {
            assert_eq!(c.cause, CloseCause::DrainTimeout);
            assert_eq!(c.unsent.messages, 2);
            assert!(c.unsent.bytes > 300_000 - 1000, "{:?}", c.unsent);
        }
        other => panic!("expected the final event, got {other:?}"),
    }
    assert_eq!(server.poll_transmit(t0, &mut out), 0, "nothing is written after the end");
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn backpressure_hands_messages_back_and_signals_writable() {
    let cfg = quiet().with_high_water_mark(100_000).with_low_water_mark(10_000);
    let mut server = sansio_ws::connection::Connection::server(cfg, Instant::ZERO);
    let chunk = Bytes::from(vec![0u8; 60_000]);
    server.send_binary(chunk.clone()).unwrap();
    server.send_binary(chunk.clone()).unwrap();
    let refused = server.send_binary(chunk.clone()).unwrap_err();
    assert_eq!(refused.kind(), SendErrorKind::Backpressure);
    assert_eq!(*refused.payload(), chunk, "the refused message is handed back, not dropped");
    assert!(server.buffered_amount() >= 120_000);
    let now = Instant::ZERO;
    let mut out = Vec::new();
    let mut saw_writable = false;
    while server.poll_transmit(now, &mut out) > 0 {
        while let Some(e) = server.poll_event() {
            saw_writable |= e == Event::Writable;
        }
    }
    assert!(saw_writable);
    assert_eq!(server.buffered_amount(), 0);
    server.send_binary(refused.into_payload()).unwrap();
}

fn heartbeat(interval: u64) -> Config {
    Config::default().with_heartbeat(Some(
        HeartbeatConfig::default()
            .with_interval(Duration::from_secs(interval))
            .with_initial_timeout(Duration::from_secs(10))
            .with_min_timeout(Duration::from_secs(3))
            .with_max_timeout(Duration::from_secs(30))
            .with_max_misses(3),
    ))
}

#[test]
fn heartbeat_measures_the_round_trip() {
    let mut p = Pair::new(heartbeat(30), quiet());
    p.latency = Duration::from_millis(40);
    p.run_until(Instant::from_secs(200));
    let s = p.client.stats();
    assert!(s.heartbeat_pings >= 6, "{s:?}");
    assert_eq!(s.last_rtt, Some(Duration::from_millis(80)));
    assert_eq!(s.srtt, Some(Duration::from_millis(80)));
    assert_eq!(p.client.state(), State::Open);
    // Heartbeat Pongs are consumed, not reported as Pong events.
    assert!(!p.client_events.iter().any(|e| matches!(e, Event::Pong(_))));
    assert_eq!(p.server.stats().pings_received, s.heartbeat_pings);
}

/// The Pong deadline in the statistics is the one the heartbeat applies: the initial timeout
/// before any sample, then the smoothed round trip plus four deviations (RFC 6298's RTO), and
/// doubled per unanswered Ping.
#[test]
fn stats_give_the_pong_deadline_the_heartbeat_applies() {
    let mut p = Pair::new(heartbeat(30), quiet());
    p.latency = Duration::from_secs(1);
    assert_eq!(p.client.stats().pong_timeout, Some(Duration::from_secs(10)), "no sample yet: the initial timeout");
    assert_eq!(p.server.stats().pong_timeout, None, "no heartbeat, no deadline");
    // Ping at 30 s, Pong at 32 s: SRTT 2 s, RTTVAR 1 s: 2 + 4 × 1 = 6 s.
    p.run_until(Instant::from_secs(33));
    let s = p.client.stats();
    assert_eq!((s.srtt, s.rttvar), (Some(Duration::from_secs(2)), Duration::from_secs(1)));
    assert_eq!(s.pong_timeout, Some(Duration::from_secs(6)));
    // Ping at 62 s, Pong at 64 s: RTTVAR ¾ × 1 s + ¼ × 0 = 750 ms; 2 s + 3 s = 5 s.
    p.run_until(Instant::from_secs(65));
    assert_eq!(p.client.stats().pong_timeout, Some(Duration::from_secs(5)));

    let mut p = Pair::new(heartbeat(30), quiet());
    p.vanished[1] = true;
    // Ping at 30 s unanswered at 40 s: the retry waits twice the initial 10 s.
    p.run_until(Instant::from_secs(41));
    assert_eq!(p.client.stats().pong_timeout, Some(Duration::from_secs(20)));
}

#[test]
fn a_slow_but_live_network_is_not_killed() {
    let mut p = Pair::new(heartbeat(30), quiet());
    p.latency = Duration::from_secs(6); // 12 s round trip, above the 10 s initial deadline
    p.run_until(Instant::from_secs(3600));
    assert_eq!(p.client.state(), State::Open, "{:?}", p.client_events);
    let s = p.client.stats();
    assert_eq!(s.last_rtt, Some(Duration::from_secs(12)));
}

#[test]
fn a_dead_peer_is_found_after_three_misses() {
    let mut p = Pair::new(heartbeat(30), quiet());
    p.vanished[1] = true;
    assert!(p.run_until_closed(Duration::from_secs(600)));
    assert_eq!(final_cause(&p.client_events), CloseCause::HeartbeatTimeout { misses: 3, last_rtt: None });
    // Ping at 30 s, retries at 40 s (10 s) and 60 s (20 s, doubled), dead at 90 s (capped at 30 s).
    assert_eq!(p.now, Instant::from_secs(90));
}

/// A driver whose clock is far from zero (here a Unix-epoch clock) creates its connections at
/// that `now`: the heartbeat and idle timers count from it. (Before the constructors took `now`,
/// a connection's timers counted from zero, so its first `handle_timeout` pinged at once.)
#[test]
fn timers_count_from_the_creation_time_even_far_from_zero() {
    use sansio_ws::connection::Connection;
    let now = Instant::from_secs(1_700_000_000);
    let interval = HeartbeatConfig::default().interval;
    assert_eq!(interval, Duration::from_secs(30));
    let idle = Config::default().with_idle_timeout(Some(Duration::from_secs(60)));
    let connections = [
        Connection::server(Config::default(), now),
        Connection::server(idle.clone(), now),
        Connection::client(Config::default(), now),
        Connection::client_with_randomness(idle, now, Box::new(sansio_ws::rand::SeededRandom::new(1))),
    ];
    for mut conn in connections {
        let role = conn.role();
        assert_eq!(conn.poll_timeout(), Some(now + interval), "{role:?}: the heartbeat interval from now");
        conn.handle_timeout(now);
        let mut out = Vec::new();
        assert_eq!(conn.poll_transmit(now, &mut out), 0, "{role:?}: no Ping and no Close at once: {out:02x?}");
        assert_eq!(conn.poll_event(), None, "{role:?}");
        assert_eq!(conn.state(), State::Open, "{role:?}");
        assert_eq!(conn.stats().heartbeat_pings, 0, "{role:?}");
        assert_eq!(conn.poll_timeout(), Some(now + interval), "{role:?}: still the heartbeat interval from now");
        // Just before the interval, still nothing; at it, the first heartbeat Ping.
        let before = now + (interval - Duration::from_millis(1));
        conn.handle_timeout(before);
        assert_eq!(conn.poll_transmit(before, &mut out), 0, "{role:?}");
        conn.handle_timeout(now + interval);
        assert!(conn.poll_transmit(now + interval, &mut out) > 0, "{role:?}: the heartbeat pings at now + 30 s");
        assert_eq!(out[0], 0x89, "{role:?}: a Ping frame");
        assert_eq!(conn.stats().heartbeat_pings, 1, "{role:?}");
        assert_eq!(conn.state(), State::Open, "{role:?}");
    }
}

#[test]
fn idle_timeout_closes_with_going_away() {
    let mut p = Pair::new(quiet().with_idle_timeout(Some(Duration::from_secs(60))), quiet());
    p.client.send_text("x").unwrap();
    p.drive();
    assert!(p.run_until_closed(Duration::from_secs(120)));
    assert_eq!(final_cause(&p.client_events), CloseCause::IdleTimeout);
    assert!(
        p.server_events.contains(&Event::CloseReceived { code: CloseCode::GOING_AWAY, reason: "idle timeout".into() })
    );
}

#[test]
fn nothing_runs_after_the_end() {
    let mut p = pair();
    p.client.close(p.now, CloseCode::NORMAL, "").unwrap();
    assert!(p.run_until_closed(Duration::from_secs(10)));
    for c in [&mut p.client, &mut p.server] {
        assert_eq!(c.poll_timeout(), None);
        assert!(c.is_closed());
        c.handle_input(Instant::from_secs(20), &[0x81, 0x00]);
        c.handle_eof(Instant::from_secs(20));
        c.handle_timeout(Instant::from_secs(99));
        assert_eq!(c.poll_event(), None);
        assert!(c.ping(Bytes::new()).is_err());
        assert_eq!(c.close(Instant::from_secs(20), CloseCode::NORMAL, ""), Err(UsageError::Closed));
    }
    let _ = Role::Client;
}

#[test]
fn prepared_messages_are_encoded_once_and_shared() {
    use sansio_ws::connection::{Connection, PreparedMessage};
    let big = Message::Binary(Bytes::from(vec![3u8; 150_000]));
    let prepared = PreparedMessage::new(big.clone(), 64 * 1024);
    assert_eq!(prepared.frames().len(), 3);
    let mut servers: Vec<Connection> = (0..3).map(|_| Connection::server(quiet(), Instant::ZERO)).collect();
    for s in &mut servers {
        s.send_prepared(&prepared).unwrap();
    }
    // Every connection's output points at the same frame bytes.
    let firsts: Vec<*const u8> = servers.iter().map(|s| s.transmit_chunks().next().unwrap().as_ptr()).collect();
    assert!(firsts.iter().all(|&p| p == prepared.frames()[0].as_ptr()));
    // And the peer decodes the message intact, from a server and from a client alike.
    let mut p = pair();
    p.server.send_prepared(&prepared).unwrap();
    p.client.send_prepared(&prepared).unwrap();
    p.drive();
    assert_eq!(messages(&p.client_events), std::slice::from_ref(&big));
    assert_eq!(messages(&p.server_events), [big]);
}

#[test]
fn a_large_message_buffer_is_reused_once_the_application_drops_it() {
    use sansio_ws::connection::{Connection, Event};
    let mut client = Connection::client(quiet(), Instant::ZERO);
    for fill in [1u8, 2, 3, 4] {
        client.send_binary(vec![fill; 100_000]).unwrap();
    }
    let mut wire = Vec::new();
    while client.poll_transmit(Instant::from_secs(0), &mut wire) > 0 {}
    let frame = wire.len() / 4;
    let mut server = Connection::server(quiet(), Instant::ZERO);
    let next = |server: &mut Connection, i: usize| {
        // Fed in pieces, as reads deliver it.
        for piece in wire[i * frame..(i + 1) * frame].chunks(16 * 1024) {
            server.handle_input(Instant::from_secs(0), piece);
        }
        match server.poll_event() {
            Some(Event::Message(m)) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    };
    let first = next(&mut server, 0);
    let at = first.payload().as_ptr();
    drop(first);
    // Dropped: the next large message lands in the same buffer.
    let second = next(&mut server, 1);
    assert_eq!(second.payload().as_ptr(), at);
    assert_eq!(second.payload()[..], vec![2u8; 100_000][..]);
    // Still held by the application: the third gets fresh memory and the second stays intact.
    let third = next(&mut server, 2);
    assert_ne!(third.payload().as_ptr(), at);
    assert_eq!(second.payload()[..], vec![2u8; 100_000][..]);
    assert_eq!(third.payload()[..], vec![3u8; 100_000][..]);
    // As an application that echoes does: the second is dropped (sent) while the third is still
    // held; the fourth lands in the second's buffer.
    drop(second);
    // Allocations of the same size would get the second's memory back from the allocator if the
    // connection had let go of it.
    let decoys: Vec<Vec<u8>> = (0..16).map(|_| Vec::with_capacity(100_000)).collect();
    let fourth = next(&mut server, 3);
    assert!(decoys.iter().all(|d| d.as_ptr() != at));
    assert_eq!(fourth.payload().as_ptr(), at);
    assert_eq!(fourth.payload()[..], vec![4u8; 100_000][..]);
    assert_eq!(third.payload()[..], vec![3u8; 100_000][..]);
}

/// On a fast link (1 ms each way) a client whose machine vanishes is declared dead by the server's
/// heartbeat after the documented back-off: Pong deadlines of 3, 6 and 12 s from the 3 s floor,
/// so 21 s after the first unanswered Ping, not three retries at the floor (9 s).
#[test]
fn heartbeat_backs_off_from_the_floor_on_a_fast_link() {
    let mut p = Pair::new(quiet(), Config::default());
    p.latency = Duration::from_millis(1);
    // One answered Ping at 30 s of silence gives the server a round-trip sample of 2 ms.
    p.run_until(Instant::from_secs(31));
    assert_eq!(p.server.stats().last_rtt, Some(Duration::from_millis(2)));
    p.vanished[0] = true;
    // The next keepalive Ping goes out 30 s after the Pong arrived; death follows 21 s later.
    let first_unanswered = Instant::from_secs(30) + Duration::from_millis(2) + Duration::from_secs(30);
    assert!(p.run_until_closed(Duration::from_secs(120)));
    assert_eq!(
        final_cause(&p.server_events),
        CloseCause::HeartbeatTimeout { misses: 3, last_rtt: Some(Duration::from_millis(2)) }
    );
    assert_eq!(p.now - first_unanswered, Duration::from_secs(21));
}

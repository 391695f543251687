//! Properties of the connection: chunking invariance, and a model-based run of random commands on
//! a simulated pair.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use sansio_ws::connection::{Config, Connection, Event, Message, MessageKind, ReceiveMode};
use sansio_ws::frame::CloseCode;
use sansio_ws::sim::Pair;
use sansio_ws::{Instant, Role};

const KEY: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend((n as u16).to_be_bytes());
        }
    }
    f.extend(KEY);
    f.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
    f
}

/// Client-to-server wire bytes: whole messages, fragmented ones with control frames between, and
/// sometimes garbage (so errors are covered too).
fn wire() -> impl Strategy<Value = Vec<u8>> {
    let text = ".{0,40}".prop_map(|s: String| masked(0x81, s.as_bytes()));
    let binary = prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| masked(0x82, &b));
    let fragmented = (".{1,30}", prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(s, ping): (String, Vec<u8>)| {
        let bytes = s.as_bytes();
        let cut = bytes.len() / 2;
        let mut f = masked(0x01, &bytes[..cut]);
        f.extend(masked(0x89, &ping));
        f.extend(masked(0x80, &bytes[cut..]));
        f
    });
    let garbage = prop::collection::vec(any::<u8>(), 1..12);
    // Large frames (received straight into their message), valid and invalid text among them.
    let large_text = ".{150,600}".prop_map(|s: String| masked(0x81, s.as_bytes()));
    let large_binary = prop::collection::vec(any::<u8>(), 500..2000).prop_map(|b| masked(0x82, &b));
    let large_fragments = (".{150,400}", ".{150,400}").prop_map(|(a, b): (String, String)| {
        let mut f = masked(0x01, a.as_bytes());
        f.extend(masked(0x80, b.as_bytes()));
        f
    });
    let bad_large_text = prop::collection::vec(any::<u8>(), 500..900).prop_map(|b| masked(0x81, &b));
    let piece = prop_oneof![
        4 => text, 4 => binary, 3 => fragmented, 1 => garbage,
        2 => large_text, 2 => large_binary, 1 => large_fragments, 1 => bad_large_text
    ];
    prop::collection::vec(piece, 1..8).prop_map(|pieces| pieces.concat())
}

fn feed(input: &[u8], cuts: &[usize], mode: ReceiveMode) -> (Vec<Event>, Vec<u8>) {
    let now = Instant::from_secs(1);
    let mut conn = Connection::server(Config::default().with_heartbeat(None).with_receive_mode(mode), now);
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    points.push(input.len());
    for (i, p) in points.into_iter().enumerate() {
        let piece = &input[start..p.max(start)];
        if i % 2 == 0 {
            conn.handle_input(now, piece);
        } else {
            // Every other piece is read into the connection's own buffer instead.
            conn.input_buffer(piece.len())[..piece.len()].copy_from_slice(piece);
            conn.handle_input_buffer(now, piece.len());
        }
        start = p.max(start);
        // The drain contract: events first (they may make us send), then output, until neither
        // gives anything.
        loop {
            let before = events.len();
            while let Some(e) = conn.poll_event() {
                events.push(e);
            }
            let mut wrote = 0;
            while conn.poll_transmit(now, &mut out) > 0 {
                wrote += 1;
            }
            if events.len() == before && wrote == 0 {
                break;
            }
        }
    }
    (events, out)
}

/// Streamed pieces depend on how input arrives; compare what they add up to.
fn normalise(events: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut acc: Vec<u8> = Vec::new();
    for e in events {
        match e {
            Event::Fragment(f) => {
                acc.extend_from_slice(&f.data);
                if f.last {
                    let data = Bytes::from(std::mem::take(&mut acc));
                    out.push(Event::Message(match f.kind {
                        MessageKind::Text => Message::Text(String::from_utf8(data.to_vec()).unwrap().into()),
                        MessageKind::Binary => Message::Binary(data),
                    }));
                }
            }
            other => out.push(other),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// However the byte stream is split, the same events and the same output come out.
    #[test]
    fn chunking_does_not_change_events(input in wire(), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let whole = feed(&input, &[], ReceiveMode::Whole);
        prop_assert_eq!(&feed(&input, &cuts, ReceiveMode::Whole), &whole);
        // Byte by byte too.
        let every: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(&feed(&input, &every, ReceiveMode::Whole), &whole);
        // Streaming mode delivers the same messages, in pieces.
        let (streamed, out) = feed(&input, &cuts, ReceiveMode::Streaming);
        let (whole_events, whole_out) = whole;
        prop_assert_eq!(normalise(streamed), whole_events);
        prop_assert_eq!(out, whole_out);
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// `copy`: through `send_*_copy` (a borrowed payload) rather than `send`.
    Send {
        client: bool,
        text: bool,
        len: usize,
        copy: bool,
    },
    Fragments {
        client: bool,
        pieces: u8,
    },
    Ping {
        client: bool,
    },
    Advance(u64),
    Chunk(Option<usize>),
    Latency(u64),
    Pause {
        client: bool,
        on: bool,
    },
    Close {
        client: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<bool>(), any::<bool>(), prop_oneof![0usize..200, 900usize..1200, 60_000usize..140_000], any::<bool>())
            .prop_map(|(client, text, len, copy)| Op::Send { client, text, len, copy }),
        2 => (any::<bool>(), 1u8..5).prop_map(|(client, pieces)| Op::Fragments { client, pieces }),
        2 => any::<bool>().prop_map(|client| Op::Ping { client }),
        3 => (0u64..40_000).prop_map(Op::Advance),
        1 => prop::option::of(1usize..3000).prop_map(Op::Chunk),
        1 => (0u64..2_000).prop_map(Op::Latency),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(client, on)| Op::Pause { client, on }),
        1 => any::<bool>().prop_map(|client| Op::Close { client }),
    ]
}

fn payload(seed: usize, len: usize, text: bool) -> Message {
    if text {
        let s: String = (0..len).map(|i| ['a', 'é', '☃', '𝄞'][(seed + i) % 4]).collect();
        Message::Text(s.into())
    } else {
        Message::Binary((0..len).map(|i| (seed * 31 + i) as u8).collect::<Vec<u8>>().into())
    }
}

fn received(events: &[Event]) -> Vec<Message> {
    events.iter().filter_map(|e| if let Event::Message(m) = e { Some(m.clone()) } else { None }).collect()
}

fn check_no_busy_loop(p: &Pair) -> Result<(), TestCaseError> {
    for c in [&p.client, &p.server] {
        if let Some(t) = c.poll_timeout() {
            prop_assert!(t > p.now, "deadline {t:?} not after now {:?}", p.now);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random commands on both sides, random network: messages sent while open arrive intact and in
    /// order, each side ends with exactly one final event, no deadline is left in the past.
    #[test]
    fn random_operations_on_a_pair(ops in prop::collection::vec(op(), 1..40), heartbeat in any::<bool>()) {
        let cfg = Config::default()
            .with_heartbeat(if heartbeat { Some(Default::default()) } else { None })
            .with_high_water_mark(1 << 30);
        let mut p = Pair::new(cfg.clone(), cfg);
        let mut sent: [Vec<Message>; 2] = [Vec::new(), Vec::new()];
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Send { client, text, len, copy } => {
                    let m = payload(i, len, text);
                    let c = if client { &mut p.client } else { &mut p.server };
                    let ok = match (&m, copy) {
                        (Message::Text(t), true) => c.send_text_copy(t).is_ok(),
                        (Message::Binary(b), true) => c.send_binary_copy(b).is_ok(),
                        (_, false) => c.send(m.clone()).is_ok(),
                    };
                    if ok {
                        sent[usize::from(client)].push(m);
                    }
                }
                Op::Fragments { client, pieces } => {
                    let c = if client { &mut p.client } else { &mut p.server };
                    let mut whole = Vec::new();
                    let mut ok = true;
                    for k in 0..pieces {
                        let piece = Bytes::from(vec![k; 1000 * usize::from(k)]);
                        whole.extend_from_slice(&piece);
                        ok &= c.send_fragment(MessageKind::Binary, piece, k + 1 == pieces).is_ok();
                    }
                    if ok {
                        sent[usize::from(client)].push(Message::Binary(whole.into()));
                    }
                }
                Op::Ping { client } => {
                    let c = if client { &mut p.client } else { &mut p.server };
                    let _ = c.ping(Bytes::from_static(b"p"));
                }
                Op::Advance(ms) => {
                    let t = p.now + Duration::from_millis(ms);
                    p.run_until(t);
                    check_no_busy_loop(&p)?;
                }
                Op::Chunk(c) => p.chunk = c,
                Op::Latency(ms) => p.latency = Duration::from_millis(ms),
                Op::Pause { client, on } => p.paused[usize::from(!client)] = on,
                Op::Close { client } => {
                    let now = p.now;
                    let c = if client { &mut p.client } else { &mut p.server };
                    let _ = c.close(now, CloseCode::NORMAL, "bye");
                }
            }
            p.drive();
            // What arrived so far is an in-order prefix of what was sent: nothing lost in the
            // middle, corrupted, reordered or invented.
            for (side, events) in [(0, &p.client_events), (1, &p.server_events)] {
                let got = received(events);
                prop_assert!(got.len() <= sent[side].len());
                prop_assert_eq!(&got[..], &sent[side][..got.len()]);
            }
        }
        p.paused = [false, false];
        let now = p.now;
        let _ = p.client.close(now, CloseCode::NORMAL, "end");
        prop_assert!(p.run_until_closed(Duration::from_secs(120)), "both sides close within the timeouts");
        for (side, events) in [(0, &p.client_events), (1, &p.server_events)] {
            let finals = events.iter().filter(|e| matches!(e, Event::Closed(_))).count();
            prop_assert_eq!(finals, 1);
            prop_assert!(matches!(events.last(), Some(Event::Closed(_))));
            let got = received(events);
            prop_assert_eq!(&got[..], &sent[side][..got.len()]);
            // With a clean close and nothing aborted, everything sent arrived.
            if let Some(Event::Closed(c)) = events.last() {
                if c.unsent.messages == 0 && matches!(c.cause, sansio_ws::connection::CloseCause::Clean { .. }) {
                    let other = if side == 0 { &p.server_events } else { &p.client_events };
                    if let Some(Event::Closed(oc)) = other.last() {
                        if oc.unsent.messages == 0 {
                            prop_assert_eq!(got.len(), sent[side].len(), "clean close, nothing unsent: all delivered");
                        }
                    }
                }
            }
        }
        check_no_busy_loop(&p)?;
        let _ = Role::Client;
    }
}

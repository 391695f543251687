//! A client and a server over the simulated network of [`sansio_ws::sim::Pair`], driven by a script
//! of application commands and network changes, with a model of what must arrive.

use arbitrary::Arbitrary;
use core::time::Duration;
use sansio_ws::Instant;
use sansio_ws::connection::{CloseCause, Config, Connection, Event, Message, MessageKind, State, Utf8Bytes};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{Accept, ClientConfig, ClientHandshake, ServerConfig, ServerHandshake};
use sansio_ws::rand::SeededRandom;
use sansio_ws::sim::Pair;

use crate::{FuzzConfig, FuzzDeflate};

/// The largest message a script sends.
const MAX_MESSAGE: usize = 70_000;

/// One step of a script. `client` picks the side: true for the client, false for the server.
#[derive(Arbitrary, Debug)]
pub enum PairOp {
    /// A text message: `pattern` repeated to about `len` bytes; `copy`: sent from a borrowed
    /// payload (`send_text_copy`).
    Text {
        client: bool,
        pattern: String,
        len: u32,
        copy: bool,
    },
    /// A binary message: `pattern` repeated to `len` bytes; `copy` as for text.
    Binary {
        client: bool,
        pattern: Vec<u8>,
        len: u32,
        copy: bool,
    },
    Fragment {
        client: bool,
        text: bool,
        data: Vec<u8>,
        last: bool,
    },
    Ping {
        client: bool,
        data: Vec<u8>,
    },
    /// A close with `code` if it is legal on the wire, 1000 otherwise.
    Close {
        client: bool,
        code: u16,
        reason: String,
    },
    Abort {
        client: bool,
    },
    /// Run the pair for this many milliseconds of virtual time.
    Advance(u16),
    Drive,
    Chunk(Option<u16>),
    /// One-way latency in units of 10 ms.
    Latency(u8),
    Pause {
        client: bool,
        paused: bool,
    },
}

/// The settings of both sides: `None` is `Config::default()`; permessage-deflate offered and
/// accepted with the same settings on both sides, or not offered.
#[derive(Arbitrary, Debug)]
pub struct Setup {
    pub client: Option<FuzzConfig>,
    pub server: Option<FuzzConfig>,
    pub deflate: Option<FuzzDeflate>,
}

/// What one direction (0: client to server, 1: server to client) carried.
#[derive(Default)]
struct Direction {
    sent: Vec<Message>,
    /// The fragmented message being sent.
    sending: Option<(MessageKind, Vec<u8>)>,
    received: Vec<Message>,
    /// The streamed message being received.
    receiving: Vec<u8>,
    /// Events of the receiving side already looked at.
    seen: usize,
    /// The sender started the close handshake with `close()`.
    sender_closed: bool,
}

/// Runs `ops`, then closes whatever is still open, and checks:
/// - the messages each side received are a prefix of those the other sent: nothing reordered,
///   corrupted or invented; and all of them when both ended cleanly after the sender's `close()`;
/// - each side reports at most one [`Event::Closed`], always last;
/// - no deadline is ever in the past, and after running to a time every deadline is later;
/// - both sides are closed within the timeouts after the final close.
pub fn run(setup: &Setup, ops: &[PairOp]) {
    // Every timer at least 10 ms: a zero heartbeat interval pings without end at one instant of
    // virtual time (see docs/FUZZING.md, known issues).
    let cfg = |c: &Option<FuzzConfig>| c.as_ref().map_or_else(Config::default, |c| c.to_config(10));
    let mut pair = Pair::new(cfg(&setup.client), cfg(&setup.server));
    (pair.client, pair.server) = connect(cfg(&setup.client), cfg(&setup.server), setup.deflate.as_ref());
    let mut dirs = [Direction::default(), Direction::default()];
    for op in ops {
        apply(&mut pair, &mut dirs, op);
        check(&mut pair, &mut dirs);
    }
    pair.paused = [false, false];
    let now = pair.now;
    for client in [true, false] {
        let conn = side(&mut pair, client);
        if conn.state() == State::Open && conn.close(now, CloseCode::NORMAL, "end").is_ok() {
            dirs[usize::from(!client)].sender_closed = true;
        }
    }
    assert!(pair.run_until_closed(Duration::from_secs(600)), "not closed within 600 s: {pair:?}");
    check(&mut pair, &mut dirs);
    let clean = |events: &[Event]| matches!(events.last(), Some(Event::Closed(c)) if matches!(c.cause, CloseCause::Clean { .. }));
    if clean(&pair.client_events) && clean(&pair.server_events) {
        for d in &dirs {
            if d.sender_closed {
                assert_eq!(d.received.len(), d.sent.len(), "clean close after close(), yet messages were lost");
            }
        }
    }
}

/// A client and a server connected by the real opening handshakes at time zero, as a driver does
/// it: the client's request to the server's handshake, `accept`, the server's connection from its
/// `Upgraded` (its first output is the 101), that output to the client's handshake, the client's
/// connection from its `Upgraded`. With `deflate`, both sides offer and accept permessage-deflate
/// with the same settings, which agree on exactly its parameters.
pub fn connect(client_cfg: Config, server_cfg: Config, deflate: Option<&FuzzDeflate>) -> (Connection, Connection) {
    let now = Instant::ZERO;
    let deflate_cfg = deflate.map(FuzzDeflate::config);
    let client_config = ClientConfig::default().with_deflate(deflate_cfg);
    let mut client =
        ClientHandshake::with_randomness("ws://example.com/", client_config, now, Box::new(SeededRandom::new(0x5eed)))
            .expect("a valid request");
    let mut request = Vec::new();
    client.write_request(&mut request);
    let mut server = ServerHandshake::new(ServerConfig::default().with_deflate(deflate_cfg), now);
    let req = server.handle_input(&request).expect("the server accepts the request").expect("a complete request");
    let upgraded = server.accept(&req, Accept::new()).expect("a plain accept");
    assert!(upgraded.trailing().is_empty());
    assert_eq!(upgraded.deflate(), deflate.map(FuzzDeflate::params), "the server agrees on the parameters asked");
    let response = upgraded.response_bytes().to_vec();
    let mut server_conn = upgraded.into_connection(server_cfg, now);
    let mut wire = Vec::new();
    while server_conn.poll_transmit(now, &mut wire) > 0 {}
    assert_eq!(wire, response, "the server's first output is its 101");
    let upgraded = client.handle_input(&wire).expect("the client accepts the response").expect("a complete response");
    assert_eq!(upgraded.deflate(), deflate.map(FuzzDeflate::params), "the client agrees");
    let client_conn = upgraded.into_connection(client_cfg, now);
    assert_eq!(client_conn.is_deflate_enabled(), deflate.is_some());
    assert_eq!(server_conn.is_deflate_enabled(), deflate.is_some());
    (client_conn, server_conn)
}

fn side(pair: &mut Pair, client: bool) -> &mut Connection {
    if client { &mut pair.client } else { &mut pair.server }
}

fn repeat(pattern: &[u8], len: u32) -> Vec<u8> {
    let len = len as usize % (MAX_MESSAGE + 1);
    if pattern.is_empty() { Vec::new() } else { pattern.iter().copied().cycle().take(len).collect() }
}

fn apply(pair: &mut Pair, dirs: &mut [Direction; 2], op: &PairOp) {
    let now = pair.now;
    match op {
        PairOp::Text { client, pattern, len, copy } => {
            let mut text = String::from_utf8_lossy(&repeat(pattern.as_bytes(), *len)).into_owned();
            while text.len() > MAX_MESSAGE {
                text.pop();
            }
            let msg = Message::Text(Utf8Bytes::from(text.as_str()));
            let sent = match copy {
                true => side(pair, *client).send_text_copy(&text).is_ok(),
                false => side(pair, *client).send_text(text).is_ok(),
            };
            if sent {
                dirs[usize::from(!client)].sent.push(msg);
            }
        }
        PairOp::Binary { client, pattern, len, copy } => {
            let data = repeat(pattern, *len);
            let sent = match copy {
                true => side(pair, *client).send_binary_copy(&data).is_ok(),
                false => side(pair, *client).send_binary(data.clone()).is_ok(),
            };
            if sent {
                dirs[usize::from(!client)].sent.push(Message::Binary(data.into()));
            }
        }
        PairOp::Fragment { client, text, data, last } => {
            let kind = if *text { MessageKind::Text } else { MessageKind::Binary };
            if side(pair, *client).send_fragment(kind, data.clone().into(), *last).is_ok() {
                let d = &mut dirs[usize::from(!client)];
                let (kind, buf) = d.sending.get_or_insert_with(|| (kind, Vec::new()));
                buf.extend_from_slice(data);
                if *last {
                    let msg = message(*kind, core::mem::take(buf));
                    d.sent.push(msg);
                    d.sending = None;
                }
            }
        }
        PairOp::Ping { client, data } => drop(side(pair, *client).ping(data.clone())),
        PairOp::Close { client, code, reason } => {
            let code = Some(CloseCode::from_u16(*code)).filter(|c| c.is_allowed_on_wire()).unwrap_or(CloseCode::NORMAL);
            if side(pair, *client).close(now, code, reason).is_ok() {
                dirs[usize::from(!client)].sender_closed = true;
            }
        }
        PairOp::Abort { client } => side(pair, *client).abort(),
        PairOp::Advance(ms) => {
            let t = now + Duration::from_millis(u64::from(*ms));
            pair.run_until(t);
            for c in [&pair.client, &pair.server] {
                let next = c.poll_timeout();
                assert!(next.is_none_or(|d| d > t), "after running until {t:?}, a deadline at {next:?}");
            }
        }
        PairOp::Drive => pair.drive(),
        PairOp::Chunk(n) => pair.chunk = n.map(usize::from),
        PairOp::Latency(n) => pair.latency = Duration::from_millis(u64::from(*n) * 10),
        PairOp::Pause { client, paused } => pair.paused[usize::from(!client)] = *paused,
    }
}

fn message(kind: MessageKind, data: Vec<u8>) -> Message {
    match kind {
        MessageKind::Text => Message::Text(Utf8Bytes::try_from_bytes(data.into()).expect("text is valid UTF-8")),
        MessageKind::Binary => Message::Binary(data.into()),
    }
}

/// Takes the new events of both sides into the model and checks the invariants.
fn check(pair: &mut Pair, dirs: &mut [Direction; 2]) {
    for (i, d) in dirs.iter_mut().enumerate() {
        // Direction 0 (client to server) is received by the server.
        let (events, receiver) =
            if i == 0 { (&pair.server_events, &pair.server) } else { (&pair.client_events, &pair.client) };
        for ev in &events[d.seen..] {
            match ev {
                Event::Message(m) => d.received.push(m.clone()),
                Event::Fragment(f) => {
                    assert_eq!(f.first, d.receiving.is_empty(), "direction {i}: piece out of place: {f:?}");
                    d.receiving.extend_from_slice(&f.data);
                    if f.last {
                        let msg = message(f.kind, core::mem::take(&mut d.receiving));
                        d.received.push(msg);
                    }
                }
                _ => {}
            }
        }
        d.seen = events.len();
        let n = d.received.len();
        assert!(n <= d.sent.len(), "direction {i}: {n} messages received, {} sent", d.sent.len());
        if let Some(k) = (0..n).find(|&k| d.received[k] != d.sent[k]) {
            panic!("direction {i}: message {k} differs: sent {:?}, received {:?}", d.sent[k], d.received[k]);
        }
        let closed = events.iter().filter(|e| matches!(e, Event::Closed(_))).count();
        assert!(closed <= 1, "{closed} Closed events");
        if closed == 1 {
            assert!(matches!(events.last(), Some(Event::Closed(_))), "Closed is not the last event: {events:?}");
        }
        let next = receiver.poll_timeout();
        assert!(next.is_none_or(|t| t >= pair.now), "a deadline in the past: {next:?} at {:?}", pair.now);
    }
}

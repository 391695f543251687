//! What the loop counts: every kind of request, connection end and message, the same from the
//! loop and from another thread, and summed over a server's loops.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use sansio_ws::connection::{Config, Message};
use sansio_ws::handshake::{OriginPolicy, Reject, Request, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, Decision, DriverConfig, EventLoop, Handler, Metrics};

/// Echoes; refuses requests for `/no`; serves a page at `/page`.
struct Echo;

impl Handler for Echo {
    fn on_request(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, request: &Request) -> Decision {
        match request.path() {
            "/no" => Decision::Reject(Reject::new(404)),
            _ => Decision::Accept(Default::default()),
        }
    }
    fn on_http(&mut self, _ctx: &mut Ctx<'_>, path: &str) -> Option<Reject> {
        (path == "/page").then(|| Reject::new(200).with_body("a page\n"))
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        ctx.send(id, message).expect("the echo is queued");
    }
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// Sends `bytes` from a thread, reads the answer's head, sends `then`, and returns what the
/// server answered until it closed (or, with `vanish`, only the head: the client goes at once).
fn exchange_or_vanish(
    el: &mut EventLoop<Echo>,
    addr: SocketAddr,
    bytes: Vec<u8>,
    then: Vec<u8>,
    vanish: bool,
) -> Vec<u8> {
    let t = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&bytes).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && matches!(s.read(&mut byte), Ok(1)) {
            head.push(byte[0]);
        }
        if !then.is_empty() {
            s.write_all(&then).unwrap();
        }
        if vanish {
            return head;
        }
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        head.extend(rest);
        head
    });
    while !t.is_finished() {
        el.turn(Some(Duration::from_millis(5))).unwrap();
    }
    t.join().unwrap()
}

fn exchange(el: &mut EventLoop<Echo>, addr: SocketAddr, bytes: Vec<u8>, then: Vec<u8>) -> Vec<u8> {
    exchange_or_vanish(el, addr, bytes, then, false)
}

/// A masked client frame (all-zero key), FIN set.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

#[test]
fn every_outcome_is_counted_once() {
    let config = DriverConfig::default()
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::SameHost))
        .with_connection(Config::default().with_heartbeat(None))
        .with_linger(Duration::from_millis(50));
    let mut el = EventLoop::new(config, Echo).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let handle = el.handle();
    let request =
        |path: &str, extra: &str| format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}{UPGRADE}\r\n").into_bytes();

    // A page, a plain GET with no page, an Origin refused, TLS, a request the application refuses.
    let page = exchange(&mut el, addr, format!("GET /page HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes(), vec![]);
    assert!(page.starts_with(b"HTTP/1.1 200 "));
    let plain = exchange(&mut el, addr, format!("GET /x HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes(), vec![]);
    assert!(plain.starts_with(b"HTTP/1.1 400 "));
    let origin = exchange(&mut el, addr, request("/", "Origin: http://elsewhere.example\r\n"), vec![]);
    assert!(origin.starts_with(b"HTTP/1.1 403 "));
    assert!(exchange(&mut el, addr, vec![0x16, 0x03, 0x01, 0x00, 0x10], vec![]).is_empty());
    let refused = exchange(&mut el, addr, request("/no", ""), vec![]);
    assert!(refused.starts_with(b"HTTP/1.1 404 "));

    // A connection that sends two messages and a Ping, then closes cleanly.
    let mut then = frame(0x1, b"one");
    then.extend(frame(0x2, b"two"));
    then.extend(frame(0x9, b"p"));
    then.extend(frame(0x8, &1000u16.to_be_bytes()));
    let clean = exchange(&mut el, addr, request("/", ""), then);
    assert!(clean.starts_with(b"HTTP/1.1 101 "));
    // One that sends invalid UTF-8, and one that vanishes.
    let invalid = exchange(&mut el, addr, request("/", ""), frame(0x1, &[0xff, 0xfe]));
    assert!(invalid.windows(2).any(|w| w == [0x03, 0xef]), "Close 1007");
    let vanished = exchange_or_vanish(&mut el, addr, request("/", ""), frame(0x1, b"half"), true);
    assert!(vanished.starts_with(b"HTTP/1.1 101 "));
    let start = Instant::now();
    while el.sockets() > 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", el.metrics());
        el.turn(Some(Duration::from_millis(5))).unwrap();
    }

    let m = el.metrics();
    assert_eq!(m.accepted, 8);
    assert_eq!(m.http_responses, 1);
    assert_eq!(m.refused_bad_request, 1);
    assert_eq!(m.refused_origin, 1);
    assert_eq!(m.refused_tls_on_plain, 1);
    assert_eq!(m.refused_by_application, 1);
    assert_eq!(m.connections_opened, 3);
    assert_eq!((m.open, m.handshaking, m.memory_held), (0, 0, 0));
    assert_eq!(m.messages_received, 3, "one, two, half");
    assert_eq!(m.messages_queued, 3, "their echoes");
    assert_eq!(m.pings_received, 1);
    assert_eq!(m.closed_clean_remote, 1);
    assert_eq!(m.closed_invalid_payload, 1);
    assert_eq!(m.closed_peer_vanished, 1);
    assert_eq!(m.closed_total(), 3);
    assert!(m.bytes_read > 0 && m.bytes_written > 0);
    assert_eq!(m.srtt_buckets, [0; 8], "no heartbeat, no round trip measured");
    // Another thread reads the same, as of the last turn.
    assert_eq!(handle.metrics(), m);
}

#[test]
fn merging_sums_counters_and_keeps_the_highest_peak() {
    let mut a = Metrics::default();
    let mut b = Metrics::default();
    a.open = 2;
    a.accepted = 5;
    a.memory_peak = 100;
    a.srtt_buckets[1] = 3;
    b.open = 1;
    b.accepted = 7;
    b.memory_peak = 40;
    b.closed_clean_local = 4;
    b.srtt_buckets[1] = 2;
    b.srtt_buckets[7] = 1;
    a.merge(&b);
    assert_eq!((a.open, a.accepted, a.memory_peak, a.closed_clean_local), (3, 12, 100, 4));
    assert_eq!(a.srtt_buckets, [0, 5, 0, 0, 0, 0, 0, 1]);
    assert_eq!(a.closed_total(), 4);
}

//! `wss://` on loopback, with certificates made for each test: both roles in one loop, every kind
//! of message, pings both ways, both close initiators, the close order (close_notify before the
//! TCP close), a peer that cuts TCP before and after the close handshake, certificates refused for
//! each reason, and a peer that stalls in the TLS handshake.
#![cfg(feature = "tls")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use sansio_ws::Role;
use sansio_ws::connection::{CloseCause, Closed, Config, Event, Message, MessageKind, Side};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::tls::rustls;
use sansio_ws_mio::{ConnId, ConnectError, ConnectPhase, Ctx, DriverConfig, EventLoop, Handler, Opened, tls};

#[path = "../examples/shared/certs.rs"]
#[allow(dead_code)]
mod certs;

/// A CA, a server certificate for localhost signed by it, written where the driver's PEM loaders
/// read them.
struct Pki {
    dir: PathBuf,
    ca: certs::TestCa,
}

impl Pki {
    fn new() -> Pki {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sansio-ws-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = certs::TestCa::new("test CA").unwrap();
        std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
        Pki { dir, ca }
    }

    /// Server settings for a leaf (written to files first, as a user's would be).
    fn server(&self, leaf: &certs::Leaf) -> Arc<rustls::ServerConfig> {
        let (cert, key) = (self.dir.join("cert.pem"), self.dir.join("key.pem"));
        std::fs::write(&cert, &leaf.cert_pem).unwrap();
        std::fs::write(&key, &leaf.key_pem).unwrap();
        tls::server_config(&cert, &key).unwrap()
    }

    /// Client settings that trust this CA only.
    fn client(&self) -> Arc<rustls::ClientConfig> {
        tls::client_config(tls::roots_from_pem_file(rustls::RootCertStore::empty(), &self.dir.join("ca.pem")).unwrap())
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Default)]
struct Recorder {
    roles: std::collections::HashMap<ConnId, Role>,
    opened: Vec<(Role, Opened)>,
    received: Vec<(Role, Message)>,
    pongs: Vec<Role>,
    closed: Vec<(Role, Closed)>,
    errors: Vec<ConnectError>,
    /// The client sends these on open, pings, and closes after as many echoes.
    script: Vec<Message>,
    /// The server closes first (after echoing everything) instead of the client.
    server_closes: bool,
}

impl Handler for Recorder {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        self.roles.insert(id, opened.role);
        self.opened.push((opened.role, opened.clone()));
        let conn = ctx.connection_mut(id).unwrap();
        conn.ping(Bytes::from_static(b"are you there")).unwrap();
        if opened.role == Role::Client {
            for m in self.script.clone() {
                ctx.send(id, m).unwrap();
            }
            // A message in three fragments, streamed.
            let conn = ctx.connection_mut(id).unwrap();
            for (part, last) in [(&b"frag"[..], false), (b"ment", false), (b"ed", true)] {
                conn.send_fragment(MessageKind::Text, Bytes::from_static(part), last).unwrap();
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        let role = self.roles[&id];
        self.received.push((role, message.clone()));
        let expected = self.script.len() + 1;
        match role {
            Role::Server => {
                ctx.send(id, message).unwrap();
                let echoed = self.received.iter().filter(|(r, _)| *r == Role::Server).count();
                if self.server_closes && echoed == expected {
                    ctx.close(id, CloseCode::GOING_AWAY, "server done").unwrap();
                }
            }
            Role::Client => {
                let echoes = self.received.iter().filter(|(r, _)| *r == Role::Client).count();
                if !self.server_closes && echoes == expected {
                    ctx.close(id, CloseCode::NORMAL, "client done").unwrap();
                }
            }
        }
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        if let Event::Pong(payload) = event {
            assert_eq!(&payload[..], b"are you there");
            self.pongs.push(self.roles[&id]);
        }
    }

    fn on_close(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        self.closed.push((self.roles[&id], closed.clone()));
    }

    fn on_connect_error(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, error: ConnectError) {
        self.errors.push(error);
    }
}

fn config(pki: &Pki) -> DriverConfig {
    DriverConfig::default()
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any))
        .with_connection(Config::default().with_heartbeat(None))
        .with_tls_client(pki.client())
}

fn turn_until<H: Handler>(el: &mut EventLoop<H>, mut done: impl FnMut(&H) -> bool) {
    let start = StdInstant::now();
    while !done(el.handler()) {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out");
        el.turn(Some(Duration::from_millis(20))).unwrap();
    }
}

fn turn_while<T>(el: &mut EventLoop<impl Handler>, t: &std::thread::JoinHandle<T>) {
    let start = StdInstant::now();
    while !t.is_finished() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out");
        el.turn(Some(Duration::from_millis(10))).unwrap();
    }
}

fn script() -> Vec<Message> {
    let big = Message::Binary(Bytes::from((0..8 << 20).map(|i| (i * 7) as u8).collect::<Vec<u8>>()));
    vec![Message::Text("hello".into()), Message::Text("é☃𝄞".into()), Message::Binary(Bytes::new()), big]
}

/// Everything over TLS, both roles in one loop, the client closing: echoes byte for byte, the
/// pings answered both ways, a clean close on both sides, and what TLS agreed.
#[test]
fn both_roles_talk_over_tls_and_close_cleanly() {
    for server_closes in [false, true] {
        let pki = Pki::new();
        let leaf = pki.ca.leaf(&["localhost"]).unwrap();
        let handler = Recorder { script: script(), server_closes, ..Recorder::default() };
        let mut el = EventLoop::new(config(&pki), handler).unwrap();
        let addr = el.listen_tls("127.0.0.1:0".parse().unwrap(), pki.server(&leaf)).unwrap();
        el.connect(&format!("wss://localhost:{}/secure", addr.port())).unwrap();
        turn_until(&mut el, |h| h.closed.len() == 2 || !h.errors.is_empty());
        let h = el.handler();
        assert!(h.errors.is_empty(), "{:?}", h.errors);
        let mut expected = script();
        expected.push(Message::Text("fragmented".into()));
        for role in [Role::Server, Role::Client] {
            let got: Vec<_> = h.received.iter().filter(|(r, _)| *r == role).map(|(_, m)| m.clone()).collect();
            assert_eq!(got, expected, "{role:?}");
            assert_eq!(h.pongs.iter().filter(|r| **r == role).count(), 1, "{role:?} got its Pong");
        }
        let (code, reason, first) = if server_closes {
            (CloseCode::GOING_AWAY, "server done", Role::Server)
        } else {
            (CloseCode::NORMAL, "client done", Role::Client)
        };
        for (role, closed) in &h.closed {
            let initiator = if *role == first { Side::Local } else { Side::Remote };
            assert_eq!(closed.cause, CloseCause::Clean { code, reason: reason.into(), initiator }, "{role:?}");
            assert_eq!(closed.unsent, Default::default());
        }
        let server = &h.opened.iter().find(|(r, _)| *r == Role::Server).unwrap().1;
        let client = &h.opened.iter().find(|(r, _)| *r == Role::Client).unwrap().1;
        for opened in [server, client] {
            let info = opened.tls.as_ref().expect("a TLS connection says what it agreed");
            assert_eq!(info.server_name.as_deref(), Some("localhost"), "SNI, and the name verified");
            assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
            assert_eq!(info.version, "TLSv1_3");
            assert!(info.cipher_suite.starts_with("TLS13_"), "{}", info.cipher_suite);
        }
        let timing = client.timing.unwrap();
        assert!(timing.tls > Duration::ZERO, "{timing:?}");
        // Every socket finishes: nothing loops on reads after closing.
        let start = StdInstant::now();
        while el.sockets() > 0 {
            assert!(start.elapsed() < Duration::from_secs(5), "{} sockets left", el.sockets());
            el.turn(Some(Duration::from_millis(10))).unwrap();
        }
    }
}

/// A blocking TLS client of our own, to do what the driver never does (cut TCP, skip
/// close_notify) and to see what the server sends, in order.
struct RawTls {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl RawTls {
    fn connect(addr: SocketAddr, pki_client: Arc<rustls::ClientConfig>) -> RawTls {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ClientConnection::new(pki_client, "localhost".try_into().unwrap()).unwrap();
        let mut raw = RawTls { tls: rustls::StreamOwned::new(conn, sock) };
        raw.tls
            .write_all(
                b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            raw.tls.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
        raw
    }

    /// A masked Close frame with `code`.
    fn send_close(&mut self, code: u16) {
        let mut frame = vec![0x88, 0x80 | 2, 0, 0, 0, 0];
        frame.extend_from_slice(&code.to_be_bytes());
        self.tls.write_all(&frame).unwrap();
    }

    /// The next frame's opcode and payload (unmasked: from a server).
    fn frame(&mut self) -> (u8, Vec<u8>) {
        let mut h = [0u8; 2];
        self.tls.read_exact(&mut h).unwrap();
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                self.tls.read_exact(&mut l).unwrap();
                u64::from(u16::from_be_bytes(l))
            }
            127 => {
                let mut l = [0u8; 8];
                self.tls.read_exact(&mut l).unwrap();
                u64::from_be_bytes(l)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0; len as usize];
        self.tls.read_exact(&mut payload).unwrap();
        (h[0] & 0x0f, payload)
    }

    /// Cuts the connection: TCP closed, no close_notify.
    fn cut(self) {
        let _ = self.tls.sock.shutdown(std::net::Shutdown::Both);
    }
}

/// A server whose handler records endings, for the raw peers.
fn tls_server(pki: &Pki) -> (EventLoop<Recorder>, SocketAddr) {
    let leaf = pki.ca.leaf(&["localhost"]).unwrap();
    let mut el = EventLoop::new(config(pki), Recorder::default()).unwrap();
    let addr = el.listen_tls("127.0.0.1:0".parse().unwrap(), pki.server(&leaf)).unwrap();
    (el, addr)
}

#[test]
fn a_peer_that_cuts_tcp_before_the_close_handshake_is_reported_as_truncated() {
    let pki = Pki::new();
    let (mut el, addr) = tls_server(&pki);
    let client = pki.client();
    let t = std::thread::spawn(move || {
        let mut raw = RawTls::connect(addr, client);
        // The server's Ping (from on_open): the connection is established.
        assert_eq!(raw.frame().0, 0x9);
        raw.cut();
    });
    turn_while(&mut el, &t);
    t.join().unwrap();
    turn_until(&mut el, |h| !h.closed.is_empty());
    assert_eq!(el.handler().closed[0].1.cause, CloseCause::Truncated { during_close: false });
    assert_eq!(el.metrics().closed_truncated, 1);
}

#[test]
fn a_peer_that_cuts_tcp_after_the_close_handshake_ends_cleanly_and_gets_close_notify_first() {
    let pki = Pki::new();
    let (mut el, addr) = tls_server(&pki);
    let client = pki.client();
    let t = std::thread::spawn(move || {
        let mut raw = RawTls::connect(addr, client);
        assert_eq!(raw.frame().0, 0x9, "the server's Ping");
        raw.send_close(1000);
        let (opcode, payload) = raw.frame();
        assert_eq!((opcode, &payload[..2]), (0x8, &1000u16.to_be_bytes()[..]), "the server answers our Close");
        // The close order: after its Close the server sends close_notify, then ends TCP. The
        // reader says which: Ok(0) after close_notify, UnexpectedEof without it.
        let mut rest = [0u8; 16];
        let end = raw.tls.read(&mut rest);
        assert!(matches!(end, Ok(0)), "close_notify before the TCP end: {end:?}");
        raw.cut();
    });
    turn_while(&mut el, &t);
    t.join().unwrap();
    turn_until(&mut el, |h| !h.closed.is_empty());
    assert_eq!(
        el.handler().closed[0].1.cause,
        CloseCause::Clean { code: CloseCode::NORMAL, reason: String::new(), initiator: Side::Remote }
    );
    assert_eq!(el.metrics().closed_truncated, 0);
}

/// The mio client against a server that answers its Close and then ends TCP without
/// close_notify: the close had completed, so the ending is clean (not an error).
#[test]
fn a_server_that_skips_close_notify_after_the_close_handshake_leaves_the_client_clean() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(&["localhost"]).unwrap();
    let server_config = pki.server(&leaf);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(server_config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            tls.read_exact(&mut byte).unwrap();
            request.push(byte[0]);
        }
        let request = String::from_utf8(request).unwrap();
        let key = request.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap().trim().to_string();
        let accept = sansio_ws::handshake::accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        tls.write_all(response.as_bytes()).unwrap();
        // The client's Ping and fragmented message; after its last fragment, our Close; then
        // the client's answer, and TCP is cut without close_notify.
        let mut h = [0u8; 2];
        loop {
            tls.read_exact(&mut h).unwrap();
            let mut rest = vec![0u8; 4 + (h[1] & 0x7f) as usize];
            tls.read_exact(&mut rest).unwrap();
            match (h[0] & 0x80 != 0, h[0] & 0x0f) {
                (true, 0x0) => tls.write_all(&[0x88, 2, 0x03, 0xe8]).unwrap(),
                (_, 0x8) => break,
                _ => {}
            }
        }
        let _ = tls.sock.shutdown(std::net::Shutdown::Both);
    });
    let mut el = EventLoop::new(config(&pki), Recorder::default()).unwrap();
    el.connect(&format!("wss://localhost:{}/", addr.port())).unwrap();
    turn_until(&mut el, |h| !h.closed.is_empty() || !h.errors.is_empty());
    t.join().unwrap();
    let h = el.handler();
    assert!(h.errors.is_empty(), "{:?}", h.errors);
    assert_eq!(
        h.closed[0].1.cause,
        CloseCause::Clean { code: CloseCode::NORMAL, reason: String::new(), initiator: Side::Remote }
    );
}

/// Each reason a server certificate is refused comes back as its own words, in the TLS phase; the
/// server counts the handshakes that failed.
#[test]
fn a_refused_certificate_says_which_check_failed() {
    let pki = Pki::new();
    let stranger = certs::TestCa::new("another CA").unwrap();
    let cases: [(&str, certs::Leaf); 3] = [
        ("not signed by a trusted certificate authority (unknown issuer)", stranger.leaf(&["localhost"]).unwrap()),
        ("not valid for the name asked for", pki.ca.leaf(&["elsewhere.example"]).unwrap()),
        ("it has expired", pki.ca.expired_leaf(&["localhost"]).unwrap()),
    ];
    for (expected, leaf) in cases {
        let mut el = EventLoop::new(config(&pki), Recorder::default()).unwrap();
        let addr = el.listen_tls("127.0.0.1:0".parse().unwrap(), pki.server(&leaf)).unwrap();
        el.connect(&format!("wss://localhost:{}/", addr.port())).unwrap();
        turn_until(&mut el, |h| !h.errors.is_empty());
        let error = &el.handler().errors[0];
        assert_eq!(error.phase(), Some(ConnectPhase::Tls), "{error}");
        assert!(matches!(error, ConnectError::Tls { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.starts_with("TLS handshake failed: the server's certificate was refused: "), "{text}");
        assert!(text.contains(expected), "{expected:?} in {text}");
        // The server sees the client's alert: one failed TLS handshake, nothing opened.
        let start = StdInstant::now();
        while el.metrics().refused_tls_handshake == 0 {
            assert!(start.elapsed() < Duration::from_secs(5), "the server did not count it");
            el.turn(Some(Duration::from_millis(10))).unwrap();
        }
        assert!(el.handler().opened.is_empty());
    }
}

/// Sockets that stall in the TLS handshake (silent, or a ClientHello cut short) are closed at the
/// handshake timeout, and a real client is served meanwhile.
#[test]
fn a_tls_slowloris_is_dropped_at_the_handshake_timeout_while_others_are_served() {
    let pki = Pki::new();
    let leaf = pki.ca.leaf(&["localhost"]).unwrap();
    let mut cfg = config(&pki);
    cfg.server.timeout = Duration::from_millis(400);
    let handler = Recorder { script: vec![Message::Text("served".into())], ..Recorder::default() };
    let mut el = EventLoop::new(cfg, handler).unwrap();
    let addr = el.listen_tls("127.0.0.1:0".parse().unwrap(), pki.server(&leaf)).unwrap();
    let stall = |first: &'static [u8]| {
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let started = StdInstant::now();
            s.write_all(first).unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            started.elapsed()
        })
    };
    // A TLS record header announcing a ClientHello of 512 bytes, and 3 of them.
    let silent = stall(b"");
    let partial = stall(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]);
    el.connect(&format!("wss://localhost:{}/", addr.port())).unwrap();
    turn_until(&mut el, |h| h.closed.len() == 2);
    let served = StdInstant::now();
    turn_while(&mut el, &silent);
    turn_while(&mut el, &partial);
    for t in [silent, partial] {
        let elapsed = t.join().unwrap();
        assert!(elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
    assert!(served.elapsed() < Duration::from_secs(3));
    let h = el.handler();
    assert!(h.received.iter().any(|(r, m)| *r == Role::Client && *m == Message::Text("served".into())));
    assert_eq!(el.metrics().handshake_timeouts, 2, "both stalled sockets timed out");
}

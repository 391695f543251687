//! The mio driver on real loopback sockets: both roles in one loop, handshake timeout, connection
//! cap, broadcast, the thread-safe handle, and graceful shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use sansio_ws::Role;
use sansio_ws::connection::{CloseCause, Closed, Config, Event, Message, Side};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{ConnId, ConnectError, Ctx, DriverConfig, EventLoop, Handler, Opened};

/// Records everything; echoes on the server side; scripted client behaviour.
#[derive(Default)]
struct Recorder {
    opened: Vec<(ConnId, Role)>,
    received: Vec<(Role, Message)>,
    closed: Vec<(Role, Closed)>,
    connect_errors: Vec<String>,
    roles: std::collections::HashMap<ConnId, Role>,
    /// Messages the client sends on open; then it closes after as many echoes.
    script: Vec<Message>,
    pongs: usize,
    /// In `on_close`: the connection's messages received, read through the `Ctx`.
    received_at_close: Vec<Option<u64>>,
}

impl Handler for Recorder {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        self.opened.push((id, opened.role));
        self.roles.insert(id, opened.role);
        if opened.role == Role::Client {
            for m in self.script.clone() {
                ctx.send(id, m).unwrap();
            }
            ctx.connection(id).unwrap();
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        let role = self.roles[&id];
        self.received.push((role, message.clone()));
        match role {
            Role::Server => ctx.send(id, message).expect("the echo is queued"),
            Role::Client => {
                let echoes = self.received.iter().filter(|(r, _)| *r == Role::Client).count();
                if echoes == self.script.len() {
                    ctx.close(id, CloseCode::NORMAL, "done").unwrap();
                }
            }
        }
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, event: &Event) {
        if matches!(event, Event::Pong(_)) {
            self.pongs += 1;
        }
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        self.received_at_close.push(ctx.connection(id).map(|c| c.stats().messages_received));
        self.closed.push((self.roles[&id], closed.clone()));
    }

    fn on_connect_error(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, error: ConnectError) {
        self.connect_errors.push(error.to_string());
    }
}

fn config() -> DriverConfig {
    DriverConfig::default()
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any))
        .with_connection(Config::default().with_heartbeat(None))
}

fn listen<H: Handler>(el: &mut EventLoop<H>) -> SocketAddr {
    el.listen("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// Turns the loop until `done` or a 10 s wall-clock bound.
fn turn_until<H: Handler>(el: &mut EventLoop<H>, mut done: impl FnMut(&H) -> bool) {
    let start = StdInstant::now();
    while !done(el.handler()) {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out");
        el.turn(Some(Duration::from_millis(20))).unwrap();
    }
}

#[test]
fn client_and_server_in_one_loop_echo_and_close_cleanly() {
    let big = Message::Binary(Bytes::from((0..8 << 20).map(|i| i as u8).collect::<Vec<u8>>()));
    let script = vec![Message::Text("hello".into()), Message::Text("é☃𝄞".into()), Message::Binary(Bytes::new()), big];
    let mut el = EventLoop::new(config(), Recorder { script: script.clone(), ..Recorder::default() }).unwrap();
    let addr = listen(&mut el);
    el.connect(&format!("ws://{addr}/echo?x=1")).unwrap();
    turn_until(&mut el, |h| h.closed.len() == 2);
    let h = el.handler();
    assert_eq!(h.opened.len(), 2);
    let at_server: Vec<_> = h.received.iter().filter(|(r, _)| *r == Role::Server).map(|(_, m)| m.clone()).collect();
    let at_client: Vec<_> = h.received.iter().filter(|(r, _)| *r == Role::Client).map(|(_, m)| m.clone()).collect();
    assert_eq!(at_server, script);
    assert_eq!(at_client, script);
    for (role, closed) in &h.closed {
        let initiator = if *role == Role::Client { Side::Local } else { Side::Remote };
        assert_eq!(
            closed.cause,
            CloseCause::Clean { code: CloseCode::NORMAL, reason: "done".into(), initiator },
            "{role:?}"
        );
        assert_eq!(closed.unsent, Default::default());
    }
}

#[test]
fn refused_connections_are_reported_to_the_client() {
    let mut el = EventLoop::new(config(), Recorder::default()).unwrap();
    // Nothing listens on this port (bound then dropped).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    el.connect(&format!("ws://{free}/")).unwrap();
    turn_until(&mut el, |h| !h.connect_errors.is_empty());
    assert!(el.handler().connect_errors[0].contains("connection failed"), "{:?}", el.handler().connect_errors);
    // wss:// needs the `tls` feature: without it the connect is refused at once, saying so.
    #[cfg(not(feature = "tls"))]
    {
        let error = el.connect("wss://127.0.0.1:1/").unwrap_err();
        assert!(error.to_string().contains("`tls` feature"), "{error}");
    }
    assert!(el.connect("http://127.0.0.1:1/").is_err());
}

#[test]
fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let mut cfg = config();
    cfg.server.timeout = Duration::from_millis(200);
    let mut el = EventLoop::new(cfg, Recorder::default()).unwrap();
    let addr = listen(&mut el);
    let mut silent = TcpStream::connect(addr).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = StdInstant::now();
    let t = std::thread::spawn(move || {
        let mut answer = Vec::new();
        silent.read_to_end(&mut answer).map(|_| (answer, started.elapsed()))
    });
    while !t.is_finished() {
        el.turn(Some(Duration::from_millis(20))).unwrap();
    }
    let (answer, elapsed) = t.join().unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    // The core's handshake deadline: a 408 that says why, then the end of the stream.
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("did not arrive within 200ms"), "{answer}");
    assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn bad_requests_get_their_http_status_and_plain_gets_a_400() {
    let mut el = EventLoop::new(config(), Recorder::default()).unwrap();
    let addr = listen(&mut el);
    let ask = |request: &'static [u8]| {
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(request).unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let version = ask(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    let plain = ask(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    while !(version.is_finished() && plain.is_finished()) {
        el.turn(Some(Duration::from_millis(20))).unwrap();
    }
    let version = version.join().unwrap();
    assert!(version.starts_with("HTTP/1.1 426 "), "{version}");
    assert!(version.contains("Sec-WebSocket-Version: 13"));
    assert!(plain.join().unwrap().starts_with("HTTP/1.1 400 "));
}

/// A raw client: sends a valid opening request from a thread and returns the head of the answer
/// (or an empty string if the server closed without one).
fn raw_upgrade(addr: SocketAddr) -> std::thread::JoinHandle<(String, TcpStream)> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && matches!(s.read(&mut byte), Ok(1)) {
            head.push(byte[0]);
        }
        (String::from_utf8_lossy(&head).into_owned(), s)
    })
}

fn turn_while<T>(el: &mut EventLoop<impl Handler>, t: &std::thread::JoinHandle<T>) {
    while !t.is_finished() {
        el.turn(Some(Duration::from_millis(10))).unwrap();
    }
}

/// Over the connection cap a client is told so, with a time to come back, instead of a silent
/// close; the connections already open are not disturbed.
#[test]
fn connections_beyond_the_cap_get_a_503_with_retry_after() {
    let cfg = config().with_max_connections(2).with_busy_retry_after(Duration::from_secs(7));
    let mut el = EventLoop::new(cfg, Recorder::default()).unwrap();
    let addr = listen(&mut el);
    let mut open = Vec::new();
    for _ in 0..2 {
        let t = raw_upgrade(addr);
        turn_while(&mut el, &t);
        let (head, sock) = t.join().unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        open.push(sock);
    }
    let third = raw_upgrade(addr);
    turn_while(&mut el, &third);
    let (head, _) = third.join().unwrap();
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(head.contains("Retry-After: 7\r\n"), "{head}");
    let stats = el.metrics();
    assert_eq!((stats.open, stats.refused_busy), (2, 1), "{stats:?}");
    open[0].set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 1];
    assert!(open[0].read(&mut buf).is_err(), "the first is still open (read times out)");
}

/// Sockets that connect and send nothing fill the handshake slots, not the connection slots:
/// with more of them than slots, the oldest are closed and a real client still gets in.
#[test]
fn silent_sockets_cannot_lock_out_a_real_client() {
    let cfg = config().with_max_handshakes(8).with_max_connections(4);
    let mut el = EventLoop::new(cfg, Recorder::default()).unwrap();
    let addr = listen(&mut el);
    let mut silent: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for _ in 0..20 {
        el.turn(Some(Duration::from_millis(5))).unwrap();
    }
    let real = raw_upgrade(addr);
    turn_while(&mut el, &real);
    let (head, _sock) = real.join().unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "a real client gets in: {head}");
    let stats = el.metrics();
    // 41 sockets through 8 slots: 33 evicted; of the last 8, the real client went on and 7
    // silent ones are still waiting.
    assert_eq!((stats.open, stats.handshaking, stats.handshakes_evicted), (1, 7, 33), "{stats:?}");
    // The oldest silent sockets made room: they were closed without a word.
    let mut buf = [0u8; 1];
    silent[0].set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(silent[0].read(&mut buf).unwrap_or(0), 0, "the oldest silent socket is closed");
    // The newest are still waiting in their handshake.
    let newest = silent.last_mut().unwrap();
    newest.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    assert!(newest.read(&mut buf).is_err(), "the newest silent socket is still open");
}

/// Counts messages, for broadcast and handle tests.
#[derive(Default)]
struct Counter {
    open: Vec<ConnId>,
    messages: usize,
    closed: Vec<CloseCause>,
}

impl Handler for Counter {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        if opened.role == Role::Server {
            self.open.push(id);
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, _m: Message) {
        self.messages += 1;
    }
    fn on_close(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, closed: &Closed) {
        self.closed.push(closed.cause.clone());
    }
}

#[test]
fn handle_broadcasts_from_another_thread_and_shuts_down_gracefully() {
    let mut server = EventLoop::new(config(), Counter::default()).unwrap();
    let addr = listen(&mut server);
    let handle = server.handle();
    // Clients live in their own loop on another thread.
    let clients = std::thread::spawn(move || {
        let mut el = EventLoop::new(config(), Counter::default()).unwrap();
        for _ in 0..5 {
            el.connect(&format!("ws://{addr}/")).unwrap();
        }
        let start = StdInstant::now();
        while el.handler().closed.len() < 5 && start.elapsed() < Duration::from_secs(10) {
            el.turn(Some(Duration::from_millis(20))).unwrap();
        }
        (el.handler().messages, el.handler().closed.clone())
    });
    turn_until(&mut server, |h| h.open.len() == 5);
    let sender = std::thread::spawn(move || {
        for i in 0..3 {
            handle.broadcast(Message::Text(format!("news {i}").into())).unwrap();
        }
        handle.shutdown(Duration::from_secs(5)).unwrap();
    });
    let report = server.run().unwrap();
    sender.join().unwrap();
    let (messages, closed) = clients.join().unwrap();
    assert_eq!(messages, 15, "3 broadcasts reached 5 clients before the shutdown Close");
    assert_eq!(report.clean, 5, "{report:?}");
    assert_eq!((report.forced, report.other), (0, 0));
    assert!(
        closed
            .iter()
            .all(|c| matches!(c, CloseCause::Clean { code: CloseCode::GOING_AWAY, initiator: Side::Remote, .. })),
        "{closed:?}"
    );
}

#[test]
fn shutdown_force_closes_peers_that_do_not_answer() {
    let mut server = EventLoop::new(config(), Counter::default()).unwrap();
    let addr = listen(&mut server);
    // A raw client that completes the handshake, then never reads or answers.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    turn_until(&mut server, |h| h.open.len() == 1);
    server.handle().shutdown(Duration::from_millis(300)).unwrap();
    let started = StdInstant::now();
    let report = server.run().unwrap();
    assert_eq!((report.clean, report.forced), (0, 1), "{report:?} {:?}", server.handler().closed);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.handler().closed, [CloseCause::LocalAbort]);
    drop(raw);
}

#[test]
fn with_ctx_sends_outside_callbacks() {
    let mut server = EventLoop::new(config(), Counter::default()).unwrap();
    let addr = listen(&mut server);
    let mut client = EventLoop::new(config(), Counter::default()).unwrap();
    client.connect(&format!("ws://{addr}/")).unwrap();
    let start = StdInstant::now();
    while server.handler().open.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10));
        server.turn(Some(Duration::from_millis(5))).unwrap();
        client.turn(Some(Duration::from_millis(5))).unwrap();
    }
    let sent = server.with_ctx(|h, ctx| {
        let id = h.open[0];
        ctx.send_text(id, "scheduled by the application").is_ok()
    });
    assert!(sent);
    while client.handler().messages == 0 {
        assert!(start.elapsed() < Duration::from_secs(10));
        server.turn(Some(Duration::from_millis(5))).unwrap();
        client.turn(Some(Duration::from_millis(5))).unwrap();
    }
}

/// A TLS ClientHello or binary noise sent to the plain listener is refused as it arrives, not at
/// the handshake timeout: the TLS client's connection is closed with nothing written (it could not
/// read HTTP), the noise gets a 400.
#[test]
fn non_http_bytes_are_refused_at_once() {
    let mut el = EventLoop::new(config(), Recorder::default()).unwrap();
    let addr = listen(&mut el);
    let ask = |first_bytes: &'static [u8]| {
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
            let started = StdInstant::now();
            s.write_all(first_bytes).unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).map(|_| (String::from_utf8_lossy(&out).into_owned(), started.elapsed()))
        })
    };
    let tls = ask(&[0x16, 0x03, 0x01, 0x00, 0xf4, 0x01, 0x00, 0x00, 0xf0, 0x03, 0x03]);
    let noise = ask(b"\x00\x01\x02\x03");
    while !(tls.is_finished() && noise.is_finished()) {
        el.turn(Some(Duration::from_millis(20))).unwrap();
    }
    let (tls_answer, tls_elapsed) = tls.join().unwrap().unwrap();
    let (noise_answer, noise_elapsed) = noise.join().unwrap().unwrap();
    assert_eq!(tls_answer, "", "no HTTP for a TLS client");
    assert!(noise_answer.starts_with("HTTP/1.1 400 "), "{noise_answer}");
    assert!(noise_answer.contains("not an HTTP request line"), "{noise_answer}");
    // Well before the 10 s handshake timeout (the exact figure depends on the machine's load).
    for elapsed in [tls_elapsed, noise_elapsed] {
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}

/// Counts what the server side sees per connection: Pings, messages (echoed, and a refused echo
/// fails the test), and the largest send queue observed.
#[derive(Default)]
struct Flooded {
    open: Vec<ConnId>,
    pings: std::collections::HashMap<ConnId, usize>,
    messages: std::collections::HashMap<ConnId, usize>,
    max_queued: usize,
}

impl Handler for Flooded {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, _opened: &Opened) {
        self.open.push(id);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        *self.messages.entry(id).or_default() += 1;
        ctx.send(id, message).expect("the echo is queued: reading stops before the queue is over its mark");
        self.max_queued = self.max_queued.max(ctx.connection(id).map_or(0, |c| c.buffered_amount()));
    }
    fn on_event(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        if matches!(event, Event::Ping(_)) {
            *self.pings.entry(id).or_default() += 1;
        }
    }
}

/// A masked client frame with the all-zero key (so the payload is sent as it is).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(payload);
    f
}

/// An upgraded raw client socket (the 101 read off it).
fn upgraded_socket(el: &mut EventLoop<Flooded>, addr: SocketAddr) -> TcpStream {
    let t = raw_upgrade(addr);
    turn_while(el, &t);
    let (head, sock) = t.join().unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    sock
}

/// A peer flooding Pings is read for one budget per turn: a message another peer sent meanwhile
/// is handled in the same turn, and every Ping is still read in the end (nothing is left unread
/// when readiness, edge-triggered, does not come again).
#[test]
fn a_flooder_is_read_for_one_budget_per_turn() {
    let budget = 64 * 1024;
    // Without the control-frame rate limit, which would end the flooder at its 101st Ping.
    let connection = Config::default().with_heartbeat(None).with_max_control_frames_per_second(None);
    let cfg = config().with_read_budget(budget).with_connection(connection);
    let mut el = EventLoop::new(cfg, Flooded::default()).unwrap();
    let addr = listen(&mut el);
    let mut flooder = upgraded_socket(&mut el, addr);
    let mut other = upgraded_socket(&mut el, addr);
    let (flooder_id, other_id) = (el.handler().open[0], el.handler().open[1]);

    const PINGS: usize = 40_000; // 6 bytes each: 240 KB, several budgets
    let pings: Vec<u8> = (0..PINGS).flat_map(|_| client_frame(0x9, b"")).collect();
    flooder.write_all(&pings).unwrap();
    other.write_all(&client_frame(0x1, b"not delayed")).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // both are in the server's socket buffers

    el.turn(Some(Duration::from_millis(100))).unwrap();
    let seen = el.handler().pings.get(&flooder_id).copied().unwrap_or(0);
    assert!(seen <= budget / 6 + 1, "one turn read {seen} Pings, over the budget");
    assert_eq!(el.handler().messages.get(&other_id), Some(&1), "the other peer was served in the same turn");

    turn_until(&mut el, |h| h.pings.get(&flooder_id) == Some(&PINGS));
    let mut echo = [0u8; 13];
    other.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    other.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"\x81\x0bnot delayed");
}

/// A peer that sends and never reads is not read while its echoes are over the high-water mark:
/// TCP pushes back on it, the server's queue stays bounded, and no echo is refused or lost. Once
/// it reads again, reading resumes and every echo arrives.
#[test]
fn a_peer_that_does_not_read_is_not_read_either() {
    let (high, low) = (256 * 1024, 64 * 1024);
    let connection = Config::default().with_heartbeat(None).with_high_water_mark(high).with_low_water_mark(low);
    let cfg = config().with_connection(connection);
    let mut el = EventLoop::new(cfg, Flooded::default()).unwrap();
    let addr = listen(&mut el);
    let mut sock = upgraded_socket(&mut el, addr);
    let id = el.handler().open[0];

    const MESSAGES: usize = 400; // 400 × 64 KiB = 25 MiB, far more than the socket buffers hold
    let message = client_frame(0x2, &[7u8; 64 * 1024]);
    let writer = {
        let mut sock = sock.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..MESSAGES {
                sock.write_all(&message).unwrap();
            }
        })
    };
    // The writer blocks: the server stops reading once the echoes it cannot write pile up.
    for _ in 0..100 {
        el.turn(Some(Duration::from_millis(5))).unwrap();
    }
    assert!(!writer.is_finished(), "the peer is pushed back");
    let handled = el.handler().messages.get(&id).copied().unwrap_or(0);
    assert!(handled < MESSAGES, "{handled}");
    let frame = 64 * 1024 + 10; // a 64-bit length: 65536 is over the 16-bit form
    assert!(el.handler().max_queued <= high + 2 * frame, "queue {} over its mark", el.handler().max_queued);

    // The peer reads: every echo comes back, and reading resumes until all were handled.
    let reader = std::thread::spawn(move || {
        let mut total = 0usize;
        let mut buf = vec![0u8; 256 * 1024];
        sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        while total < MESSAGES * frame {
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        total
    });
    while !reader.is_finished() {
        el.turn(Some(Duration::from_millis(5))).unwrap();
    }
    writer.join().unwrap();
    assert_eq!(reader.join().unwrap(), MESSAGES * frame, "every echo arrived");
    assert_eq!(el.handler().messages.get(&id), Some(&MESSAGES));
}

/// Records what the memory budget does: connections closed for it (and what they held), closes,
/// messages.
#[derive(Default)]
struct Budgeted {
    open: Vec<ConnId>,
    over_budget: Vec<(ConnId, usize)>,
    closed: Vec<(ConnId, Closed)>,
    messages: Vec<(ConnId, usize)>,
}

impl Handler for Budgeted {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, _opened: &Opened) {
        self.open.push(id);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        self.messages.push((id, message.len()));
    }
    fn on_memory_budget(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, held: usize) {
        self.over_budget.push((id, held));
    }
    fn on_close(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        self.closed.push((id, closed.clone()));
    }
}

/// A masked client frame, first byte `b0` as given (FIN and opcode), all-zero key.
fn client_fragment(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = client_frame(0, payload);
    f[0] = b0;
    f
}

/// Peers that each send most of a large fragmented message, together more than the memory
/// budget: the loop stops reading the largest holders (while a peer between messages is still
/// served), keeps its total near the budget, closes the largest with 1013 after the grace (telling
/// the application), and lets the others finish.
#[test]
fn the_memory_budget_bounds_what_all_connections_hold() {
    const PEERS: usize = 4;
    const PART: usize = 64 * 1024;
    const PARTS: usize = 24; // 1.5 MiB held per peer, 6 MiB in all
    let budget = 4 << 20;
    let connection = Config::default().with_heartbeat(None).with_close_timeout(Some(Duration::from_millis(200)));
    let cfg = config()
        .with_connection(connection)
        .with_memory_budget(budget)
        .with_memory_grace(Duration::from_secs(1))
        .with_linger(Duration::from_millis(100));
    let mut el = EventLoop::new(cfg, Budgeted::default()).unwrap();
    let addr = listen(&mut el);
    let mut socks = Vec::new();
    for _ in 0..PEERS {
        let t = raw_upgrade(addr);
        turn_while(&mut el, &t);
        let (head, sock) = t.join().unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        socks.push(sock);
    }
    let chatty = raw_upgrade(addr);
    turn_while(&mut el, &chatty);
    let (_, mut chatty) = chatty.join().unwrap();
    let ids = el.handler().open.clone();
    let chatty_id = ids[PEERS];
    let writers: Vec<_> = socks
        .iter()
        .map(|sock| {
            let mut sock = sock.try_clone().unwrap();
            std::thread::spawn(move || {
                let mut bytes = client_fragment(0x02, &[1; PART]);
                for _ in 1..PARTS {
                    bytes.extend(client_fragment(0x00, &[2; PART]));
                }
                sock.write_all(&bytes).is_ok()
            })
        })
        .collect();

    // Over the budget, the large holders wait; a peer between messages is still read.
    let start = StdInstant::now();
    while el.metrics().budget_pauses == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out: {:?}", el.metrics());
        el.turn(Some(Duration::from_millis(10))).unwrap();
    }
    chatty.write_all(&client_frame(0x1, b"still served")).unwrap();
    turn_until(&mut el, |h| h.messages.iter().any(|(id, _)| *id == chatty_id));
    assert!(el.metrics().memory_held > budget, "still over the budget: {:?}", el.metrics());
    assert!(el.handler().over_budget.is_empty(), "within the grace");
    el.handler_mut().messages.clear();

    // Until the budget closes have run their course: the survivors hold what they were sent.
    let start = StdInstant::now();
    loop {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out: {:?}", el.metrics());
        el.turn(Some(Duration::from_millis(10))).unwrap();
        let h = el.handler();
        let survivors = PEERS - h.over_budget.len();
        if !h.over_budget.is_empty()
            && h.closed.len() == h.over_budget.len()
            && el.metrics().memory_held == survivors * PART * PARTS
        {
            break;
        }
    }
    let stats = el.metrics();
    let h = el.handler();
    assert!(stats.memory_held <= budget, "{stats:?}");
    // Over the budget by at most one read per connection: a connection is checked before each read.
    assert!(stats.memory_peak <= budget + PEERS * 64 * 1024, "{stats:?}");
    assert!(stats.memory_peak > budget, "the peers sent more than the budget: {stats:?}");
    assert_eq!(stats.budget_closes, h.over_budget.len() as u64);
    assert!(stats.budget_pauses >= PEERS as u64, "{stats:?}");
    // Exactly as many closed as needed for the rest to fit: two of 1.5 MiB each.
    assert_eq!(h.over_budget.len(), 2, "{:?}", h.over_budget);
    for (id, held) in &h.over_budget {
        assert!(*held > budget / PEERS, "{id} held only {held}");
        let (_, closed) = h.closed.iter().find(|(c, _)| c == id).expect("on_close follows");
        // The peer (which never answers) got our Close; the handshake ends by the close timeout.
        assert_eq!(closed.cause, CloseCause::CloseTimeout, "{id}");
    }
    for (i, sock) in socks.iter_mut().enumerate() {
        if h.over_budget.iter().any(|(id, _)| *id == ids[i]) {
            // Our Close 1013 is the first thing this peer reads.
            let reason = b"server memory budget exceeded";
            let mut close = vec![0u8; 4 + reason.len()];
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            sock.read_exact(&mut close).unwrap();
            assert_eq!(close[..4], [0x88, 2 + reason.len() as u8, 0x03, 0xf5], "Close 1013");
            assert_eq!(&close[4..], reason);
        }
    }
    // The survivors finish their messages: nothing they sent was lost while they were paused.
    for w in writers {
        w.join().unwrap();
    }
    let survivors: Vec<usize> =
        (0..PEERS).filter(|&i| !el.handler().over_budget.iter().any(|(id, _)| *id == ids[i])).collect();
    for &i in &survivors {
        socks[i].write_all(&client_fragment(0x80, b"end")).unwrap();
    }
    turn_until(&mut el, |h| h.messages.len() == survivors.len());
    for (id, len) in &el.handler().messages {
        assert!(survivors.iter().any(|&i| ids[i] == *id));
        assert_eq!(*len, PART * PARTS + 3);
    }
    assert_eq!(el.metrics().memory_held, 0);
}

/// Many connections come and go, in every stage (closed before sending anything, in the middle of
/// the request, after the upgrade): once they are gone the loop counts nothing left.
#[test]
fn counts_stay_exact_over_many_connect_close_cycles() {
    let cfg = config().with_linger(Duration::from_millis(20));
    let mut el = EventLoop::new(cfg, Recorder::default()).unwrap();
    let addr = listen(&mut el);
    for i in 0..600 {
        match i % 3 {
            0 => drop(TcpStream::connect(addr).unwrap()),
            1 => {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            _ => {
                let t = raw_upgrade(addr);
                turn_while(&mut el, &t);
                let (head, _sock) = t.join().unwrap();
                assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
            }
        }
        el.turn(Some(Duration::ZERO)).unwrap();
    }
    let start = StdInstant::now();
    while el.sockets() > 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "{} sockets left: {:?}", el.sockets(), el.metrics());
        el.turn(Some(Duration::from_millis(10))).unwrap();
    }
    let stats = el.metrics();
    assert_eq!((stats.open, stats.handshaking, stats.memory_held), (0, 0, 0), "{stats:?}");
    assert_eq!(el.handler().opened.len(), 200);
    assert_eq!(el.handler().closed.len(), 200, "every opened connection reported its end");
    // During on_close the connection is still there, with its final statistics.
    assert_eq!(el.handler().received_at_close, vec![Some(0); 200]);
}

//! A server of two event loops on loopback: one port, connections on both loops, a handle that
//! reaches any of them, broadcasts in one order for everyone, and a graceful shutdown that
//! answers late requests 503.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sansio_ws::connection::{Closed, Config, Message};
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, DriverConfig, Handler, Opened, Server, ShutdownReport};

/// What every loop's handler saw, shared with the test.
#[derive(Default)]
struct Log {
    opened: Vec<ConnId>,
    closed: Vec<(ConnId, Closed)>,
}

/// Records opens and closes; `block` makes the loop sleep in the callback; anything else is
/// broadcast to every loop through the server's handle.
struct Recorder {
    log: Arc<Mutex<Log>>,
}

impl Handler for Recorder {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, _opened: &Opened) {
        self.log.lock().unwrap().opened.push(id);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, _id: ConnId, message: Message) {
        if message == Message::Text("block".into()) {
            thread::sleep(Duration::from_millis(800));
            return;
        }
        ctx.server().expect("a loop of a server").broadcast(message).expect("every loop runs");
    }
    fn on_close(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        self.log.lock().unwrap().closed.push((id, closed.clone()));
    }
}

fn config() -> DriverConfig {
    DriverConfig::default()
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any))
        .with_connection(Config::default().with_heartbeat(None))
}

/// A two-loop server on a port bound here first (the listener handed in), running on a thread.
fn start() -> (SocketAddr, sansio_ws_mio::ServerHandle, Arc<Mutex<Log>>, thread::JoinHandle<ShutdownReport>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let shared = log.clone();
    let mut server = Server::new(config(), 2, move |_| Recorder { log: shared.clone() }).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.listen_on(listener).unwrap();
    let handle = server.handle();
    assert_eq!(handle.loops(), 2);
    (addr, handle, log, thread::spawn(move || server.run().unwrap()))
}

/// A raw client's opening request; returns the head of the answer and the socket.
fn request(addr: SocketAddr) -> (String, TcpStream) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    (read_head(&mut s), s)
}

/// A raw client, upgraded (the 101 read off it).
fn client(addr: SocketAddr) -> TcpStream {
    let (head, s) = request(addr);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    s
}

fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && matches!(s.read(&mut byte), Ok(1)) {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A masked client text frame (all-zero key).
fn text(payload: &str) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x81, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload.as_bytes());
    f
}

/// One short server frame: (first byte, payload).
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).unwrap();
    assert!(head[1] < 126, "a short frame");
    let mut payload = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut payload).unwrap();
    (head[0], payload)
}

fn wait_for(log: &Mutex<Log>, what: impl Fn(&Log) -> bool) {
    for _ in 0..1000 {
        if what(&log.lock().unwrap()) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out");
}

/// While one loop is busy in a callback, new connections are accepted by the other: both loops
/// accept from the one port, and ids are unique across them. The handle reaches a connection
/// on either loop.
#[test]
fn a_busy_loop_leaves_new_connections_to_the_other() {
    let (addr, handle, log, server) = start();
    let mut blocker = client(addr);
    wait_for(&log, |l| l.opened.len() == 1);
    let busy = log.lock().unwrap().opened[0].loop_index();
    blocker.write_all(&text("block")).unwrap();
    thread::sleep(Duration::from_millis(100));
    let mut others: Vec<TcpStream> = (0..10).map(|_| client(addr)).collect();
    wait_for(&log, |l| l.opened.len() == 11);
    let opened = log.lock().unwrap().opened.clone();
    assert!(opened[1..].iter().all(|id| id.loop_index() == 1 - busy), "{opened:?} (loop {busy} was busy)");
    let mut serials: Vec<u64> = opened.iter().map(ConnId::serial).collect();
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(serials.len(), 11, "ids are unique across loops");

    // A message to one connection of each loop, through the server's handle.
    let targets = [(0, opened[0]), (1, opened[5])];
    for (i, id) in targets {
        handle.send(id, Message::Text(format!("to {i}").into())).unwrap();
    }
    assert_eq!(read_frame(&mut blocker), (0x81, b"to 0".to_vec()));
    assert_eq!(read_frame(&mut others[4]), (0x81, b"to 1".to_vec()));

    handle.shutdown(Duration::from_secs(5)).unwrap();
    drop((blocker, others));
    let report = server.join().unwrap();
    assert_eq!(report.clean + report.other, 11, "{report:?}");
}

/// Two threads broadcast at once through clones of the handle, and messages the loops' handlers
/// broadcast arrive meanwhile: every client, on either loop, receives all of them in one order.
#[test]
fn broadcasts_reach_every_loop_in_one_order() {
    let (addr, handle, log, server) = start();
    // Connections on both loops: one loop is kept busy while the second half connects.
    let mut clients: Vec<TcpStream> = (0..4).map(|_| client(addr)).collect();
    clients[0].write_all(&text("block")).unwrap();
    thread::sleep(Duration::from_millis(100));
    clients.extend((0..4).map(|_| client(addr)));
    wait_for(&log, |l| l.opened.len() == 8);
    let loops: Vec<usize> = log.lock().unwrap().opened.iter().map(ConnId::loop_index).collect();
    assert!(loops.contains(&0) && loops.contains(&1), "{loops:?}");

    const EACH: usize = 50;
    let senders: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let handle = handle.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    handle.broadcast(Message::Text(format!("{name}{i}").into())).unwrap();
                }
            })
        })
        .collect();
    // Messages from clients are broadcast by the loop that receives them.
    for (i, c) in clients.iter_mut().enumerate().take(2) {
        c.write_all(&text(&format!("c{i}"))).unwrap();
    }
    for s in senders {
        s.join().unwrap();
    }
    let total = 2 * EACH + 2;
    let orders: Vec<Vec<String>> =
        clients.iter_mut().map(|c| (0..total).map(|_| String::from_utf8(read_frame(c).1).unwrap()).collect()).collect();
    for order in &orders[1..] {
        assert_eq!(order, &orders[0], "every client sees one order");
    }
    let a: Vec<&String> = orders[0].iter().filter(|m| m.starts_with('a')).collect();
    assert_eq!(a, (0..EACH).map(|i| format!("a{i}")).collect::<Vec<_>>().iter().collect::<Vec<_>>());

    handle.shutdown(Duration::from_secs(5)).unwrap();
    drop(clients);
    server.join().unwrap();
}

/// A graceful shutdown closes every connection of every loop with 1001 "server shutting down";
/// a request arriving meanwhile is answered 503 with a Retry-After; the server returns once the
/// close handshakes are done, with their count.
#[test]
fn shutdown_closes_every_loop_and_answers_late_requests_503() {
    let (addr, handle, log, server) = start();
    let mut clients: Vec<TcpStream> = (0..6).map(|_| client(addr)).collect();
    wait_for(&log, |l| l.opened.len() == 6);
    handle.shutdown(Duration::from_secs(5)).unwrap();
    let reason = b"server shutting down";
    for c in &mut clients[1..] {
        let (b0, payload) = read_frame(c);
        assert_eq!(b0, 0x88);
        assert_eq!(payload[..2], [0x03, 0xe9], "1001");
        assert_eq!(&payload[2..], reason);
        // Our Close in reply (masked, all-zero key, code 1000).
        c.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).unwrap();
    }
    // clients[0] does not answer yet: the server is still draining, and a new request gets a 503.
    let (head, _late) = request(addr);
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(head.contains("Retry-After: "), "{head}");
    let (b0, _) = read_frame(&mut clients[0]);
    assert_eq!(b0, 0x88);
    clients[0].write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).unwrap();
    // Each client sees the server close TCP after the close handshake.
    for c in &mut clients {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{rest:?}");
    }
    let report = server.join().unwrap();
    assert_eq!((report.clean, report.forced, report.refused_draining), (6, 0, 1), "{report:?}");
    // The loops' metrics, summed: what the report says, and the connections on both loops.
    let m = handle.metrics();
    assert_eq!((m.connections_opened, m.closed_clean_local, m.refused_draining, m.open), (6, 6, 1, 0), "{m:?}");
    let per_loop = handle.metrics_per_loop();
    assert_eq!(per_loop.len(), 2);
    assert_eq!(per_loop.iter().map(|l| l.connections_opened).sum::<u64>(), 6);
    assert_eq!(log.lock().unwrap().closed.len(), 6);
}

/// The server-wide connection cap is shared out between the loops: with a cap of 2 on 2 loops,
/// a loop that holds one connection answers the next request 503.
#[test]
fn each_loop_applies_its_share_of_the_connection_cap() {
    let log = Arc::new(Mutex::new(Log::default()));
    let shared = log.clone();
    let mut server =
        Server::new(config().with_max_connections(2), 2, move |_| Recorder { log: shared.clone() }).unwrap();
    let addr = server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let handle = server.handle();
    let running = thread::spawn(move || server.run().unwrap());
    let mut first = client(addr);
    wait_for(&log, |l| l.opened.len() == 1);
    // The first connection's loop is kept busy: the next requests all go to the other loop.
    first.write_all(&text("block")).unwrap();
    thread::sleep(Duration::from_millis(100));
    let _second = client(addr);
    let (head, _third) = request(addr);
    assert!(head.starts_with("HTTP/1.1 503 "), "the other loop has its one connection: {head}");
    let opened = log.lock().unwrap().opened.clone();
    assert_eq!(opened.len(), 2);
    assert_ne!(opened[0].loop_index(), opened[1].loop_index());
    handle.shutdown(Duration::from_secs(1)).unwrap();
    running.join().unwrap();
}

//! With the `log` feature the loop reports each connection's end, with its cause and counts,
//! through the `log` facade (`cargo test -p sansio-ws-mio --features log --test log`).
#![cfg(feature = "log")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sansio_ws::connection::Config;
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{DriverConfig, EventLoop, Handler};

/// Keeps every record: "LEVEL target: message".
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0.lock().unwrap().push(format!("{} {}: {}", record.level(), record.target(), record.args()));
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

struct Quiet;
impl Handler for Quiet {}

#[test]
fn a_connection_end_is_reported_with_its_cause() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let config = DriverConfig::default()
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any))
        .with_connection(Config::default().with_heartbeat(None));
    let mut el = EventLoop::new(config, Quiet).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            b"GET /room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
        let mut head = [0u8; 129];
        s.read_exact(&mut head).unwrap();
        // A Close 1000, masked with the all-zero key; then the server's reply and its EOF.
        s.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).unwrap();
        let _ = s.read_to_end(&mut Vec::new());
    });
    let start = Instant::now();
    while !client.is_finished() || el.sockets() > 0 {
        assert!(start.elapsed() < Duration::from_secs(10));
        el.turn(Some(Duration::from_millis(5))).unwrap();
    }
    client.join().unwrap();
    let records = LOGGER.0.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("DEBUG sansio_ws_mio: #1 opened: Server with 127.0.0.1:") && r.ends_with("(/room)")),
        "{records:#?}"
    );
    assert!(
        records.iter().any(|r| r.starts_with(
            "INFO sansio_ws_mio: #1 ended: closed cleanly, the peer closed first with 1000 (Normal); 8 bytes in, "
        ) && r.contains("unsent 0 bytes in 0 messages")),
        "{records:#?}"
    );
}

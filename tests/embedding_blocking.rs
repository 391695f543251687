//! The core driven by blocking `std::net` I/O at both ends, over real sockets on 127.0.0.1.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::Bytes;
use sansio_ws::Instant;
use sansio_ws::connection::{CloseCause, Config, Connection, Event, Message};
use sansio_ws::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, Rsv, apply_mask};
use sansio_ws::handshake::{ClientConfig, ClientHandshake};
use support::harness::{Driver, SERVER_PING, exchange, serve_once};
use support::script::Finish;

#[test]
fn blocking_client_and_server_exchange_then_client_closes() {
    exchange(Driver::Blocking, Driver::Blocking, Finish::ClientCloses, false, Config::default());
}

/// Both ends queue everything at once: each must keep reading while its writes stall, or two
/// blocking peers writing megabytes to each other would deadlock. Sends are refused for
/// backpressure and retried on `Writable`.
#[test]
fn blocking_pipelined_exchange_then_server_closes() {
    exchange(Driver::Blocking, Driver::Blocking, Finish::ServerCloses, true, Config::default());
}

/// A request that is not a WebSocket upgrade is answered with 400 and the connection ends.
#[test]
fn blocking_server_refuses_a_plain_http_request() {
    let (addr, server) = serve_once(Driver::Blocking, Config::default());
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    // Our end of stream ends the server's linger at once.
    drop(stream);
    let (echo, result) = server.join().unwrap();
    assert!(result.is_err());
    assert_eq!(echo.messages, 0);
}

/// Bytes that follow a handshake head belong to the connection, on both sides. A raw client sends
/// a frame glued to its request (the server's `Upgraded` carries it into the connection); the
/// server writes its first frame (a Ping) in the same write as its `101`, and the client side
/// reads both.
#[test]
fn frames_glued_to_either_handshake_reach_the_connection() {
    let (addr, server) = serve_once(Driver::Blocking, Config::default());
    let url = format!("ws://{addr}/");
    let now = Instant::ZERO;
    let mut handshake = ClientHandshake::new(&url, ClientConfig::default(), now).unwrap();
    let mut out = Vec::new();
    handshake.write_request(&mut out);
    // A masked text frame "early", right behind the request in the same write.
    let key = [1, 2, 3, 4];
    let header = FrameHeader { fin: true, rsv: Rsv::NONE, opcode: OpCode::Text, mask: Some(key), payload_len: 5 };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    out.extend_from_slice(&head[..n]);
    let start = out.len();
    out.extend_from_slice(b"early");
    apply_mask(&mut out[start..], key, 0);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    stream.write_all(&out).unwrap();

    let mut buf = [0; 4096];
    let mut conn: Option<Connection> = None;
    let mut events = Vec::new();
    while events.len() < 2 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed early");
        match conn.as_mut() {
            Some(conn) => conn.handle_input(now, &buf[..n]),
            None => {
                if let Some(upgraded) = handshake.handle_input(&buf[..n]).unwrap() {
                    assert!(!upgraded.trailing().is_empty(), "the Ping came in the same read as the 101");
                    conn = Some(upgraded.into_connection(Config::default(), now));
                }
            }
        }
        if let Some(conn) = conn.as_mut() {
            events.extend(std::iter::from_fn(|| conn.poll_event()));
        }
    }
    assert_eq!(events, [Event::Ping(Bytes::from_static(SERVER_PING)), Event::Message(Message::from("early"))]);

    // Vanish without a Close: the server reports it as such.
    drop(stream);
    let (echo, result) = server.join().unwrap();
    assert_eq!(echo.messages, 1);
    assert_eq!(result.unwrap().cause, CloseCause::PeerVanished { during_close: false });
}

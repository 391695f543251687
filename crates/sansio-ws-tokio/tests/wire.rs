//! The server over loopback against a raw client writing exact frames: what goes on the wire.

use std::io::{Read, Write};
use std::net::TcpStream as StdTcp;
use std::time::Duration;

use sansio_ws::handshake::OriginPolicy;
use sansio_ws_tokio::{Config, ServerConfig};

/// A masked client frame (mask 0: the payload reads as sent).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

const REQUEST: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Starts an echo server for one connection on a thread of its own; gives its address.
fn echo_once() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            let handshake = ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(None);
            let mut ws = sansio_ws_tokio::accept_with(tcp, handshake, Config::default()).await.unwrap();
            while let Some(Ok(message)) = ws.recv().await {
                ws.send(message).await.unwrap();
            }
        });
    });
    addr
}

/// Everything the server writes until it closes the connection, after the `101`.
fn exchange(addr: std::net::SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut s = StdTcp::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(REQUEST.as_bytes()).unwrap();
    s.write_all(input).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("the server closes the connection");
    let head = got.windows(4).position(|w| w == b"\r\n\r\n").expect("a response") + 4;
    assert!(got.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&got));
    got.split_off(head)
}

#[test]
fn a_message_before_a_violation_is_echoed_then_the_connection_fails_with_1002() {
    let addr = echo_once();
    let mut input = frame(0x81, b"Hello");
    input.extend(frame(0x81 | 0x20, b"Hello")); // RSV2 set: no extension defines it
    input.extend(frame(0x89, b""));
    let got = exchange(addr, &input);
    let mut expected = vec![0x81, 5];
    expected.extend_from_slice(b"Hello");
    assert!(got.starts_with(&expected), "{got:02x?}");
    let close = &got[expected.len()..];
    assert_eq!(close[0], 0x88, "a Close follows the echo: {got:02x?}");
    assert_eq!(close[1] as usize, close.len() - 2, "and nothing after it: {got:02x?}");
    assert_eq!(&close[2..4], &[0x03, 0xea][..], "1002, protocol error: {got:02x?}");
}

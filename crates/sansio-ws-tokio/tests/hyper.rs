//! WebSockets upgraded inside a hyper 1.x server (`upgrade`): hyper sends the `101` and hands the
//! connection over; the core's checks answer a bad request with the right status and a body that
//! says why; the application's callback chooses a subprotocol or refuses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sansio_ws_tokio::sansio_ws::handshake::OriginPolicy;
use sansio_ws_tokio::upgrade::{upgrade, upgrade_with_callback};
use sansio_ws_tokio::{Accept, ClientConfig, CloseCause, CloseCode, Config, HandshakeError, Message, Reject, Side};
use sansio_ws_tokio::{ServerConfig, Stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// What the server's WebSocket task reports when its connection ends.
type Ended = (Option<CloseCause>, Stats);

/// A hyper server on 127.0.0.1 whose every request goes to `upgrade_with_callback` with `policy`;
/// the callback refuses `/private` with a 401 and takes the subprotocol `echo.v1` when offered.
/// Accepted WebSockets echo; each reports its end on the channel.
async fn server(policy: OriginPolicy) -> (SocketAddr, mpsc::UnboundedReceiver<Ended>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ended, ends) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (ended, policy) = (ended.clone(), policy.clone());
            let service = service_fn(move |mut request: hyper::Request<Incoming>| {
                let (ended, policy) = (ended.clone(), policy.clone());
                async move {
                    let handshake = ServerConfig::default().with_origin_policy(policy);
                    let answer = upgrade_with_callback(&mut request, handshake, Config::default(), |valid| {
                        if valid.path() == "/private" {
                            return Err(Reject::new(401).with_body("who are you?"));
                        }
                        let chat = valid.subprotocols().iter().any(|p| p == "echo.v1");
                        Ok(if chat { Accept::new().with_subprotocol("echo.v1") } else { Accept::new() })
                    });
                    let response: hyper::Response<Full<Bytes>> = match answer {
                        Ok((response, pending)) => {
                            tokio::spawn(async move {
                                let mut ws = pending.await.expect("hyper hands the connection over");
                                while let Some(Ok(message)) = ws.recv().await {
                                    ws.send(message).await.expect("the echo is queued");
                                }
                                let cause = ws.close_info().map(|c| c.cause.clone());
                                ended.send((cause, ws.stats())).unwrap();
                            });
                            response
                        }
                        Err(refused) => refused.into_response(),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
                // A connection that ends badly is the client's doing in these tests.
                let _ended = conn.with_upgrades().await;
            });
        }
    });
    (addr, ends)
}

/// Sends `request` on a fresh connection and reads the whole answer (the server closes after a
/// refusal... or the test stops reading after the head of a 101).
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    // hyper keeps an HTTP/1.1 connection open after a response: read until the body is in.
    let _in_time = tokio::time::timeout(Duration::from_millis(500), async {
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8(answer).unwrap()
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn a_client_talks_through_the_upgrade_and_both_ends_know_why_it_ended() {
    let (addr, mut ends) = server(OriginPolicy::SameHost).await;
    let url = format!("ws://{addr}/chat?room=1");
    let handshake = ClientConfig::default().with_subprotocol("echo.v1");
    let (mut ws, response) = sansio_ws_tokio::connect_with(&url, handshake, Config::default()).await.unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.subprotocol(), Some("echo.v1"));
    // permessage-deflate was negotiated through hyper's response too.
    assert!(response.extensions().iter().any(|e| e.name == "permessage-deflate"), "{:?}", response.extensions());
    let big = Message::binary(vec![7u8; 3 << 20]);
    for message in [Message::text("hello"), big.clone(), Message::text("é ✓")] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
    }
    let closed = ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(
        closed.cause,
        CloseCause::Clean { code: CloseCode::NORMAL, reason: "done".into(), initiator: Side::Local }
    );
    let (cause, stats) = ends.recv().await.unwrap();
    assert_eq!(
        cause,
        Some(CloseCause::Clean { code: CloseCode::NORMAL, reason: "done".into(), initiator: Side::Remote })
    );
    assert_eq!((stats.messages_received, stats.messages_sent), (3, 3));
}

/// The 101 hyper sends carries the accept key of RFC 6455's example, and frames follow at once.
#[tokio::test]
async fn the_101_is_hyper_s_and_carries_the_accept_key() {
    let (addr, _ends) = server(OriginPolicy::SameHost).await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut bytes = request("/", &format!("Sec-WebSocket-Key: {KEY}\r\n")).into_bytes();
    // A masked text frame "hi" right behind the request (mask 0).
    bytes.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
    tcp.write_all(&bytes).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 1024];
    let echo = [0x81, 0x02, b'h', b'i'];
    while !answer.ends_with(&echo) {
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "ended early: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&answer[..answer.len() - echo.len()]).to_lowercase();
    assert!(head.starts_with("http/1.1 101 switching protocols\r\n"), "{head}");
    assert!(head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"), "{head}");
    assert!(head.contains("upgrade: websocket\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "one head, then the echo: {head}");
}

#[tokio::test]
async fn bad_requests_get_the_core_s_status_and_reason() {
    let (addr, _ends) = server(OriginPolicy::SameHost).await;
    // No key: 400, and the body names the field.
    let answer = raw(addr, &request("/", "")).await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Key"), "{answer}");
    // A version we do not speak: 426 with the version we do.
    let answer =
        raw(addr, &request("/", &format!("Sec-WebSocket-Key: {KEY}\r\n")).replace("Version: 13", "Version: 8")).await;
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(answer.to_lowercase().contains("sec-websocket-version: 13"), "{answer}");
    // A page of another site: 403, saying it was the origin.
    let answer =
        raw(addr, &request("/", &format!("Sec-WebSocket-Key: {KEY}\r\nOrigin: https://evil.example\r\n"))).await;
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(answer.to_lowercase().contains("origin"), "{answer}");
    // A page of the same host is let in.
    let answer = raw(addr, &request("/", &format!("Sec-WebSocket-Key: {KEY}\r\nOrigin: http://example.com\r\n"))).await;
    assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
    // An ordinary GET to the WebSocket route: 400, saying the upgrade was missing.
    let answer = raw(addr, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("Upgrade"), "{answer}");
}

#[tokio::test]
async fn the_callback_refuses_with_its_own_status_and_body() {
    let (addr, _ends) = server(OriginPolicy::SameHost).await;
    let answer = raw(addr, &request("/private", &format!("Sec-WebSocket-Key: {KEY}\r\n"))).await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(answer.ends_with("who are you?"), "{answer}");
    // The client reads the refusal as one, with the status.
    let url = format!("ws://{addr}/private");
    let e = sansio_ws_tokio::connect(&url).await.unwrap_err();
    let HandshakeError::Client(e) = e else { panic!("not the server's refusal: {e:?}") };
    assert_eq!(e.rejected_status(), Some(401));
}

/// `upgrade` alone (no callback) accepts, and a refused one can be inspected before answering.
#[tokio::test]
async fn upgrade_errors_name_their_status() {
    let mut request = hyper::Request::builder()
        .uri("/")
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    let refused = upgrade::<_, Full<Bytes>>(&mut request, ServerConfig::default(), Config::default()).unwrap_err();
    assert_eq!(refused.status(), 400);
    assert!(matches!(refused.error(), HandshakeError::Server(_)), "{:?}", refused.error());
    assert!(refused.to_string().contains("400"), "{refused}");
    assert!(refused.to_string().contains("Sec-WebSocket-Key"), "{refused}");
    let response: hyper::Response<Full<Bytes>> = refused.into_response();
    assert_eq!(response.status(), 400);

    request.headers_mut().insert("sec-websocket-key", KEY.parse().unwrap());
    let (response, _pending) =
        upgrade::<_, Full<Bytes>>(&mut request, ServerConfig::default(), Config::default()).unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    // HTTP/2 requests are refused with 505, not misread as HTTP/1.1.
    *request.version_mut() = http::Version::HTTP_2;
    let refused = upgrade::<_, Full<Bytes>>(&mut request, ServerConfig::default(), Config::default()).unwrap_err();
    assert_eq!(refused.status(), 505);
    assert!(matches!(refused.error(), HandshakeError::UnsupportedHttpVersion), "{:?}", refused.error());
    let response: hyper::Response<Full<Bytes>> = refused.into_response();
    assert_eq!(response.status(), 505);
}

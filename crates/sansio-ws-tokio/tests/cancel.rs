//! Cancel safety, as `WebSocketStream`'s documentation states it, over an in-memory transport:
//!
//! - `recv` cancelled while a large message is half-arrived loses nothing: the next `recv` gives
//!   the whole message, once;
//! - a `send` cancelled while it waits for room sends none of its message, while the messages
//!   queued before it go out whole and in order and later sends work;
//! - a queued message goes out whole after its `flush` is cancelled midway, with later polls of
//!   any kind (here a `recv`);
//! - a `close` cancelled before the handshake is over resumes when called again and ends cleanly,
//!   and after one, `recv` receives what the peer sends before its Close (nothing is discarded);
//! - `StreamExt::next` cancelled again and again by a `select!` timer, often in the middle of a
//!   message, loses no message and reorders none (against a raw writer and against the `Sink` of
//!   another stream).
//!
//! The clock is real. The timers here only decide when a pending call is dropped; the outcome does
//! not depend on their exact length.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sansio_ws::connection::State;
use sansio_ws::handshake::OriginPolicy;
use sansio_ws_tokio::{ClientConfig, CloseCause, CloseCode, Config, Message, ServerConfig, Side, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::timeout;

/// How long a call is given before it is dropped, when it is meant to be pending.
const CANCEL_AFTER: Duration = Duration::from_millis(20);
/// How long a call is given when it is meant to finish.
const FINISH_WITHIN: Duration = Duration::from_secs(5);

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The connection settings of every test: no heartbeat, so that no Ping of ours interferes.
fn config() -> Config {
    Config::default().with_heartbeat(None)
}

/// Runs a test's body, failing it (rather than hanging) if it takes longer than 10 s.
async fn bounded(body: impl std::future::Future<Output = ()>) {
    timeout(Duration::from_secs(10), body).await.expect("the test finished within 10 s");
}

fn server_handshake() -> ServerConfig {
    ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(None)
}

/// A client frame, masked with the key 0 (the payload reads as sent), any length.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
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

/// `len` bytes that differ from one position to the next and from one `seed` to another, so that a
/// lost, repeated or misplaced chunk shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed).collect()
}

/// A server stream over a duplex pipe of `capacity` bytes, and the raw client end of the pipe
/// (the request is written; the `101` waits in the server's queue until the server is polled).
async fn server_with_raw_client(capacity: usize, config: Config) -> (WebSocketStream<DuplexStream>, DuplexStream) {
    let (mut raw, io) = duplex(capacity);
    raw.write_all(REQUEST).await.unwrap();
    let ws = sansio_ws_tokio::accept_with(io, server_handshake(), config).await.unwrap();
    (ws, raw)
}

/// A client stream and a server stream over one duplex pipe of `capacity` bytes.
async fn pair(
    capacity: usize,
    client: Config,
    server: Config,
) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = duplex(capacity);
    let (c, s) = tokio::join!(
        sansio_ws_tokio::client_with("ws://localhost/", a, ClientConfig::default().with_deflate(None), client),
        async {
            let mut s = sansio_ws_tokio::accept_with(b, server_handshake(), server).await.unwrap();
            // The `101` leaves with the server's first write.
            s.flush().await.unwrap();
            s
        }
    );
    (c.unwrap().0, s)
}

/// Receives until the end, giving the messages and the final cause.
async fn drain(ws: &mut WebSocketStream<DuplexStream>) -> (Vec<Message>, CloseCause) {
    let mut got = Vec::new();
    while let Some(m) = ws.recv().await {
        got.push(m.expect("a clean end"));
    }
    (got, ws.close_info().expect("the stream ended").cause.clone())
}

fn clean(code: CloseCode, reason: &str, initiator: Side) -> CloseCause {
    CloseCause::Clean { code, reason: reason.into(), initiator }
}

/// A message, shown by kind and length (the payloads here are too long to print).
fn describe(m: &Option<Result<Message, sansio_ws_tokio::Error>>) -> String {
    match m {
        Some(Ok(m)) => format!("{:?} message of {} bytes", m.kind(), m.len()),
        Some(Err(e)) => format!("error {e}"),
        None => "the end".into(),
    }
}

#[tokio::test]
async fn recv_cancelled_while_a_large_message_is_half_arrived_loses_nothing() {
    bounded(async {
        let (mut ws, mut raw) = server_with_raw_client(4 << 20, config()).await;
        let payload = pattern(1 << 20, 0x5a);
        let frame = masked(0x82, &payload);
        // Cut inside the 14-byte header, just after it, in the middle, and one byte before the end.
        let cuts = [5, 15, frame.len() / 2, frame.len() - 1];
        let mut written = 0;
        for (i, &cut) in cuts.iter().enumerate() {
            raw.write_all(&frame[written..cut]).await.unwrap();
            written = cut;
            // Dropped while pending, by a timeout or by a select! whose other branch is ready.
            if i % 2 == 0 {
                let r = timeout(CANCEL_AFTER, ws.recv()).await;
                assert!(
                    r.is_err(),
                    "recv finished with {} after {cut} of {} bytes",
                    r.map_or(String::new(), |m| describe(&m)),
                    frame.len()
                );
            } else {
                tokio::select! {
                    biased;
                    m = ws.recv() => panic!("recv finished with {} after {cut} of {} bytes", describe(&m), frame.len()),
                    () = std::future::ready(()) => {}
                }
            }
            // The cancelled call had taken every byte there was into the connection.
            assert_eq!(ws.stats().bytes_received, cut as u64, "what the cancelled recv had read");
            assert_eq!(ws.stats().messages_received, 0);
        }
        raw.write_all(&frame[written..]).await.unwrap();
        let got = timeout(FINISH_WITHIN, ws.recv()).await.expect("the message completes");
        match got {
            Some(Ok(Message::Binary(b))) => assert!(b == payload, "the message arrived altered ({} bytes)", b.len()),
            other => panic!("expected the binary message, got {}", describe(&other)),
        }
        // Nothing repeated: the next message is the next one sent.
        raw.write_all(&masked(0x81, b"after")).await.unwrap();
        let next = timeout(FINISH_WITHIN, ws.recv()).await.expect("the next message");
        assert_eq!(next.map(Result::unwrap), Some(Message::text("after")));
        // And nothing else: a clean close ends the stream with no further message.
        raw.write_all(&masked(0x88, &1000u16.to_be_bytes())).await.unwrap();
        raw.shutdown().await.unwrap();
        let end = timeout(FINISH_WITHIN, ws.recv()).await.expect("the end");
        assert!(end.is_none(), "expected the end, got {}", describe(&end));
        assert_eq!(ws.close_info().unwrap().cause, clean(CloseCode::NORMAL, "", Side::Remote));
        assert_eq!(ws.stats().messages_received, 2);
    })
    .await;
}

/// Message `i` of the send tests: 32 KiB of its own pattern, tagged with `i`.
fn numbered(i: u32) -> Message {
    let mut payload = i.to_be_bytes().to_vec();
    payload.extend(pattern(32 << 10, i as u8));
    Message::binary(payload)
}

#[tokio::test]
async fn send_cancelled_while_waiting_for_room_sends_none_of_its_message() {
    bounded(async {
        // 64 KiB high-water mark, a 16 KiB pipe, a peer that does not read (yet).
        let ours = config().with_high_water_mark(64 << 10).with_low_water_mark(16 << 10);
        let (mut client, mut server) = pair(16 << 10, ours, config()).await;
        let mut queued = Vec::new();
        let waiting = loop {
            let i = queued.len() as u32;
            assert!(i < 64, "a send never had to wait");
            match timeout(CANCEL_AFTER, client.send(numbered(i))).await {
                Ok(sent) => {
                    sent.unwrap();
                    queued.push(numbered(i));
                }
                Err(_) => break i,
            }
        };
        assert!(queued.len() >= 2, "{} messages queued before the wait", queued.len());
        let before = client.buffered_amount();
        assert!(before > 64 << 10, "the wait began above the high-water mark ({before} bytes)");
        // The cancelled send queued nothing: the queue is exactly what it was.
        tokio::select! {
            biased;
            r = client.send(numbered(waiting)) => panic!("the send did not wait: {r:?}"),
            () = std::future::ready(()) => {}
        }
        assert_eq!(client.buffered_amount(), before, "a cancelled send changed the queue");
        assert_eq!(client.state(), State::Open);

        // The peer reads now; a later send waits for room, then everything goes out.
        let later = Message::text("after the cancelled send");
        let ((), (got, cause)) = tokio::join!(
            async {
                client.send(later.clone()).await.unwrap();
                client.flush().await.unwrap();
                let closed = client.close(CloseCode::NORMAL, "done").await.unwrap();
                assert_eq!(closed.cause, clean(CloseCode::NORMAL, "done", Side::Local));
            },
            drain(&mut server)
        );
        let mut expected = queued;
        expected.push(later);
        assert_eq!(got.len(), expected.len(), "the peer got {} messages, {} expected", got.len(), expected.len());
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!(g == e, "message {k} differs: got {} bytes tagged {:?}", g.len(), &g.payload()[..4.min(g.len())]);
        }
        assert_eq!(cause, clean(CloseCode::NORMAL, "done", Side::Remote));
    })
    .await;
}

#[tokio::test]
async fn a_queued_large_message_goes_out_whole_after_its_flush_is_cancelled() {
    bounded(async {
        let (mut client, mut server) = pair(64 << 10, config(), config()).await;
        let big = Message::binary(pattern(8 << 20, 0xa5));
        // Below the high-water mark: queued at once, whatever the transport takes.
        timeout(FINISH_WITHIN, client.send(big.clone())).await.expect("queued at once").unwrap();
        let mut left = client.buffered_amount();
        assert!(left > 7 << 20, "{left} bytes queued");
        for round in 0..4 {
            // The flush is cancelled midway: some bytes out, most still queued.
            assert!(timeout(CANCEL_AFTER, client.flush()).await.is_err(), "round {round}: the flush finished");
            let now_left = client.buffered_amount();
            assert!(now_left > 0, "round {round}: nothing left");
            if round > 0 {
                assert!(now_left < left, "round {round}: the flush wrote nothing ({now_left} left)");
            }
            left = now_left;
            // The peer reads slowly: what the pipe holds, then its recv is dropped too.
            let r = timeout(CANCEL_AFTER, server.recv()).await;
            assert!(r.is_err(), "round {round}: the peer got {}", r.map_or(String::new(), |m| describe(&m)));
        }
        // No flush and no send any more: only a recv, which the peer's answer ends. The rest of the
        // message must go out with its polls.
        let (got, ack) = tokio::join!(
            async {
                let got = server.recv().await;
                server.send(Message::text("ack")).await.unwrap();
                server.flush().await.unwrap();
                got
            },
            timeout(FINISH_WITHIN, client.recv())
        );
        match got {
            Some(Ok(m)) => assert!(m == big, "the message arrived altered: {} bytes", m.len()),
            other => panic!("expected the large message, got {}", describe(&other)),
        }
        assert_eq!(ack.expect("the answer came").map(Result::unwrap), Some(Message::text("ack")));
        assert_eq!(client.buffered_amount(), 0);
        assert_eq!(client.stats().messages_sent, 1);
        let (closed, (rest, cause)) = tokio::join!(client.close(CloseCode::NORMAL, ""), drain(&mut server));
        assert_eq!(closed.unwrap().cause, clean(CloseCode::NORMAL, "", Side::Local));
        assert!(rest.is_empty(), "{} more messages", rest.len());
        assert_eq!(cause, clean(CloseCode::NORMAL, "", Side::Remote));
    })
    .await;
}

#[tokio::test]
async fn close_cancelled_then_called_again_resumes_and_ends_cleanly() {
    bounded(async {
        let (mut client, mut server) = pair(16 << 10, config(), config()).await;
        // A message the pipe cannot take at once: our Close queues behind it.
        let message = Message::binary(pattern(100 << 10, 7));
        client.send(message.clone()).await.unwrap();
        let r = timeout(CANCEL_AFTER, client.close(CloseCode::NORMAL, "bye")).await;
        assert!(r.is_err(), "the close finished with the peer idle: {r:?}");
        assert_eq!(client.state(), State::Closing);
        assert!(client.close_info().is_none());
        assert!(client.buffered_amount() > 0, "the message and the Close are still queued");
        // Cancelled once more, the other way.
        tokio::select! {
            biased;
            r = client.close(CloseCode::NORMAL, "bye") => panic!("the close finished with the peer idle: {r:?}"),
            () = std::future::ready(()) => {}
        }
        let started = std::time::Instant::now();
        let (closed, (got, cause)) =
            tokio::join!(timeout(FINISH_WITHIN, client.close(CloseCode::NORMAL, "bye")), drain(&mut server));
        let closed = closed.expect("the close resumed and ended").unwrap();
        assert_eq!(closed.cause, clean(CloseCode::NORMAL, "bye", Side::Local));
        assert_eq!(client.close_info().map(|c| &c.cause), Some(&closed.cause));
        // Not by the close timeout (5 s for a client): the handshake completed.
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(got.len(), 1);
        assert!(got[0] == message, "the message before the Close arrived altered");
        assert_eq!(cause, clean(CloseCode::NORMAL, "bye", Side::Remote));
    })
    .await;
}

#[tokio::test]
async fn after_a_cancelled_close_recv_receives_what_the_peer_sends_before_its_close() {
    bounded(async {
        let (mut client, mut server) = pair(64 << 10, config(), config()).await;
        // The server is not polled: the close cannot finish, and is dropped while it waits.
        let r = timeout(CANCEL_AFTER, client.close(CloseCode::NORMAL, "bye")).await;
        assert!(r.is_err(), "the close finished with the peer idle: {r:?}");
        assert_eq!(client.state(), State::Closing);
        // The peer queues two messages before it reads our Close (on the connection itself: a
        // `send` would read the Close first); messages are not discarded any longer, so recv
        // gets both, then the end of the handshake.
        server.connection_mut().send(Message::text("after the close")).unwrap();
        server.connection_mut().send(Message::binary(pattern(3000, 1))).unwrap();
        server.flush().await.unwrap();
        let (got, cause) = tokio::join!(drain(&mut client), async {
            let (got, cause) = drain(&mut server).await;
            assert!(got.is_empty(), "the client sent nothing but its Close: {got:?}");
            cause
        })
        .0;
        assert_eq!(got, [Message::text("after the close"), Message::binary(pattern(3000, 1))]);
        assert_eq!(cause, clean(CloseCode::NORMAL, "bye", Side::Local));
        assert_eq!(server.close_info().unwrap().cause, clean(CloseCode::NORMAL, "bye", Side::Remote));
    })
    .await;
}

/// Message `i` of the select tests: text with multi-byte characters or binary, of a length
/// between 1 byte and about 40 KiB.
fn varied(i: usize) -> Message {
    let len = (i * 7919) % 40_000 + 1;
    if i % 2 == 0 {
        let text: String = "aé€😀".chars().cycle().take(len / 3 + 1).collect();
        Message::text(text)
    } else {
        Message::binary(pattern(len, i as u8))
    }
}

#[tokio::test]
async fn next_cancelled_by_select_again_and_again_loses_no_message() {
    bounded(async {
        const N: usize = 60;
        let (mut ws, mut raw) = server_with_raw_client(64 << 10, config()).await;
        // The writer sends each frame in three pieces and waits, after every piece but the last,
        // until the reader's timer has won once (so that each piece is followed by a cancellation).
        let (go, mut gone) = tokio::sync::mpsc::unbounded_channel::<()>();
        let writer = tokio::spawn(async move {
            for i in 0..N {
                let (opcode, payload) = match varied(i) {
                    Message::Text(t) => (0x81, t.as_bytes().to_vec()),
                    Message::Binary(b) => (0x82, b.to_vec()),
                };
                let mut frame = masked(opcode, &payload);
                if i % 7 == 3 {
                    // A Ping between messages: answered, and no message for `next`.
                    frame.splice(0..0, masked(0x89, b"between"));
                }
                let cuts = [frame.len() / 3, frame.len() * 2 / 3, frame.len()];
                let mut from = 0;
                for cut in cuts {
                    raw.write_all(&frame[from..cut]).await.unwrap();
                    from = cut;
                    if i + 1 < N || cut < frame.len() {
                        gone.recv().await.unwrap();
                    }
                }
            }
            raw.write_all(&masked(0x88, &1000u16.to_be_bytes())).await.unwrap();
            raw.shutdown().await.unwrap();
            // What the server wrote (the 101, the Pongs, the Close), up to its end.
            let mut out = Vec::new();
            raw.read_to_end(&mut out).await.unwrap();
            out
        });
        let mut got = Vec::new();
        let (mut cancels, mut mid_message) = (0, 0);
        while got.len() < N {
            tokio::select! {
                biased;
                m = ws.next() => got.push(m.expect("a message").expect("no error")),
                () = tokio::time::sleep(Duration::from_millis(1)) => {
                    cancels += 1;
                    // `next` was polled first and was pending: what the connection holds is a part.
                    if ws.connection().buffered_input() > 0 {
                        mid_message += 1;
                    }
                    // The writer may have sent everything and gone: it then needs no go-ahead.
                    let _ = go.send(());
                }
            }
        }
        assert_eq!(got.len(), N);
        for (i, m) in got.iter().enumerate() {
            assert!(*m == varied(i), "message {i} differs: {:?} of {} bytes", m.kind(), m.len());
        }
        // The writer needed one win of the timer per piece but the last.
        assert!(cancels >= 3 * N - 1, "{cancels} cancellations");
        assert!(mid_message >= N, "{mid_message} of {cancels} cancellations in the middle of a message");
        let end = timeout(FINISH_WITHIN, ws.next()).await.expect("the end");
        assert!(end.is_none(), "expected the end, got {}", describe(&end));
        assert_eq!(ws.close_info().unwrap().cause, clean(CloseCode::NORMAL, "", Side::Remote));
        let out = timeout(FINISH_WITHIN, writer).await.unwrap().unwrap();
        let pongs = (0..N).filter(|i| i % 7 == 3).count();
        let pong = [0x8a, 7].iter().chain(b"between").copied().collect::<Vec<u8>>();
        assert_eq!(
            out.windows(pong.len()).filter(|w| *w == pong.as_slice()).count(),
            pongs,
            "every Ping answered once"
        );
    })
    .await;
}

#[tokio::test]
async fn next_cancelled_by_select_loses_nothing_the_peers_sink_fed() {
    bounded(async {
        const N: usize = 80;
        let (mut client, mut server) = pair(4 << 10, config(), config()).await;
        let (go, mut gone) = tokio::sync::mpsc::unbounded_channel::<()>();
        // The peer feeds its sink without flushing and waits for the reader's timer between
        // messages: its queued bytes move only with its polls, so the reader stalls mid-message.
        let peer = tokio::spawn(async move {
            for i in 0..N {
                server.feed(varied(i)).await.unwrap();
                gone.recv().await.unwrap();
            }
            SinkExt::flush(&mut server).await.unwrap();
            drain(&mut server).await
        });
        let mut got = Vec::new();
        let (mut cancels, mut mid_message) = (0, 0);
        while got.len() < N {
            tokio::select! {
                biased;
                m = client.next() => got.push(m.expect("a message").expect("no error")),
                () = tokio::time::sleep(Duration::from_millis(1)) => {
                    cancels += 1;
                    if client.connection().buffered_input() > 0 {
                        mid_message += 1;
                    }
                    // The writer may have sent everything and gone: it then needs no go-ahead.
                    let _ = go.send(());
                }
            }
        }
        for (i, m) in got.iter().enumerate() {
            assert!(*m == varied(i), "message {i} differs: {:?} of {} bytes", m.kind(), m.len());
        }
        // The peer needed one win of the timer per message.
        assert!(cancels >= N, "{cancels} cancellations");
        assert!(mid_message > 0, "no cancellation in the middle of a message ({cancels} in all)");
        SinkExt::close(&mut client).await.unwrap();
        assert_eq!(client.close_info().unwrap().cause, clean(CloseCode::NORMAL, "", Side::Local));
        let (rest, cause) = timeout(FINISH_WITHIN, peer).await.unwrap().unwrap();
        assert!(rest.is_empty(), "{} more messages", rest.len());
        assert_eq!(cause, clean(CloseCode::NORMAL, "", Side::Remote));
    })
    .await;
}

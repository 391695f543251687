//! What runs when, as `WebSocketStream`'s documentation states it, against a raw client that
//! writes exact frames and reads exactly what the server writes:
//!
//! - the peer's Pings are answered while the application only awaits `recv`, and not while
//!   nobody polls the stream;
//! - after `split`, the read half's polls answer a Ping while the write half idles in its task;
//! - the heartbeat fires while only `recv` is pending: against a silent peer, the stream ends
//!   with [`CloseCause::HeartbeatTimeout`] after the configured Pings and deadlines;
//! - the close handshake's timeout: a peer that never answers our Close ends `close` with
//!   [`CloseCause::CloseTimeout`] when the configured time is up;
//! - a write-only application (read half dropped) still answers Pings and the peer's Close during
//!   its sends and flushes, discarding the messages.
//!
//! These run on the real clock, with timeouts of a few hundred milliseconds. The last tests run
//! the heartbeat and the close timeout again on tokio's paused clock (`start_paused`), with
//! deadlines of minutes: the stream reads its time from tokio, so a paused runtime that jumps to
//! the next timer moves the connection's clock with it, and they end at the exact virtual instant
//! in milliseconds of real time.

use std::time::{Duration, Instant};

use sansio_ws::connection::{HeartbeatConfig, State};
use sansio_ws::handshake::OriginPolicy;
use sansio_ws_tokio::{CloseCause, CloseCode, Config, Error, Message, ServerConfig, Side, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::timeout;

/// How long something that must happen may take.
const WITHIN: Duration = Duration::from_secs(2);

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Settings without a heartbeat, so that only the frames a test provokes are written.
fn config() -> Config {
    Config::default().with_heartbeat(None)
}

/// Runs a test's body, failing it (rather than hanging) if it takes longer than 10 s.
async fn bounded(body: impl std::future::Future<Output = ()>) {
    timeout(Duration::from_secs(10), body).await.expect("the test finished within 10 s");
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

/// A frame as the server wrote it: its first byte (FIN, opcode) and its payload.
type Frame = (u8, Vec<u8>);

fn frame(first: u8, payload: &[u8]) -> Frame {
    (first, payload.to_vec())
}

/// The first whole server frame of `buf` (unmasked) and its length.
fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
    let (&first, &second) = (buf.first()?, buf.get(1)?);
    assert_eq!(second & 0x80, 0, "a server frame is not masked: {buf:02x?}");
    let (len, head) = match second & 0x7f {
        126 => (u16::from_be_bytes(buf.get(2..4)?.try_into().unwrap()) as usize, 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().unwrap()) as usize, 10),
        n => (n as usize, 2),
    };
    let payload = buf.get(head..head + len)?;
    Some(((first, payload.to_vec()), head + len))
}

/// Splits what the server wrote into its `101` head and its frames; no byte may be left over.
fn split_output(out: &[u8]) -> (String, Vec<Frame>) {
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut rest = &out[end..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (f, n) = parse(rest).unwrap_or_else(|| panic!("a partial frame at the end: {rest:02x?}"));
        frames.push(f);
        rest = &rest[n..];
    }
    (head, frames)
}

/// The client's end of the pipe: writes frames, reads the server's head and frames.
struct Raw {
    io: DuplexStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn write(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// Reads more into the buffer; false at the end of the stream. Cancel-safe.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0; 8192];
        let n = self.io.read(&mut chunk).await.unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The server's response head.
    async fn head(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..p + 4).collect();
                return String::from_utf8_lossy(&head).into_owned();
            }
            assert!(self.fill().await, "the stream ended before the response head");
        }
    }

    /// The server's next frame; `None` at the end of the stream.
    async fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((f, n)) = parse(&self.buf) {
                self.buf.drain(..n);
                return Some(f);
            }
            if !self.fill().await {
                assert!(self.buf.is_empty(), "a partial frame at the end: {:02x?}", self.buf);
                return None;
            }
        }
    }

    /// The next frame, which must come within [`WITHIN`].
    async fn expect_frame(&mut self) -> Frame {
        timeout(WITHIN, self.frame()).await.expect("a frame in time").expect("a frame, not the end")
    }

    async fn expect_101(&mut self) {
        let head = timeout(WITHIN, self.head()).await.expect("the response head in time");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    }
}

/// A server stream over a duplex pipe of `capacity` bytes, and the raw client end (the request is
/// written; the `101` goes out with the server's first write).
async fn server_with_raw_client(capacity: usize, config: Config) -> (WebSocketStream<DuplexStream>, Raw) {
    let (mut raw, io) = duplex(capacity);
    raw.write_all(REQUEST).await.unwrap();
    let handshake = ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(None);
    let ws = sansio_ws_tokio::accept_with(io, handshake, config).await.unwrap();
    (ws, Raw { io: raw, buf: Vec::new() })
}

/// Reads everything the server writes until its end, then drops the pipe (so the server's
/// lingering read sees the end at once).
fn read_to_end(mut raw: Raw) -> tokio::task::JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
        let mut out = std::mem::take(&mut raw.buf);
        raw.io.read_to_end(&mut out).await.unwrap();
        out
    })
}

const CLOSE_1000: [u8; 2] = 1000u16.to_be_bytes();

fn clean_remote() -> CloseCause {
    CloseCause::Clean { code: CloseCode::NORMAL, reason: String::new(), initiator: Side::Remote }
}

#[tokio::test]
async fn pings_are_answered_while_only_recv_is_pending() {
    bounded(async {
        let (mut ws, mut raw) = server_with_raw_client(64 << 10, config()).await;
        // The application does nothing but await one recv.
        let app = tokio::spawn(async move {
            let got = ws.recv().await;
            (got.map(|m| m.map_err(|e| e.to_string())), ws)
        });
        raw.expect_101().await;
        for payload in [&b"hello"[..], b"again", b""] {
            raw.write(&masked(0x89, payload)).await;
            assert_eq!(raw.expect_frame().await, frame(0x8a, payload), "the Pong of {payload:?}");
        }
        raw.write(&masked(0x88, &CLOSE_1000)).await;
        assert_eq!(raw.expect_frame().await, frame(0x88, &CLOSE_1000), "the Close answered");
        raw.io.shutdown().await.unwrap();
        let (got, ws) = timeout(WITHIN, app).await.expect("recv ends").unwrap();
        assert_eq!(got, None, "no message came, and the end was clean");
        assert_eq!(ws.close_info().unwrap().cause, clean_remote());
        assert_eq!(ws.stats().pings_received, 3);
        assert_eq!(timeout(WITHIN, raw.frame()).await.unwrap(), None, "nothing more than the Pongs and the Close");
    })
    .await;
}

#[tokio::test]
async fn pings_wait_while_nobody_receives_and_are_answered_by_the_next_recv() {
    bounded(async {
        let (mut ws, mut raw) = server_with_raw_client(64 << 10, config()).await;
        ws.flush().await.unwrap();
        raw.expect_101().await;
        raw.write(&masked(0x89, b"anyone?")).await;
        // Nobody polls the stream: the Ping is not even read.
        assert!(timeout(Duration::from_millis(200), raw.frame()).await.is_err(), "a Pong without a poll");
        assert_eq!(ws.stats().pings_received, 0);
        // A recv (dropped once it is pending) answers it.
        assert!(timeout(Duration::from_millis(20), ws.recv()).await.is_err());
        assert_eq!(ws.stats().pings_received, 1);
        assert_eq!(raw.expect_frame().await, frame(0x8a, b"anyone?"));
    })
    .await;
}

#[tokio::test]
async fn after_split_the_read_half_answers_pings_while_the_write_half_idles() {
    bounded(async {
        let (ws, mut raw) = server_with_raw_client(64 << 10, config()).await;
        let (mut read, mut write) = ws.split();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(m) = read.recv().await {
                got.push(m.unwrap());
            }
            (got, read.close_info())
        });
        let (wake, woken) = tokio::sync::oneshot::channel::<()>();
        let writer = tokio::spawn(async move {
            // Idle, holding the write half, until told.
            woken.await.unwrap();
            write.send(Message::text("from the writer")).await.unwrap();
            write.flush().await.unwrap();
            write
        });
        raw.expect_101().await;
        raw.write(&masked(0x89, b"split")).await;
        assert_eq!(raw.expect_frame().await, frame(0x8a, b"split"), "the Pong, with the writer idle");
        raw.write(&masked(0x81, b"to the reader")).await;
        raw.write(&masked(0x89, b"split again")).await;
        assert_eq!(raw.expect_frame().await, frame(0x8a, b"split again"));
        assert!(!writer.is_finished(), "the writer idled throughout");
        wake.send(()).unwrap();
        assert_eq!(raw.expect_frame().await, frame(0x81, b"from the writer"));
        let write = timeout(WITHIN, writer).await.unwrap().unwrap();
        raw.write(&masked(0x88, &CLOSE_1000)).await;
        assert_eq!(raw.expect_frame().await, frame(0x88, &CLOSE_1000));
        raw.io.shutdown().await.unwrap();
        let (got, closed) = timeout(WITHIN, reader).await.expect("the reader ends").unwrap();
        assert_eq!(got, [Message::text("to the reader")]);
        assert_eq!(closed.unwrap().cause, clean_remote());
        assert_eq!(write.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn the_heartbeat_ends_a_silent_peer_while_only_recv_is_pending() {
    bounded(async {
        // A Ping after 100 ms of silence, its Pong awaited 100 ms, the retry's 200 ms: dead at 400 ms.
        let heartbeat = HeartbeatConfig::default()
            .with_interval(Duration::from_millis(100))
            .with_initial_timeout(Duration::from_millis(100))
            .with_min_timeout(Duration::from_millis(100))
            .with_max_timeout(Duration::from_millis(400))
            .with_max_misses(2);
        let started = Instant::now();
        let (mut ws, raw) = server_with_raw_client(64 << 10, config().with_heartbeat(Some(heartbeat))).await;
        // The peer reads and discards; it never answers.
        let peer = read_to_end(raw);
        let expected = CloseCause::HeartbeatTimeout { misses: 2, last_rtt: None };
        let first = timeout(Duration::from_secs(3), ws.recv()).await.expect("recv ends");
        let took = started.elapsed();
        match first {
            Some(Err(Error::Closed(closed))) => assert_eq!(closed.cause, expected),
            other => panic!("expected the heartbeat's end, got {other:?}"),
        }
        assert!(took >= Duration::from_millis(400), "ended after {took:?}, before the deadlines ran out");
        assert!(took < Duration::from_millis(1200), "ended after {took:?}");
        assert!(timeout(WITHIN, ws.recv()).await.unwrap().is_none(), "the error is given once, then the end");
        assert_eq!(ws.close_info().unwrap().cause, expected);
        assert_eq!(ws.stats().heartbeat_pings, 2);
        // On the wire: the 101, the two Pings (sequence 0 then 1), and the end (a dead peer gets no Close).
        let (head, frames) = split_output(&timeout(WITHIN, peer).await.unwrap().unwrap());
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert_eq!(frames.len(), 2, "{frames:02x?}");
        for (seq, (first, payload)) in frames.iter().enumerate() {
            assert_eq!(*first, 0x89, "a Ping: {frames:02x?}");
            assert_eq!(payload.len(), 20);
            assert_eq!(&payload[..4], b"swhb");
            assert_eq!(payload[4..12], (seq as u64).to_be_bytes());
        }
    })
    .await;
}

#[tokio::test]
async fn close_ends_with_the_close_timeout_when_the_peer_never_answers() {
    bounded(async {
        let close_timeout = Duration::from_millis(300);
        let (mut ws, raw) = server_with_raw_client(64 << 10, config().with_close_timeout(Some(close_timeout))).await;
        let peer = read_to_end(raw);
        let started = Instant::now();
        let closed =
            timeout(Duration::from_secs(3), ws.close(CloseCode::NORMAL, "bye")).await.expect("close ends").unwrap();
        let took = started.elapsed();
        assert_eq!(closed.cause, CloseCause::CloseTimeout);
        assert!(took >= close_timeout, "ended after {took:?}, before the close timeout");
        assert!(took < close_timeout + Duration::from_millis(500), "ended after {took:?}");
        assert_eq!(ws.close_info().unwrap().cause, CloseCause::CloseTimeout);
        assert_eq!(ws.state(), State::Closed);
        // On the wire: the 101, our Close, and the end.
        let (head, frames) = split_output(&timeout(WITHIN, peer).await.unwrap().unwrap());
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert_eq!(frames, [frame(0x88, b"\x03\xe8bye")]);
    })
    .await;
}

/// The two frames that must come next, in either order.
async fn two_frames(raw: &mut Raw) -> Vec<Frame> {
    let mut got = vec![raw.expect_frame().await, raw.expect_frame().await];
    got.sort();
    got
}

#[tokio::test]
async fn a_write_only_application_answers_pings_during_its_sends_and_flushes() {
    bounded(async {
        let (ws, mut raw) = server_with_raw_client(1 << 20, config()).await;
        let (read, mut write) = ws.split();
        drop(read);
        // During a send (no flush): the Ping that came first is answered with it.
        raw.write(&masked(0x89, b"p1")).await;
        write.send(Message::text("one")).await.unwrap();
        raw.expect_101().await;
        assert_eq!(two_frames(&mut raw).await, [frame(0x81, b"one"), frame(0x8a, b"p1")]);
        // During a flush with nothing of ours queued.
        raw.write(&masked(0x89, b"p2")).await;
        write.flush().await.unwrap();
        assert_eq!(raw.expect_frame().await, frame(0x8a, b"p2"));
        // Messages are discarded, so the Ping behind them is read and answered.
        raw.write(&masked(0x81, b"nobody reads this")).await;
        raw.write(&masked(0x82, &vec![7; 200 << 10])).await;
        raw.write(&masked(0x89, b"p3")).await;
        write.send(Message::text("two")).await.unwrap();
        assert_eq!(two_frames(&mut raw).await, [frame(0x81, b"two"), frame(0x8a, b"p3")]);
        // The peer's Close is answered during a flush too, and the connection ends.
        raw.write(&masked(0x88, &CLOSE_1000)).await;
        write.flush().await.unwrap();
        assert_eq!(raw.expect_frame().await, frame(0x88, &CLOSE_1000));
        assert_eq!(write.state(), State::Closed);
        raw.io.shutdown().await.unwrap();
        assert_eq!(timeout(WITHIN, raw.frame()).await.unwrap(), None, "nothing after the Close");
    })
    .await;
}

/// Runs `body` on a current-thread runtime whose clock starts paused, in a thread of its own, and
/// fails if it has not finished within 20 s of real time (a stream that mistook the clock would
/// spin or wait for ever).
fn on_paused_clock<F: std::future::Future<Output = ()> + 'static>(body: impl FnOnce() -> F + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        rt.block_on(body());
        done.send(()).unwrap();
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the test did not finish within 20 s of real time"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the test failed (see its panic above)"),
    }
    assert!(started.elapsed() < Duration::from_secs(10), "virtual minutes took {:?} of real time", started.elapsed());
}

#[test]
fn on_a_paused_clock_the_heartbeat_ends_a_silent_peer_at_its_virtual_deadline() {
    on_paused_clock(|| async {
        // A Ping after 30 s of silence, its Pong awaited 10 s, the retry's 20 s: dead at 60 s.
        let heartbeat = HeartbeatConfig::default()
            .with_interval(Duration::from_secs(30))
            .with_initial_timeout(Duration::from_secs(10))
            .with_min_timeout(Duration::from_secs(10))
            .with_max_timeout(Duration::from_secs(40))
            .with_max_misses(2);
        let started = tokio::time::Instant::now();
        let (mut ws, raw) = server_with_raw_client(64 << 10, config().with_heartbeat(Some(heartbeat))).await;
        let peer = read_to_end(raw);
        let expected = CloseCause::HeartbeatTimeout { misses: 2, last_rtt: None };
        match ws.recv().await {
            Some(Err(Error::Closed(closed))) => assert_eq!(closed.cause, expected),
            other => panic!("expected the heartbeat's end, got {other:?}"),
        }
        let took = started.elapsed();
        // tokio's timers round up to the millisecond.
        assert!(took >= Duration::from_secs(60), "ended after {took:?}, before the deadlines ran out");
        assert!(took <= Duration::from_millis(60_010), "ended after {took:?}, not at the deadline");
        assert_eq!(ws.stats().heartbeat_pings, 2);
        assert!(ws.recv().await.is_none());
        let (_, frames) = split_output(&peer.await.unwrap());
        assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), [0x89, 0x89], "two Pings, then the end");
    });
}

#[test]
fn on_a_paused_clock_close_ends_at_the_virtual_close_timeout() {
    on_paused_clock(|| async {
        let close_timeout = Duration::from_secs(90);
        let (mut ws, raw) = server_with_raw_client(64 << 10, config().with_close_timeout(Some(close_timeout))).await;
        let peer = read_to_end(raw);
        let started = tokio::time::Instant::now();
        let closed = ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        let took = started.elapsed();
        assert_eq!(closed.cause, CloseCause::CloseTimeout);
        assert!(took >= close_timeout, "ended after {took:?}, before the close timeout");
        // The timeout, then at most the linger after our sending side is shut (1 s).
        assert!(took <= close_timeout + Duration::from_millis(1010), "ended after {took:?}");
        let (_, frames) = split_output(&peer.await.unwrap());
        assert_eq!(frames, [frame(0x88, b"\x03\xe8bye")]);
    });
}

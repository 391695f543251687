//! The further peers of the codec benchmarks (`--features peers`): tokio-websockets and yawc.
//!
//! Neither has a way to decode or encode bytes held in memory without an I/O object: both read
//! from a `tokio::io::AsyncRead` and write to a `tokio::io::AsyncWrite` through their own buffers.
//! So each is driven as its documentation says for a stream whose handshake is already done
//! (tokio-websockets: `ServerBuilder::serve`, `ClientBuilder::take_over`; yawc:
//! `WebSocket::from_stream`), over the same in-memory [`Replay`] stream as fastwebsockets, on a
//! current-thread tokio runtime (no I/O driver, no timers: the stream is always ready).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};

use crate::{Batch, Decode, Encode, Replay, Written, runtime, take_captured};

// ----- tokio-websockets -----

/// tokio-websockets 0.13: `ServerBuilder::new().serve(stream)`, then `StreamExt::next` for each
/// message (it reassembles fragments and validates text itself). Default `Limits` (64 MiB
/// payloads) and `Config`.
pub struct TokioWsDecoder {
    rt: tokio::runtime::Runtime,
    ws: tokio_websockets::WebSocketStream<Replay>,
}

impl TokioWsDecoder {
    /// A server-role stream reading `wire`.
    pub fn new(wire: &'static [u8]) -> Self {
        let ws = tokio_websockets::ServerBuilder::new().serve(Replay::new(wire));
        TokioWsDecoder { rt: runtime(), ws }
    }
}

impl Decode for TokioWsDecoder {
    #[inline]
    fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8])) {
        let ws = &mut self.ws;
        self.rt.block_on(async move {
            for _ in 0..count {
                let msg =
                    ws.next().await.expect("tokio-websockets: end of stream").expect("tokio-websockets: decode failed");
                if msg.is_text() || msg.is_binary() {
                    f(msg.is_text(), msg.as_payload());
                } else {
                    panic!("tokio-websockets: unexpected message {msg:?}");
                }
            }
        });
    }
}

/// tokio-websockets: `feed` of every message of the batch (a `Message` holding a clone of an owned
/// `Bytes`, its payload type), then one `flush`, into the discarding sink.
pub struct TokioWsEncoder {
    rt: tokio::runtime::Runtime,
    ws: tokio_websockets::WebSocketStream<Replay>,
    out: Rc<RefCell<Written>>,
    msgs: Vec<tokio_websockets::Message>,
}

impl TokioWsEncoder {
    /// A server (`serve`) or client (`take_over`, masking with its own random source) stream
    /// writing into a sink.
    pub fn new(client: bool, batch: &'static Batch, capture: bool) -> Self {
        let sink = Replay::sink(capture);
        let out = sink.out.clone();
        let ws = if client {
            tokio_websockets::ClientBuilder::new().take_over(sink)
        } else {
            tokio_websockets::ServerBuilder::new().serve(sink)
        };
        let msgs = batch
            .raw
            .iter()
            .map(|r| {
                let b = Bytes::from(r.clone());
                if batch.text { tokio_websockets::Message::text(b) } else { tokio_websockets::Message::binary(b) }
            })
            .collect();
        TokioWsEncoder { rt: runtime(), ws, out, msgs }
    }
}

impl Encode for TokioWsEncoder {
    #[inline]
    fn encode(&mut self) -> usize {
        let before = self.out.borrow().count;
        let (ws, msgs) = (&mut self.ws, &self.msgs);
        self.rt.block_on(async move {
            for m in msgs {
                ws.feed(m.clone()).await.expect("tokio-websockets: send failed");
            }
            ws.flush().await.expect("tokio-websockets: flush failed");
        });
        self.out.borrow().count - before
    }

    fn captured(&mut self) -> Vec<u8> {
        take_captured(&self.out)
    }
}

// ----- yawc -----

/// The options every yawc socket of the benchmarks uses: its defaults (no compression, 8 KiB read
/// buffer) with UTF-8 validation of text turned on (off by default in yawc, always on in the other
/// implementations, and required by RFC 6455 §8.1), and the same limits as sansio-ws's defaults
/// (16 MiB frames, 64 MiB messages): yawc's default 1 MiB frame limit is exclusive, so it would
/// refuse the 1 MiB messages.
pub fn yawc_options() -> yawc::Options {
    yawc::Options::default().with_utf8().with_limits(16 << 20, 64 << 20)
}

/// yawc 0.5: `WebSocket::from_stream(stream, Role::Server, options)`, then `next_frame` for each
/// message (the `WebSocket` reassembles fragments and answers control frames).
pub struct YawcDecoder {
    rt: tokio::runtime::Runtime,
    ws: yawc::WebSocket<Replay>,
}

impl YawcDecoder {
    /// A server-role socket reading `wire`.
    pub fn new(wire: &'static [u8]) -> Self {
        let ws = yawc::WebSocket::from_stream(Replay::new(wire), yawc::Role::Server, yawc_options())
            .expect("yawc: from_stream");
        YawcDecoder { rt: runtime(), ws }
    }
}

impl Decode for YawcDecoder {
    #[inline]
    fn decode(&mut self, count: usize, f: &mut dyn FnMut(bool, &[u8])) {
        let ws = &mut self.ws;
        self.rt.block_on(async move {
            for _ in 0..count {
                let frame = ws.next_frame().await.expect("yawc: decode failed");
                assert!(frame.is_fin(), "yawc: unexpected fragment");
                match frame.opcode() {
                    yawc::OpCode::Text => f(true, frame.payload()),
                    yawc::OpCode::Binary => f(false, frame.payload()),
                    other => panic!("yawc: unexpected opcode {other:?}"),
                }
            }
        });
    }
}

/// yawc: `feed` of every message of the batch (`Frame::text`/`Frame::binary` of a clone of an owned
/// `Bytes`, its payload type), then one `flush`, into the discarding sink.
pub struct YawcEncoder {
    rt: tokio::runtime::Runtime,
    ws: yawc::WebSocket<Replay>,
    out: Rc<RefCell<Written>>,
    batch: &'static Batch,
    payloads: Vec<Bytes>,
}

impl YawcEncoder {
    /// A server or client (masking with its own random source) socket writing into a sink.
    pub fn new(client: bool, batch: &'static Batch, capture: bool) -> Self {
        let sink = Replay::sink(capture);
        let out = sink.out.clone();
        let role = if client { yawc::Role::Client } else { yawc::Role::Server };
        let ws = yawc::WebSocket::from_stream(sink, role, yawc_options()).expect("yawc: from_stream");
        let payloads = batch.raw.iter().map(|r| Bytes::from(r.clone())).collect();
        YawcEncoder { rt: runtime(), ws, out, batch, payloads }
    }
}

impl Encode for YawcEncoder {
    #[inline]
    fn encode(&mut self) -> usize {
        let before = self.out.borrow().count;
        let (ws, payloads, text) = (&mut self.ws, &self.payloads, self.batch.text);
        self.rt.block_on(async move {
            for p in payloads {
                let frame = if text { yawc::Frame::text(p.clone()) } else { yawc::Frame::binary(p.clone()) };
                ws.feed(frame).await.expect("yawc: send failed");
            }
            ws.flush().await.expect("yawc: flush failed");
        });
        self.out.borrow().count - before
    }

    fn captured(&mut self) -> Vec<u8> {
        take_captured(&self.out)
    }
}

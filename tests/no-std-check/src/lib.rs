//! A `#![no_std]` user of sansio-ws: the frame codec, both roles of the opening handshake, and a
//! client and a server [`Connection`](sansio_ws::connection::Connection) exchanging a message and closing, with time and randomness
//! supplied by the caller, as firmware would supply them (a tick counter, a hardware RNG).
//!
//! Built alone (`cargo build -p no-std-check`), sansio-ws has no `std` feature here. With
//! `--features panic-handler` the crate also defines a `#[panic_handler]`, which fails to compile
//! if anything in the dependency graph links `std`.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

use alloc::boxed::Box;
use alloc::vec::Vec;

use sansio_ws::connection::{CloseCause, Config, Event, Message};
use sansio_ws::frame::{CloseCode, DecodeRules, Decoded, FrameHeader, MAX_HEADER_LEN, OpCode, Rsv, apply_mask};
use sansio_ws::handshake::{Accept, ClientConfig, ClientHandshake, ServerConfig, ServerHandshake};
use sansio_ws::rand::Randomness;
use sansio_ws::{Instant, Role};

/// The embedder's own randomness: a 64-bit linear congruential generator standing in for a
/// hardware RNG (use a cryptographically strong source in production, RFC 6455 §5.3).
#[derive(Debug, Clone)]
pub struct BoardRandom {
    state: u64,
}

impl BoardRandom {
    /// A generator started from `seed` (a chip ID, an ADC noise sample…).
    pub fn new(seed: u64) -> Self {
        BoardRandom { state: seed }
    }
}

impl Randomness for BoardRandom {
    fn fill(&mut self, dst: &mut [u8]) {
        for byte in dst {
            self.state = self.state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            // The high bits of an LCG are the good ones.
            *byte = (self.state >> 56) as u8;
        }
    }
}

/// What went wrong, if anything did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The frame codec did not round-trip.
    Codec,
    /// The opening handshake failed.
    Handshake,
    /// The connections did not exchange the message or close cleanly.
    Connection,
}

/// What [`round_trip`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The length of the client's opening request.
    pub request_len: usize,
    /// The message the client got back from the server.
    pub echoed: Message,
    /// How the client's connection ended.
    pub client: CloseCause,
    /// How the server's connection ended.
    pub server: CloseCause,
}

/// Encodes a masked frame header and payload, then decodes and unmasks them as a server would.
pub fn codec_round_trip(payload: &[u8], rng: &mut dyn Randomness) -> Result<Vec<u8>, Failure> {
    let mut key = [0; 4];
    rng.fill(&mut key);
    let header = FrameHeader {
        fin: true,
        rsv: Rsv::NONE,
        opcode: OpCode::Binary,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut wire = Vec::from(&head[..n]);
    let start = wire.len();
    wire.extend_from_slice(payload);
    apply_mask(&mut wire[start..], key, 0);

    match FrameHeader::decode(&wire, &DecodeRules::new(Role::Server)) {
        Ok(Decoded::Complete { header: decoded, len }) if decoded == header && len == n => {
            let mut body = wire.split_off(len);
            apply_mask(&mut body, key, 0);
            Ok(body)
        }
        _ => Err(Failure::Codec),
    }
}

/// Runs the opening handshake for both roles, then a client and a server [`Connection`](sansio_ws::connection::Connection): the
/// client sends `text`, the server echoes it, the client closes. Time starts at `start_ms`
/// milliseconds on the caller's clock and advances one millisecond per step; `seed` feeds the
/// client's randomness (handshake key and masking keys).
pub fn round_trip(text: &str, start_ms: u64, seed: u64) -> Result<Report, Failure> {
    let mut rng = BoardRandom::new(seed);
    codec_round_trip(text.as_bytes(), &mut rng)?;

    // The opening handshake, both roles, bytes handed over by hand, on the caller's clock. The
    // client's generator goes with its handshake into the connection (masking keys).
    let mut now = Instant::from_millis(start_ms);
    let mut client_hs =
        ClientHandshake::with_randomness("ws://device.local/telemetry", ClientConfig::default(), now, Box::new(rng))
            .map_err(|_| Failure::Handshake)?;
    let mut request = Vec::new();
    client_hs.write_request(&mut request);
    let mut server_hs = ServerHandshake::new(ServerConfig::default(), now);
    let accepted = match server_hs.handle_input(&request) {
        Ok(Some(accepted)) => accepted,
        _ => return Err(Failure::Handshake),
    };
    let upgraded = server_hs.accept(&accepted, Accept::new()).map_err(|_| Failure::Handshake)?;
    // The server's connection holds its `101` as its first output.
    let mut server = upgraded.into_connection(Config::default(), now);
    let mut response = Vec::new();
    while server.poll_transmit(now, &mut response) > 0 {}
    let mut client = match client_hs.handle_input(&response) {
        Ok(Some(upgraded)) => upgraded.into_connection(Config::default(), now),
        _ => return Err(Failure::Handshake),
    };
    client.send_text(text).map_err(|_| Failure::Connection)?;

    let mut echoed = None;
    let mut causes = [None, None];
    let mut wire = Vec::new();
    for _ in 0..32 {
        now = Instant::from_millis(now.as_nanos() / 1_000_000 + 1);
        // Client → server, then the server's events (it echoes), then server → client.
        while client.poll_transmit(now, &mut wire) > 0 {}
        server.handle_input(now, &wire);
        wire.clear();
        while let Some(event) = server.poll_event() {
            match event {
                Event::Message(m) => server.send(m).map_err(|_| Failure::Connection)?,
                Event::Closed(closed) => causes[1] = Some(closed.cause),
                _ => {}
            }
        }
        while server.poll_transmit(now, &mut wire) > 0 {}
        client.handle_input(now, &wire);
        wire.clear();
        if causes[1].is_some() {
            // The server closed the transport after its final event: the client hears end of
            // stream (a client waits for it after the close handshake).
            client.handle_eof(now);
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::Message(m) => {
                    echoed = Some(m);
                    client.close(now, CloseCode::NORMAL, "done").map_err(|_| Failure::Connection)?;
                }
                Event::Closed(closed) => causes[0] = Some(closed.cause),
                _ => {}
            }
        }
        if let [Some(_), Some(_)] = causes {
            break;
        }
    }
    match (echoed, causes) {
        (Some(echoed), [Some(client), Some(server)]) => {
            Ok(Report { request_len: request.len(), echoed, client, server })
        }
        _ => Err(Failure::Connection),
    }
}

/// Without `std` something must say what a panic does; firmware would reset or halt here.
#[cfg(all(feature = "panic-handler", not(test)))]
#[panic_handler]
fn on_panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sansio_ws::connection::Side;

    #[test]
    fn codec_round_trips() {
        let body = codec_round_trip(b"masked payload", &mut BoardRandom::new(7)).unwrap();
        assert_eq!(body, b"masked payload");
    }

    #[test]
    fn connections_exchange_and_close_without_std() {
        let report = round_trip("hello from no_std", 5_000, 42).unwrap();
        assert_eq!(report.echoed, Message::Text("hello from no_std".into()));
        assert!(report.request_len > 100, "{}", report.request_len);
        let clean = |initiator| CloseCause::Clean { code: CloseCode::NORMAL, reason: "done".into(), initiator };
        assert_eq!(report.client, clean(Side::Local));
        assert_eq!(report.server, clean(Side::Remote));
    }

    #[test]
    fn randomness_is_the_callers() {
        let (mut a, mut b) = (BoardRandom::new(1), BoardRandom::new(1));
        let (mut x, mut y) = ([0; 16], [0; 16]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        assert_ne!(x, [0; 16]);
    }
}

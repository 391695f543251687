//! Shared pieces of the sansio-ws fuzz targets: structured inputs (raw frames, configurations,
//! operation scripts) and the checks the connection targets share. The targets themselves stay
//! small wrappers in `fuzz_targets/`.

pub mod conn;
pub mod pair;
pub mod wire;

use arbitrary::Arbitrary;
use core::fmt::Debug;
use core::time::Duration;
use sansio_ws::Instant;
use sansio_ws::connection::{Config, Connection, Event, HeartbeatConfig, ReceiveMode};
use sansio_ws::deflate::{DeflateConfig, DeflateParams};

/// A connection configuration with small limits and timers, so that the fuzzer reaches them.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzConfig {
    max_frame_size: u16,
    max_message_size: u16,
    streaming: bool,
    send_frame_size: u16,
    high_water_mark: u16,
    low_water_mark: u16,
    close_timeout_ms: Option<u16>,
    drain_timeout_ms: u16,
    heartbeat: Option<[u16; 4]>,
    max_misses: u8,
    idle_timeout_ms: Option<u16>,
    max_pending_pongs: u8,
}

impl FuzzConfig {
    /// The [`Config`] these values describe, with every duration at least `floor_ms` milliseconds.
    /// Every other value the type allows is used as is, zero included.
    pub fn to_config(&self, floor_ms: u16) -> Config {
        let ms = |n: u16| Duration::from_millis(u64::from(n.max(floor_ms)));
        Config::default()
            .with_max_frame_size(u64::from(self.max_frame_size))
            .with_max_message_size(u64::from(self.max_message_size))
            .with_receive_mode(if self.streaming { ReceiveMode::Streaming } else { ReceiveMode::Whole })
            .with_send_frame_size(usize::from(self.send_frame_size))
            .with_high_water_mark(usize::from(self.high_water_mark))
            .with_low_water_mark(usize::from(self.low_water_mark))
            .with_close_timeout(self.close_timeout_ms.map(ms))
            .with_drain_timeout(ms(self.drain_timeout_ms))
            .with_heartbeat(self.heartbeat.map(|[interval, initial, min, max]| {
                HeartbeatConfig::default()
                    .with_interval(ms(interval))
                    .with_initial_timeout(ms(initial))
                    .with_min_timeout(ms(min))
                    .with_max_timeout(ms(max))
                    .with_max_misses(u32::from(self.max_misses % 8))
            }))
            .with_idle_timeout(self.idle_timeout_ms.map(ms))
            .with_max_pending_pongs(usize::from(self.max_pending_pongs))
    }
}

/// `bytes` cut into pieces of the given lengths, the rest in one last piece.
pub fn pieces<'a>(bytes: &'a [u8], cuts: &'a [u16]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = bytes;
    cuts.iter().map(|&c| usize::from(c)).chain([usize::MAX]).map(move |c| {
        let (piece, tail) = rest.split_at(c.min(rest.len()));
        rest = tail;
        piece
    })
}

/// permessage-deflate settings (RFC 7692), the same agreed parameters on both ends.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzDeflate {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    client_max_window_bits: u8,
    threshold: u16,
    level: u8,
    release_between_messages: bool,
}

impl FuzzDeflate {
    /// The agreed parameters (window bits 8–15).
    pub fn params(&self) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: self.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: 8 + self.server_max_window_bits % 8,
            client_max_window_bits: 8 + self.client_max_window_bits % 8,
        }
    }

    /// The settings that ask for (client) or accept (server) exactly [`params`](Self::params), with
    /// level 0–9.
    pub fn config(&self) -> DeflateConfig {
        let params = self.params();
        DeflateConfig::default()
            .with_server_no_context_takeover(params.server_no_context_takeover)
            .with_client_no_context_takeover(params.client_no_context_takeover)
            .with_server_max_window_bits(params.server_max_window_bits)
            .with_client_max_window_bits(params.client_max_window_bits)
            .with_threshold(usize::from(self.threshold))
            .with_level(u32::from(self.level % 10))
            .with_release_between_messages(self.release_between_messages)
    }

    /// Turns permessage-deflate on for `conn`, as after a handshake done elsewhere.
    pub fn enable(&self, conn: &mut Connection) {
        conn.enable_deflate(self.params(), &self.config());
    }
}

/// The drain contract of a `Connection`: take every event (a peer's Close or a failure found
/// behind unread events takes effect then), write out all output, and again until neither gives anything.
pub fn drain(conn: &mut Connection, now: Instant, events: &mut Vec<Event>, out: &mut Vec<u8>) {
    loop {
        let before = (events.len(), out.len());
        events.extend(core::iter::from_fn(|| conn.poll_event()));
        while conn.poll_transmit(now, out) > 0 {}
        if (events.len(), out.len()) == before {
            break;
        }
    }
}

/// The outcome of feeding a server handshake every piece: the first result that is not `Ok(None)`.
/// Checks what must follow it: `Ok(None)` after a success (later input joins the trailing bytes),
/// the same error after a failure. (A client handshake refuses input after its success instead:
/// the connection takes it.)
pub fn handshake_outcome<T: Debug, E: PartialEq + Debug>(
    results: impl Iterator<Item = Result<Option<T>, E>>,
) -> Option<Result<T, E>> {
    let mut outcome: Option<Result<T, E>> = None;
    for r in results {
        match (&outcome, r) {
            (None, Ok(None)) => {}
            (None, r) => outcome = Some(r.map(|t| t.expect("not Ok(None)"))),
            (Some(Ok(_)), r) => assert!(matches!(r, Ok(None)), "after success: {r:?}"),
            (Some(Err(e)), r) => assert_eq!(r.as_ref().err(), Some(e), "after failure"),
        }
    }
    outcome
}

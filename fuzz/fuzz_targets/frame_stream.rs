//! A stream of peer frames (plus raw trailing bytes) fed to a connection whole and in arbitrary
//! pieces gives the same events and the same output. Streamed pieces are merged before comparing,
//! and a piece of a message failed mid-frame may be longer when the input came in smaller pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::connection::{Config, Connection, Event};
use sansio_ws::rand::SeededRandom;
use sansio_ws::{Instant, Role};
use sansio_ws_fuzz::wire::{RawFrame, merge_fragments, take_failed_piece};
use sansio_ws_fuzz::{FuzzConfig, drain, pieces};

fn feed<'a>(role: Role, config: Config, pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<Event>, Vec<u8>, Vec<u8>) {
    let now = Instant::from_secs(1);
    let mut conn = match role {
        Role::Server => Connection::server(config, now),
        Role::Client => Connection::client_with_randomness(config, now, Box::new(SeededRandom::new(3))),
    };
    pieces.for_each(|piece| conn.handle_input(now, piece));
    let (mut events, mut out) = (Vec::new(), Vec::new());
    drain(&mut conn, now, &mut events, &mut out);
    let mut events = merge_fragments(events);
    let failed_piece = take_failed_piece(&mut events);
    (events, failed_piece, out)
}

fuzz_target!(|input: (bool, FuzzConfig, Vec<RawFrame>, Vec<u8>, Vec<u16>)| {
    let (server, cfg, frames, tail, cuts) = input;
    let role = if server { Role::Server } else { Role::Client };
    let mut stream = Vec::new();
    frames.iter().for_each(|f| f.encode(&mut stream));
    stream.extend_from_slice(&tail);
    let (whole, whole_piece, whole_out) = feed(role, cfg.to_config(0), [&stream[..]].into_iter());
    let (split, split_piece, split_out) = feed(role, cfg.to_config(0), pieces(&stream, &cuts));
    assert!(split_piece.starts_with(&whole_piece), "failed piece: whole {whole_piece:02x?}, split {split_piece:02x?}");
    assert_eq!(whole, split, "events differ for cuts {cuts:?}");
    assert_eq!(whole_out, split_out, "output differs for cuts {cuts:?}");
});

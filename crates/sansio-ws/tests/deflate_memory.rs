//! Memory a connection holds for permessage-deflate, measured as the growth of the process's
//! resident memory (`/proc/self/statm`, hence Linux only) over many connections: the bounds the
//! `deflate` module docs state, checked.
#![cfg(feature = "deflate")]
#![cfg(target_os = "linux")]

use sansio_ws::Instant;
use sansio_ws::connection::{Config, Connection, Event, Message};
use sansio_ws::deflate::{DeflateConfig, DeflateParams};
use sansio_ws::rand::SeededRandom;

/// Resident memory of this process, from /proc/self/statm (pages of 4 KiB).
fn rss() -> isize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: isize = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("resident pages");
    pages * 4096
}

fn params(bits: u8, no_context_takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    }
}

/// Resident bytes per server connection that has received and sent one compressed message
/// (the messages themselves dropped), averaged over many connections.
fn held(bits: u8, no_context_takeover: bool, release: bool) -> isize {
    const N: usize = 200;
    let cfg = DeflateConfig::default().with_release_between_messages(release).with_threshold(0);
    let quiet = Config::default().with_heartbeat(None);
    let now = Instant::ZERO;
    let text: String = (0..20_000).map(|i| char::from(b'a' + (i % 23) as u8)).collect();
    let mut client = Connection::client_with_randomness(quiet.clone(), now, Box::new(SeededRandom::new(1)));
    client.enable_deflate(params(bits, true), &cfg);
    client.send_text(text.clone()).unwrap();
    let mut wire = Vec::new();
    while client.poll_transmit(now, &mut wire) > 0 {}

    let mut servers: Vec<Connection> = (0..N).map(|_| Connection::server(quiet.clone(), now)).collect();
    let before = rss();
    for server in &mut servers {
        server.enable_deflate(params(bits, no_context_takeover), &cfg);
        server.handle_input(now, &wire);
        assert!(matches!(server.poll_event(), Some(Event::Message(Message::Text(_)))));
        server.send_text(text.clone()).unwrap();
        let mut out = Vec::new();
        while server.poll_transmit(now, &mut out) > 0 {}
    }
    let after = rss();
    drop(servers);
    (after - before) / N as isize
}

#[test]
#[allow(clippy::print_stdout)] // The measured figures are the point: `--nocapture` shows them.
fn memory_per_connection_is_bounded_and_documented() {
    let full = held(15, false, false);
    let small = held(9, false, false);
    let released = held(15, true, true);
    println!(
        "permessage-deflate resident memory per connection: windows 2^15: {} KiB, 2^9: {} KiB, \
         released between messages: {} KiB",
        full / 1024,
        small / 1024,
        released / 1024
    );
    // The bounds the `deflate` module documents.
    assert!(full <= 400 * 1024, "2^15 windows: {full} bytes");
    assert!(small < full * 3 / 4, "2^9 windows need less: {small} vs {full}");
    assert!(released < 32 * 1024, "state released between messages: {released} bytes");
}

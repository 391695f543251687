//! A compressed message with an arbitrary payload, to a server with permessage-deflate on and a
//! small message limit: nothing panics, no delivered message (or streamed total) exceeds the limit,
//! and a failure carries 1007 (bad data or text) or 1009 (too large).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansio_ws::Instant;
use sansio_ws::connection::{CloseCause, Config, Connection, Event, ReceiveMode};
use sansio_ws::deflate::{DeflateConfig, DeflateParams};

const LIMIT: u64 = 4096;

fuzz_target!(|input: (bool, bool, u8, &[u8])| {
    let (text, streaming, bits, payload) = input;
    let mode = if streaming { ReceiveMode::Streaming } else { ReceiveMode::Whole };
    let config = Config::default().with_heartbeat(None).with_max_message_size(LIMIT).with_receive_mode(mode);
    let mut server = Connection::server(config, Instant::ZERO);
    let bits = 8 + bits % 8;
    let params = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    };
    server.enable_deflate(params, &DeflateConfig::default());
    // One masked frame with RSV1, split in two at the payload's middle.
    let key = [1u8, 2, 3, 4];
    let mut frame = vec![0xC0 | if text { 1 } else { 2 }];
    let len = payload.len().min(0xFFFF);
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend((len as u16).to_be_bytes());
    }
    frame.extend(key);
    frame.extend(payload[..len].iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    let (a, b) = frame.split_at(frame.len() / 2);
    let mut streamed = 0u64;
    for part in [a, b] {
        server.handle_input(Instant::ZERO, part);
        while let Some(event) = server.poll_event() {
            match event {
                Event::Message(m) => assert!(m.len() as u64 <= LIMIT),
                Event::Fragment(f) => {
                    streamed += f.data.len() as u64;
                    assert!(streamed <= LIMIT);
                }
                Event::Closed(c) => {
                    if let CloseCause::ProtocolViolation(e) = c.cause {
                        assert!(matches!(e.close_code().as_u16(), 1002 | 1007 | 1009), "{e:?}");
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        while server.poll_transmit(Instant::ZERO, &mut out) > 0 {}
    }
});

//! What a connection holds of the peer's data (`buffered_input`): the number a driver adds up
//! across connections to keep a process within a memory budget.

use sansio_ws::Instant;
use sansio_ws::connection::{Config, Connection, Event, Message};

mod common;
use common::masked;

fn server() -> Connection {
    Connection::server(Config::default().with_heartbeat(None), Instant::from_secs(1))
}

const NOW: Instant = Instant::from_secs(2);

#[test]
fn a_fresh_connection_holds_nothing() {
    assert_eq!(server().buffered_input(), 0);
}

#[test]
fn an_incomplete_header_is_held() {
    let mut conn = server();
    let frame = masked(0x82, &[7; 300]);
    conn.handle_input(NOW, &frame[..3]);
    assert_eq!(conn.buffered_input(), 3);
    assert!(conn.poll_event().is_none());
}

#[test]
fn a_large_frame_arriving_counts_its_payload_so_far() {
    let mut conn = server();
    let payload = vec![0x5a; 10_000];
    let frame = masked(0x82, &payload);
    let header = frame.len() - payload.len();
    conn.handle_input(NOW, &frame[..header + 4_000]);
    assert_eq!(conn.buffered_input(), 4_000);
    conn.handle_input(NOW, &frame[header + 4_000..header + 9_000]);
    assert_eq!(conn.buffered_input(), 9_000);
    assert!(conn.poll_event().is_none());
}

#[test]
fn a_message_counts_until_the_application_takes_it() {
    let mut conn = server();
    conn.handle_input(NOW, &masked(0x82, &[1; 5_000]));
    conn.handle_input(NOW, &masked(0x81, b"hello"));
    assert_eq!(conn.buffered_input(), 5_005);
    assert_eq!(conn.poll_event(), Some(Event::Message(Message::Binary(vec![1; 5_000].into()))));
    assert_eq!(conn.buffered_input(), 5);
    assert!(matches!(conn.poll_event(), Some(Event::Message(Message::Text(_)))));
    assert_eq!(conn.buffered_input(), 0);
}

#[test]
fn a_fragmented_message_counts_every_fragment_so_far() {
    let mut conn = server();
    conn.handle_input(NOW, &masked(0x02, &[2; 3_000]));
    assert_eq!(conn.buffered_input(), 3_000);
    let last = masked(0x80, &[3; 2_000]);
    let header = last.len() - 2_000;
    conn.handle_input(NOW, &last[..header + 1_000]);
    assert_eq!(conn.buffered_input(), 4_000);
    conn.handle_input(NOW, &last[header + 1_000..]);
    assert_eq!(conn.buffered_input(), 5_000);
    let Some(Event::Message(m)) = conn.poll_event() else { panic!("the message is complete") };
    assert_eq!(m.len(), 5_000);
    assert_eq!(conn.buffered_input(), 0);
}

#[test]
fn control_frames_in_between_are_not_held() {
    let mut conn = server();
    conn.handle_input(NOW, &masked(0x01, b"part one, "));
    conn.handle_input(NOW, &masked(0x89, b"ping"));
    // The Ping event carries no message payload; its Pong goes to the send side.
    assert_eq!(conn.buffered_input(), 10);
    assert!(conn.buffered_amount() > 0);
}

#[test]
fn streamed_fragments_count_until_taken() {
    let mut conn = Connection::server(
        Config::default().with_heartbeat(None).with_receive_mode(sansio_ws::connection::ReceiveMode::Streaming),
        Instant::from_secs(1),
    );
    conn.handle_input(NOW, &masked(0x02, &[4; 700]));
    assert_eq!(conn.buffered_input(), 700);
    assert!(matches!(conn.poll_event(), Some(Event::Fragment(_))));
    assert_eq!(conn.buffered_input(), 0);
}

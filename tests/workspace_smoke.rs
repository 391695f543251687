//! The crates of the workspace fit together: a core connection driven by hand.

use sansio_ws::connection::{Config, Event, Message};
use sansio_ws::sim::Pair;

#[test]
fn core_pair_exchanges_a_message() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.server.send_text("from the root package").unwrap();
    pair.drive();
    assert_eq!(pair.client_events, [Event::Message(Message::from("from the root package"))]);
}

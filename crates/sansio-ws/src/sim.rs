//! An in-memory client/server pair with a virtual clock, for tests of code built on [`Connection`].
//!
//! The pair moves bytes between two connections with a configurable one-way latency and chunk
//! size, delivers end-of-stream when a side closes its transport, and runs hours of protocol time
//! in microseconds: time only moves when the test says so, or jumps to the next deadline.
//!
//! ```
//! use sansio_ws::connection::{Config, Event, Message};
//! use sansio_ws::sim::Pair;
//!
//! let mut pair = Pair::new(Config::default(), Config::default());
//! pair.client.send_text("hi").unwrap();
//! pair.drive();
//! assert_eq!(pair.server_events, [Event::Message(Message::from("hi"))]);
//! ```

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use crate::connection::{Config, Connection, Event};
use crate::rand::SeededRandom;
use crate::{Instant, Role};

#[derive(Debug)]
enum Packet {
    Data(Vec<u8>),
    Eof,
}

/// Two connected endpoints and the network between them.
#[derive(Debug)]
pub struct Pair {
    /// The client end.
    pub client: Connection,
    /// The server end.
    pub server: Connection,
    /// The virtual time.
    pub now: Instant,
    /// One-way delay of every byte. Default zero.
    pub latency: Duration,
    /// Deliver input in pieces of at most this many bytes (`None`: as written). Default `None`.
    pub chunk: Option<usize>,
    /// Events the client reported, in order.
    pub client_events: Vec<Event>,
    /// Events the server reported, in order.
    pub server_events: Vec<Event>,
    /// While true, this side reads nothing (its peer's bytes stay in flight): a peer that stopped
    /// reading. Index 0 is the client, 1 the server.
    pub paused: [bool; 2],
    /// A side whose machine vanished: it neither reads nor writes, and sends no EOF.
    pub vanished: [bool; 2],
    /// Bytes in flight towards the client (0) and the server (1), with their arrival time.
    in_flight: [VecDeque<(Instant, Packet)>; 2],
    /// The transport of this side was closed after its final event.
    transport_closed: [bool; 2],
}

impl Pair {
    /// A client and a server with these settings, both started at time zero. The client masks
    /// with a seeded generator, so runs are reproducible.
    pub fn new(client: Config, server: Config) -> Self {
        Pair {
            client: Connection::client_with_randomness(client, Instant::ZERO, Box::new(SeededRandom::new(0x5eed))),
            server: Connection::server(server, Instant::ZERO),
            now: Instant::ZERO,
            latency: Duration::ZERO,
            chunk: None,
            client_events: Vec::new(),
            server_events: Vec::new(),
            paused: [false; 2],
            vanished: [false; 2],
            in_flight: [VecDeque::new(), VecDeque::new()],
            transport_closed: [false; 2],
        }
    }

    fn conn(&mut self, side: usize) -> &mut Connection {
        if side == 0 { &mut self.client } else { &mut self.server }
    }

    /// The index of a role: 0 for the client, 1 for the server.
    pub fn index(role: Role) -> usize {
        match role {
            Role::Client => 0,
            Role::Server => 1,
        }
    }

    /// Moves everything that can move at the current time: output onto the wire, arrived bytes
    /// into their receiver, events into the event lists. Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let mut progress = false;
        for side in 0..2 {
            if self.vanished[side] || self.transport_closed[side] {
                continue;
            }
            let now = self.now;
            let mut out = Vec::new();
            while self.conn(side).poll_transmit(now, &mut out) > 0 {}
            if !out.is_empty() {
                progress = true;
                self.in_flight[1 - side].push_back((now + self.latency, Packet::Data(out)));
            }
            while let Some(ev) = self.conn(side).poll_event() {
                progress = true;
                let closed = matches!(ev, Event::Closed(_));
                if side == 0 {
                    self.client_events.push(ev)
                } else {
                    self.server_events.push(ev)
                }
                if closed {
                    // The driver closes the transport: the peer sees EOF after the bytes in flight.
                    self.transport_closed[side] = true;
                    self.in_flight[1 - side].push_back((now + self.latency, Packet::Eof));
                }
            }
        }
        for side in 0..2 {
            if self.paused[side] || self.vanished[side] {
                continue;
            }
            while self.in_flight[side].front().is_some_and(|(at, _)| *at <= self.now) {
                let Some((_, packet)) = self.in_flight[side].pop_front() else { break };
                progress = true;
                let now = self.now;
                if self.transport_closed[side] {
                    continue;
                }
                match packet {
                    Packet::Data(bytes) => {
                        let piece = self.chunk.unwrap_or(usize::MAX).max(1);
                        for part in bytes.chunks(piece) {
                            self.conn(side).handle_input(now, part);
                        }
                    }
                    Packet::Eof => self.conn(side).handle_eof(now),
                }
            }
        }
        progress
    }

    /// Steps until nothing more happens at the current time.
    pub fn drive(&mut self) {
        while self.step() {}
    }

    /// The earliest moment something is scheduled: a connection deadline or a delivery.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let deadlines = [&self.client, &self.server]
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !self.vanished[*i])
            .filter_map(|(_, c)| c.poll_timeout());
        let deliveries = (0..2)
            .filter(|&s| !self.paused[s] && !self.vanished[s])
            .filter_map(|s| self.in_flight[s].front().map(|(at, _)| *at));
        deadlines.chain(deliveries).min()
    }

    /// Jumps to the next wake-up (if it is no later than `limit`), fires due timers and drives.
    /// Returns false when nothing is scheduled until `limit`.
    pub fn advance(&mut self, limit: Instant) -> bool {
        self.drive();
        let Some(t) = self.next_wakeup().filter(|&t| t <= limit) else { return false };
        self.now = self.now.max(t);
        for side in 0..2 {
            if !self.vanished[side] {
                let now = self.now;
                self.conn(side).handle_timeout(now);
            }
        }
        self.drive();
        true
    }

    /// Runs (jumping from wake-up to wake-up) until `limit`, then sets the clock to `limit`.
    pub fn run_until(&mut self, limit: Instant) {
        while self.advance(limit) {}
        self.now = self.now.max(limit);
        self.drive();
    }

    /// Runs until both sides have reported their final event, or `limit` of virtual time passes.
    /// Returns whether both closed.
    pub fn run_until_closed(&mut self, limit: Duration) -> bool {
        let end = self.now + limit;
        loop {
            self.drive();
            let done = (self.client.is_closed() || self.vanished[0]) && (self.server.is_closed() || self.vanished[1]);
            if done || !self.advance(end) {
                return done;
            }
        }
    }
}

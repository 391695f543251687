//! A scripted client for the embedding tests: it sends a list of steps to the echo server
//! ([`Echo`](super::app::Echo)), checks every echo and Pong, then ends the connection the way the
//! test asks. It runs unchanged under every driver.

use std::collections::VecDeque;

use bytes::Bytes;
use sansio_ws::Instant;
use sansio_ws::connection::{Connection, Event, Message, MessageKind, Utf8Bytes};
use sansio_ws::error::{SendError, SendErrorKind};
use sansio_ws::frame::CloseCode;

use super::app::{CLOSE_REQUEST, Handler};

/// One thing the client sends, and expects back.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// A text message, echoed as such.
    Text(Utf8Bytes),
    /// A binary message, echoed as such.
    Binary(Bytes),
    /// A message sent in pieces with `send_fragment`, echoed as one message.
    Fragments(MessageKind, Vec<Bytes>),
    /// A Ping, answered by a Pong with the same payload.
    Ping(Bytes),
}

/// How the connection ends once every step is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The client calls `close(1000)`.
    ClientCloses,
    /// The client asks the server (with [`CLOSE_REQUEST`]) to close.
    ServerCloses,
}

/// The scripted client.
#[derive(Debug)]
pub(crate) struct Script {
    steps: Vec<Step>,
    finish: Finish,
    /// Send every step at once (true), or each after the previous one's answer (false).
    pipelined: bool,
    next: usize,
    /// The next piece of a `Fragments` step being sent.
    piece: usize,
    expected_messages: VecDeque<Message>,
    expected_pongs: Vec<Bytes>,
    finishing: bool,
    /// Echoes and Pongs that matched.
    pub(crate) answered: usize,
    /// Pings the server sent.
    pub(crate) pings: usize,
    /// Times a send was refused for backpressure (and retried on `Writable`).
    pub(crate) refusals: usize,
    /// Everything that went wrong, described.
    pub(crate) problems: Vec<String>,
    /// Whether permessage-deflate was on when the connection opened.
    pub(crate) deflate: bool,
}

impl Script {
    /// A script of `steps`, ended as `finish` says.
    pub(crate) fn new(steps: Vec<Step>, finish: Finish, pipelined: bool) -> Self {
        Script {
            steps,
            finish,
            pipelined,
            next: 0,
            piece: 0,
            expected_messages: VecDeque::new(),
            expected_pongs: Vec::new(),
            finishing: false,
            answered: 0,
            pings: 0,
            refusals: 0,
            problems: Vec::new(),
            deflate: false,
        }
    }

    /// The steps every test runs: text, binary, fragmented text and binary, 8 MiB of each kind,
    /// and pings in between.
    pub(crate) fn standard_steps() -> Vec<Step> {
        let big_binary: Bytes = (0..8u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let line = "größer als 8 MiB · ";
        let big_text = Utf8Bytes::from(line.repeat((8 << 20) / line.len() + 1));
        let text_pieces = ["Frag", "ment", "ed ", "tëxt", ""].map(|p| Bytes::from_static(p.as_bytes())).to_vec();
        // A multi-byte character cut between two pieces is allowed: only the whole must be UTF-8.
        let split_char = vec![Bytes::from_static(b"caf\xc3"), Bytes::from_static(b"\xa9!")];
        vec![
            Step::Text("hello".into()),
            Step::Binary(Bytes::from_static(&[0, 1, 2, 3, 255])),
            Step::Ping(Bytes::from_static(b"ping-1")),
            Step::Fragments(MessageKind::Text, text_pieces),
            Step::Fragments(MessageKind::Text, split_char),
            Step::Fragments(MessageKind::Binary, vec![Bytes::from_static(&[9; 1000]), Bytes::from(vec![7; 70_000])]),
            Step::Text("".into()),
            Step::Binary(big_binary),
            Step::Ping(Bytes::from_static(b"ping-2")),
            Step::Text(big_text),
            Step::Text("bye".into()),
        ]
    }

    /// The steps.
    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether every step was sent and answered.
    pub(crate) fn complete(&self) -> bool {
        self.next == self.steps.len() && self.expected_messages.is_empty() && self.expected_pongs.is_empty()
    }

    /// Sends steps while the script allows, stopping at a refusal for backpressure.
    fn pump(&mut self, conn: &mut Connection, now: Instant) {
        while self.next < self.steps.len() {
            let outstanding = self.expected_messages.len() + self.expected_pongs.len();
            if !self.pipelined && self.piece == 0 && outstanding > 0 {
                return;
            }
            let sent = match self.steps[self.next].clone() {
                Step::Text(t) => self.expect(conn.send_text(t.clone()), Message::Text(t)),
                Step::Binary(b) => self.expect(conn.send_binary(b.clone()), Message::Binary(b)),
                Step::Ping(p) => match conn.ping(p.clone()) {
                    Ok(()) => {
                        self.expected_pongs.push(p);
                        true
                    }
                    Err(e) => self.refused(e),
                },
                Step::Fragments(kind, pieces) => {
                    let last = self.piece + 1 == pieces.len();
                    match conn.send_fragment(kind, pieces[self.piece].clone(), last) {
                        Ok(()) if last => {
                            self.piece = 0;
                            self.expected_messages.push_back(whole(kind, &pieces));
                            true
                        }
                        Ok(()) => {
                            self.piece += 1;
                            continue;
                        }
                        Err(e) => self.refused(e),
                    }
                }
            };
            if !sent {
                return;
            }
            self.next += 1;
        }
        if self.complete() && !self.finishing {
            self.finishing = true;
            let result = match self.finish {
                Finish::ClientCloses => conn.close(now, CloseCode::NORMAL, "done").map_err(|e| e.to_string()),
                Finish::ServerCloses => conn.send_text(CLOSE_REQUEST).map_err(|e| e.to_string()),
            };
            if let Err(e) = result {
                self.problems.push(format!("could not finish: {e}"));
            }
        }
    }

    /// Notes the expected echo of a queued message; says whether it was queued.
    fn expect<T>(&mut self, result: Result<(), SendError<T>>, echo: Message) -> bool {
        match result {
            Ok(()) => {
                self.expected_messages.push_back(echo);
                true
            }
            Err(e) => self.refused(e),
        }
    }

    fn refused<T>(&mut self, e: SendError<T>) -> bool {
        match e.kind() {
            SendErrorKind::Backpressure => self.refusals += 1,
            SendErrorKind::Usage(u) => self.problems.push(format!("step {} refused: {u}", self.next)),
            other => self.problems.push(format!("step {} refused: {other:?}", self.next)),
        }
        false
    }
}

/// The message a list of pieces makes.
fn whole(kind: MessageKind, pieces: &[Bytes]) -> Message {
    let bytes = Bytes::from(pieces.concat());
    match kind {
        MessageKind::Text => Message::Text(Utf8Bytes::try_from_bytes(bytes).expect("the pieces make UTF-8")),
        MessageKind::Binary => Message::Binary(bytes),
    }
}

/// A message described briefly (8 MiB payloads are not printed).
fn describe(m: &Message) -> String {
    let head: Vec<u8> = m.payload().iter().take(16).copied().collect();
    format!("{:?} of {} bytes starting {:?}", m.kind(), m.len(), head)
}

impl Handler for Script {
    fn on_open(&mut self, conn: &mut Connection, now: Instant) {
        self.deflate = conn.is_deflate_enabled();
        self.pump(conn, now);
    }

    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: Event) {
        match event {
            Event::Message(m) => match self.expected_messages.pop_front() {
                Some(expected) if expected == m => self.answered += 1,
                Some(expected) => self.problems.push(format!("expected {}, got {}", describe(&expected), describe(&m))),
                None => self.problems.push(format!("unexpected {}", describe(&m))),
            },
            Event::Pong(p) => match self.expected_pongs.iter().position(|e| *e == p) {
                Some(i) => {
                    self.expected_pongs.remove(i);
                    self.answered += 1;
                }
                None => self.problems.push(format!("unexpected Pong {p:?}")),
            },
            Event::Ping(_) => self.pings += 1,
            Event::Fragment(f) => self.problems.push(format!("unexpected fragment of {} bytes", f.data.len())),
            _ => {}
        }
        self.pump(conn, now);
    }
}

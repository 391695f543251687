//! Checks our client against another implementation's server: the Python `websockets` server of
//! `tests/interop/py_server.py` (run by `scripts/interop.sh`).
//!
//! `cargo run --release -p sansio-ws-mio --example interop-client -- ws://127.0.0.1:9022`
//!
//! One step at a time, each with what must come back: text, binary and 8 MiB echoes, a message
//! sent in fragments, a ping and its pong, the server's ping, a fragmented message from the server,
//! a close the server starts (4001), and a close we start (4002) whose code the server reports on
//! a third connection. Prints one `PASS`/`FAIL` line per check and exits non-zero on any failure.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use sansio_ws::connection::{CloseCause, Closed, Config, Event, Message, MessageKind, Side};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::ClientConfig;
#[path = "shared/client_tls.rs"]
mod client_tls;

use sansio_ws_mio::{ConnId, ConnectError, Ctx, DriverConfig, EventLoop, Handler, Opened};

/// The subprotocol the server insists on.
const SUBPROTOCOL: &str = "interop.v1";
/// How long one step may wait for its answer.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the whole run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// What a step does.
enum Action {
    /// Opens a new connection to this path; later steps use it.
    Connect(&'static str),
    Send(Message),
    /// A message in pieces, sent through the connection's streaming API.
    SendFragments(MessageKind, Vec<Bytes>),
    Ping(Bytes),
    Close(u16, &'static str),
}

/// What must come back for the step to pass.
enum Expect {
    Open { subprotocol: &'static str },
    Message(Message),
    Pong(Bytes),
    Closed { code: u16, reason: &'static str, initiator: Side },
}

struct Step {
    name: &'static str,
    action: Action,
    expect: Expect,
}

fn steps() -> Vec<Step> {
    let large: Bytes =
        (0..8 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<u8>>().into();
    let pieces = ["fragmented caf\u{e9} ", "\u{2713} from ", "our client"];
    // The same text cut inside "é" and inside "✓": every piece but the first starts mid-character.
    let joined: String = pieces.concat();
    let bytes = joined.as_bytes();
    let cut1 = joined.find('\u{e9}').map_or(1, |i| i + 1);
    let cut2 = joined.find('\u{2713}').map_or(2, |i| i + 2);
    let raw_pieces = vec![
        Bytes::copy_from_slice(&bytes[..cut1]),
        Bytes::copy_from_slice(&bytes[cut1..cut2]),
        Bytes::copy_from_slice(&bytes[cut2..]),
    ];
    let binary: Bytes = (0..=255u8).collect::<Vec<u8>>().into();
    let text = |s: &'static str| Message::Text(s.into());
    vec![
        Step {
            name: "open, subprotocol negotiated",
            action: Action::Connect("/echo"),
            expect: Expect::Open { subprotocol: SUBPROTOCOL },
        },
        Step {
            name: "text echo",
            action: Action::Send(text("hello, w\u{f6}rld \u{2713}")),
            expect: Expect::Message(text("hello, w\u{f6}rld \u{2713}")),
        },
        Step { name: "empty text echo", action: Action::Send(text("")), expect: Expect::Message(text("")) },
        Step {
            name: "binary echo",
            action: Action::Send(Message::Binary(binary.clone())),
            expect: Expect::Message(Message::Binary(binary)),
        },
        Step {
            name: "8 MiB binary echo",
            action: Action::Send(Message::Binary(large.clone())),
            expect: Expect::Message(Message::Binary(large)),
        },
        Step {
            name: "fragmented text sent (split inside characters), echoed whole",
            action: Action::SendFragments(MessageKind::Text, raw_pieces),
            expect: Expect::Message(Message::Text(joined.into())),
        },
        Step {
            name: "fragmented binary sent, echoed whole",
            action: Action::SendFragments(
                MessageKind::Binary,
                vec![Bytes::from_static(b"\x00\x01"), Bytes::new(), Bytes::from_static(b"\x02\xff")],
            ),
            expect: Expect::Message(Message::Binary(Bytes::from_static(b"\x00\x01\x02\xff"))),
        },
        Step {
            name: "our ping answered by a pong with its payload",
            action: Action::Ping(Bytes::from_static(b"interop-ping")),
            expect: Expect::Pong(Bytes::from_static(b"interop-ping")),
        },
        Step {
            name: "server's ping answered by our pong",
            action: Action::Send(text("ping-me")),
            expect: Expect::Message(text("pong-ok")),
        },
        Step {
            name: "fragmented text from the server received whole",
            action: Action::Send(text("fragments-please")),
            expect: Expect::Message(text("fragmented caf\u{e9} \u{2713} from the server")),
        },
        Step {
            name: "server closes with 4001 (clean, code and reason seen, initiator remote)",
            action: Action::Send(text("close-me 4001 server says bye")),
            expect: Expect::Closed { code: 4001, reason: "server says bye", initiator: Side::Remote },
        },
        Step {
            name: "second connection opens",
            action: Action::Connect("/close-by-client"),
            expect: Expect::Open { subprotocol: SUBPROTOCOL },
        },
        Step {
            name: "we close with 4002 (clean, initiator local)",
            action: Action::Close(4002, "client says bye"),
            expect: Expect::Closed { code: 4002, reason: "client says bye", initiator: Side::Local },
        },
        Step {
            name: "report connection opens",
            action: Action::Connect("/report"),
            expect: Expect::Open { subprotocol: SUBPROTOCOL },
        },
        Step {
            name: "server received our close code 4002 and reason",
            action: Action::Send(text("report")),
            expect: Expect::Message(text("4002 client says bye")),
        },
        Step {
            name: "we close with 1000 (clean)",
            action: Action::Close(1000, "done"),
            expect: Expect::Closed { code: 1000, reason: "done", initiator: Side::Local },
        },
    ]
}

struct Runner {
    base: String,
    steps: Vec<Step>,
    /// The step under way (`steps.len()` when all are done).
    current: usize,
    /// The connection the steps use.
    conn: Option<ConnId>,
    started: Instant,
    failures: usize,
}

fn describe(message: &Message) -> String {
    match message {
        Message::Text(t) if t.len() <= 80 => format!("text {:?}", t.as_str()),
        Message::Text(t) => format!("text of {} bytes", t.len()),
        Message::Binary(b) if b.len() <= 16 => format!("binary {:02x?}", b.as_ref()),
        Message::Binary(b) => format!("binary of {} bytes", b.len()),
    }
}

fn describe_cause(cause: &CloseCause) -> String {
    match cause {
        CloseCause::Clean { code, reason, initiator } => {
            format!("clean close {} {reason:?} started by {initiator:?}", code.as_u16())
        }
        other => format!("{other:?}"),
    }
}

impl Runner {
    fn done(&self) -> bool {
        self.current >= self.steps.len()
    }

    fn report(&mut self, ok: bool, detail: &str) {
        let name = self.steps[self.current].name;
        if ok {
            println!("PASS {name}");
        } else {
            self.failures += 1;
            println!("FAIL {name}: {detail}");
        }
    }

    /// Records the current step's outcome and starts the next one.
    fn finish(&mut self, ctx: &mut Ctx<'_>, ok: bool, detail: &str) {
        self.report(ok, detail);
        self.current += 1;
        self.start(ctx);
    }

    /// The connection is gone or unusable: the steps that need it fail, up to the next connect.
    fn skip_to_next_connect(&mut self, ctx: &mut Ctx<'_>, why: &str) {
        self.conn = None;
        while !self.done() && !matches!(self.steps[self.current].action, Action::Connect(_)) {
            self.report(false, why);
            self.current += 1;
        }
        self.start(ctx);
    }

    /// Performs the current step's action.
    fn start(&mut self, ctx: &mut Ctx<'_>) {
        self.started = Instant::now();
        if self.done() {
            return;
        }
        if let Action::Connect(path) = self.steps[self.current].action {
            let url = format!("{}{path}", self.base);
            match ctx.connect(&url) {
                Ok(id) => self.conn = Some(id),
                Err(e) => {
                    self.report(false, &format!("{url}: {e}"));
                    self.current += 1;
                    self.skip_to_next_connect(ctx, "not run: the connection did not open");
                }
            }
            return;
        }
        let Some(id) = self.conn else {
            return self.skip_to_next_connect(ctx, "not run: no connection");
        };
        let result = match &self.steps[self.current].action {
            Action::Connect(_) => Ok(()),
            Action::Send(message) => ctx.send(id, message.clone()).map_err(|e| format!("send refused: {:?}", e.kind())),
            Action::SendFragments(kind, pieces) => match ctx.connection_mut(id) {
                None => Err("the connection is not open".to_string()),
                Some(conn) => {
                    let last = pieces.len() - 1;
                    pieces.iter().enumerate().try_for_each(|(i, piece)| {
                        conn.send_fragment(*kind, piece.clone(), i == last)
                            .map_err(|e| format!("fragment {i} refused: {:?}", e.kind()))
                    })
                }
            },
            Action::Ping(payload) => match ctx.connection_mut(id) {
                None => Err("the connection is not open".to_string()),
                Some(conn) => conn.ping(payload.clone()).map_err(|e| format!("ping refused: {:?}", e.kind())),
            },
            Action::Close(code, reason) => {
                ctx.close(id, CloseCode::from_u16(*code), reason).map_err(|e| format!("close refused: {e:?}"))
            }
        };
        if let Err(e) = result {
            self.finish(ctx, false, &e);
        }
    }

    /// Fails the current step and every later one: the run cannot go on.
    fn give_up(&mut self, why: &str) {
        if self.done() {
            return;
        }
        self.report(false, why);
        self.current += 1;
        while !self.done() {
            self.report(false, "not run: the run was given up");
            self.current += 1;
        }
    }

    fn ours(&self, id: ConnId) -> bool {
        self.conn == Some(id) && !self.done()
    }
}

impl Handler for Runner {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        if !self.ours(id) {
            return;
        }
        let extensions: Vec<&str> = opened.extensions.iter().map(|e| e.name.as_str()).collect();
        if self.current == 0 {
            println!(
                "  (extensions negotiated: {})",
                if extensions.is_empty() { "none".into() } else { extensions.join(", ") }
            );
        }
        let result = match &self.steps[self.current].expect {
            Expect::Open { subprotocol } if opened.subprotocol.as_deref() == Some(subprotocol) => Ok(()),
            Expect::Open { .. } => Err(format!("subprotocol {:?}", opened.subprotocol)),
            _ => Err("opened while expecting something else".to_string()),
        };
        match result {
            Ok(()) => self.finish(ctx, true, ""),
            Err(e) => self.finish(ctx, false, &e),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        if !self.ours(id) {
            return;
        }
        match &self.steps[self.current].expect {
            Expect::Message(want) if *want == message => self.finish(ctx, true, ""),
            Expect::Message(want) => {
                let detail = format!("got {}, expected {}", describe(&message), describe(want));
                self.finish(ctx, false, &detail);
            }
            _ => self.finish(ctx, false, &format!("unexpected message: {}", describe(&message))),
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        if !self.ours(id) {
            return;
        }
        if let (Event::Pong(payload), Expect::Pong(want)) = (event, &self.steps[self.current].expect) {
            let ok = payload == want;
            self.finish(ctx, ok, &format!("pong payload {payload:?}, expected {want:?}"));
        }
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        if !self.ours(id) {
            return;
        }
        let got = describe_cause(&closed.cause);
        match &self.steps[self.current].expect {
            Expect::Closed { code, reason, initiator } => {
                let want = CloseCause::Clean {
                    code: CloseCode::from_u16(*code),
                    reason: (*reason).to_string(),
                    initiator: *initiator,
                };
                let ok = closed.cause == want;
                let detail = format!("got {got}, expected {}", describe_cause(&want));
                self.conn = None;
                self.finish(ctx, ok, &detail);
            }
            _ => {
                self.report(false, &format!("the connection ended: {got}"));
                self.current += 1;
                self.skip_to_next_connect(ctx, "not run: the connection had ended");
            }
        }
    }

    fn on_connect_error(&mut self, ctx: &mut Ctx<'_>, id: ConnId, error: ConnectError) {
        if !self.ours(id) {
            return;
        }
        self.report(false, &format!("did not open: {error}"));
        self.current += 1;
        self.skip_to_next_connect(ctx, "not run: the connection did not open");
    }
}

/// Runs the interoperability checks against a server (tests/interop/py_server.py).
#[derive(clap::Parser, Debug)]
#[command(name = "interop-client")]
struct Options {
    /// The server: ws://HOST:PORT (or wss://)
    #[arg(value_name = "URL", default_value = "ws://127.0.0.1:9022")]
    base: String,
    /// Trust the CA certificates of this PEM file too (for wss://)
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
}

fn main() -> std::io::Result<()> {
    let options = <Options as clap::Parser>::parse();
    let base = options.base.trim_end_matches('/').to_string();
    let config = DriverConfig::default()
        .with_connection(Config::default().with_heartbeat(None))
        .with_client(ClientConfig::default().with_subprotocol(SUBPROTOCOL));
    let config = client_tls::trusting(config, options.ca.as_deref())?;
    let runner = Runner { base, steps: steps(), current: 0, conn: None, started: Instant::now(), failures: 0 };
    let mut event_loop = EventLoop::new(config, runner)?;
    // The first step opens the first connection; the handler's callbacks do the rest.
    let Action::Connect(path) = event_loop.handler().steps[0].action else { unreachable!("the first step connects") };
    let url = format!("{}{path}", event_loop.handler().base);
    match event_loop.connect(&url) {
        Ok(id) => event_loop.handler_mut().conn = Some(id),
        Err(e) => event_loop.handler_mut().give_up(&format!("{url}: {e}")),
    }
    let run_started = Instant::now();
    while !event_loop.handler().done() {
        if run_started.elapsed() > RUN_TIMEOUT {
            event_loop.handler_mut().give_up(&format!("the run took over {} s", RUN_TIMEOUT.as_secs()));
            break;
        }
        event_loop.turn(Some(Duration::from_millis(100)))?;
        let runner = event_loop.handler_mut();
        if !runner.done() && runner.started.elapsed() > STEP_TIMEOUT {
            runner.give_up(&format!("no answer within {} s", STEP_TIMEOUT.as_secs()));
        }
    }
    let runner = event_loop.handler();
    if runner.failures > 0 {
        eprintln!("interop-client: {} of {} checks failed", runner.failures, runner.steps.len());
        std::process::exit(1);
    }
    eprintln!("interop-client: all {} checks passed", runner.steps.len());
    Ok(())
}

//! `sansio-ws connect URL`: stdin lines go out as text messages, messages that arrive are printed,
//! and what happens to the connection is told on stderr.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use sansio_ws::connection::{Closed, Config, Event, HeartbeatConfig, Message};
use sansio_ws::error::SendErrorKind;
use sansio_ws::frame::CloseCode;
use sansio_ws_mio::{ConnId, ConnectError, Ctx, EventLoop, Handler, Opened};

use crate::options::{self, Target};
use crate::{describe_open, words};

/// Lines read ahead of the connection: the reader waits when this many are queued.
const READ_AHEAD: usize = 64;

/// How binary messages are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryAs {
    /// `<binary message, N bytes>`
    Length,
    /// The bytes in hexadecimal
    Hex,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
    /// Ping after this many seconds of silence, and close if the pings go unanswered (`off`: never)
    #[arg(long = "ping-interval", value_name = "SECS|off", default_value = "30", value_parser = options::parse_secs_or_off)]
    ping_interval: options::SecsOrOff,
    /// The largest message accepted from the server (1009 beyond), e.g. 64MiB
    #[arg(long = "max-message", value_name = "BYTES", default_value = "64MiB", value_parser = options::parse_size)]
    max_message: u64,
    /// How binary messages are printed
    #[arg(long, value_name = "HOW", value_enum, default_value_t = BinaryAs::Length)]
    binary: BinaryAs,
}

/// What the reader thread hands over.
enum Input {
    Line(String),
    /// A line that is not UTF-8: not sent (text messages must be UTF-8).
    NotText(usize),
    End,
}

/// How the session ended, for the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The close handshake completed.
    Clean,
    /// The connection ended otherwise.
    Broken,
    /// It never opened.
    Unreachable,
}

struct Client {
    url: String,
    binary: BinaryAs,
    open: Option<ConnId>,
    /// A line the connection refused for backpressure, sent again first.
    refused: VecDeque<Message>,
    /// Standard input has ended: close once everything read is sent.
    input_done: bool,
    outcome: Option<Outcome>,
}

impl Client {
    /// Takes the lines read since the last turn and sends them, in order, while the connection
    /// takes them; the rest waits (and so does the reader, once its queue is full).
    fn feed(&mut self, ctx: &mut Ctx<'_>, lines: &mpsc::Receiver<Input>) {
        let Some(id) = self.open else { return };
        loop {
            let message = match self.refused.pop_front() {
                Some(message) => message,
                None if self.input_done => break,
                None => match lines.try_recv() {
                    Ok(Input::Line(line)) => Message::Text(line.into()),
                    Ok(Input::NotText(n)) => {
                        say!("sansio-ws: line {n} of the input is not UTF-8 text: not sent");
                        continue;
                    }
                    Ok(Input::End) | Err(mpsc::TryRecvError::Disconnected) => {
                        self.input_done = true;
                        break;
                    }
                    Err(mpsc::TryRecvError::Empty) => return,
                },
            };
            if let Err(refused) = ctx.send(id, message) {
                match refused.kind() {
                    SendErrorKind::Backpressure => {
                        // Sent again on the next turn that finds room (after `Writable`).
                        self.refused.push_front(refused.into_payload());
                        return;
                    }
                    _ => {
                        let lost = self.refused.len() + 1;
                        say!("sansio-ws: the connection is closing: {lost} line(s) not sent ({refused})");
                        self.refused.clear();
                        return;
                    }
                }
            }
        }
        // End of input, everything sent: close, as a browser tab closing would.
        if self.input_done && self.refused.is_empty() {
            self.input_done = false;
            self.refused.clear();
            if ctx.close(id, CloseCode::NORMAL, "").is_ok() {
                say!("sansio-ws: end of input: closing");
            }
        }
    }
}

impl Handler for Client {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        self.open = Some(id);
        say!("sansio-ws: connected to {} {}", self.url, describe_open(opened));
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, message: Message) {
        let mut out = std::io::stdout().lock();
        let written = match &message {
            Message::Text(text) => writeln!(out, "{}", text.as_str()),
            Message::Binary(data) => match self.binary {
                BinaryAs::Length => writeln!(out, "<binary message, {} bytes>", data.len()),
                BinaryAs::Hex => {
                    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
                    writeln!(out, "{hex}")
                }
            },
        };
        if let Err(e) = written.and_then(|()| out.flush()) {
            say!("sansio-ws: cannot write to standard output: {e}");
        }
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, event: &Event) {
        if let Event::CloseReceived { code, reason } = event {
            let reason = if reason.is_empty() { String::new() } else { format!(" \"{reason}\"") };
            say!("sansio-ws: the server sent Close {}{reason}", words::code(*code));
        }
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        let stats = ctx.connection(id).map(|c| c.stats()).unwrap_or_default();
        let unsent = match closed.unsent.messages {
            0 => String::new(),
            n => format!(", {n} message(s) unsent"),
        };
        say!(
            "sansio-ws: {}; {} messages in, {} out{unsent}",
            words::cause(&closed.cause, "the server"),
            stats.messages_received,
            stats.messages_sent
        );
        let clean = matches!(closed.cause, sansio_ws::connection::CloseCause::Clean { .. });
        self.outcome = Some(if clean { Outcome::Clean } else { Outcome::Broken });
    }

    fn on_connect_error(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, error: ConnectError) {
        say!("sansio-ws: cannot connect to {}: {error}", self.url);
        self.outcome = Some(Outcome::Unreachable);
    }
}

/// Reads standard input line by line into `tx`, waking the loop for each.
fn read_input(tx: mpsc::SyncSender<Input>, wake: sansio_ws_mio::Handle) {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let input = match stdin.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => Input::End,
            Ok(_) => {
                number += 1;
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                match String::from_utf8(std::mem::take(&mut line)) {
                    Ok(text) => Input::Line(text),
                    Err(_) => Input::NotText(number),
                }
            }
        };
        let end = matches!(input, Input::End);
        if tx.send(input).is_err() || wake.wake().is_err() || end {
            return;
        }
    }
}

pub(crate) fn run(args: Args) -> Result<ExitCode, String> {
    let heartbeat = args.ping_interval.0.map(|interval| HeartbeatConfig::default().with_interval(interval));
    let connection = Config::default().with_heartbeat(heartbeat).with_max_message_size(args.max_message);
    let config = args.target.driver_config(connection)?;
    let client = Client {
        url: args.target.url.clone(),
        binary: args.binary,
        open: None,
        refused: VecDeque::new(),
        input_done: false,
        outcome: None,
    };
    let mut el = EventLoop::new(config, client).map_err(|e| format!("cannot start the event loop: {e}"))?;
    let client_config = args.target.client_config();
    let id = el
        .with_ctx(|_, ctx| ctx.connect_with(&args.target.url, client_config))
        .map_err(|e| format!("cannot connect to {}: {e}", args.target.url))?;

    let (tx, lines) = mpsc::sync_channel(READ_AHEAD);
    let handle = el.handle();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_input(tx, handle))
        .map_err(|e| format!("cannot start reading standard input: {e}"))?;
    let interrupted = Arc::new(AtomicBool::new(false));
    crate::close_on_signals(el.handle(), interrupted.clone())?;

    let mut closing = false;
    loop {
        el.turn(None).map_err(|e| format!("the event loop failed: {e}"))?;
        if interrupted.load(Ordering::Relaxed) && !closing {
            closing = true;
            if el.handler().open.is_none() {
                say!("sansio-ws: interrupted while connecting");
                return Ok(ExitCode::from(130));
            }
            say!("sansio-ws: interrupted: closing (again to quit at once)");
            if el.with_ctx(|_, ctx| ctx.close(id, CloseCode::GOING_AWAY, "interrupted")).is_err() {
                say!("sansio-ws: the connection was closing already");
            }
        }
        el.with_ctx(|client, ctx| client.feed(ctx, &lines));
        if let Some(outcome) = el.handler().outcome {
            // Let the last bytes (our Close answer, the TCP shutdown) go out.
            if let Err(e) = el.turn(Some(Duration::ZERO)) {
                say!("sansio-ws: the event loop failed after the end: {e}");
            }
            return Ok(ExitCode::from(match outcome {
                Outcome::Clean => 0,
                Outcome::Broken => 1,
                Outcome::Unreachable => 2,
            }));
        }
    }
}

//! A chat room: open http://127.0.0.1:9001/ in two browser tabs and talk.
//!
//! `cargo run --release -p sansio-ws-mio --example chat -- [ADDR] [OPTIONS]` (`--help` lists them)
//!
//! The page is served at `/`, the WebSocket at `/ws`, the metrics at `/metrics` (Prometheus text
//! format; docs/METRICS.md). Every message goes to everyone (framed once
//! for all of them), the peer count is announced on every join and leave, and the heartbeat keeps
//! idle connections checked. It runs one event loop per core: a line from a client on one loop
//! reaches the clients of every loop, and **everyone sees the lines in the same order** (every
//! line goes out through the server's handle, which hands broadcasts to all loops in one order).
//! SIGINT or SIGTERM shuts it down gracefully: every client gets Close 1001, then the report.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sansio_ws::connection::{Closed, Message};
use sansio_ws::error::SendError;
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{Reject, Request};
use sansio_ws_mio::{ConnId, Ctx, Decision, DriverConfig, Handler, Opened, Server};
use serde_json::json;

#[path = "../shared/options.rs"]
mod options;
#[path = "../shared/prometheus.rs"]
mod prometheus;
#[path = "../shared/shutdown.rs"]
mod shutdown;

const PAGE: &str = include_str!("page.html");
/// Longest chat line accepted, in characters; a longer one is refused with an error to its sender.
const MAX_LINE: usize = 2000;
/// Lines kept for those who join (or come back): the conversation so far, bounded.
const HISTORY: usize = 100;

/// One loop's handler; what the loops share is the peer count and whether the server is
/// shutting down.
struct Chat {
    peers: Arc<AtomicUsize>,
    shutting_down: Arc<AtomicBool>,
    /// The last lines said, shared by the loops; held while a line is broadcast, so the history
    /// and what everyone receives are in the same order.
    history: Arc<Mutex<VecDeque<String>>>,
}

impl Chat {
    /// Sends `value` to everyone on every loop, in the one order of the server's broadcasts.
    fn broadcast(&self, ctx: &mut Ctx<'_>, value: &serde_json::Value) {
        let server = ctx.server().expect("the chat runs as a server");
        if server.broadcast(Message::Text(value.to_string().into())).is_err() {
            eprintln!("chat: a loop has stopped; the line reached the others only");
        }
    }

    /// Says `text` from `id` to everyone, and keeps it for those who join later.
    fn say(&self, ctx: &mut Ctx<'_>, id: ConnId, text: &str) {
        let line = json!({"type": "message", "from": id.to_string(), "text": text, "at": unix_millis()});
        let mut history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(line.to_string());
        self.broadcast(ctx, &line);
    }

    /// Tells `id` alone what was wrong with what it sent.
    fn error(ctx: &mut Ctx<'_>, id: ConnId, text: &str) {
        let reply = json!({"type": "error", "text": text});
        if let Err(refused) = ctx.send(id, Message::Text(reply.to_string().into())) {
            eprintln!("chat: {id}: an error reply refused: {refused}");
        }
    }

    fn announce(&self, ctx: &mut Ctx<'_>, id: ConnId, what: &str) {
        // While shutting down everyone is leaving: nobody is told of each departure.
        if self.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let peers = self.peers.load(Ordering::Relaxed);
        self.broadcast(ctx, &json!({"type": "presence", "who": id.to_string(), "what": what, "peers": peers}));
    }
}
impl Handler for Chat {
    fn on_http(&mut self, ctx: &mut Ctx<'_>, path: &str) -> Option<Reject> {
        match path {
            "/metrics" => {
                let body = prometheus::exposition(ctx.server().expect("the chat runs as a server"));
                Some(Reject::new(200).with_header("Content-Type", prometheus::CONTENT_TYPE).with_body(body))
            }
            // A plain GET where the WebSocket is: say what is expected.
            "/ws" => Some(
                Reject::new(426)
                    .with_header("Upgrade", "websocket")
                    .with_header("Sec-WebSocket-Version", "13")
                    .with_body(
                        "this is the chat's WebSocket: connect with a WebSocket client, or open / in a browser\n",
                    ),
            ),
            "/" | "/index.html" => Some(
                Reject::new(200)
                    .with_header("Content-Type", "text/html; charset=utf-8")
                    .with_header("Cache-Control", "no-store")
                    .with_body(PAGE),
            ),
            _ => Some(Reject::new(404).with_header("Content-Type", "text/plain").with_body("not found\n")),
        }
    }

    fn on_request(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, request: &Request) -> Decision {
        if request.path() == "/ws" {
            Decision::Accept(Default::default())
        } else {
            Decision::Reject(Reject::new(404).with_body("the chat is at /ws\n"))
        }
    }

    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        let peers = self.peers.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!("chat: {id}: joined from {} ({peers} here)", opened.peer);
        let history: Vec<serde_json::Value> = {
            let history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            history.iter().filter_map(|line| serde_json::from_str(line).ok()).collect()
        };
        let hello = json!({"type": "welcome", "you": id.to_string(), "max_line": MAX_LINE, "history": history});
        if let Err(refused) = ctx.send(id, Message::Text(hello.to_string().into())) {
            eprintln!("chat: {id}: welcome refused: {refused}");
        }
        self.announce(ctx, id, "joined");
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        let Message::Text(text) = message else {
            return Self::error(ctx, id, "the chat takes text messages, not binary");
        };
        let line = text.as_str().trim();
        let chars = line.chars().count();
        if line.is_empty() {
            // Nothing to say: not broadcast, not an error either.
        } else if chars > MAX_LINE {
            Self::error(ctx, id, &format!("that line has {chars} characters; the most is {MAX_LINE}: it was not sent"));
        } else {
            self.say(ctx, id, line);
        }
    }

    /// The slow-consumer policy: a reader whose queue is over its high-water mark (4 MiB by
    /// default) refuses a line; it is closed with 1008 "too slow" and a log line, so nobody
    /// silently misses part of the conversation.
    fn on_send_refused(&mut self, ctx: &mut Ctx<'_>, id: ConnId, refused: SendError<Message>) {
        if refused.is_backpressure() {
            eprintln!("chat: {id}: too slow to keep up (a {} byte line refused), closing", refused.payload().len());
            if let Err(e) = ctx.close(id, CloseCode::POLICY_VIOLATION, "too slow") {
                eprintln!("chat: {id}: already closing: {e}");
            }
        } else if !self.shutting_down.load(Ordering::Relaxed) {
            eprintln!("chat: {id}: a line not delivered: {refused}");
        }
    }

    fn on_accept_error(&mut self, _ctx: &mut Ctx<'_>, error: &std::io::Error) {
        eprintln!("chat: cannot accept connections: {error}; retrying while it lasts (they wait in the backlog)");
    }

    fn on_memory_budget(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, held: usize) {
        eprintln!(
            "chat: {id}: closing with 1013: the server is over its memory budget and this connection held {held} bytes"
        );
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        let peers = self.peers.fetch_sub(1, Ordering::Relaxed) - 1;
        let unsent = if closed.unsent.bytes > 0 {
            format!(", {} bytes in {} messages unsent", closed.unsent.bytes, closed.unsent.messages)
        } else {
            String::new()
        };
        let stats = ctx.connection(id).map(|c| c.stats()).unwrap_or_default();
        eprintln!(
            "chat: {id}: left: {}; {} lines in, {} out{unsent} ({peers} here)",
            closed.cause, stats.messages_received, stats.messages_sent
        );
        self.announce(ctx, id, "left");
    }
}

const USAGE: &str = "\
usage: chat [ADDR] [OPTIONS]

A chat room in the browser: open http://ADDR/ (default 127.0.0.1:9001) in two tabs.

options:
";

/// Milliseconds since the Unix epoch, for the time stamp of a line.
fn unix_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn main() {
    let usage = format!("{USAGE}{}", options::SERVER_OPTIONS);
    let options = options::or_usage("chat", &usage, options::ServerOptions::parse(&usage, |_, _| Ok(false)));
    if let Err(e) = serve(&options) {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}

fn serve(options: &options::ServerOptions) -> std::io::Result<()> {
    // Defaults: same-host origin policy (a page from another site cannot connect), heartbeat on.
    let mut config = DriverConfig::default();
    if !options.deflate {
        config.server.deflate = None;
    }
    let peers = Arc::new(AtomicUsize::new(0));
    let shutting_down = Arc::new(AtomicBool::new(false));
    let flag = shutting_down.clone();
    let history = Arc::new(Mutex::new(VecDeque::with_capacity(HISTORY)));
    let mut server = Server::new(config, options.threads, |_| Chat {
        peers: peers.clone(),
        shutting_down: flag.clone(),
        history: history.clone(),
    })?;
    let local = server
        .listen(options.addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", options.addr)))?;
    shutdown::drain_on_signals("chat", server.handle(), options.drain, Some(shutting_down))?;
    if let Some(addr) = options.metrics {
        let local = prometheus::serve(addr, server.handle(), "chat")
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot serve the metrics on {addr}: {e}")))?;
        eprintln!("chat: metrics at http://{local}/metrics (and at /metrics on the chat's own address)");
    }
    let loops =
        if options.threads == 1 { "1 event loop".to_string() } else { format!("{} event loops", options.threads) };
    eprintln!("chat: open http://{local}/ in two browser tabs ({loops})");
    let report = server.run()?;
    shutdown::print_report("chat", &report);
    Ok(())
}

//! A chat room: open http://127.0.0.1:9001/ in two browser tabs and talk.
//!
//! `cargo run --release -p sansio-ws-mio --example chat -- [ADDR] [OPTIONS]` (`--help` lists them)
//!
//! The page is served at `/`, the WebSocket at `/ws`, the metrics at `/metrics` (Prometheus text
//! format; docs/METRICS.md). It shows the connection's life as it goes: connecting, open, closing,
//! closed with the close code in words, the reason and who closed; the round trip the server's
//! adaptive heartbeat measures (sent to each page every 2 s); and it reconnects by itself with
//! back-off after the server goes away.
//!
//! - Every line goes to everyone (framed once for all of them) and **everyone sees the lines in
//!   the same order**, across the event loops (one per core): every line goes out through the
//!   server's handle, which hands broadcasts to all loops in one order.
//! - The last 100 lines are kept and sent to whoever joins or comes back; with `--history FILE`
//!   they are saved there on shutdown and read again on start, so a restart keeps them.
//! - Participants are `guest-1`, `guest-2`… in the order they join; `/nick NAME` picks a name (at
//!   most 24 characters, no control characters, not one in use).
//! - Limits are told: a line over 2,000 characters, a binary message or a bad name get an error
//!   reply to their sender; empty lines are ignored.
//! - **Slow consumers**: a page that does not read while others talk is closed with `1008 too
//!   slow` once its send queue is over the high-water mark (4 MiB), with a log line, rather than
//!   growing the server's memory or dropping lines it would silently miss.
//! - SIGINT or SIGTERM shuts it down gracefully: every client gets Close 1001, then the report.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sansio_ws::connection::{Closed, Config, HeartbeatConfig, Message};
use sansio_ws::error::SendError;
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{Reject, Request};
use sansio_ws_mio::{ConnId, Ctx, Decision, DriverConfig, Handler, Opened, Server};
use serde_json::{Value, json};

#[path = "../shared/options.rs"]
mod options;
#[path = "../shared/prometheus.rs"]
mod prometheus;
#[path = "../shared/say.rs"]
mod say;
#[path = "../shared/shutdown.rs"]
mod shutdown;

use say::say;

const PAGE: &str = include_str!("page.html");
/// Longest chat line accepted, in characters; a longer one is refused with an error to its sender.
const MAX_LINE: usize = 2000;
/// Longest name, in characters.
const MAX_NAME: usize = 24;
/// Lines kept for those who join (or come back): the conversation so far, bounded.
const HISTORY: usize = 100;
/// How often each page is told what the heartbeat measured.
const HEARTBEAT_REPORT: Duration = Duration::from_secs(2);

/// What the loops share: who is here, what was said, whether the server is going away.
#[derive(Default)]
struct Room {
    /// The last lines said; held while a line is broadcast, so the history and what everyone
    /// receives are in the same order.
    history: Mutex<VecDeque<Value>>,
    /// Who is here, by connection.
    names: Mutex<HashMap<ConnId, String>>,
    /// Participants so far (for the `guest-N` names).
    joined: AtomicU64,
    /// Raised by the signal thread.
    shutting_down: Arc<AtomicBool>,
}

/// Locks `m`, whatever a thread that panicked while holding it left (the data stays usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One loop's handler.
struct Chat {
    room: Arc<Room>,
    /// The heartbeat's interval, for the pages.
    heartbeat: Duration,
}

impl Chat {
    /// Sends `value` to everyone on every loop, in the one order of the server's broadcasts.
    fn broadcast(ctx: &mut Ctx<'_>, value: &Value) {
        let server = ctx.server().expect("the chat runs as a server");
        if server.broadcast(Message::Text(value.to_string().into())).is_err() {
            say!("chat: a loop has stopped; the line reached the others only");
        }
    }

    /// Sends `value` to `id` alone; a refusal follows the slow-consumer policy.
    fn tell(ctx: &mut Ctx<'_>, id: ConnId, value: &Value) {
        if let Err(refused) = ctx.send(id, Message::Text(value.to_string().into())) {
            Self::refused(ctx, id, &refused, false);
        }
    }

    /// Tells `id` alone what was wrong with what it sent.
    fn error(ctx: &mut Ctx<'_>, id: ConnId, text: &str) {
        Self::tell(ctx, id, &json!({"type": "error", "text": text}));
    }

    /// The slow-consumer policy: a reader whose queue is over its high-water mark refuses a line;
    /// it is closed with 1008 "too slow" and a log line, so nobody silently misses part of the
    /// conversation. Other refusals (the connection is closing) are logged unless everyone is
    /// leaving anyway.
    fn refused(ctx: &mut Ctx<'_>, id: ConnId, refused: &SendError<Message>, shutting_down: bool) {
        if refused.is_backpressure() {
            say!("chat: {id}: too slow to keep up (a {} byte line refused), closing", refused.payload().len());
            if let Err(e) = ctx.close(id, CloseCode::POLICY_VIOLATION, "too slow") {
                say!("chat: {id}: already closing: {e}");
            }
        } else if !shutting_down {
            say!("chat: {id}: a line not delivered: {refused}");
        }
    }

    fn name(&self, id: ConnId) -> String {
        lock(&self.room.names).get(&id).cloned().unwrap_or_else(|| id.to_string())
    }

    /// Says `text` from `id` to everyone, and keeps it for those who join later.
    fn say(&self, ctx: &mut Ctx<'_>, id: ConnId, text: &str) {
        let line = json!({"type": "message", "from": self.name(id), "text": text, "at": unix_millis()});
        let mut history = lock(&self.room.history);
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(line.clone());
        Self::broadcast(ctx, &line);
    }

    /// `/nick NAME`: a name for `id`, if it is valid and free.
    fn rename(&self, ctx: &mut Ctx<'_>, id: ConnId, wanted: &str) {
        let name = match valid_name(wanted) {
            Ok(name) => name,
            Err(why) => return Self::error(ctx, id, &why),
        };
        let old = {
            let mut names = lock(&self.room.names);
            let taken = names.iter().any(|(other, n)| *other != id && n.to_lowercase() == name.to_lowercase());
            if taken {
                drop(names);
                return Self::error(ctx, id, &format!("the name {name:?} is taken"));
            }
            names.insert(id, name.clone())
        };
        let old = old.unwrap_or_else(|| id.to_string());
        if old == name {
            return;
        }
        say!("chat: {id}: {old} is now known as {name}");
        Self::tell(ctx, id, &json!({"type": "you", "name": name}));
        self.presence(ctx, &name, "renamed", Some(&old));
    }

    /// Tells everyone who came, left or took a name, and how many are here.
    fn presence(&self, ctx: &mut Ctx<'_>, who: &str, what: &str, was: Option<&str>) {
        // While shutting down everyone is leaving: nobody is told of each departure.
        if self.room.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let peers = lock(&self.room.names).len();
        Self::broadcast(ctx, &json!({"type": "presence", "who": who, "what": what, "was": was, "peers": peers}));
    }

    /// What the adaptive heartbeat measured on `id`'s connection, for its page.
    fn heartbeat_report(&self, ctx: &Ctx<'_>, id: ConnId) -> Option<Value> {
        let stats = ctx.connection(id)?.stats();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Some(json!({
            "type": "heartbeat",
            "srtt_ms": stats.srtt.map(ms),
            "rttvar_ms": ms(stats.rttvar),
            "last_rtt_ms": stats.last_rtt.map(ms),
            "pong_timeout_ms": stats.pong_timeout.map(ms),
            "interval_ms": ms(self.heartbeat),
            "pings": stats.heartbeat_pings,
        }))
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
        let name = format!("guest-{}", self.room.joined.fetch_add(1, Ordering::Relaxed) + 1);
        let peers = {
            let mut names = lock(&self.room.names);
            names.insert(id, name.clone());
            names.len()
        };
        say!("chat: {id}: {name} joined from {} ({peers} here)", opened.peer);
        let history: Vec<Value> = lock(&self.room.history).iter().cloned().collect();
        let welcome = json!({
            "type": "welcome",
            "you": name,
            "max_line": MAX_LINE,
            "max_name": MAX_NAME,
            "heartbeat_interval_ms": self.heartbeat.as_secs_f64() * 1000.0,
            "history": history,
        });
        Self::tell(ctx, id, &welcome);
        if !ctx.set_timer(id, ctx.now() + HEARTBEAT_REPORT) {
            say!("chat: {id}: closed before its first heartbeat report");
        }
        self.presence(ctx, &name, "joined", None);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {
        if let Some(report) = self.heartbeat_report(ctx, id) {
            Self::tell(ctx, id, &report);
        }
        // Not set again once the connection is closing: `set_timer` says so, nothing to do then.
        let _still_open = ctx.set_timer(id, ctx.now() + HEARTBEAT_REPORT);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        let Message::Text(text) = message else {
            return Self::error(ctx, id, "the chat takes text messages, not binary");
        };
        let line = text.as_str().trim();
        let chars = line.chars().count();
        if line.is_empty() {
            // Nothing to say: not broadcast, not an error either.
        } else if let Some(wanted) = line.strip_prefix("/nick").filter(|rest| rest.is_empty() || rest.starts_with(' '))
        {
            self.rename(ctx, id, wanted);
        } else if chars > MAX_LINE {
            Self::error(ctx, id, &format!("that line has {chars} characters; the most is {MAX_LINE}: it was not sent"));
        } else {
            self.say(ctx, id, line);
        }
    }

    fn on_send_refused(&mut self, ctx: &mut Ctx<'_>, id: ConnId, refused: SendError<Message>) {
        Self::refused(ctx, id, &refused, self.room.shutting_down.load(Ordering::Relaxed));
    }

    fn on_accept_error(&mut self, _ctx: &mut Ctx<'_>, error: &std::io::Error) {
        say!("chat: cannot accept connections: {error}; retrying while it lasts (they wait in the backlog)");
    }

    fn on_memory_budget(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, held: usize) {
        say!(
            "chat: {id}: closing with 1013: the server is over its memory budget and this connection held {held} bytes"
        );
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        let (name, peers) = {
            let mut names = lock(&self.room.names);
            (names.remove(&id).unwrap_or_else(|| id.to_string()), names.len())
        };
        let unsent = if closed.unsent.bytes > 0 {
            format!(", {} bytes in {} messages unsent", closed.unsent.bytes, closed.unsent.messages)
        } else {
            String::new()
        };
        let stats = ctx.connection(id).map(|c| c.stats()).unwrap_or_default();
        let rtt = stats.srtt.map_or(String::new(), |rtt| format!(", round trip {:.1} ms", rtt.as_secs_f64() * 1e3));
        say!(
            "chat: {id}: {name} left: {}; {} lines in, {} out{unsent}{rtt} ({peers} here)",
            closed.cause,
            stats.messages_received,
            stats.messages_sent
        );
        self.presence(ctx, &name, "left", None);
    }
}

/// A name as typed after `/nick`, checked: trimmed, 1 to [`MAX_NAME`] characters, none of them
/// a control character, and not of the `guest-N` form the server gives.
fn valid_name(wanted: &str) -> Result<String, String> {
    let name = wanted.trim();
    if name.is_empty() {
        return Err("say which name: /nick NAME".into());
    }
    let chars = name.chars().count();
    if chars > MAX_NAME {
        return Err(format!("that name has {chars} characters; the most is {MAX_NAME}"));
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot hold control characters".into());
    }
    if name.to_lowercase().starts_with("guest-") {
        return Err("names starting with guest- are the server's to give".into());
    }
    Ok(name.to_string())
}

/// A chat room in the browser: open http://ADDR/ in two tabs.
#[derive(clap::Parser, Debug)]
#[command(name = "chat", after_help = "The page is at /, the WebSocket at /ws, the metrics at /metrics.")]
struct Options {
    #[command(flatten)]
    server: options::ServerOptions,
    /// Seconds of silence after which the heartbeat pings a page (its round trip is shown)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = options::parse_secs)]
    heartbeat: Duration,
    /// Keep the conversation in FILE across restarts: read on start, written on shutdown
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

/// Milliseconds since the Unix epoch, for the time stamp of a line.
fn unix_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn main() {
    let options = <Options as clap::Parser>::parse();
    if let Err(e) = serve(&options) {
        say!("chat: {e}");
        std::process::exit(1);
    }
}

/// The lines kept in `path`, the last [`HISTORY`] of them (none if it does not exist yet).
fn load_history(path: &Path) -> std::io::Result<VecDeque<Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(VecDeque::new()),
        Err(e) => {
            return Err(std::io::Error::new(e.kind(), format!("cannot read the history {}: {e}", path.display())));
        }
    };
    let lines: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the history {} is not a JSON list: {e}", path.display()),
        )
    })?;
    let lines: VecDeque<Value> = lines.into_iter().filter(|l| l["type"] == "message").collect();
    let skip = lines.len().saturating_sub(HISTORY);
    Ok(lines.into_iter().skip(skip).collect())
}

/// Writes the lines to `path` (through a file beside it, renamed over it: never half written).
fn save_history(path: &Path, lines: &VecDeque<Value>) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    let text = serde_json::to_string_pretty(lines).map_err(std::io::Error::other)?;
    std::fs::write(&partial, text).and_then(|()| std::fs::rename(&partial, path))
}

fn serve(options: &Options) -> std::io::Result<()> {
    // Defaults: same-host origin policy (a page from another site cannot connect), heartbeat on,
    // pinging after `--heartbeat` of silence so that the pages show the round trip soon.
    let heartbeat = HeartbeatConfig::default().with_interval(options.heartbeat);
    let mut config = DriverConfig::default().with_connection(Config::default().with_heartbeat(Some(heartbeat)));
    if !options.server.deflate {
        config.server.deflate = None;
    }
    let room = Arc::new(Room::default());
    if let Some(path) = &options.history {
        let lines = load_history(path)?;
        say!("chat: {} lines of history from {}", lines.len(), path.display());
        *lock(&room.history) = lines;
    }
    let shared = room.clone();
    let mut server =
        Server::new(config, options.server.threads, |_| Chat { room: shared.clone(), heartbeat: options.heartbeat })?;
    let (local, secure) = options.server.listen(&mut server)?;
    let scheme = if secure { "https" } else { "http" };
    shutdown::drain_on_signals("chat", server.handle(), options.server.drain, Some(room.shutting_down.clone()))?;
    if let Some(addr) = options.server.metrics {
        let local = prometheus::serve(addr, server.handle(), "chat")
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot serve the metrics on {addr}: {e}")))?;
        say!("chat: metrics at http://{local}/metrics (and at /metrics on the chat's own address)");
    }
    let threads = options.server.threads;
    let loops = if threads == 1 { "1 event loop".to_string() } else { format!("{threads} event loops") };
    say!("chat: open {scheme}://{local}/ in two browser tabs ({loops})");
    let report = server.run()?;
    shutdown::print_report("chat", &report);
    if let Some(path) = &options.history {
        let lines = lock(&room.history);
        save_history(path, &lines).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot save the history to {}: {e}", path.display()))
        })?;
        say!("chat: {} lines of history saved to {}", lines.len(), path.display());
    }
    Ok(())
}

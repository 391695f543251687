//! Echoes every message back: the server the Autobahn fuzzing client tests.
//!
//! `cargo run --release -p sansio-ws-mio --example echo-server -- [ADDR] [OPTIONS]` (`--help` lists
//! them).
//!
//! permessage-deflate is accepted unless `--no-deflate` is given; as a conformance target this
//! server compresses every message, however short, so every compressed path is exercised. The
//! load limits can be changed for trying the server under load (scripts/stress.sh). It runs one
//! event loop per core; SIGINT or SIGTERM shuts it down gracefully (a second one at once).

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::collections::{HashMap, VecDeque};

use sansio_ws::connection::{Closed, Config, Event, Message};
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, DriverConfig, Handler, Server};

#[path = "shared/options.rs"]
mod options;
#[path = "shared/prometheus.rs"]
mod prometheus;
#[path = "shared/say.rs"]
mod say;
#[path = "shared/shutdown.rs"]
mod shutdown;

use say::say;

/// Echoes, holding the echoes a connection refuses (backpressure: its peer reads slower than it
/// sends) and sending them again when it becomes writable, with reading paused meanwhile: no
/// echo is dropped, and a peer that does not read is not read either.
#[derive(Default)]
struct Echo {
    held: HashMap<ConnId, VecDeque<Message>>,
}

impl Echo {
    /// Sends what `id` holds, in order, until a refusal; resumes reading once all went out.
    fn send_held(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {
        let Some(held) = self.held.get_mut(&id) else { return };
        while let Some(message) = held.pop_front() {
            if let Err(refused) = ctx.send(id, message) {
                if refused.is_backpressure() {
                    held.push_front(refused.into_payload());
                    return;
                }
                // Closing: the rest cannot be sent; say so rather than drop it in silence.
                say!("echo-server: {id}: {} echoes not sent: {refused}", held.len() + 1);
                held.clear();
                break;
            }
        }
        self.held.remove(&id);
        ctx.set_reading(id, true);
    }
}

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        if let Some(held) = self.held.get_mut(&id) {
            // Keep the order: behind the echoes already waiting.
            held.push_back(message);
            return;
        }
        if let Err(refused) = ctx.send(id, message) {
            if refused.is_backpressure() {
                self.held.entry(id).or_default().push_back(refused.into_payload());
                ctx.set_reading(id, false);
            } else {
                say!("echo-server: {id}: echo not sent: {refused}");
            }
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        if matches!(event, Event::Writable) {
            self.send_held(ctx, id);
        }
    }

    fn on_accept_error(&mut self, _ctx: &mut Ctx<'_>, error: &std::io::Error) {
        say!("echo-server: cannot accept connections: {error}; retrying while it lasts (they wait in the backlog)");
    }

    fn on_memory_budget(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, held: usize) {
        say!(
            "echo-server: {id}: closing with 1013: the server is over its memory budget and this connection held {held} bytes"
        );
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        let held = self.held.remove(&id).map_or(0, |h| h.len());
        let stats = ctx.connection(id).map(|c| c.stats()).unwrap_or_default();
        say!(
            "echo-server: {id}: ended: {}; {} messages echoed, {} bytes in, {} out{}",
            closed.cause,
            stats.messages_sent,
            stats.bytes_received,
            stats.bytes_sent,
            if held > 0 || closed.unsent.messages > 0 {
                format!("; {held} echoes held and {} messages unsent", closed.unsent.messages)
            } else {
                String::new()
            }
        );
    }
}

/// Echoes every WebSocket message back.
#[derive(clap::Parser, Debug)]
#[command(
    name = "echo-server",
    after_help = "Any Origin is accepted (a server for test clients). permessage-deflate is accepted unless \
                  --no-deflate, and compresses every message, however short. SIGINT or SIGTERM shuts down \
                  gracefully (a second one exits at once)."
)]
struct Options {
    #[command(flatten)]
    server: options::ServerOptions,
    /// The peer's Pings and Pongs allowed per second before a close 1008, or `off`
    #[arg(long = "max-control-frames-per-second", value_name = "N|off", default_value = "100",
          value_parser = parse_rate)]
    control_frames: Rate,
    /// What all connections may hold together, in MiB
    #[arg(long = "memory-budget-mib", value_name = "N", default_value_t = DriverConfig::default().memory_budget >> 20)]
    memory_budget_mib: usize,
}

/// A rate limit, or none (clap takes a custom parser's output as one value, not as an `Option`).
#[derive(Clone, Copy, Debug)]
struct Rate(Option<u32>);

fn parse_rate(arg: &str) -> Result<Rate, String> {
    match arg {
        "off" => Ok(Rate(None)),
        n => n.parse().map(|n| Rate(Some(n))).map_err(|e| format!("{e} (give a number, or off)")),
    }
}

fn main() {
    let options = <Options as clap::Parser>::parse();
    if let Err(e) = serve(&options) {
        say!("echo-server: {e}");
        std::process::exit(1);
    }
}

fn serve(options: &Options) -> std::io::Result<()> {
    // Level 1: the conformance run compresses hundreds of megabytes.
    let deflate = options.server.deflate.then(|| DeflateConfig::default().with_threshold(0).with_level(1));
    let connection =
        Config::default().with_heartbeat(None).with_max_control_frames_per_second(options.control_frames.0);
    let config = DriverConfig::default()
        // A test server for non-browser clients: any Origin is accepted, and says so.
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(deflate))
        .with_connection(connection)
        .with_memory_budget(options.memory_budget_mib.saturating_mul(1 << 20));
    let mut server = Server::new(config, options.server.threads, |_| Echo::default())?;
    let (local, secure) = options.server.listen(&mut server)?;
    let scheme = if secure { "wss" } else { "ws" };
    shutdown::drain_on_signals("echo-server", server.handle(), options.server.drain, None)?;
    if let Some(addr) = options.server.metrics {
        let local = prometheus::serve(addr, server.handle(), "echo-server")
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot serve the metrics on {addr}: {e}")))?;
        say!("echo-server: metrics at http://{local}/metrics");
    }
    let deflate = if options.server.deflate { "on" } else { "off" };
    say!(
        "echo-server: listening on {scheme}://{local} with {} event loop{} (origin policy: any, for test clients; permessage-deflate {deflate})",
        options.server.threads,
        if options.server.threads == 1 { "" } else { "s" }
    );
    let report = server.run()?;
    shutdown::print_report("echo-server", &report);
    Ok(())
}

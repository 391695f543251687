//! Echoes every message back: the server the Autobahn fuzzing client tests.
//!
//! `cargo run --release -p sansio-ws-mio --example echo-server -- 127.0.0.1:9001 [--no-deflate]`
//!
//! permessage-deflate is accepted unless `--no-deflate` is given; as a conformance target this
//! server compresses every message, however short, so every compressed path is exercised.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use sansio_ws::connection::{Closed, Config, Event, Message};
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, DriverConfig, EventLoop, Handler};

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
                eprintln!("echo-server: {id}: {} echoes not sent: {refused}", held.len() + 1);
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
                eprintln!("echo-server: {id}: echo not sent: {refused}");
            }
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        if matches!(event, Event::Writable) {
            self.send_held(ctx, id);
        }
    }

    fn on_close(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        let held = self.held.remove(&id).map_or(0, |h| h.len());
        if held > 0 || closed.unsent.messages > 0 {
            eprintln!(
                "echo-server: {id}: ended ({:?}) with {held} echoes held and {} messages unsent",
                closed.cause, closed.unsent.messages
            );
        }
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let no_deflate = args.iter().any(|a| a == "--no-deflate");
    let addr: SocketAddr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("127.0.0.1:9001", String::as_str)
        .parse()
        .expect("an address");
    // Level 1: the conformance run compresses hundreds of megabytes.
    let deflate = (!no_deflate).then(|| DeflateConfig::default().with_threshold(0).with_level(1));
    let config = DriverConfig::default()
        // A test server for non-browser clients: any Origin is accepted, and says so.
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(deflate))
        .with_connection(Config::default().with_heartbeat(None));
    let mut event_loop = EventLoop::new(config, Echo::default())?;
    let local = event_loop.listen(addr)?;
    let deflate = if no_deflate { "off" } else { "on" };
    eprintln!(
        "echo-server: listening on ws://{local} (origin policy: any, for test clients; permessage-deflate {deflate})"
    );
    event_loop.run()?;
    Ok(())
}

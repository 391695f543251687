//! Echoes every message back: the server the Autobahn fuzzing client tests.
//!
//! `cargo run --release -p sansio-ws-mio --example echo-server -- 127.0.0.1:9001 [--no-deflate]`
//!
//! permessage-deflate is accepted unless `--no-deflate` is given; as a conformance target this
//! server compresses every message, however short, so every compressed path is exercised.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::net::SocketAddr;

use sansio_ws::connection::{Config, Message};
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, DriverConfig, EventLoop, Handler};

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        // A refusal can only mean the connection is closing: nothing to echo to.
        let _ = ctx.send(id, message);
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
    let mut config = DriverConfig {
        // A test server for non-browser clients: any Origin is accepted, and says so.
        server: ServerConfig { origin_policy: OriginPolicy::Any, ..ServerConfig::default() },
        connection: Config { heartbeat: None, ..Config::default() },
        ..DriverConfig::default()
    };
    match config.deflate.as_mut() {
        Some(_) if no_deflate => config.deflate = None,
        Some(deflate) => {
            deflate.threshold = 0;
            // Level 1: the conformance run compresses hundreds of megabytes.
            deflate.level = 1;
        }
        None => {}
    }
    let mut event_loop = EventLoop::new(config, Echo)?;
    let local = event_loop.listen(addr)?;
    let deflate = if no_deflate { "off" } else { "on" };
    eprintln!(
        "echo-server: listening on ws://{local} (origin policy: any, for test clients; permessage-deflate {deflate})"
    );
    event_loop.run()?;
    Ok(())
}

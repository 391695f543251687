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
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, DriverConfig, EventLoop, Handler};

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        if let Err(refused) = ctx.send(id, message) {
            // Backpressure (the peer does not read its echoes) or a closing connection: the echo
            // is not sent, so say so, and end a connection that stopped reading.
            eprintln!("echo-server: {id}: echo of {} bytes refused: {refused}", refused.payload().len());
            if refused.is_backpressure() {
                if let Err(e) = ctx.close(id, CloseCode::TRY_AGAIN_LATER, "echoes not read") {
                    eprintln!("echo-server: {id}: cannot close: {e}");
                }
            }
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
    let mut event_loop = EventLoop::new(config, Echo)?;
    let local = event_loop.listen(addr)?;
    let deflate = if no_deflate { "off" } else { "on" };
    eprintln!(
        "echo-server: listening on ws://{local} (origin policy: any, for test clients; permessage-deflate {deflate})"
    );
    event_loop.run()?;
    Ok(())
}

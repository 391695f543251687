//! Runs every case of an Autobahn fuzzing server against our client, echoing, then asks it to
//! write its reports.
//!
//! `cargo run --release -p sansio-ws-mio --example autobahn-client -- ws://127.0.0.1:9001 [--no-deflate]`
//! (`wss://` with `--features tls`, and `--ca FILE` to trust a private CA)

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use sansio_ws::connection::{Closed, Config, Message};
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::ClientConfig;
use sansio_ws_mio::{ConnId, ConnectError, Ctx, DriverConfig, EventLoop, Handler, Opened};

#[path = "shared/client_tls.rs"]
mod client_tls;

const AGENT: &str = "sansio-ws";

#[derive(Debug, PartialEq)]
enum Step {
    CaseCount,
    Case(u32),
    Reports,
}

struct Runner {
    base: String,
    step: Step,
    cases: u32,
    failed: Option<String>,
}

impl Runner {
    fn url(&self) -> String {
        match self.step {
            Step::CaseCount => format!("{}/getCaseCount", self.base),
            Step::Case(n) => format!("{}/runCase?case={n}&agent={AGENT}", self.base),
            Step::Reports => format!("{}/updateReports?agent={AGENT}", self.base),
        }
    }

    fn next(&mut self, ctx: &mut Ctx<'_>) {
        self.step = match self.step {
            Step::CaseCount if self.cases > 0 => Step::Case(1),
            Step::Case(n) if n < self.cases => Step::Case(n + 1),
            Step::Reports => return ctx.shutdown(std::time::Duration::ZERO),
            _ => Step::Reports,
        };
        if let Step::Case(n) = self.step {
            if n % 50 == 0 {
                eprintln!("autobahn-client: case {n} of {}", self.cases);
            }
        }
        let url = self.url();
        if let Err(e) = ctx.connect(&url) {
            self.failed = Some(format!("{url}: {e}"));
            ctx.shutdown(std::time::Duration::ZERO);
        }
    }
}

impl Handler for Runner {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, _opened: &Opened) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        match self.step {
            Step::CaseCount => {
                if let Message::Text(t) = &message {
                    self.cases = t.trim().parse().unwrap_or(0);
                }
            }
            _ => {
                if let Err(refused) = ctx.send(id, message) {
                    // The case expects its echo: a refusal is reported, not dropped in silence.
                    eprintln!("autobahn-client: {}: echo refused: {refused}", self.url());
                    if let Err(e) = ctx.close(id, CloseCode::TRY_AGAIN_LATER, "echo refused") {
                        eprintln!("autobahn-client: {}: cannot close: {e}", self.url());
                    }
                }
            }
        }
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, _id: ConnId, _closed: &Closed) {
        self.next(ctx);
    }

    fn on_connect_error(&mut self, ctx: &mut Ctx<'_>, _id: ConnId, error: ConnectError) {
        // A case may refuse or break the handshake on purpose; only the case count is essential.
        if self.step == Step::CaseCount {
            self.failed = Some(format!("{}: {error}", self.url()));
            return ctx.shutdown(std::time::Duration::ZERO);
        }
        self.next(ctx);
    }
}

/// Runs every case of an Autobahn fuzzing server against our client.
#[derive(clap::Parser, Debug)]
#[command(name = "autobahn-client")]
struct Options {
    /// The fuzzing server: ws://HOST:PORT (or wss://)
    #[arg(value_name = "URL", default_value = "ws://127.0.0.1:9001")]
    base: String,
    /// Do not offer permessage-deflate
    #[arg(long = "no-deflate")]
    no_deflate: bool,
    /// Trust the CA certificates of this PEM file too (for wss://)
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
}

fn main() -> std::io::Result<()> {
    let options = <Options as clap::Parser>::parse();
    let base = options.base.trim_end_matches('/').to_string();
    let deflate = (!options.no_deflate).then(|| {
        DeflateConfig::default()
            // Compress every echo, however short, so every compressed path is exercised.
            .with_threshold(0)
            // Offer the client_no_context_takeover hint (RFC 7692 §7.1.1.2): some servers, the
            // fuzzing server's cases 13.2, 13.5 and 13.6 among them, only ask a client for
            // no context takeover when the offer says it can.
            .with_client_no_context_takeover(true)
            // Level 1: the conformance run compresses hundreds of megabytes.
            .with_level(1)
    });
    let config = DriverConfig::default()
        .with_connection(Config::default().with_heartbeat(None))
        .with_client(ClientConfig::default().with_deflate(deflate));
    let config = client_tls::trusting(config, options.ca.as_deref())?;
    let runner = Runner { base, step: Step::CaseCount, cases: 0, failed: None };
    let mut event_loop = EventLoop::new(config, runner)?;
    let url = event_loop.handler().url();
    if let Err(e) = event_loop.connect(&url) {
        eprintln!("autobahn-client: {url}: {e}");
        std::process::exit(1);
    }
    event_loop.run()?;
    let runner = event_loop.handler();
    if let Some(failure) = &runner.failed {
        eprintln!("autobahn-client: {failure}");
        std::process::exit(1);
    }
    eprintln!("autobahn-client: ran {} cases", runner.cases);
    Ok(())
}

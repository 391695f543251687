//! Runs every case of an Autobahn fuzzing server against this crate's client, echoing, then asks
//! the server to write its reports.
//!
//! `cargo run --release -p sansio-ws-tokio --example autobahn-client -- ws://127.0.0.1:9001 [--no-deflate]`

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::process::ExitCode;

use clap::Parser;
use sansio_ws::deflate::DeflateConfig;
use sansio_ws_tokio::{ClientConfig, CloseCode, Config, HandshakeError, Message, connect_with};

#[path = "shared/say.rs"]
mod say;

use say::say;

const AGENT: &str = "sansio-ws-tokio";

/// Runs every case of an Autobahn fuzzing server against this crate's client.
#[derive(Parser, Debug)]
#[command(name = "autobahn-client")]
struct Options {
    /// The fuzzing server: ws://HOST:PORT
    #[arg(value_name = "URL", default_value = "ws://127.0.0.1:9001")]
    base: String,
    /// Do not offer permessage-deflate
    #[arg(long = "no-deflate")]
    no_deflate: bool,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            say!("autobahn-client: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("autobahn-client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    let base = options.base.trim_end_matches('/');
    let deflate = (!options.no_deflate).then(|| {
        DeflateConfig::default()
            // Compress every echo, however short, so every compressed path is exercised.
            .with_threshold(0)
            // Offer the client_no_context_takeover hint (RFC 7692 §7.1.1.2): the fuzzing
            // server's cases 13.2, 13.5 and 13.6 only ask for it when the offer says it can.
            .with_client_no_context_takeover(true)
            // Level 1: the conformance run compresses hundreds of megabytes.
            .with_level(1)
    });
    let handshake = ClientConfig::default().with_deflate(deflate);
    let config = Config::default().with_heartbeat(None);

    let url = format!("{base}/getCaseCount");
    let (mut ws, _) = connect_with(&url, handshake.clone(), config.clone()).await.map_err(|e| format!("{url}: {e}"))?;
    let count = match ws.recv().await {
        Some(Ok(Message::Text(t))) => t.trim().parse::<u32>().map_err(|e| format!("{url}: not a case count: {e}"))?,
        other => return Err(format!("{url}: no case count but {other:?}")),
    };
    drop(ws.close(CloseCode::NORMAL, "").await);

    for case in 1..=count {
        if case % 50 == 0 {
            say!("autobahn-client: case {case} of {count}");
        }
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        let mut ws = match connect_with(&url, handshake.clone(), config.clone()).await {
            Ok((ws, _)) => ws,
            // A case may refuse or break the handshake on purpose.
            Err(HandshakeError::Client(e)) => {
                say!("autobahn-client: {url}: {e}");
                continue;
            }
            Err(e) => return Err(format!("{url}: {e}")),
        };
        while let Some(message) = ws.recv().await {
            let Ok(message) = message else { break };
            if let Err(refused) = ws.send(message).await {
                // The case expects its echo: a refusal is reported, not dropped in silence.
                say!("autobahn-client: {url}: echo refused: {refused}");
                if let Err(e) = ws.close(CloseCode::TRY_AGAIN_LATER, "echo refused").await {
                    say!("autobahn-client: {url}: cannot close: {e}");
                }
                break;
            }
        }
    }

    let url = format!("{base}/updateReports?agent={AGENT}");
    let (mut ws, _) = connect_with(&url, handshake, config).await.map_err(|e| format!("{url}: {e}"))?;
    // The server writes the reports, then closes.
    while ws.recv().await.is_some() {}
    Ok(())
}

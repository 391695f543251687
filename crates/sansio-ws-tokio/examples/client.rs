//! A line client: every line of standard input goes out as a text message, every message that
//! comes back is printed, and at the end of the input (or on SIGINT/SIGTERM) the connection is
//! closed with 1000 and how it ended is told.
//!
//! `cargo run -p sansio-ws-tokio --example client -- ws://127.0.0.1:9001/ [--ca CA.pem]`
//! (`wss://` and `--ca` need `--features rustls`).
//!
//! Received text is printed as `< TEXT`, binary as `< [N bytes]`; the end goes to standard error
//! with its cause. The exit status is 0 for a clean close, 1 for any other end, 2 when the
//! connection could not be opened.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sansio_ws::connection::{CloseCause, HeartbeatConfig};
use sansio_ws_tokio::{ClientConfig, CloseCode, Config, Message, WebSocketStream};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};

#[path = "shared/say.rs"]
mod say;
#[path = "shared/signals.rs"]
mod signals;

use say::say;
use signals::Signals;

#[derive(Parser)]
#[command(about = "Sends each line of standard input as a text message and prints what comes back.")]
struct Options {
    /// The server: ws://HOST:PORT/PATH (or wss:// with the rustls feature).
    url: String,
    /// A PEM file of CA certificates to trust for wss:// instead of Mozilla's roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Do not offer permessage-deflate.
    #[arg(long)]
    no_deflate: bool,
    /// Send a Ping after this many seconds of silence, and give up on a peer that stops
    /// answering (0: no heartbeat).
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    heartbeat: u64,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            say!("client: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(options))
}

async fn run(options: Options) -> ExitCode {
    let mut handshake = ClientConfig::default();
    if options.no_deflate {
        handshake = handshake.with_deflate(None);
    }
    let heartbeat = (options.heartbeat > 0).then(|| Duration::from_secs(options.heartbeat));
    let config =
        Config::default().with_heartbeat(heartbeat.map(|every| HeartbeatConfig::default().with_interval(every)));
    let connected = match &options.ca {
        None => sansio_ws_tokio::connect_with(&options.url, handshake, config).await.map_err(|e| e.to_string()),
        Some(ca) => with_ca(&options.url, handshake, config, ca).await,
    };
    let (ws, response) = match connected {
        Ok(connected) => connected,
        Err(e) => {
            say!("client: cannot open {}: {e}", options.url);
            return ExitCode::from(2);
        }
    };
    let deflate = response.extensions().iter().any(|e| e.name == "permessage-deflate");
    say!("client: connected to {} (permessage-deflate {})", options.url, if deflate { "on" } else { "off" });
    talk(ws).await
}

#[cfg(feature = "rustls")]
async fn with_ca(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    ca: &std::path::Path,
) -> Result<(WebSocketStream<sansio_ws_tokio::MaybeTlsStream>, sansio_ws_tokio::Response), String> {
    use sansio_ws_tokio::tls;
    let roots = tls::roots_from_pem_file(rustls::RootCertStore::empty(), ca).map_err(|e| e.to_string())?;
    sansio_ws_tokio::connect_with_tls(url, handshake, config, tls::client_config(roots))
        .await
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "rustls"))]
async fn with_ca(
    _: &str,
    _: ClientConfig,
    _: Config,
    ca: &std::path::Path,
) -> Result<(WebSocketStream<sansio_ws_tokio::MaybeTlsStream>, sansio_ws_tokio::Response), String> {
    Err(format!("--ca {} needs the rustls feature (cargo run --features rustls --example client)", ca.display()))
}

/// Lines out, messages in, until the input ends, a signal comes or the connection ends.
async fn talk<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) -> ExitCode {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    let mut signals = match Signals::new() {
        Ok(signals) => signals,
        Err(e) => {
            say!("client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut closing = false;
    loop {
        tokio::select! {
            // `recv` is cancel-safe: a message is taken only when it is returned.
            message = ws.recv() => match message {
                Some(Ok(Message::Text(text))) => println!("< {text}"),
                Some(Ok(Message::Binary(data))) => println!("< [{} bytes]", data.len()),
                // The end: its cause is told below.
                Some(Err(_)) | None => break,
            },
            // `next_line` is cancel-safe too.
            line = lines.next_line(), if input_open && !closing => match line {
                Ok(Some(line)) => {
                    if let Err(refused) = ws.send(Message::text(line)).await {
                        say!("client: not sent: {refused}");
                    }
                }
                Ok(None) | Err(_) => {
                    input_open = false;
                    closing = start_close(&mut ws, "end of input");
                }
            },
            () = signals.recv() => {
                if closing {
                    say!("client: interrupted again: quitting without waiting for the close handshake");
                    return ExitCode::FAILURE;
                }
                closing = start_close(&mut ws, "interrupted");
            }
        }
    }
    match ws.close_info() {
        Some(closed) => {
            say!("client: {}", closed.cause);
            if matches!(closed.cause, CloseCause::Clean { .. }) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        None => {
            say!("client: the connection ended without its final event");
            ExitCode::FAILURE
        }
    }
}

/// Starts the close handshake (it completes as the stream is received from); says why.
fn start_close<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, why: &str) -> bool {
    say!("client: {why}: closing with 1000");
    if let Err(e) = ws.start_close(CloseCode::NORMAL, "bye") {
        say!("client: cannot close: {e}");
    }
    true
}

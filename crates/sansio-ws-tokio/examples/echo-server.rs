//! Echoes every message back, one task per connection: the server the Autobahn fuzzing client
//! tests through this crate.
//!
//! `cargo run --release -p sansio-ws-tokio --example echo-server -- [ADDR] [--no-deflate] [--threads N]`
//!
//! Any origin is accepted (a test server); permessage-deflate is accepted unless `--no-deflate`,
//! and then every message is compressed, however short, so every compressed path is exercised.
//! Each connection's end is logged with its cause. SIGINT or SIGTERM shuts down gracefully:
//! accepting stops, every connection is closed with 1001 and given up to 5 s for the close
//! handshake; a second signal quits at once.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::handshake::OriginPolicy;
use sansio_ws_tokio::{CloseCode, Config, ServerConfig, WebSocketStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[path = "shared/say.rs"]
mod say;
#[path = "shared/signals.rs"]
mod signals;

use say::say;
use signals::Signals;

/// How long connections get to finish their close handshake at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Parser)]
#[command(about = "An echo server on sansio-ws-tokio (any origin accepted: for test clients).")]
struct Options {
    /// Address to listen on: HOST:PORT, or a bare port for 127.0.0.1.
    #[arg(default_value = "127.0.0.1:9001", value_parser = parse_addr)]
    addr: SocketAddr,
    /// Decline permessage-deflate.
    #[arg(long)]
    no_deflate: bool,
    /// Worker threads of the runtime (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|e| format!("{s:?} is neither HOST:PORT nor a port: {e}"))
}

fn main() -> std::process::ExitCode {
    let options = Options::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = options.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            say!("echo-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            say!("echo-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options) -> Result<(), String> {
    let listener =
        TcpListener::bind(options.addr).await.map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let deflate = (!options.no_deflate).then(|| DeflateConfig::default().with_threshold(0).with_level(1));
    let handshake = ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(deflate);
    let config = Config::default().with_heartbeat(None);
    // The bound address: the port the system chose when asked for port 0.
    let addr = listener.local_addr().map_err(|e| format!("the listening address of {}: {e}", options.addr))?;
    say!(
        "echo-server: listening on ws://{addr} (origin policy: any, for test clients; permessage-deflate {})",
        if options.no_deflate { "off" } else { "on" }
    );
    let (stop, stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut signals = Signals::new()?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let (handshake, config, stopped) = (handshake.clone(), config.clone(), stopped.clone());
                    tasks.spawn(connection(tcp, peer, handshake, config, stopped));
                }
                // Out of descriptors and the like: the listener stays; try again shortly.
                Err(e) => {
                    say!("echo-server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = signals.recv() => break,
            // Reap finished connections as they end, so the set stays as large as the live ones.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    say!("echo-server: shutting down: closing {} connections with 1001 (again to quit at once)", tasks.len());
    // Every receiver sees it; the listener closes with this function's end.
    stop.send_replace(true);
    drop(listener);
    let drained =
        tokio::time::timeout(DRAIN + Duration::from_secs(1), async { while tasks.join_next().await.is_some() {} });
    tokio::select! {
        result = drained => {
            if result.is_err() {
                say!("echo-server: {} connections still open after the drain: aborted", tasks.len());
            }
        }
        () = signals.recv() => say!("echo-server: interrupted again: quitting now"),
    }
    Ok(())
}

/// One connection: the handshake, the echo, and one line for its end.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    handshake: ServerConfig,
    config: Config,
    mut stopped: watch::Receiver<bool>,
) {
    if let Err(e) = tcp.set_nodelay(true) {
        say!("echo-server: {peer}: cannot set TCP_NODELAY: {e}");
    }
    let mut ws = match sansio_ws_tokio::accept_with(tcp, handshake, config).await {
        Ok(ws) => ws,
        Err(e) => return say!("echo-server: {peer}: refused: {e}"),
    };
    let mut unsent = 0usize;
    // One wait for the shutdown signal for the whole connection, polled again in every round
    // (a new `changed()` per message would register and deregister a waiter each time).
    let mut shutdown = std::pin::pin!(stopped.changed());
    loop {
        tokio::select! {
            // `recv` is cancel-safe: a message is taken only when it is returned.
            message = ws.recv() => match message {
                Some(Ok(message)) => {
                    if let Err(refused) = ws.send(message).await {
                        unsent += 1;
                        say!("echo-server: {peer}: echo not sent: {refused}");
                    }
                }
                Some(Err(_)) | None => break,
            },
            _ = &mut shutdown => {
                let closed = ws.close(CloseCode::GOING_AWAY, "server shutting down").await;
                if let Err(e) = closed {
                    say!("echo-server: {peer}: cannot close: {e}");
                }
                break;
            }
        }
    }
    report(&ws, peer, unsent);
}

fn report(ws: &WebSocketStream<TcpStream>, peer: SocketAddr, unsent: usize) {
    let stats = ws.stats();
    match ws.close_info() {
        Some(closed) => say!(
            "echo-server: {peer}: {} ({} messages in, {} out{})",
            closed.cause,
            stats.messages_received,
            stats.messages_sent,
            if unsent > 0 { format!(", {unsent} echoes refused") } else { String::new() }
        ),
        None => say!("echo-server: {peer}: ended before its final event"),
    }
}

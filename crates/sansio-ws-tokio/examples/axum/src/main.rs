//! An axum application with a WebSocket route: `GET /` serves a page that talks to `GET /ws`, an
//! echo upgraded through `sansio_ws_tokio::upgrade` inside axum's own server, next to ordinary
//! routes (`GET /stats`, JSON).
//!
//! `cargo run --release -p sansio-ws-axum-example -- [ADDR] [--allow-origin ORIGIN]...`
//!
//! The handler takes the request itself (no extractor): the core checks it as it checks every
//! opening request, origin included: pages of the host the request names are let in (or, with
//! `--allow-origin`, the origins listed); any other origin gets a `403` that says why.
//! Each connection's end is logged with its cause. SIGINT or SIGTERM shuts down gracefully: axum
//! stops accepting, every WebSocket is closed with 1001 and given up to 5 s for the close
//! handshake; a second signal quits at once.

// An example program talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use sansio_ws_tokio::sansio_ws::handshake::OriginPolicy;
use sansio_ws_tokio::upgrade::{UpgradedStream, upgrade};
use sansio_ws_tokio::{CloseCode, Config, ServerConfig};
use tokio::sync::{mpsc, watch};

/// How long WebSockets get to finish their close handshake at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Parser)]
#[command(about = "An axum server with a WebSocket echo route (GET /ws) and a page that uses it (GET /).")]
struct Options {
    /// Address to listen on: HOST:PORT, or a bare port for 127.0.0.1.
    #[arg(default_value = "127.0.0.1:3000", value_parser = parse_addr)]
    addr: SocketAddr,
    /// An origin whose pages may open WebSockets (repeatable), written as browsers send it:
    /// `http://localhost:3000`. With this, only the listed origins are let in; without it, the
    /// pages of the host the request names.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|e| format!("{s:?} is neither HOST:PORT nor a port: {e}"))
}

/// What the handlers share.
#[derive(Clone)]
struct App {
    handshake: ServerConfig,
    /// Turns true at shutdown: every WebSocket closes with 1001.
    stopped: watch::Receiver<bool>,
    /// Held by every WebSocket task: the shutdown waits until all are dropped.
    _alive: mpsc::Sender<()>,
    stats: Arc<Mutex<Counts>>,
}

/// What `/stats` reports.
#[derive(Default)]
struct Counts {
    open: u64,
    accepted: u64,
    refused: u64,
    /// How the connections that ended did, by the close code a browser would report.
    ended: BTreeMap<String, u64>,
}

impl App {
    fn count(&self, f: impl FnOnce(&mut Counts)) {
        // A panic elsewhere while counting leaves counts that are still worth reporting.
        let mut counts = self.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut counts);
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match serve(Options::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum-example: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options) -> Result<(), String> {
    let policy = if options.allow_origin.is_empty() {
        OriginPolicy::SameHost
    } else {
        OriginPolicy::AllowList(options.allow_origin.clone())
    };
    let (stop, stopped) = watch::channel(false);
    let (alive, mut all_gone) = mpsc::channel(1);
    let app = App {
        handshake: ServerConfig::default().with_origin_policy(policy),
        stopped,
        _alive: alive,
        stats: Arc::default(),
    };
    let router = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/ws", get(websocket))
        .route("/stats", get(stats))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let addr = listener.local_addr().map_err(|e| format!("the listening address: {e}"))?;
    let origins = if options.allow_origin.is_empty() {
        "pages of the host asked for".to_string()
    } else {
        options.allow_origin.join(", ")
    };
    eprintln!("axum-example: listening on http://{addr}/ (WebSocket on ws://{addr}/ws; origins: {origins})");
    let mut signals = Signals::new()?;
    let (first_signal, shutdown) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            // Dropped without a send at the end: shutting down either way.
            let _ = shutdown.await;
        });
    let server = tokio::spawn(async move { server.await });
    signals.recv().await;
    eprintln!("axum-example: shutting down: closing every WebSocket with 1001 (again to quit at once)");
    // The server task waits for this; if it has ended already, there is nothing left to stop.
    if first_signal.send(()).is_err() {
        eprintln!("axum-example: the HTTP server had already stopped");
    }
    stop.send_replace(true);
    let drained = tokio::time::timeout(DRAIN + Duration::from_secs(1), async {
        // `None` once every WebSocket task has dropped its sender (ours goes with `router`).
        all_gone.recv().await;
    });
    tokio::select! {
        result = drained => {
            if result.is_err() {
                eprintln!("axum-example: WebSockets still open after the drain: quitting");
            }
        }
        () = signals.recv() => eprintln!("axum-example: interrupted again: quitting now"),
    }
    match tokio::time::timeout(Duration::from_secs(1), server).await {
        Ok(Ok(Ok(()))) | Err(_) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("the HTTP server failed: {e}")),
        Ok(Err(e)) => Err(format!("the HTTP server task failed: {e}")),
    }
}

/// `GET /ws`: the request goes to the core's checks as it is; a refusal is answered with its
/// status and a body that says what was wrong.
async fn websocket(State(app): State<App>, mut request: Request) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let peer = peer.map_or_else(|| "unknown peer".to_string(), |addr| addr.to_string());
    match upgrade::<_, Body>(&mut request, app.handshake.clone(), Config::default()) {
        Ok((response, pending)) => {
            app.count(|c| c.accepted += 1);
            tokio::spawn(async move {
                match pending.await {
                    Ok(ws) => echo(ws, &peer, app).await,
                    Err(e) => eprintln!("axum-example: {peer}: upgrade failed: {e}"),
                }
            });
            response
        }
        Err(refused) => {
            app.count(|c| c.refused += 1);
            eprintln!("axum-example: {peer}: {refused}");
            refused.into_response()
        }
    }
}

/// Echoes every message until the connection ends or the server stops; logs the end.
async fn echo(mut ws: UpgradedStream, peer: &str, app: App) {
    let mut stopped = app.stopped.clone();
    app.count(|c| c.open += 1);
    let mut refused = 0usize;
    loop {
        tokio::select! {
            // `recv` is cancel-safe: a message is taken only when it is returned.
            message = ws.recv() => match message {
                Some(Ok(message)) => {
                    if let Err(e) = ws.send(message).await {
                        refused += 1;
                        eprintln!("axum-example: {peer}: echo not sent: {e}");
                    }
                }
                Some(Err(_)) | None => break,
            },
            _ = stopped.changed() => {
                if let Err(e) = ws.close(CloseCode::GOING_AWAY, "server shutting down").await {
                    eprintln!("axum-example: {peer}: cannot close: {e}");
                }
                break;
            }
        }
    }
    let stats = ws.stats();
    let cause = ws.close_info().map_or_else(|| "ended before its final event".to_string(), |c| c.cause.to_string());
    eprintln!(
        "axum-example: {peer}: {cause} ({} messages in, {} out{})",
        stats.messages_received,
        stats.messages_sent,
        if refused > 0 { format!(", {refused} echoes refused") } else { String::new() }
    );
    // By the close code a browser would report (1006 for every ending without a Close).
    let code = ws.close_info().map_or(CloseCode::ABNORMAL, |c| c.cause.code());
    app.count(|c| {
        c.open -= 1;
        *c.ended.entry(u16::from(code).to_string()).or_default() += 1;
    });
    // `app._alive` goes with `app`: the shutdown counts this connection as done.
}

/// `GET /stats`: the counts as JSON.
async fn stats(State(app): State<App>) -> impl IntoResponse {
    let mut body = serde_json::Value::Null;
    app.count(|c| {
        body = serde_json::json!({
            "open": c.open,
            "accepted": c.accepted,
            "refused": c.refused,
            "ended": c.ended,
        });
    });
    ([(CONTENT_TYPE, "application/json")], body.to_string())
}

/// SIGINT and SIGTERM as one stream of signals.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let catch = |kind: SignalKind, name: &str| signal(kind).map_err(|e| format!("cannot catch {name}: {e}"));
        Ok(Signals { int: catch(SignalKind::interrupt(), "SIGINT")?, term: catch(SignalKind::terminate(), "SIGTERM")? })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// The page: opens `/ws` on its own host, shows the connection's state and every echo, and how
/// the connection ended (the close code in words, and who closed).
const PAGE: &str = include_str!("page.html");

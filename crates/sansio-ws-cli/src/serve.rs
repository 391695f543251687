//! `sansio-ws serve ADDR`: an echo server for testing clients, telling each connection's life on
//! stderr: its request, what was agreed, each message (unless `--quiet`), and how it ended.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sansio_ws::connection::{Closed, Config, Event, Message};
use sansio_ws::handshake::{Accept, OriginPolicy, Request, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, Decision, DriverConfig, Handler, Opened, Server};

use crate::{describe_open, options, words};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Where to listen: HOST:PORT, or a bare port (on 127.0.0.1)
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:9001", value_parser = parse_listen_addr)]
    addr: SocketAddr,
    /// Accept requests from any Origin (by default, only same-host pages and clients that send
    /// no Origin)
    #[arg(long = "origin-any")]
    origin_any: bool,
    /// Do not accept permessage-deflate
    #[arg(long = "no-deflate")]
    no_deflate: bool,
    /// Agree to this subprotocol when a client offers it (repeatable)
    #[arg(long = "subprotocol", value_name = "NAME")]
    subprotocols: Vec<String>,
    /// Event loops, one per thread
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Ping a client after this many seconds of silence (`off`: never)
    #[arg(long = "ping-interval", value_name = "SECS|off", default_value = "30", value_parser = options::parse_secs_or_off)]
    ping_interval: options::SecsOrOff,
    /// The largest message accepted from a client (1009 beyond), e.g. 1MiB
    #[arg(long = "max-message", value_name = "BYTES", default_value = "64MiB", value_parser = options::parse_size)]
    max_message: u64,
    /// Do not print a line per message
    #[arg(long)]
    quiet: bool,
    /// Serve wss:// with this certificate chain, PEM
    #[arg(long = "tls-cert", value_name = "CERT.pem", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert, PEM
    #[arg(long = "tls-key", value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// On SIGINT or SIGTERM, how long the connections have to close, in seconds
    #[arg(long = "drain-timeout", value_name = "SECS", default_value = "5", value_parser = options::parse_secs)]
    drain: Duration,
}

/// An address, or a bare port on the loopback interface.
fn parse_listen_addr(arg: &str) -> Result<SocketAddr, String> {
    match arg.parse::<u16>() {
        Ok(port) => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        Err(_) => arg.parse().map_err(|e| format!("{e} (give HOST:PORT, e.g. 0.0.0.0:9001, or a port)")),
    }
}

/// Echoes, and tells. Echoes a connection refuses (its client reads slower than it sends) wait
/// here with reading paused, and go out once it is writable: none is dropped.
struct Echo {
    subprotocols: Vec<String>,
    quiet: bool,
    held: HashMap<ConnId, VecDeque<Message>>,
    shutting_down: Arc<AtomicBool>,
}

impl Echo {
    fn echo(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        if let Some(held) = self.held.get_mut(&id) {
            held.push_back(message);
            return;
        }
        if let Err(refused) = ctx.send(id, message) {
            if refused.is_backpressure() {
                self.held.entry(id).or_default().push_back(refused.into_payload());
                ctx.set_reading(id, false);
            } else if !self.shutting_down.load(Ordering::Relaxed) {
                say!("{id}: echo not sent: {refused}");
            }
        }
    }

    fn send_held(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {
        let Some(held) = self.held.get_mut(&id) else { return };
        while let Some(message) = held.pop_front() {
            if let Err(refused) = ctx.send(id, message) {
                if refused.is_backpressure() {
                    held.push_front(refused.into_payload());
                    return;
                }
                say!("{id}: {} echoes not sent: {refused}", held.len() + 1);
                break;
            }
        }
        self.held.remove(&id);
        ctx.set_reading(id, true);
    }
}

impl Handler for Echo {
    fn on_request(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, request: &Request) -> Decision {
        let origin = request.origin().map_or(String::new(), |o| format!(", Origin {o}"));
        let offered = request.subprotocols();
        let offered_text = if offered.is_empty() { String::new() } else { format!(", offers {}", offered.join(", ")) };
        say!("{id}: GET {}{origin}{offered_text}", request.path());
        let chosen = offered.iter().find(|p| self.subprotocols.iter().any(|ours| ours == *p));
        Decision::Accept(match chosen {
            Some(protocol) => Accept::new().with_subprotocol(protocol.to_string()),
            None => Accept::new(),
        })
    }

    fn on_open(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        say!("{id}: opened {}", describe_open(opened));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        if !self.quiet {
            match &message {
                Message::Text(text) => {
                    let preview: String = text.as_str().chars().take(80).collect();
                    let more = if preview.len() < text.len() { "…" } else { "" };
                    say!("{id}: text, {} bytes: {preview:?}{more}", text.len());
                }
                Message::Binary(data) => say!("{id}: binary, {} bytes", data.len()),
            }
        }
        self.echo(ctx, id, message);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        match event {
            Event::Writable => self.send_held(ctx, id),
            Event::Ping(payload) if !self.quiet => say!("{id}: Ping, {} bytes (answered)", payload.len()),
            Event::CloseReceived { code, reason } => {
                let reason = if reason.is_empty() { String::new() } else { format!(" \"{reason}\"") };
                say!("{id}: Close received: {}{reason}", words::code(*code));
            }
            _ => {}
        }
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        let held = self.held.remove(&id).map_or(0, |h| h.len());
        let stats = ctx.connection(id).map(|c| c.stats()).unwrap_or_default();
        let rtt = stats.srtt.map_or(String::new(), |r| format!(", round trip {}", options::ms(r)));
        let unsent = if held + closed.unsent.messages as usize > 0 {
            format!(", {} echoes unsent", held + closed.unsent.messages as usize)
        } else {
            String::new()
        };
        say!(
            "{id}: ended: {}; {} messages in, {} out, {} B in, {} B out{rtt}{unsent}",
            words::cause(&closed.cause, "the client"),
            stats.messages_received,
            stats.messages_sent,
            stats.bytes_received,
            stats.bytes_sent
        );
    }

    fn on_accept_error(&mut self, _ctx: &mut Ctx<'_>, error: &std::io::Error) {
        say!("cannot accept connections: {error}; retrying while it lasts");
    }
}

pub(crate) fn run(args: Args) -> Result<ExitCode, String> {
    if args.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    let mut server = ServerConfig::default();
    if args.origin_any {
        server = server.with_origin_policy(OriginPolicy::Any);
    }
    if args.no_deflate {
        server = server.with_deflate(None);
    }
    let heartbeat = args.ping_interval.0.map(|i| sansio_ws::connection::HeartbeatConfig::default().with_interval(i));
    let config = DriverConfig::default().with_server(server).with_connection(
        Config::default()
            .with_heartbeat(heartbeat)
            .with_max_message_size(args.max_message)
            .with_max_frame_size(args.max_message.min(Config::default().max_frame_size)),
    );
    let shutting_down = Arc::new(AtomicBool::new(false));
    let flag = shutting_down.clone();
    let mut srv = Server::new(config, args.threads, |_| Echo {
        subprotocols: args.subprotocols.clone(),
        quiet: args.quiet,
        held: HashMap::new(),
        shutting_down: flag.clone(),
    })
    .map_err(|e| format!("cannot start the event loops: {e}"))?;
    let (local, scheme) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = sansio_ws_mio::tls::server_config(cert, key).map_err(|e| e.to_string())?;
            (srv.listen_tls(args.addr, tls), "wss")
        }
        _ => (srv.listen(args.addr), "ws"),
    };
    let local = local.map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    crate::drain_on_signals(srv.handle(), args.drain, shutting_down)?;
    let origin = if args.origin_any { "any Origin" } else { "same-host Origins (--origin-any for all)" };
    let deflate = if args.no_deflate { "off" } else { "on" };
    say!("sansio-ws: echoing on {scheme}://{local}/ ({origin}, permessage-deflate {deflate})");
    let report = srv.run().map_err(|e| format!("the server failed: {e}"))?;
    say!(
        "sansio-ws: shut down: {} closed cleanly, {} forced, {} ended otherwise",
        report.clean,
        report.forced,
        report.other
    );
    Ok(ExitCode::SUCCESS)
}

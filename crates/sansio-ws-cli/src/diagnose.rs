//! `sansio-ws diagnose URL`: one report on a WebSocket endpoint.
//!
//! The first connection measures the phases of opening it (resolving, TCP, the handshake), keeps
//! the server's response, sends Pings one at a time and times each Pong, then closes and times
//! the server's answer to the Close. A second connection finds the largest message the server
//! takes by doubling the size from 1 KiB up to a bound: each message goes as one frame with a Ping
//! behind it, and its Pong (frames are handled in order) says the message was read; a close says
//! where the limit is.
//! The report ends with how each connection ended, in words.

use std::process::ExitCode;
use std::time::Duration;

use sansio_ws::Instant;
use sansio_ws::bytes::Bytes;
use sansio_ws::connection::{CloseCause, Closed, Config, Event, Message, Side};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::ClientConfig;
use sansio_ws_mio::{ConnId, ConnectError, Ctx, EventLoop, Handler, Opened};

use crate::options::{self, Target};
use crate::report::{CloseReport, ConnectionReport, Failure, OpenReport, PingReport, ProbeReport, Report};
use crate::words;

/// The smallest message of the size probe.
const FIRST_PROBE: u64 = 1024;
/// A pause between two Pings, so that each measures an idle round trip.
const PING_GAP: Duration = Duration::from_millis(20);

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
    /// Pings to time, one at a time
    #[arg(long, value_name = "N", default_value_t = 10)]
    pings: u32,
    /// How long each Pong may take before the Ping counts as unanswered, in seconds
    #[arg(long = "ping-timeout", value_name = "SECS", default_value = "2", value_parser = options::parse_secs)]
    ping_timeout: Duration,
    /// How long the server may take to answer our Close, in seconds
    #[arg(long = "close-timeout", value_name = "SECS", default_value = "5", value_parser = options::parse_secs)]
    close_timeout: Duration,
    /// The largest message the size probe sends (doubling from 1 KiB); 0 skips the probe
    #[arg(long = "max-probe", value_name = "BYTES", default_value = "16MiB", value_parser = options::parse_size)]
    max_probe: u64,
    /// How long the server may take to read one probe message, in seconds
    #[arg(long = "probe-timeout", value_name = "SECS", default_value = "10", value_parser = options::parse_secs)]
    probe_timeout: Duration,
}

/// Where the diagnosis is.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Opening the first connection.
    Connecting,
    /// Ping number `seq`: in flight since `sent`, or waiting to be sent.
    Ping {
        id: ConnId,
        seq: u32,
        sent: Option<Instant>,
    },
    /// Our Close is sent; the server's came back at `reply`.
    Closing {
        id: ConnId,
        sent: Instant,
        reply: Option<Instant>,
    },
    /// Opening the second connection.
    ProbeConnecting,
    /// A message of `size` bytes is out, a Ping behind it.
    Probe {
        id: ConnId,
        size: u64,
    },
    /// The probe is over; its connection is closing.
    ProbeClosing,
    Done,
}

struct Diagnose {
    args: Args,
    step: Step,
    report: Report,
    rtts: Vec<Duration>,
    /// The probe's payload generator.
    seed: u64,
    /// The probe messages sent: an echo may come back after the Pong that follows it.
    probes: Vec<u64>,
}

/// A Ping payload that says which Ping (or probe) it is.
fn tag(kind: &[u8; 4], n: u64) -> Bytes {
    let mut payload = kind.to_vec();
    payload.extend_from_slice(&n.to_be_bytes());
    Bytes::from(payload)
}

impl Diagnose {
    fn new(args: Args) -> Self {
        let report = Report::new(&args.target.url);
        Diagnose {
            args,
            step: Step::Connecting,
            report,
            rtts: Vec::new(),
            seed: 0x9e37_79b9_7f4a_7c15,
            probes: Vec::new(),
        }
    }

    fn client_config(&self) -> ClientConfig {
        self.args.target.client_config()
    }

    fn ping(&mut self, ctx: &mut Ctx<'_>, id: ConnId, seq: u32) {
        if seq >= self.args.pings {
            return self.close(ctx, id);
        }
        let now = ctx.now();
        let sent = ctx.connection_mut(id).map(|c| c.ping(tag(b"ping", u64::from(seq))));
        if !matches!(sent, Some(Ok(()))) {
            self.report.problem(format!("Ping {} could not be sent: the connection is closing", seq + 1));
            return self.close(ctx, id);
        }
        self.report.pings.get_or_insert_with(PingReport::default).sent += 1;
        self.step = Step::Ping { id, seq, sent: Some(now) };
        ctx.set_timer(id, now + self.args.ping_timeout);
    }

    fn close(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {
        self.summarise_pings();
        let now = ctx.now();
        if ctx.close(id, CloseCode::NORMAL, "diagnosis done").is_ok() {
            self.step = Step::Closing { id, sent: now, reply: None };
        }
    }

    fn summarise_pings(&mut self) {
        let Some(pings) = self.report.pings.as_mut() else { return };
        pings.summarise(&self.rtts);
        let (sent, lost) = (pings.sent, pings.sent - pings.answered);
        if lost > 0 {
            let within = options::ms(self.args.ping_timeout);
            self.report.problem(format!(
                "{lost} of {sent} Pings went unanswered within {within} (RFC 6455 §5.5.2: a Ping must be answered)"
            ));
        }
    }

    /// Sends a probe message of `size` bytes and a Ping behind it.
    fn probe(&mut self, ctx: &mut Ctx<'_>, id: ConnId, size: u64) {
        let mut payload = Vec::with_capacity(size as usize);
        while payload.len() < size as usize {
            // xorshift: bytes that do not compress, so deflate cannot hide the size.
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            payload.extend_from_slice(&self.seed.to_le_bytes());
        }
        payload.truncate(size as usize);
        let now = ctx.now();
        let sent = ctx.send(id, Message::Binary(payload.into()));
        let pinged = sent.is_ok() && ctx.connection_mut(id).is_some_and(|c| c.ping(tag(b"size", size)).is_ok());
        if !pinged {
            self.report.problem(format!("the {} probe message could not be sent", options::size(size)));
            return self.end_probe(ctx, id);
        }
        self.step = Step::Probe { id, size };
        self.probes.push(size);
        ctx.set_timer(id, now + self.args.probe_timeout);
    }

    fn end_probe(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {
        self.step = Step::ProbeClosing;
        if ctx.close(id, CloseCode::NORMAL, "size probe done").is_err() {
            self.step = Step::Done;
        }
    }

    /// The first connection is over: on to the probe, if any.
    fn after_first(&mut self, ctx: &mut Ctx<'_>) {
        if self.args.max_probe == 0 {
            self.step = Step::Done;
            return;
        }
        let url = self.args.target.url.clone();
        match ctx.connect_with(&url, self.client_config()) {
            Ok(_) => self.step = Step::ProbeConnecting,
            Err(e) => {
                self.report.problem(format!("the second connection (for the size probe) could not start: {e}"));
                self.step = Step::Done;
            }
        }
    }
}

impl Handler for Diagnose {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        match self.step {
            Step::Connecting => {
                self.report.open = Some(OpenReport::from_opened(opened));
                self.ping(ctx, id, 0);
            }
            Step::ProbeConnecting => {
                self.report.max_message = Some(ProbeReport::new(self.args.max_probe));
                self.probe(ctx, id, FIRST_PROBE.min(self.args.max_probe));
            }
            _ => {}
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, message: Message) {
        if let Some(probe) = self.report.max_message.as_mut() {
            probe.echoed |= self.probes.contains(&(message.len() as u64));
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        let now = ctx.now();
        match (event, self.step) {
            (Event::Pong(payload), Step::Ping { id: on, seq, sent: Some(sent) })
                if on == id && *payload == tag(b"ping", u64::from(seq)) =>
            {
                self.rtts.push(now.saturating_duration_since(sent));
                if let Some(pings) = self.report.pings.as_mut() {
                    pings.answered += 1;
                }
                self.step = Step::Ping { id, seq: seq + 1, sent: None };
                ctx.set_timer(id, now + PING_GAP);
            }
            (Event::Pong(payload), Step::Probe { id: on, size }) if on == id && *payload == tag(b"size", size) => {
                if let Some(probe) = self.report.max_message.as_mut() {
                    probe.largest_accepted = Some(size);
                }
                let next = size.saturating_mul(2);
                if next > self.args.max_probe {
                    self.end_probe(ctx, id);
                } else {
                    self.probe(ctx, id, next);
                }
            }
            (Event::CloseReceived { .. }, Step::Closing { id: on, sent, reply: None }) if on == id => {
                self.step = Step::Closing { id, sent, reply: Some(now) };
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {
        match self.step {
            // Unanswered within the timeout: counted as lost, on to the next.
            Step::Ping { seq, sent: Some(_), .. } => self.ping(ctx, id, seq + 1),
            Step::Ping { seq, sent: None, .. } => self.ping(ctx, id, seq),
            Step::Probe { size, .. } => {
                let within = options::ms(self.args.probe_timeout);
                self.report.problem(format!(
                    "the server did not answer a Ping sent after a {} message within {within}",
                    options::size(size)
                ));
                self.end_probe(ctx, id);
            }
            _ => {}
        }
    }

    fn on_close(&mut self, ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        let stats = ctx.connection(id).map(|c| c.stats()).unwrap_or_default();
        let purpose =
            if matches!(self.step, Step::Probe { .. } | Step::ProbeClosing) { "size probe" } else { "pings and close" };
        self.report.connections.push(ConnectionReport::new(purpose, closed, &stats));
        let ended = words::cause(&closed.cause, "the server");
        match self.step {
            Step::Closing { sent, reply, .. } => {
                let answered = matches!(closed.cause, CloseCause::Clean { initiator: Side::Local, .. });
                if !answered {
                    self.report.problem(format!("the close handshake did not complete: {ended}"));
                }
                let reply = reply.map(|at| at.saturating_duration_since(sent));
                self.report.close = Some(CloseReport::new(answered, reply, &ended));
                self.after_first(ctx);
            }
            Step::Ping { .. } => {
                self.summarise_pings();
                self.report.problem(format!("the connection ended during the pings: {ended}"));
                self.after_first(ctx);
            }
            Step::Probe { size, .. } => {
                if let Some(probe) = self.report.max_message.as_mut() {
                    probe.refused_at = Some(size);
                    probe.ended = Some(ended.clone());
                }
                if closed.cause.code() != CloseCode::MESSAGE_TOO_BIG {
                    self.report.problem(format!(
                        "sent a {} message, the server ended the connection without 1009 (message too big): {ended}",
                        options::size(size)
                    ));
                }
                self.step = Step::Done;
            }
            Step::ProbeClosing => {
                if let (Some(probe), false) =
                    (self.report.max_message.as_mut(), matches!(closed.cause, CloseCause::Clean { .. }))
                {
                    probe.ended = Some(ended);
                }
                self.step = Step::Done;
            }
            _ => self.step = Step::Done,
        }
    }

    fn on_connect_error(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, error: ConnectError) {
        match self.step {
            Step::Connecting => self.report.failure = Some(Failure::new(&error)),
            _ => self.report.problem(format!("the second connection (for the size probe) did not open: {error}")),
        }
        self.step = Step::Done;
    }
}

pub(crate) fn run(args: Args) -> Result<ExitCode, String> {
    // Our side never stands in the way: no heartbeat of its own (the Pings are the diagnosis's),
    // room for the echo of the largest probe. Each probe message goes as one frame, as browsers
    // send them: a Ping queued behind it cannot be sent between its frames, so its Pong means
    // the whole message was read.
    // (Twice the size: compressed, random bytes grow a little.)
    let frame =
        usize::try_from(args.max_probe.saturating_mul(2)).unwrap_or(usize::MAX).max(Config::default().send_frame_size);
    let connection = Config::default()
        .with_send_frame_size(frame)
        .with_heartbeat(None)
        .with_close_timeout(Some(args.close_timeout))
        .with_max_message_size(args.max_probe.max(64 << 20))
        .with_max_frame_size(args.max_probe.max(16 << 20));
    let config = args.target.driver_config(connection)?;
    let json = args.json;
    let url = args.target.url.clone();
    let diagnose = Diagnose::new(args);
    let client_config = diagnose.client_config();
    let mut el = EventLoop::new(config, diagnose).map_err(|e| format!("cannot start the event loop: {e}"))?;
    if let Err(error) = el.with_ctx(|_, ctx| ctx.connect_with(&url, client_config)) {
        let handler = el.handler_mut();
        handler.report.failure = Some(Failure::new(&error));
        handler.step = Step::Done;
    }
    while !matches!(el.handler().step, Step::Done) {
        el.turn(None).map_err(|e| format!("the event loop failed: {e}"))?;
    }
    let report = &mut el.handler_mut().report;
    report.decide();
    if json {
        let text = serde_json::to_string_pretty(report).map_err(|e| format!("cannot write the report: {e}"))?;
        println!("{text}");
    } else {
        print!("{}", report.human());
    }
    Ok(ExitCode::from(report.verdict.exit_status()))
}

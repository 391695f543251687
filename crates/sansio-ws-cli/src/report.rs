//! The diagnosis report: one typed record, printed for people or serialised as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use sansio_ws::connection::{Closed, Stats};
use sansio_ws_mio::{ConnectError, Opened};
use serde::Serialize;

use crate::options::{ms, size};
use crate::{extensions, words};

/// The verdict, and the exit status that tells it.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    /// Every check passed.
    #[default]
    Healthy,
    /// It speaks WebSocket, but some check failed: the problems say which.
    Degraded,
    /// No WebSocket connection could be opened.
    Unreachable,
}

impl Verdict {
    pub(crate) fn exit_status(self) -> u8 {
        match self {
            Verdict::Healthy => 0,
            Verdict::Degraded => 1,
            Verdict::Unreachable => 2,
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Serialize, Debug, Default)]
pub(crate) struct Report {
    pub(crate) url: String,
    pub(crate) verdict: Verdict,
    /// What is wrong, one sentence each.
    pub(crate) problems: Vec<String>,
    /// Why the first connection did not open (then nothing else was checked).
    pub(crate) failure: Option<Failure>,
    pub(crate) open: Option<OpenReport>,
    pub(crate) pings: Option<PingReport>,
    pub(crate) close: Option<CloseReport>,
    pub(crate) max_message: Option<ProbeReport>,
    /// How each connection ended.
    pub(crate) connections: Vec<ConnectionReport>,
}

#[derive(Serialize, Debug)]
pub(crate) struct Failure {
    /// `resolving`, `connecting`, `tls`, `handshake`, or `request` (the URL or options).
    pub(crate) phase: String,
    pub(crate) error: String,
    /// The HTTP status, when the server answered the upgrade with something else than 101.
    pub(crate) status: Option<u16>,
}

impl Failure {
    pub(crate) fn new(error: &ConnectError) -> Self {
        let phase = match error.phase() {
            Some(sansio_ws_mio::ConnectPhase::Resolving) => "resolving",
            Some(sansio_ws_mio::ConnectPhase::Connecting) => "connecting",
            Some(sansio_ws_mio::ConnectPhase::Tls) => "tls",
            Some(_) => "handshake",
            None => "request",
        };
        let status = match error {
            ConnectError::Handshake(e) => e.rejected_status(),
            _ => None,
        };
        Failure { phase: phase.into(), error: error.to_string(), status }
    }
}

#[derive(Serialize, Debug)]
pub(crate) struct OpenReport {
    /// The address that took the connection.
    pub(crate) address: String,
    pub(crate) attempts: usize,
    pub(crate) resolve_ms: f64,
    pub(crate) connect_ms: f64,
    /// The TLS handshake (0 for ws://).
    pub(crate) tls_ms: f64,
    pub(crate) handshake_ms: f64,
    pub(crate) total_ms: f64,
    /// What TLS agreed (wss://).
    pub(crate) tls: Option<TlsReport>,
    pub(crate) status: u16,
    /// The response's header fields, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) subprotocol: Option<String>,
    /// The extensions in use, as the server's response gives them.
    pub(crate) extensions: Vec<String>,
}

impl OpenReport {
    pub(crate) fn from_opened(opened: &Opened) -> Self {
        let timing = opened.timing;
        let headers = opened.response.as_ref().map_or_else(Vec::new, |r| {
            r.headers().iter().map(|h| (h.name.clone(), String::from_utf8_lossy(&h.value).into_owned())).collect()
        });
        OpenReport {
            address: opened.peer.to_string(),
            attempts: timing.map_or(1, |t| t.attempts),
            resolve_ms: timing.map_or(0.0, |t| millis(t.resolve)),
            connect_ms: timing.map_or(0.0, |t| millis(t.connect)),
            tls_ms: timing.map_or(0.0, |t| millis(t.tls)),
            tls: opened.tls.as_ref().map(|t| TlsReport {
                version: t.version.clone(),
                cipher_suite: t.cipher_suite.clone(),
                alpn: t.alpn.clone(),
                server_name: t.server_name.clone(),
            }),
            handshake_ms: timing.map_or(0.0, |t| millis(t.handshake)),
            total_ms: timing.map_or(0.0, |t| millis(t.total())),
            status: opened.response.as_ref().map_or(101, |r| r.status()),
            headers,
            subprotocol: opened.subprotocol.clone(),
            extensions: opened.extensions.iter().map(|e| extensions(std::slice::from_ref(e))).collect(),
        }
    }
}

#[derive(Serialize, Debug)]
pub(crate) struct TlsReport {
    pub(crate) version: String,
    pub(crate) cipher_suite: String,
    pub(crate) alpn: Option<String>,
    /// The name the server's certificate was verified for.
    pub(crate) server_name: Option<String>,
}

#[derive(Serialize, Debug, Default)]
pub(crate) struct PingReport {
    pub(crate) sent: u32,
    pub(crate) answered: u32,
    pub(crate) min_ms: Option<f64>,
    pub(crate) avg_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
}

impl PingReport {
    /// The round trips' minimum, mean, 99th percentile (nearest rank) and maximum.
    pub(crate) fn summarise(&mut self, rtts: &[Duration]) {
        if rtts.is_empty() {
            return;
        }
        let mut sorted = rtts.to_vec();
        sorted.sort_unstable();
        let rank = (sorted.len() * 99).div_ceil(100).max(1);
        self.min_ms = Some(millis(sorted[0]));
        self.avg_ms = Some(millis(sorted.iter().sum::<Duration>() / sorted.len() as u32));
        self.p99_ms = Some(millis(sorted[rank - 1]));
        self.max_ms = Some(millis(sorted[sorted.len() - 1]));
    }
}

#[derive(Serialize, Debug)]
pub(crate) struct CloseReport {
    /// The server answered our Close and ended the connection: the close handshake completed.
    pub(crate) answered: bool,
    /// From our Close to the server's.
    pub(crate) reply_ms: Option<f64>,
    pub(crate) ended: String,
}

impl CloseReport {
    pub(crate) fn new(answered: bool, reply: Option<Duration>, ended: &str) -> Self {
        CloseReport { answered, reply_ms: reply.map(millis), ended: ended.into() }
    }
}

#[derive(Serialize, Debug, Default)]
pub(crate) struct ProbeReport {
    /// The largest message the server read (a Ping sent behind it was answered).
    pub(crate) largest_accepted: Option<u64>,
    /// The size at which the server ended the connection, if it did.
    pub(crate) refused_at: Option<u64>,
    /// The largest size the probe would try.
    pub(crate) probe_limit: u64,
    /// The server sent the messages back.
    pub(crate) echoed: bool,
    /// How the probe's connection ended, when that says something.
    pub(crate) ended: Option<String>,
}

impl ProbeReport {
    pub(crate) fn new(probe_limit: u64) -> Self {
        ProbeReport { probe_limit, ..ProbeReport::default() }
    }
}

#[derive(Serialize, Debug)]
pub(crate) struct ConnectionReport {
    pub(crate) purpose: String,
    pub(crate) ended: String,
    /// The close code that describes the ending (1006 when there was no close handshake).
    pub(crate) code: u16,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) messages_in: u64,
    pub(crate) messages_out: u64,
    pub(crate) unsent_bytes: u64,
}

impl ConnectionReport {
    pub(crate) fn new(purpose: &str, closed: &Closed, stats: &Stats) -> Self {
        ConnectionReport {
            purpose: purpose.into(),
            ended: words::cause(&closed.cause, "the server"),
            code: closed.cause.code().as_u16(),
            bytes_in: stats.bytes_received,
            bytes_out: stats.bytes_sent,
            messages_in: stats.messages_received,
            messages_out: stats.messages_sent,
            unsent_bytes: closed.unsent.bytes,
        }
    }
}

impl Report {
    pub(crate) fn new(url: &str) -> Self {
        Report { url: url.into(), ..Report::default() }
    }

    pub(crate) fn problem(&mut self, what: String) {
        self.problems.push(what);
    }

    /// Sets the verdict from what was found.
    pub(crate) fn decide(&mut self) {
        self.verdict = if self.failure.is_some() {
            Verdict::Unreachable
        } else if self.problems.is_empty() {
            Verdict::Healthy
        } else {
            Verdict::Degraded
        };
    }

    /// The report for people: one line per finding.
    pub(crate) fn human(&self) -> String {
        let mut out = format!("sansio-ws diagnose {}\n", self.url);
        let mut row = |name: &str, value: &str| {
            let _ = writeln!(out, "  {name:<12} {value}");
        };
        if let Some(f) = &self.failure {
            let when = match f.phase.as_str() {
                "request" => "before connecting",
                "resolving" => "while resolving the host",
                "connecting" => "while connecting over TCP",
                "tls" => "in the TLS handshake",
                _ => "during the opening handshake",
            };
            row("failed", &format!("{when}: {}", f.error));
        }
        if let Some(o) = &self.open {
            let attempts = if o.attempts == 1 { "1 attempt".to_string() } else { format!("{} attempts", o.attempts) };
            row("address", &format!("{} ({attempts})", o.address));
            let t = |v: f64| ms(Duration::from_secs_f64(v / 1e3));
            row(
                "timing",
                &format!(
                    "resolve {} · connect {}{} · handshake {} · total {}",
                    t(o.resolve_ms),
                    t(o.connect_ms),
                    if o.tls.is_some() { format!(" · TLS {}", t(o.tls_ms)) } else { String::new() },
                    t(o.handshake_ms),
                    t(o.total_ms)
                ),
            );
            if let Some(tls) = &o.tls {
                let name = tls.server_name.as_deref().unwrap_or("?");
                let alpn = tls.alpn.as_deref().unwrap_or("none");
                row(
                    "tls",
                    &format!("{} · {} · ALPN {alpn} · certificate verified for {name}", tls.version, tls.cipher_suite),
                );
            }
            row("response", &format!("{} Switching Protocols", o.status));
            for (name, value) in &o.headers {
                row("", &format!("{name}: {value}"));
            }
            row("subprotocol", o.subprotocol.as_deref().unwrap_or("none"));
            let ext = if o.extensions.is_empty() { "none".to_string() } else { o.extensions.join(", ") };
            row("extensions", &ext);
        }
        if let Some(p) = &self.pings {
            let t = |v: Option<f64>| v.map_or("–".into(), |v| ms(Duration::from_secs_f64(v / 1e3)));
            row(
                "pings",
                &format!(
                    "{}/{} answered · min {} · avg {} · p99 {} · max {}",
                    p.answered,
                    p.sent,
                    t(p.min_ms),
                    t(p.avg_ms),
                    t(p.p99_ms),
                    t(p.max_ms)
                ),
            );
        }
        if let Some(c) = &self.close {
            let value = match (c.answered, c.reply_ms) {
                (true, Some(reply)) => format!("answered in {}", ms(Duration::from_secs_f64(reply / 1e3))),
                (true, None) => "answered".to_string(),
                (false, _) => format!("not completed: {}", c.ended),
            };
            row("close", &value);
        }
        if let Some(m) = &self.max_message {
            let accepted = m.largest_accepted.map_or("none".to_string(), size);
            let limit = match (m.refused_at, m.largest_accepted) {
                (Some(at), _) => format!("; refused at {}", size(at)),
                (None, Some(n)) if n >= m.probe_limit => " (the probe's limit: it may take more)".to_string(),
                _ => String::new(),
            };
            let echo = if m.echoed { ", echoed back" } else { "" };
            row("max message", &format!("{accepted} accepted{limit}{echo}"));
        }
        for (i, c) in self.connections.iter().enumerate() {
            let name = if i == 0 { "ended" } else { "" };
            row(
                name,
                &format!(
                    "{}: {}; {} B in, {} B out, {} messages in, {} out",
                    c.purpose, c.ended, c.bytes_in, c.bytes_out, c.messages_in, c.messages_out
                ),
            );
        }
        let verdict = match self.verdict {
            Verdict::Healthy => "healthy",
            Verdict::Degraded => "degraded",
            Verdict::Unreachable => "unreachable",
        };
        let _ = writeln!(out, "verdict: {verdict}");
        for p in &self.problems {
            let _ = writeln!(out, "  - {p}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ping_summary_uses_the_nearest_rank_percentile() {
        let mut p = PingReport::default();
        let rtts: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        p.summarise(&rtts);
        // 10 samples: the 99th percentile's nearest rank is the 10th.
        assert_eq!((p.min_ms, p.avg_ms, p.p99_ms, p.max_ms), (Some(1.0), Some(5.5), Some(10.0), Some(10.0)));
        let mut p = PingReport::default();
        let rtts: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        p.summarise(&rtts);
        // 200 samples: rank ⌈1.98 × 100⌉ = 198.
        assert_eq!(p.p99_ms, Some(198.0));
        let mut p = PingReport::default();
        p.summarise(&[]);
        assert_eq!(p.min_ms, None);
    }

    #[test]
    fn the_verdict_follows_failures_then_problems() {
        let mut r = Report::new("ws://x/");
        r.decide();
        assert_eq!((r.verdict, r.verdict.exit_status()), (Verdict::Healthy, 0));
        r.problem("slow".into());
        r.decide();
        assert_eq!((r.verdict, r.verdict.exit_status()), (Verdict::Degraded, 1));
        r.failure = Some(Failure { phase: "connecting".into(), error: "refused".into(), status: None });
        r.decide();
        assert_eq!((r.verdict, r.verdict.exit_status()), (Verdict::Unreachable, 2));
        assert!(r.human().contains("failed       while connecting over TCP: refused"), "{}", r.human());
    }
}

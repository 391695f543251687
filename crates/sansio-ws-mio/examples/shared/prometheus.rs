//! The server's metrics in the Prometheus text format (through the `prometheus-client` crate), for
//! the chat's `GET /metrics` and the echo server's `--metrics ADDR`. docs/METRICS.md says what each
//! one means and which question it answers.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use sansio_ws_mio::{Metrics, SRTT_BUCKET_BOUNDS, ServerHandle};

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reads the server's metrics at each scrape.
#[derive(Debug)]
struct ServerMetrics(ServerHandle);

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> std::fmt::Result {
    ConstCounter::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: usize,
) -> std::fmt::Result {
    let value = i64::try_from(value).unwrap_or(i64::MAX);
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?)
}

/// A counter family with one label.
fn counters(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    label: &'static str,
    values: &[(&'static str, u64)],
) -> std::fmt::Result {
    let mut family: MetricEncoder<'_> = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for &(value_name, value) in values {
        let labels = [(label, value_name)];
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for ServerMetrics {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> std::fmt::Result {
        let m: Metrics = self.0.metrics();
        gauge(&mut e, "connections_open", "Established WebSocket connections.", None, m.open)?;
        gauge(
            &mut e,
            "connections_handshaking",
            "Accepted sockets still in their opening handshake.",
            None,
            m.handshaking,
        )?;
        gauge(
            &mut e,
            "memory_held",
            "Bytes the connections hold: send queues and their peers' data.",
            Some(&Unit::Bytes),
            m.memory_held,
        )?;
        gauge(&mut e, "memory_held_peak", "The most memory_held has been.", Some(&Unit::Bytes), m.memory_peak)?;
        counter(&mut e, "accepted", "Sockets accepted.", m.accepted)?;
        counters(
            &mut e,
            "accept_errors",
            "Failed accept calls, by kind (retried; the connections wait in the backlog).",
            None,
            "kind",
            &[("out_of_descriptors", m.accept_out_of_descriptors), ("other", m.accept_errors_other)],
        )?;
        counter(
            &mut e,
            "handshakes_evicted",
            "Sockets in their handshake closed to make room for new ones.",
            m.handshakes_evicted,
        )?;
        counter(&mut e, "connections_opened", "WebSocket connections established.", m.connections_opened)?;
        counters(
            &mut e,
            "requests_refused",
            "Upgrade requests refused, by reason.",
            None,
            "reason",
            &[
                ("busy", m.refused_busy),
                ("draining", m.refused_draining),
                ("application", m.refused_by_application),
                ("origin", m.refused_origin),
                ("bad_request", m.refused_bad_request),
                ("tls_on_plain", m.refused_tls_on_plain),
                ("tls_handshake", m.refused_tls_handshake),
                ("timeout", m.handshake_timeouts),
            ],
        )?;
        counter(&mut e, "http_responses", "Plain HTTP requests answered with a page.", m.http_responses)?;
        counter(&mut e, "connect_errors", "Outgoing connections that failed before opening.", m.connect_errors)?;
        counters(
            &mut e,
            "transferred",
            "Bytes read from and written to sockets.",
            Some(&Unit::Bytes),
            "direction",
            &[("read", m.bytes_read), ("written", m.bytes_written)],
        )?;
        counters(
            &mut e,
            "messages",
            "Messages received, and queued for sending (each broadcast recipient counts).",
            None,
            "direction",
            &[("received", m.messages_received), ("queued", m.messages_queued)],
        )?;
        counters(
            &mut e,
            "control_frames",
            "Pings received, and Pongs answering the application's own Pings.",
            None,
            "kind",
            &[("ping", m.pings_received), ("pong", m.pongs_received)],
        )?;
        counters(
            &mut e,
            "connections_closed",
            "Connections ended, by cause.",
            None,
            "cause",
            &[
                ("clean_local", m.closed_clean_local),
                ("clean_remote", m.closed_clean_remote),
                ("peer_vanished", m.closed_peer_vanished),
                ("truncated", m.closed_truncated),
                ("protocol_error_1002", m.closed_protocol_error),
                ("invalid_payload_1007", m.closed_invalid_payload),
                ("policy_violation_1008", m.closed_policy_violation),
                ("message_too_big_1009", m.closed_message_too_big),
                ("heartbeat_timeout", m.closed_heartbeat_timeout),
                ("close_timeout", m.closed_close_timeout),
                ("drain_timeout", m.closed_drain_timeout),
                ("idle_timeout", m.closed_idle_timeout),
                ("aborted", m.closed_aborted),
            ],
        )?;
        counter(&mut e, "unsent_messages", "Messages that ended connections never wrote.", m.unsent_messages)?;
        counters(
            &mut e,
            "unsent",
            "Output bytes that ended connections never wrote.",
            Some(&Unit::Bytes),
            "kind",
            &[("output", m.unsent_bytes)],
        )?;
        counters(
            &mut e,
            "memory_budget",
            "What the memory budget did: connections paused, connections closed with 1013.",
            None,
            "action",
            &[("pause", m.budget_pauses), ("close", m.budget_closes)],
        )?;
        // The round trips of the connections that ended, as a histogram (cumulative buckets).
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(m.srtt_buckets.len());
        for (i, &count) in m.srtt_buckets.iter().enumerate() {
            cumulative += count;
            let bound = SRTT_BUCKET_BOUNDS.get(i).map_or(f64::INFINITY, |b| b.as_secs_f64());
            buckets.push((bound, cumulative));
        }
        let mut histogram = e.encode_descriptor(
            "connection_rtt",
            "Smoothed round-trip time of connections when they ended (those with a heartbeat Pong).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        histogram.encode_histogram::<NoLabelSet>(m.srtt_sum_micros as f64 / 1e6, cumulative, &buckets, None)
    }
}

/// The exposition of `server`'s metrics now.
pub(crate) fn exposition(server: &ServerHandle) -> String {
    let mut registry = Registry::with_prefix("sansio_ws");
    registry.register_collector(Box::new(ServerMetrics(server.clone())));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        out = format!("# the metrics could not be encoded: {e}\n");
    }
    out
}

/// Serves `GET /metrics` on `addr` from a thread of its own (blocking, one scrape at a time: a
/// scraper is one client). Returns the bound address.
pub(crate) fn serve(addr: SocketAddr, server: ServerHandle, name: &'static str) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // The request head, whole, before answering (closing with it unread would reset).
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            let mut header = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            while matches!(reader.read_line(&mut header), Ok(n) if n > 2) {
                header.clear();
            }
            let response = if line.starts_with("GET /metrics ") {
                let body = exposition(&server);
                format!("HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 22\r\nConnection: close\r\n\r\nthe metrics: /metrics\n".to_string()
            };
            if let Err(e) = stream.write_all(response.as_bytes()) {
                eprintln!("{name}: a metrics scrape failed: {e}");
            }
        }
    })?;
    Ok(local)
}

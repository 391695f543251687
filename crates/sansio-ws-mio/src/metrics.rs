//! What an event loop counts, for an operator: connections and their handshakes, traffic, why
//! connections ended, what the load limits did. Read from any thread as a [`Metrics`] snapshot.

use std::time::Duration;

use sansio_ws::connection::{CloseCause, Closed};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::HandshakeError;

/// The upper bounds of the round-trip histogram's buckets ([`Metrics::srtt_buckets`]); the last
/// bucket counts everything slower.
pub const SRTT_BUCKET_BOUNDS: [Duration; 7] = [
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// Counters and gauges of an [`EventLoop`](crate::EventLoop), or summed over a
/// [`Server`](crate::Server)'s loops. A snapshot: from
/// [`EventLoop::metrics`](crate::EventLoop::metrics) and [`Ctx::metrics`](crate::Ctx::metrics)
/// as of now, from [`Handle::metrics`](crate::Handle::metrics) and
/// [`ServerHandle::metrics`](crate::ServerHandle::metrics) (any thread) as of the loop's last turn.
/// Counters only grow; gauges (`open`, `handshaking`, `memory_held`) go up and down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    // Gauges.
    /// Established connections.
    pub open: usize,
    /// Accepted sockets still in their opening handshake.
    pub handshaking: usize,
    /// Bytes the established connections hold now: queued for sending, and of their peers' data
    /// (counted against [`DriverConfig::memory_budget`](crate::DriverConfig::memory_budget)).
    pub memory_held: usize,
    /// The most [`memory_held`](Self::memory_held) has been.
    pub memory_peak: usize,

    // Accepting and handshakes.
    /// Sockets accepted.
    pub accepted: u64,
    /// `accept` calls that failed for want of file descriptors (`EMFILE`, `ENFILE`); the loop
    /// tries again after 10 ms, doubling to 500 ms while it lasts.
    pub accept_out_of_descriptors: u64,
    /// `accept` calls that failed otherwise (out of memory…), retried the same way.
    pub accept_errors_other: u64,
    /// Sockets in their handshake closed to make room under
    /// [`DriverConfig::max_handshakes`](crate::DriverConfig::max_handshakes).
    pub handshakes_evicted: u64,
    /// Connections established, accepted or opened.
    pub connections_opened: u64,
    /// Requests answered `503` because [`DriverConfig::max_connections`](crate::DriverConfig::max_connections)
    /// were established.
    pub refused_busy: u64,
    /// Requests answered `503` during a graceful shutdown.
    pub refused_draining: u64,
    /// Requests refused by the application ([`Decision::Reject`](crate::Decision::Reject)).
    pub refused_by_application: u64,
    /// Requests refused for their `Origin` (`403`).
    pub refused_origin: u64,
    /// Requests that were not valid WebSocket requests (`400`, `405`, `426`, `431`).
    pub refused_bad_request: u64,
    /// TLS spoken to the plain listener (closed with nothing written).
    pub refused_tls_on_plain: u64,
    /// TLS handshakes that failed on a TLS listener (an alert sent, then closed).
    pub refused_tls_handshake: u64,
    /// Plain HTTP requests answered by the application ([`Handler::on_http`](crate::Handler::on_http)).
    pub http_responses: u64,
    /// Requests not complete within the handshake timeout (`408`).
    pub handshake_timeouts: u64,
    /// Outgoing connections that failed before opening.
    pub connect_errors: u64,

    // Traffic.
    /// Bytes read from sockets (handshakes included).
    pub bytes_read: u64,
    /// Bytes written to sockets (handshakes included).
    pub bytes_written: u64,
    /// Messages received (or streamed fragments).
    pub messages_received: u64,
    /// Messages queued for sending (each recipient of a broadcast counts).
    pub messages_queued: u64,
    /// Pings received from peers.
    pub pings_received: u64,
    /// Pongs received that answer the application's own Pings (the heartbeat's are taken by the
    /// connection: its round trips are in [`srtt_buckets`](Self::srtt_buckets)).
    pub pongs_received: u64,
    /// Connections' smoothed round-trip times when they ended (those that measured one), by
    /// bucket: at most each of [`SRTT_BUCKET_BOUNDS`], then slower.
    pub srtt_buckets: [u64; 8],
    /// The sum of those round-trip times, in microseconds (with the buckets, a histogram).
    pub srtt_sum_micros: u64,

    // Why connections ended.
    /// Close handshakes we started that completed.
    pub closed_clean_local: u64,
    /// Close handshakes the peer started that completed.
    pub closed_clean_remote: u64,
    /// Connections whose transport ended without a close handshake.
    pub closed_peer_vanished: u64,
    /// TLS connections cut (TCP ended without `close_notify`) before the close handshake.
    pub closed_truncated: u64,
    /// Connections failed for a protocol violation with close code 1002.
    pub closed_protocol_error: u64,
    /// … with 1007 (invalid UTF-8 in text).
    pub closed_invalid_payload: u64,
    /// … with 1008 (a policy: the control-frame rate limit).
    pub closed_policy_violation: u64,
    /// … with 1009 (a frame or message over its limit).
    pub closed_message_too_big: u64,
    /// Connections whose peer stopped answering Pings.
    pub closed_heartbeat_timeout: u64,
    /// Connections whose peer never answered our Close.
    pub closed_close_timeout: u64,
    /// Connections whose peer stopped reading while we closed.
    pub closed_drain_timeout: u64,
    /// Connections closed for no traffic.
    pub closed_idle_timeout: u64,
    /// Connections aborted here (a shutdown's deadline, or the application).
    pub closed_aborted: u64,
    /// Output bytes that ended connections never wrote.
    pub unsent_bytes: u64,
    /// Messages (or parts) that ended connections never wrote.
    pub unsent_messages: u64,

    // The load limits.
    /// Times a connection stopped being read because the memory budget was exceeded.
    pub budget_pauses: u64,
    /// Connections closed with `1013` because the memory budget stayed exceeded.
    pub budget_closes: u64,
}

impl Metrics {
    /// Adds `other` to these: counters and gauges summed, the peak the larger of the two (a
    /// server sums its loops).
    pub fn merge(&mut self, other: &Metrics) {
        let peak = self.memory_peak.max(other.memory_peak);
        macro_rules! add {
            ($($field:ident),* $(,)?) => { $(self.$field += other.$field;)* };
        }
        add!(
            open,
            handshaking,
            memory_held,
            accepted,
            accept_out_of_descriptors,
            accept_errors_other,
            handshakes_evicted,
            connections_opened,
            refused_busy,
            refused_draining,
            refused_by_application,
            refused_origin,
            refused_bad_request,
            refused_tls_on_plain,
            refused_tls_handshake,
            http_responses,
            handshake_timeouts,
            connect_errors,
            bytes_read,
            bytes_written,
            messages_received,
            messages_queued,
            pings_received,
            pongs_received,
            srtt_sum_micros,
            closed_clean_local,
            closed_clean_remote,
            closed_peer_vanished,
            closed_truncated,
            closed_protocol_error,
            closed_invalid_payload,
            closed_policy_violation,
            closed_message_too_big,
            closed_heartbeat_timeout,
            closed_close_timeout,
            closed_drain_timeout,
            closed_idle_timeout,
            closed_aborted,
            unsent_bytes,
            unsent_messages,
            budget_pauses,
            budget_closes,
        );
        for (mine, theirs) in self.srtt_buckets.iter_mut().zip(other.srtt_buckets) {
            *mine += theirs;
        }
        self.memory_peak = peak;
    }

    /// Every connection that ended, whatever the cause.
    pub fn closed_total(&self) -> u64 {
        self.closed_clean_local
            + self.closed_clean_remote
            + self.closed_peer_vanished
            + self.closed_truncated
            + self.closed_protocol_error
            + self.closed_invalid_payload
            + self.closed_policy_violation
            + self.closed_message_too_big
            + self.closed_heartbeat_timeout
            + self.closed_close_timeout
            + self.closed_drain_timeout
            + self.closed_idle_timeout
            + self.closed_aborted
    }

    /// Counts a connection's end: its cause, what it left unsent, its round trip.
    pub(crate) fn count_close(&mut self, closed: &Closed, srtt: Option<Duration>) {
        let counter = match &closed.cause {
            CloseCause::Clean { initiator: sansio_ws::connection::Side::Local, .. } => &mut self.closed_clean_local,
            CloseCause::Clean { .. } => &mut self.closed_clean_remote,
            CloseCause::PeerVanished { .. } => &mut self.closed_peer_vanished,
            CloseCause::Truncated { .. } => &mut self.closed_truncated,
            CloseCause::ProtocolViolation(e) => match e.close_code() {
                CloseCode::INVALID_PAYLOAD => &mut self.closed_invalid_payload,
                CloseCode::POLICY_VIOLATION => &mut self.closed_policy_violation,
                CloseCode::MESSAGE_TOO_BIG => &mut self.closed_message_too_big,
                _ => &mut self.closed_protocol_error,
            },
            CloseCause::HeartbeatTimeout { .. } => &mut self.closed_heartbeat_timeout,
            CloseCause::CloseTimeout => &mut self.closed_close_timeout,
            CloseCause::DrainTimeout => &mut self.closed_drain_timeout,
            CloseCause::IdleTimeout => &mut self.closed_idle_timeout,
            _ => &mut self.closed_aborted,
        };
        *counter += 1;
        self.unsent_bytes += closed.unsent.bytes;
        self.unsent_messages += closed.unsent.messages;
        if let Some(srtt) = srtt {
            let bucket = SRTT_BUCKET_BOUNDS.iter().position(|&bound| srtt <= bound).unwrap_or(SRTT_BUCKET_BOUNDS.len());
            self.srtt_buckets[bucket] += 1;
            self.srtt_sum_micros += u64::try_from(srtt.as_micros()).unwrap_or(u64::MAX);
        }
    }

    /// Counts a request refused for being invalid.
    pub(crate) fn count_bad_request(&mut self, e: &HandshakeError) {
        match e {
            HandshakeError::OriginRefused { .. } => self.refused_origin += 1,
            HandshakeError::TlsOnPlainText => self.refused_tls_on_plain += 1,
            HandshakeError::Timeout { .. } => self.handshake_timeouts += 1,
            _ => self.refused_bad_request += 1,
        }
    }
}

//! Connection settings, with safe defaults.

use core::time::Duration;

use crate::Role;

/// How received data messages are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReceiveMode {
    /// Whole messages as [`Event::Message`](super::Event::Message); fragments are reassembled, up to
    /// [`Config::max_message_size`]. A message received in one frame is delivered without a copy.
    #[default]
    Whole,
    /// Data as it arrives as [`Event::Fragment`](super::Event::Fragment), without buffering the
    /// message; [`Config::max_message_size`] still bounds the total of one message.
    Streaming,
}

/// Liveness checking with pings whose deadline adapts to the measured round trip.
///
/// When nothing has been received for [`interval`](Self::interval), the connection sends a Ping
/// whose payload is a sequence number and the send time. The Pong that echoes it gives a round-trip
/// sample; samples feed a smoothed estimate (SRTT and RTTVAR, as TCP does in RFC 6298) and the Pong
/// deadline is `SRTT + 4·RTTVAR`, kept between [`min_timeout`](Self::min_timeout) and
/// [`max_timeout`](Self::max_timeout). A missed deadline is retried with the deadline doubled (from
/// the floor: 3 s, 6 s, 12 s on a fast link with the defaults); after
/// [`max_misses`](Self::max_misses) consecutive misses the peer is declared dead, 21 s after the
/// first unanswered Ping with the defaults. Any data arriving
/// while a Pong is awaited also proves the peer alive (its Pong may be queued behind a long message).
/// An interval or deadline floor below 1 ms is raised to 1 ms (zero would wake a driver in a loop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeartbeatConfig {
    /// Receive silence after which a Ping is sent. Default 30 s.
    pub interval: Duration,
    /// The Pong deadline before any round trip has been measured. Default 10 s.
    pub initial_timeout: Duration,
    /// The least time a Pong is waited for. Default 3 s.
    pub min_timeout: Duration,
    /// The most time a Pong is waited for, back-off included. Default 30 s.
    pub max_timeout: Duration,
    /// Consecutive unanswered Pings that declare the peer dead. Default 3.
    pub max_misses: u32,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            interval: Duration::from_secs(30),
            initial_timeout: Duration::from_secs(10),
            min_timeout: Duration::from_secs(3),
            max_timeout: Duration::from_secs(30),
            max_misses: 3,
        }
    }
}

/// Settings of one [`Connection`](super::Connection). `Config::default()` is safe to face the
/// Internet with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame payload accepted (1009 beyond). Default 16 MiB.
    pub max_frame_size: u64,
    /// Largest message accepted, the total of its fragments (1009 beyond). Default 64 MiB.
    pub max_message_size: u64,
    /// Whole messages or streamed fragments. Default whole.
    pub receive_mode: ReceiveMode,
    /// Outgoing messages longer than this are sent as several frames, so that a Pong or Close
    /// never waits behind more than one frame. Default 64 KiB.
    pub send_frame_size: usize,
    /// Sends are refused (the message handed back) while more than this many bytes are queued.
    /// Default 4 MiB.
    pub high_water_mark: usize,
    /// After a refusal, [`Event::Writable`](super::Event::Writable) is reported once the queue is at
    /// or below this. Default 1 MiB.
    pub low_water_mark: usize,
    /// How long to wait for the peer's Close after ours was written; for a client, also how long to
    /// wait for the server to close the TCP connection after the handshake (RFC 6455 §7.1.1).
    /// `None`: 3 s for a server, 5 s for a client.
    pub close_timeout: Option<Duration>,
    /// How long queued output may take to reach the transport once closing has begun (a peer that
    /// stops reading cannot hold the connection open). Default 10 s.
    pub drain_timeout: Duration,
    /// Keepalive pings with an adaptive deadline. Default on, see [`HeartbeatConfig`].
    pub heartbeat: Option<HeartbeatConfig>,
    /// Close with 1001 after this long without any traffic in either direction. Default off.
    pub idle_timeout: Option<Duration>,
    /// Most Pongs waiting to be sent: a peer that floods Pings without reading cannot grow the queue;
    /// beyond it the oldest pending Pong is replaced (RFC 6455 §5.5.3 allows answering only the most
    /// recent Ping). Default 16.
    pub max_pending_pongs: usize,
    /// The peer's Pings and Pongs allowed a second on average, with a burst of as many at once;
    /// beyond it the connection fails with 1008 (policy violation,
    /// [`ProtocolError::ControlFrameFlood`](crate::error::ProtocolError::ControlFrameFlood)), so a
    /// peer cannot make this side spend its time answering Pings. `None`: no limit. Default 100.
    pub max_control_frames_per_second: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            receive_mode: ReceiveMode::Whole,
            send_frame_size: 64 << 10,
            high_water_mark: 4 << 20,
            low_water_mark: 1 << 20,
            close_timeout: None,
            drain_timeout: Duration::from_secs(10),
            heartbeat: Some(HeartbeatConfig::default()),
            idle_timeout: None,
            max_pending_pongs: 16,
            max_control_frames_per_second: Some(100),
        }
    }
}

impl Config {
    /// The close timeout in force for `role`.
    pub fn close_timeout_for(&self, role: Role) -> Duration {
        self.close_timeout.unwrap_or(match role {
            Role::Server => Duration::from_secs(3),
            Role::Client => Duration::from_secs(5),
        })
    }
}

with_setters!(Config {
    with_max_frame_size => max_frame_size: u64,
    with_max_message_size => max_message_size: u64,
    with_receive_mode => receive_mode: ReceiveMode,
    with_send_frame_size => send_frame_size: usize,
    with_high_water_mark => high_water_mark: usize,
    with_low_water_mark => low_water_mark: usize,
    with_close_timeout => close_timeout: Option<Duration>,
    with_drain_timeout => drain_timeout: Duration,
    with_heartbeat => heartbeat: Option<HeartbeatConfig>,
    with_idle_timeout => idle_timeout: Option<Duration>,
    with_max_pending_pongs => max_pending_pongs: usize,
    with_max_control_frames_per_second => max_control_frames_per_second: Option<u32>,
});

with_setters!(HeartbeatConfig {
    with_interval => interval: Duration,
    with_initial_timeout => initial_timeout: Duration,
    with_min_timeout => min_timeout: Duration,
    with_max_timeout => max_timeout: Duration,
    with_max_misses => max_misses: u32,
});

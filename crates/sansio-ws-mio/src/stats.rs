//! What the event loop counts: its connections and what they hold against the memory budget.

/// Counters of an [`EventLoop`](crate::EventLoop), from [`EventLoop::stats`](crate::EventLoop::stats)
/// or [`Ctx::stats`](crate::Ctx::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverStats {
    /// Established connections.
    pub open: usize,
    /// Accepted sockets still in their opening handshake.
    pub handshaking: usize,
    /// Bytes the established connections hold now: queued for sending, and of their peers' data
    /// (counted against [`DriverConfig::memory_budget`](crate::DriverConfig::memory_budget)).
    pub memory_held: usize,
    /// The most [`memory_held`](Self::memory_held) has been.
    pub memory_peak: usize,
    /// Times a connection stopped being read because the memory budget was exceeded.
    pub budget_pauses: u64,
    /// Connections closed with `1013` because the memory budget stayed exceeded.
    pub budget_closes: u64,
    /// Requests answered `503` because [`DriverConfig::max_connections`](crate::DriverConfig::max_connections)
    /// were established.
    pub refused_busy: u64,
    /// Sockets in their handshake closed to make room under
    /// [`DriverConfig::max_handshakes`](crate::DriverConfig::max_handshakes).
    pub handshakes_evicted: u64,
    /// `accept` calls that failed for want of file descriptors (`EMFILE`, `ENFILE`); the loop
    /// tries again after 10 ms, doubling to 500 ms while it lasts.
    pub accept_out_of_descriptors: u64,
    /// `accept` calls that failed otherwise (out of memory…), retried the same way.
    pub accept_errors_other: u64,
}

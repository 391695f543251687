//! Every deadline of a connection in one table: a timer is a variant of [`Timer`], its deadline
//! an entry of [`TimerTable`], and the next wake-up is the earliest entry.

use crate::Instant;

/// The connection's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Closing has begun and queued output must reach the transport by then.
    Drain,
    /// Our Close is written and the peer's Close (or, for a client after the handshake, the end
    /// of the TCP connection) is awaited until then.
    Close,
    /// The heartbeat's next action: a Ping after receive silence, or a Pong deadline.
    Heartbeat,
    /// No traffic in either direction for the idle timeout.
    Idle,
}

impl Timer {
    /// Every timer, in the order expired ones are handled: the closing timers first, as they end
    /// the connection whatever the others would do.
    pub(crate) const ALL: [Timer; 4] = [Timer::Drain, Timer::Close, Timer::Heartbeat, Timer::Idle];
}

/// One optional deadline per [`Timer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 4],
}

impl TimerTable {
    /// Arms `timer` for `at`, or disarms it with `None`.
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.deadlines[timer as usize] = at;
    }

    /// The deadline of `timer`, if armed.
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    /// Disarms every timer.
    pub(crate) fn clear(&mut self) {
        self.deadlines = [None; 4];
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The first timer (in [`Timer::ALL`] order) whose deadline is at or before `now`; it is
    /// disarmed, so the caller re-arms it if it goes on.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL.into_iter().find(|&t| self.get(t).is_some_and(|at| at <= now))?;
        self.set(timer, None);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_earliest_and_expired_ones_come_in_order() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Idle, Some(Instant::from_secs(5)));
        t.set(Timer::Heartbeat, Some(Instant::from_secs(3)));
        t.set(Timer::Close, Some(Instant::from_secs(4)));
        assert_eq!(t.next(), Some(Instant::from_secs(3)));
        assert_eq!(t.take_expired(Instant::from_secs(2)), None);
        // At 4 s both Heartbeat and Close are due: Close first.
        assert_eq!(t.take_expired(Instant::from_secs(4)), Some(Timer::Close));
        assert_eq!(t.take_expired(Instant::from_secs(4)), Some(Timer::Heartbeat));
        assert_eq!(t.take_expired(Instant::from_secs(4)), None);
        assert_eq!(t.get(Timer::Close), None);
        assert_eq!(t.next(), Some(Instant::from_secs(5)));
        t.clear();
        assert_eq!(t.next(), None);
    }
}

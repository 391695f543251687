//! The one place the driver reads the clock, converting to the core's [`Instant`].

use std::time::{Duration, Instant as StdInstant};

use sansio_ws::Instant;

/// Converts between `std::time::Instant` and the core's [`Instant`] (nanoseconds since this
/// clock's creation).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: StdInstant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Clock { epoch: StdInstant::now() }
    }

    /// The current time on the core's scale.
    pub fn now(&self) -> Instant {
        self.from_std(StdInstant::now())
    }

    /// `t` on the core's scale.
    pub fn from_std(&self, t: StdInstant) -> Instant {
        Instant::from_nanos(u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX))
    }

    /// How long from `now` until `deadline` (zero if it has passed).
    pub fn until(&self, now: Instant, deadline: Instant) -> Duration {
        deadline.saturating_duration_since(now)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

//! The one place the driver reads the clock, converting to the core's [`Instant`].

use std::time::{Duration, Instant as StdInstant};

use sansio_ws::Instant;
use sansio_ws::time::Epoch;

/// The driver's clock: `std::time::Instant::now()` on the core's scale (nanoseconds since this
/// clock's creation).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Epoch,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Clock { epoch: Epoch::new(StdInstant::now()) }
    }

    /// The current time on the core's scale.
    pub fn now(&self) -> Instant {
        self.epoch.instant(StdInstant::now())
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

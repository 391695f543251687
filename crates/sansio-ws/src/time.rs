//! The core's own clock type.
//!
//! The core never reads a clock. Every time-dependent method takes `now: Instant`, and every deadline
//! it reports is an [`Instant`] on the same scale. An [`Instant`] is a count of nanoseconds since an
//! epoch the embedder chooses (process start, boot, anything monotonic); only differences matter.
//! This keeps the crate usable without `std` and makes tests run hours of protocol time in
//! microseconds with a virtual clock.
//!
//! With `std`, an [`Epoch`] converts between `std::time::Instant` and [`Instant`]: a driver keeps
//! one, chosen when it starts, and passes `epoch.instant(std::time::Instant::now())` as `now`.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time on the embedder's monotonic clock, in nanoseconds since its epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);
    /// The latest representable instant (about 584 years after the epoch).
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000_000))
    }

    /// An instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Instant(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`, or zero when `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating addition: a deadline far in the future stays far in the future.
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating difference: zero when `rhs` is later than `self`.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

/// The bridge between a `std::time::Instant` clock and the core's [`Instant`]: a chosen
/// `std::time::Instant` counts as [`Instant::ZERO`]. It reads no clock itself.
///
/// ```
/// use sansio_ws::time::Epoch;
///
/// let epoch = Epoch::new(std::time::Instant::now());
/// let later = std::time::Instant::now();
/// let now = epoch.instant(later); // what `handle_input(now, …)` and friends take
/// assert_eq!(epoch.to_std(now), later);
/// ```
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Epoch(std::time::Instant);

#[cfg(feature = "std")]
impl Epoch {
    /// An epoch at `origin` (typically `std::time::Instant::now()` when the program starts).
    pub const fn new(origin: std::time::Instant) -> Self {
        Epoch(origin)
    }

    /// `at` as an [`Instant`] since this epoch; an `at` before the epoch is [`Instant::ZERO`].
    pub fn instant(&self, at: std::time::Instant) -> Instant {
        let nanos = at.saturating_duration_since(self.0).as_nanos();
        Instant(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// A core [`Instant`] (a deadline from `poll_timeout`) back on the std clock, to sleep or
    /// arm a timer until it.
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.0 + Duration::from_nanos(at.0)
    }

    /// The `std::time::Instant` that counts as [`Instant::ZERO`].
    pub const fn origin(&self) -> std::time::Instant {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "std")]
    #[test]
    // A test may read the clock: the point is converting a real std instant.
    #[allow(clippy::disallowed_methods)]
    fn epoch_converts_both_ways() {
        let origin = std::time::Instant::now();
        let epoch = Epoch::new(origin);
        let later = origin + Duration::from_millis(1500);
        assert_eq!(epoch.instant(later), Instant::from_millis(1500));
        assert_eq!(epoch.to_std(Instant::from_millis(1500)), later);
        assert_eq!(epoch.instant(origin), Instant::ZERO);
        assert_eq!(epoch.origin(), origin);
        // Before the epoch: zero, never a panic.
        if let Some(earlier) = origin.checked_sub(Duration::from_secs(1)) {
            assert_eq!(epoch.instant(earlier), Instant::ZERO);
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_secs(5);
        assert_eq!(t + Duration::from_millis(1500), Instant::from_millis(6500));
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::from_secs(1) - Instant::from_secs(3), Duration::ZERO);
        assert_eq!(Instant::from_secs(3) - Instant::from_secs(1), Duration::from_secs(2));
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
    }

    #[test]
    fn debug_shows_the_time_since_the_epoch() {
        assert_eq!(alloc::format!("{:?}", Instant::from_millis(1500)), "Instant(1.5s)");
        assert_eq!(alloc::format!("{:?}", Instant::from_nanos(7)), "Instant(7ns)");
        assert_eq!(alloc::format!("{:?}", Instant::ZERO), "Instant(0ns)");
    }
}

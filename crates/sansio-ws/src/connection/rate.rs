//! A token bucket for the peer's control frames: a steady rate, with a burst of one second's
//! worth. Integer arithmetic on [`Instant`]s; no clock is read here.

use crate::Instant;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// At most `per_second` frames a second on average, `per_second` at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateLimit {
    per_second: u32,
    tokens: u32,
    /// Tokens are counted as refilled up to this time.
    since: Instant,
}

impl RateLimit {
    /// A full bucket at `now`.
    pub(crate) fn new(per_second: u32, now: Instant) -> Self {
        let per_second = per_second.max(1);
        RateLimit { per_second, tokens: per_second, since: now }
    }

    /// The configured rate.
    pub(crate) fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Takes a token for a frame arriving at `now`; `false` when the bucket is empty.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = u128::from(now.as_nanos().saturating_sub(self.since.as_nanos()));
        let refill = elapsed * u128::from(self.per_second) / NANOS_PER_SEC;
        if refill > 0 {
            let room = u128::from(self.per_second - self.tokens);
            if refill >= room {
                self.tokens = self.per_second;
                self.since = now;
            } else {
                self.tokens += refill as u32;
                // Keep the fraction of a token already earned.
                let used = refill * NANOS_PER_SEC / u128::from(self.per_second);
                self.since = Instant::from_nanos(self.since.as_nanos() + used as u64);
            }
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_steady_rate() {
        let mut r = RateLimit::new(10, Instant::ZERO);
        for _ in 0..10 {
            assert!(r.allow(Instant::ZERO));
        }
        assert!(!r.allow(Instant::ZERO), "the burst is spent");
        assert!(!r.allow(Instant::from_millis(99)), "not yet a tenth of a second");
        assert!(r.allow(Instant::from_millis(100)), "one token a tenth of a second");
        assert!(!r.allow(Instant::from_millis(150)));
        // Fractions are kept: 150 ms and 200 ms each complete a token from 100 ms on.
        assert!(r.allow(Instant::from_millis(200)));
        // A long pause refills the bucket, but no higher than the burst.
        assert!((0..10).all(|_| r.allow(Instant::from_secs(60))));
        assert!(!r.allow(Instant::from_secs(60)));
    }

    #[test]
    fn the_steady_rate_is_never_refused() {
        let mut r = RateLimit::new(100, Instant::ZERO);
        for i in 0..10_000u64 {
            assert!(r.allow(Instant::from_millis(10 * i)), "frame {i} at 100 a second");
        }
    }

    #[test]
    fn a_zero_rate_still_allows_one_a_second() {
        let mut r = RateLimit::new(0, Instant::ZERO);
        assert_eq!(r.per_second(), 1);
        assert!(r.allow(Instant::ZERO));
        assert!(!r.allow(Instant::from_millis(500)));
        assert!(r.allow(Instant::from_secs(1)));
    }
}

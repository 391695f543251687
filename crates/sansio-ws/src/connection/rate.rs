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
        let earned = elapsed * u128::from(self.per_second) / NANOS_PER_SEC;
        let refill = earned.min(u128::from(self.per_second - self.tokens));
        self.tokens += refill as u32;
        // Keep the fraction of a token already earned.
        let used = refill * NANOS_PER_SEC / u128::from(self.per_second);
        self.since = Instant::from_nanos(self.since.as_nanos() + used as u64);
        if self.tokens == self.per_second {
            // A full bucket earns nothing while it stays full: its clock starts again now.
            self.since = now;
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

    /// Time spent with a full bucket earns nothing: a frame 50 ms after the start, then 50 ms
    /// later the rest of the burst, is 10 frames in all, not 11.
    #[test]
    fn a_full_bucket_earns_nothing_while_full() {
        let mut r = RateLimit::new(10, Instant::ZERO);
        assert!(r.allow(Instant::from_millis(50)));
        let at = Instant::from_millis(100);
        assert_eq!((0..20).filter(|_| r.allow(at)).count(), 9);
        // The clock restarted when the first token left the full bucket: one more at 150 ms.
        assert!(!r.allow(Instant::from_millis(149)));
        assert!(r.allow(Instant::from_millis(150)));
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

    #[test]
    fn the_rate_is_reported_as_configured() {
        assert_eq!(RateLimit::new(10, Instant::ZERO).per_second(), 10);
        assert_eq!(RateLimit::new(100, Instant::from_secs(5)).per_second(), 100);
        assert_eq!(RateLimit::new(0, Instant::ZERO).per_second(), 1, "raised to one a second");
    }

    /// A refill larger than the room left fills the bucket to the burst and no further: half a
    /// bucket left, then 0.7 s (7 tokens at 10 a second) gives 10 tokens, not 12.
    #[test]
    fn a_refill_never_exceeds_the_burst() {
        let mut r = RateLimit::new(10, Instant::ZERO);
        assert!((0..5).all(|_| r.allow(Instant::ZERO)));
        let at = Instant::from_millis(700);
        assert_eq!((0..20).filter(|_| r.allow(at)).count(), 10);
    }

    /// Several tokens earned at once keep the fraction of the next one: from an empty bucket at
    /// 0 s, 250 ms earn 2 tokens (counted up to 200 ms), and 300 ms completes exactly one more.
    #[test]
    fn several_tokens_at_once_keep_the_fraction() {
        let mut r = RateLimit::new(10, Instant::ZERO);
        assert!((0..10).all(|_| r.allow(Instant::ZERO)));
        let at = Instant::from_millis(250);
        assert_eq!((0..5).filter(|_| r.allow(at)).count(), 2);
        let at = Instant::from_millis(299);
        assert!(!r.allow(at), "the third token completes at 300 ms");
        let at = Instant::from_millis(300);
        assert_eq!((0..5).filter(|_| r.allow(at)).count(), 1);
        // 1000 ms later, 10 tokens: the burst, whatever fraction was kept.
        let at = Instant::from_millis(1300);
        assert_eq!((0..20).filter(|_| r.allow(at)).count(), 10);
    }
}

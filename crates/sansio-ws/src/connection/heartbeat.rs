//! Keepalive pings, Pong deadlines that follow the measured round trip, back-off and the verdict
//! that the peer is dead. Pure arithmetic on [`Instant`]s: no clock is read here.

use core::time::Duration;

use super::config::HeartbeatConfig;
use crate::Instant;

/// Heartbeat Ping payloads start with this tag, then a big-endian sequence number and send time.
const TAG: &[u8; 4] = b"swhb";
/// The shortest interval or Pong deadline used, whatever the configuration says.
const MIN_DURATION: Duration = Duration::from_millis(1);

/// Length of a heartbeat Ping payload.
pub(crate) const PING_LEN: usize = 4 + 8 + 8;

/// What the connection must do after a heartbeat deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Nothing,
    SendPing([u8; PING_LEN]),
    Dead { misses: u32, last_rtt: Option<Duration> },
}

/// An unanswered heartbeat Ping (and its retries).
#[derive(Clone, Copy, Debug)]
struct Probe {
    /// Sequence number of the first Ping of this probe; retries have later ones.
    first_seq: u64,
    /// When the latest Ping of this probe was sent.
    sent_at: Instant,
    deadline: Instant,
}

/// Round-trip estimate in the manner of RFC 6298.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RttEstimate {
    pub(crate) srtt: Option<Duration>,
    pub(crate) rttvar: Duration,
    pub(crate) latest: Option<Duration>,
}

impl RttEstimate {
    fn sample(&mut self, rtt: Duration) {
        self.latest = Some(rtt);
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let delta = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Heartbeat {
    cfg: HeartbeatConfig,
    last_rx: Instant,
    next_seq: u64,
    probe: Option<Probe>,
    misses: u32,
    pub(crate) rtt: RttEstimate,
}

impl Heartbeat {
    pub(crate) fn new(mut cfg: HeartbeatConfig, now: Instant) -> Self {
        // A zero interval or Pong deadline would re-arm at `now` forever: a busy loop.
        cfg.interval = cfg.interval.max(MIN_DURATION);
        cfg.min_timeout = cfg.min_timeout.max(MIN_DURATION);
        Heartbeat { cfg, last_rx: now, next_seq: 0, probe: None, misses: 0, rtt: RttEstimate::default() }
    }

    /// Bytes arrived: the peer is alive.
    pub(crate) fn on_receive(&mut self, now: Instant) {
        self.last_rx = self.last_rx.max(now);
    }

    /// The Pong deadline for a Ping sent after `misses` consecutive misses: the smoothed estimate
    /// plus four deviations (the initial timeout before any sample), kept within the configured
    /// floor and ceiling, then doubled per miss up to the ceiling. The floor applies before the
    /// doubling, so a fast link backs off from the floor (3 s, 6 s, 12 s with the defaults) rather
    /// than retrying at the floor every time.
    pub(crate) fn pong_timeout(&self, misses: u32) -> Duration {
        let ceiling = self.cfg.max_timeout.max(self.cfg.min_timeout);
        let base = match self.rtt.srtt {
            Some(srtt) => srtt + self.rtt.rttvar * 4,
            None => self.cfg.initial_timeout,
        };
        let base = base.clamp(self.cfg.min_timeout, ceiling);
        base.checked_mul(1u32 << misses.min(16)).unwrap_or(Duration::MAX).min(ceiling)
    }

    /// The Pong deadline that applies now: for the Ping in flight, or the next one.
    pub(crate) fn current_pong_timeout(&self) -> Duration {
        self.pong_timeout(self.misses)
    }

    pub(crate) fn deadline(&self) -> Instant {
        match self.probe {
            Some(p) => p.deadline,
            None => self.last_rx + self.cfg.interval,
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) -> Action {
        if let Some(p) = self.probe {
            if now < p.deadline {
                return Action::Nothing;
            }
            if self.last_rx > p.sent_at {
                // Data arrived since the Ping: alive, its Pong may be queued behind a long message.
                self.probe = None;
                self.misses = 0;
            } else {
                self.misses += 1;
                if self.misses >= self.cfg.max_misses {
                    self.probe = None;
                    return Action::Dead { misses: self.misses, last_rtt: self.rtt.latest };
                }
                let payload = self.ping(now);
                self.probe = Some(Probe {
                    first_seq: p.first_seq,
                    sent_at: now,
                    deadline: now + self.pong_timeout(self.misses),
                });
                return Action::SendPing(payload);
            }
        }
        if now >= self.last_rx + self.cfg.interval {
            let first_seq = self.next_seq;
            let payload = self.ping(now);
            self.probe = Some(Probe { first_seq, sent_at: now, deadline: now + self.pong_timeout(0) });
            return Action::SendPing(payload);
        }
        Action::Nothing
    }

    fn ping(&mut self, now: Instant) -> [u8; PING_LEN] {
        let mut p = [0u8; PING_LEN];
        p[..4].copy_from_slice(TAG);
        p[4..12].copy_from_slice(&self.next_seq.to_be_bytes());
        p[12..].copy_from_slice(&now.as_nanos().to_be_bytes());
        self.next_seq += 1;
        p
    }

    /// A Pong arrived. Returns whether it answered one of our heartbeat Pings (then it is consumed
    /// here and gives a round-trip sample).
    pub(crate) fn on_pong(&mut self, now: Instant, payload: &[u8]) -> bool {
        let Some(rest) = payload.strip_prefix(TAG.as_slice()) else { return false };
        let (Ok(seq), Ok(sent)) =
            (<[u8; 8]>::try_from(&rest[..rest.len().min(8)]), <[u8; 8]>::try_from(rest.get(8..).unwrap_or(&[])))
        else {
            return false;
        };
        let (seq, sent) = (u64::from_be_bytes(seq), Instant::from_nanos(u64::from_be_bytes(sent)));
        if seq >= self.next_seq || sent > now {
            return false;
        }
        self.rtt.sample(now - sent);
        if self.probe.is_some_and(|p| seq >= p.first_seq) {
            self.probe = None;
            self.misses = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HeartbeatConfig {
        HeartbeatConfig {
            interval: Duration::from_secs(30),
            initial_timeout: Duration::from_secs(10),
            min_timeout: Duration::from_secs(3),
            max_timeout: Duration::from_secs(30),
            max_misses: 3,
        }
    }

    fn ping_at(hb: &mut Heartbeat, t: Instant) -> [u8; PING_LEN] {
        match hb.on_timeout(t) {
            Action::SendPing(p) => p,
            other => panic!("expected a ping at {t:?}, got {other:?}"),
        }
    }

    #[test]
    fn pings_after_silence_and_measures_rtt() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        assert_eq!(hb.deadline(), Instant::from_secs(30));
        assert_eq!(hb.on_timeout(Instant::from_secs(29)), Action::Nothing);
        let p = ping_at(&mut hb, Instant::from_secs(30));
        assert_eq!(hb.deadline(), Instant::from_secs(40), "initial timeout before any sample");
        assert!(hb.on_pong(Instant::from_millis(30_200), &p));
        assert_eq!(hb.rtt.srtt, Some(Duration::from_millis(200)));
        // 200 ms + 4 * 100 ms = 600 ms, raised to the 3 s floor.
        assert_eq!(hb.pong_timeout(0), Duration::from_secs(3));
        assert!(!hb.on_pong(Instant::from_secs(31), b"user pong"));
    }

    #[test]
    fn slow_network_raises_the_deadline_within_the_ceiling() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let mut t = Instant::ZERO;
        for _ in 0..10 {
            t = hb.deadline();
            let p = ping_at(&mut hb, t);
            t += Duration::from_secs(8);
            assert!(hb.on_pong(t, &p));
            hb.on_receive(t);
        }
        assert!(hb.pong_timeout(0) > Duration::from_secs(8), "deadline follows an 8 s RTT: {:?}", hb.pong_timeout(0));
        assert!(hb.pong_timeout(5) <= Duration::from_secs(30));
        let _ = t;
    }

    #[test]
    fn misses_back_off_then_declare_death() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        ping_at(&mut hb, Instant::from_secs(30));
        let d1 = hb.deadline();
        assert_eq!(d1, Instant::from_secs(40));
        ping_at(&mut hb, d1);
        let d2 = hb.deadline();
        assert_eq!(d2 - d1, Duration::from_secs(20), "doubled");
        ping_at(&mut hb, d2);
        let d3 = hb.deadline();
        assert_eq!(d3 - d2, Duration::from_secs(30), "capped at the ceiling");
        assert_eq!(hb.on_timeout(d3), Action::Dead { misses: 3, last_rtt: None });
    }

    /// RFC 6298-style arithmetic with exact figures: the first sample sets SRTT = R and
    /// RTTVAR = R/2; later ones RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R|, SRTT = 7/8·SRTT + 1/8·R.
    #[test]
    fn the_estimate_follows_rfc_6298() {
        let mut rtt = RttEstimate::default();
        rtt.sample(Duration::from_millis(800));
        assert_eq!((rtt.srtt, rtt.rttvar), (Some(Duration::from_millis(800)), Duration::from_millis(400)));
        rtt.sample(Duration::from_millis(400));
        // RTTVAR = (3·400 + |800 − 400|) / 4 = 400; SRTT = (7·800 + 400) / 8 = 750.
        assert_eq!((rtt.srtt, rtt.rttvar), (Some(Duration::from_millis(750)), Duration::from_millis(400)));
        rtt.sample(Duration::from_millis(750));
        // RTTVAR = (3·400 + 0) / 4 = 300; SRTT unchanged.
        assert_eq!((rtt.srtt, rtt.rttvar), (Some(Duration::from_millis(750)), Duration::from_millis(300)));
        assert_eq!(rtt.latest, Some(Duration::from_millis(750)));
    }

    /// The deadline is SRTT + 4·RTTVAR between the floor and the ceiling, doubled per miss from
    /// there: on a fast link 3 s, 6 s, 12 s; on a slow one the estimate is the base.
    #[test]
    fn back_off_doubles_from_the_clamped_estimate() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        hb.rtt.sample(Duration::from_millis(2)); // a LAN: 2 ms + 4 ms, far under the 3 s floor
        let fast: Vec<Duration> = (0..4).map(|m| hb.pong_timeout(m)).collect();
        assert_eq!(fast, [3, 6, 12, 24].map(Duration::from_secs));
        assert_eq!(hb.pong_timeout(5), Duration::from_secs(30), "capped at the ceiling");

        let mut slow = Heartbeat::new(cfg(), Instant::ZERO);
        slow.rtt.sample(Duration::from_secs(2)); // 2 s + 4·1 s = 6 s, above the floor
        assert_eq!(slow.pong_timeout(0), Duration::from_secs(6));
        assert_eq!(slow.pong_timeout(1), Duration::from_secs(12));
        assert_eq!(slow.pong_timeout(2), Duration::from_secs(24));
        assert_eq!(slow.pong_timeout(3), Duration::from_secs(30));

        // Before any sample, the initial timeout is the base (10 s, then 20 s, then the ceiling).
        let fresh = Heartbeat::new(cfg(), Instant::ZERO);
        let initial: Vec<Duration> = (0..3).map(|m| fresh.pong_timeout(m)).collect();
        assert_eq!(initial, [10, 20, 30].map(Duration::from_secs));
    }

    /// A peer that vanishes on a fast link is declared dead after 3 + 6 + 12 = 21 s of unanswered
    /// Pings with the defaults, as the configuration documents.
    #[test]
    fn a_vanished_peer_on_a_fast_link_is_dead_after_the_documented_back_off() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let p = ping_at(&mut hb, Instant::from_secs(30));
        assert!(hb.on_pong(Instant::from_millis(30_001), &p)); // 1 ms round trip
        hb.on_receive(Instant::from_millis(30_001));
        let first = hb.deadline(); // the next keepalive Ping
        ping_at(&mut hb, first);
        let d1 = hb.deadline();
        ping_at(&mut hb, d1);
        let d2 = hb.deadline();
        ping_at(&mut hb, d2);
        let d3 = hb.deadline();
        assert_eq!([d1 - first, d2 - d1, d3 - d2], [3, 6, 12].map(Duration::from_secs));
        assert_eq!(hb.on_timeout(d3), Action::Dead { misses: 3, last_rtt: Some(Duration::from_millis(1)) });
        assert_eq!(d3 - first, Duration::from_secs(21));
    }

    #[test]
    fn data_during_a_probe_proves_life() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        ping_at(&mut hb, Instant::from_secs(30));
        hb.on_receive(Instant::from_secs(35));
        assert_eq!(hb.on_timeout(Instant::from_secs(40)), Action::Nothing);
        assert_eq!(hb.deadline(), Instant::from_secs(65));
    }

    #[test]
    fn never_leaves_a_deadline_in_the_past() {
        let short = HeartbeatConfig { interval: Duration::from_secs(1), ..cfg() };
        let mut hb = Heartbeat::new(short, Instant::ZERO);
        ping_at(&mut hb, Instant::from_secs(1));
        hb.on_receive(Instant::from_millis(1500));
        let t = Instant::from_secs(11);
        // The probe expired with data seen; the keepalive interval has passed too: ping again now.
        assert!(matches!(hb.on_timeout(t), Action::SendPing(_)));
        assert!(hb.deadline() > t);
    }

    #[test]
    fn zero_durations_do_not_busy_loop() {
        let zero = HeartbeatConfig {
            interval: Duration::ZERO,
            initial_timeout: Duration::ZERO,
            min_timeout: Duration::ZERO,
            max_timeout: Duration::ZERO,
            max_misses: 7,
        };
        let mut hb = Heartbeat::new(zero, Instant::ZERO);
        for _ in 0..6 {
            let t = hb.deadline();
            assert!(matches!(hb.on_timeout(t), Action::SendPing(_)));
            assert!(hb.deadline() > t, "a deadline after {t:?}");
        }
        assert!(matches!(hb.on_timeout(hb.deadline()), Action::SendPing(_) | Action::Dead { .. }));
    }

    #[test]
    fn late_pong_of_an_earlier_retry_counts() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let first = ping_at(&mut hb, Instant::from_secs(30));
        ping_at(&mut hb, Instant::from_secs(40));
        hb.on_receive(Instant::from_secs(41));
        assert!(hb.on_pong(Instant::from_secs(41), &first));
        assert_eq!(hb.rtt.latest, Some(Duration::from_secs(11)));
        assert_eq!(hb.deadline(), Instant::from_secs(71), "probe over: back to keepalive");
    }

    /// The sequence number a heartbeat Ping carries (bytes 4..12, big-endian).
    fn seq_of(p: &[u8; PING_LEN]) -> u64 {
        u64::from_be_bytes(p[4..12].try_into().unwrap())
    }

    /// A Pong payload as a peer could forge it: the tag, a sequence number and a send time.
    fn forged(seq: u64, sent: Instant) -> [u8; PING_LEN] {
        let mut p = [0u8; PING_LEN];
        p[..4].copy_from_slice(TAG);
        p[4..12].copy_from_slice(&seq.to_be_bytes());
        p[12..].copy_from_slice(&sent.as_nanos().to_be_bytes());
        p
    }

    /// The payload layout: the tag, then the sequence number and the send time, both big-endian.
    /// Every Ping (a retry included) has the next sequence number.
    #[test]
    fn pings_carry_the_tag_a_sequence_number_and_the_send_time() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let first = ping_at(&mut hb, Instant::from_secs(30));
        assert_eq!(first, forged(0, Instant::from_secs(30)));
        let retry = ping_at(&mut hb, Instant::from_secs(40));
        assert_eq!(retry, forged(1, Instant::from_secs(40)));
        let second_retry = ping_at(&mut hb, Instant::from_secs(60));
        assert_eq!([seq_of(&first), seq_of(&retry), seq_of(&second_retry)], [0, 1, 2]);
    }

    /// Known samples through real Pings and Pongs give known SRTT, RTTVAR and deadlines. A jittery
    /// link (1 s, then 5 s) has SRTT 1.5 s but RTTVAR 1.375 s, and the deadline is
    /// 1.5 s + 4·1.375 s = 7 s; on a steady link with the same SRTT it would be the 3 s floor.
    #[test]
    fn a_jittery_link_waits_for_four_deviations_above_the_mean() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let p = ping_at(&mut hb, Instant::from_secs(30));
        assert!(hb.on_pong(Instant::from_secs(31), &p));
        hb.on_receive(Instant::from_secs(31));
        // First sample R = 1 s: SRTT = 1 s, RTTVAR = 0.5 s; deadline 1 + 2 = 3 s (the floor, exactly).
        assert_eq!((hb.rtt.srtt, hb.rtt.rttvar), (Some(Duration::from_secs(1)), Duration::from_millis(500)));
        assert_eq!(hb.pong_timeout(0), Duration::from_secs(3));

        assert_eq!(hb.deadline(), Instant::from_secs(61), "next keepalive 30 s after the Pong");
        let p = ping_at(&mut hb, Instant::from_secs(61));
        assert_eq!(hb.deadline(), Instant::from_secs(64), "Pong deadline SRTT + 4·RTTVAR = 3 s");
        // The Pong comes 5 s after its Ping, before the deadline was handled: the probe ends.
        assert!(hb.on_pong(Instant::from_secs(66), &p));
        hb.on_receive(Instant::from_secs(66));
        // RTTVAR = (3·0.5 + |1 − 5|) / 4 = 1.375 s; SRTT = (7·1 + 5) / 8 = 1.5 s.
        assert_eq!(hb.rtt.rttvar, Duration::from_millis(1375));
        assert_eq!(hb.rtt.srtt, Some(Duration::from_millis(1500)));
        assert_eq!(hb.rtt.latest, Some(Duration::from_secs(5)));
        assert_eq!(hb.pong_timeout(0), Duration::from_secs(7));
        assert_eq!(hb.pong_timeout(1), Duration::from_secs(14));
        assert_eq!(hb.pong_timeout(2), Duration::from_secs(28));
        assert_eq!(hb.pong_timeout(3), Duration::from_secs(30));

        let steady = Heartbeat {
            rtt: RttEstimate { srtt: Some(Duration::from_millis(1500)), rttvar: Duration::ZERO, latest: None },
            ..Heartbeat::new(cfg(), Instant::ZERO)
        };
        assert_eq!(steady.pong_timeout(0), Duration::from_secs(3), "no deviation: the floor");

        let next = ping_at(&mut hb, Instant::from_secs(96));
        assert_eq!(seq_of(&next), 2);
        assert_eq!(hb.deadline(), Instant::from_secs(103));
    }

    /// A link whose round trip is above the floor: 4 s gives SRTT 4 s, RTTVAR 2 s and a deadline of
    /// 4 + 8 = 12 s, then 24 s and the 30 s ceiling per miss, dead 66 s after the first unanswered
    /// Ping. The retries carry the next sequence numbers, and `last_rtt` is the 4 s sample.
    #[test]
    fn a_slow_link_backs_off_from_its_own_estimate() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let p = ping_at(&mut hb, Instant::from_secs(30));
        assert!(hb.on_pong(Instant::from_secs(34), &p));
        hb.on_receive(Instant::from_secs(34));
        assert_eq!((hb.rtt.srtt, hb.rtt.rttvar), (Some(Duration::from_secs(4)), Duration::from_secs(2)));

        let first = ping_at(&mut hb, Instant::from_secs(64));
        assert_eq!(hb.deadline(), Instant::from_secs(76));
        assert_eq!(hb.on_timeout(Instant::from_secs(75)), Action::Nothing, "a second early");
        let r1 = ping_at(&mut hb, Instant::from_secs(76));
        assert_eq!(hb.deadline(), Instant::from_secs(100));
        let r2 = ping_at(&mut hb, Instant::from_secs(100));
        assert_eq!(hb.deadline(), Instant::from_secs(130), "capped at the ceiling");
        assert_eq!([seq_of(&first), seq_of(&r1), seq_of(&r2)], [1, 2, 3]);
        assert_eq!(hb.on_timeout(Instant::from_millis(129_999)), Action::Nothing);
        assert_eq!(
            hb.on_timeout(Instant::from_secs(130)),
            Action::Dead { misses: 3, last_rtt: Some(Duration::from_secs(4)) }
        );
        assert_eq!(hb.deadline(), Instant::from_secs(64), "no probe is left once dead");
    }

    /// A driver that wakes up after a deadline (a busy machine) acts as at the deadline, counting
    /// the back-off from the moment it acts.
    #[test]
    fn a_late_wake_up_still_acts() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let p = ping_at(&mut hb, Instant::from_secs(33));
        assert_eq!(p, forged(0, Instant::from_secs(33)));
        assert_eq!(hb.deadline(), Instant::from_secs(43));
        assert_eq!(hb.on_timeout(Instant::from_secs(42)), Action::Nothing);
        let r = ping_at(&mut hb, Instant::from_secs(45));
        assert_eq!(r, forged(1, Instant::from_secs(45)));
        assert_eq!(hb.deadline(), Instant::from_secs(65), "20 s from the retry");
        ping_at(&mut hb, Instant::from_secs(70));
        assert_eq!(hb.deadline(), Instant::from_secs(100));
        assert_eq!(hb.on_timeout(Instant::from_secs(200)), Action::Dead { misses: 3, last_rtt: None });
    }

    /// Data counts as a sign of life only when it arrived after the Ping was sent: bytes read at
    /// the very instant the Ping left were read before it (the driver reads, then handles timers).
    #[test]
    fn data_read_at_the_instant_of_the_ping_does_not_prove_life() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        ping_at(&mut hb, Instant::from_secs(30));
        hb.on_receive(Instant::from_secs(30));
        let retry = ping_at(&mut hb, Instant::from_secs(40));
        assert_eq!(seq_of(&retry), 1);
        // One nanosecond later is after the retry: alive, back to the keepalive interval.
        hb.on_receive(Instant::from_nanos(40_000_000_001));
        assert_eq!(hb.on_timeout(Instant::from_secs(60)), Action::Nothing);
        assert_eq!(hb.deadline(), Instant::from_nanos(70_000_000_001));
    }

    /// A Pong that answers no Ping we sent (a sequence number not used yet), or claims a send time
    /// in the future, is not ours: no sample, and the probe goes on.
    #[test]
    fn pongs_that_answer_no_ping_are_not_ours() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let p = ping_at(&mut hb, Instant::from_secs(30));
        let t = Instant::from_secs(31);
        assert!(!hb.on_pong(t, &forged(1, Instant::from_secs(30))), "sequence number never sent");
        assert!(!hb.on_pong(t, &forged(u64::MAX, Instant::from_secs(30))));
        assert!(!hb.on_pong(t, &forged(0, Instant::from_millis(31_001))), "sent after it arrived");
        assert!(!hb.on_pong(t, &forged(0, Instant::from_secs(3600))));
        // Truncated or lengthened payloads.
        assert!(!hb.on_pong(t, &p[..PING_LEN - 1]));
        assert!(!hb.on_pong(t, &p[..11]));
        assert!(!hb.on_pong(t, &p[..4]));
        let mut longer = [0u8; PING_LEN + 1];
        longer[..PING_LEN].copy_from_slice(&p);
        assert!(!hb.on_pong(t, &longer));
        let mut wrong_tag = p;
        wrong_tag[0] = b'S';
        assert!(!hb.on_pong(t, &wrong_tag));
        assert_eq!(hb.rtt, RttEstimate::default(), "no sample from any of them");
        assert_eq!(hb.deadline(), Instant::from_secs(40), "the probe goes on");
        // The real Pong is accepted.
        assert!(hb.on_pong(t, &p));
        assert_eq!(hb.rtt.latest, Some(Duration::from_secs(1)));
    }

    /// A Pong read at the very instant its Ping was sent (a zero round trip on a simulated or
    /// loopback link) is a valid sample of zero.
    #[test]
    fn a_zero_round_trip_is_a_sample() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let p = ping_at(&mut hb, Instant::from_secs(30));
        assert!(hb.on_pong(Instant::from_secs(30), &p));
        assert_eq!((hb.rtt.srtt, hb.rtt.rttvar), (Some(Duration::ZERO), Duration::ZERO));
        assert_eq!(hb.pong_timeout(0), Duration::from_secs(3), "the floor");
        assert_eq!(hb.deadline(), Instant::from_secs(30), "probe over: keepalive from the last receive");
    }

    /// An early Pong ends the probe at once; a Pong of an earlier probe's Ping gives a sample but
    /// does not end the current probe, whose own Ping is still unanswered.
    #[test]
    fn only_a_pong_of_this_probe_ends_it() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        let old = ping_at(&mut hb, Instant::from_secs(30));
        hb.on_receive(Instant::from_secs(35)); // data: alive, the first probe ends at its deadline
        assert_eq!(hb.on_timeout(Instant::from_secs(40)), Action::Nothing);
        let current = ping_at(&mut hb, Instant::from_secs(65));
        assert_eq!(seq_of(&current), 1);
        assert_eq!(hb.deadline(), Instant::from_secs(75));

        // The first probe's Pong arrives now: a 37 s sample, but the current probe goes on.
        assert!(hb.on_pong(Instant::from_secs(67), &old));
        assert_eq!(hb.rtt.latest, Some(Duration::from_secs(37)));
        assert_eq!(hb.deadline(), Instant::from_secs(75), "still waiting for the Pong of Ping 1");

        // The current Ping's Pong, early: the probe ends, the back-off resets.
        assert!(hb.on_pong(Instant::from_secs(68), &current));
        assert_eq!(hb.rtt.latest, Some(Duration::from_secs(3)));
        hb.on_receive(Instant::from_secs(68));
        assert_eq!(hb.deadline(), Instant::from_secs(98));
    }

    /// A Pong of the retry (not of the first Ping) ends the probe and resets the miss count: the
    /// next unanswered probe starts again from one miss.
    #[test]
    fn a_pong_of_a_retry_resets_the_misses() {
        let mut hb = Heartbeat::new(cfg(), Instant::ZERO);
        ping_at(&mut hb, Instant::from_secs(30));
        let retry = ping_at(&mut hb, Instant::from_secs(40)); // one miss
        assert!(hb.on_pong(Instant::from_secs(42), &retry));
        hb.on_receive(Instant::from_secs(42));
        assert_eq!(hb.rtt.srtt, Some(Duration::from_secs(2)));
        // A new probe: 2 + 4·1 = 6 s, then 12 s, then 24 s; two misses are not yet death.
        ping_at(&mut hb, Instant::from_secs(72));
        assert_eq!(hb.deadline(), Instant::from_secs(78));
        ping_at(&mut hb, Instant::from_secs(78));
        assert_eq!(hb.deadline(), Instant::from_secs(90));
        ping_at(&mut hb, Instant::from_secs(90));
        assert_eq!(hb.deadline(), Instant::from_secs(114));
        assert!(matches!(hb.on_timeout(Instant::from_secs(114)), Action::Dead { misses: 3, .. }));
    }
}

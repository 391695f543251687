//! Randomness the core needs: masking keys (client role) and handshake keys.
//!
//! The core does not pick a random number generator for the embedder. With the `std` feature,
//! [`OsRandom`] reads the operating system's generator in batches; without it, or in tests, pass
//! any [`Randomness`] implementation (a hardware RNG, a seeded generator for reproducible tests).
//!
//! RFC 6455 §5.3 asks for masking keys that the peer's application cannot predict, so production
//! code should use a cryptographically strong source.

use alloc::boxed::Box;

/// A source of random bytes.
pub trait Randomness: Send {
    /// Fills `dst` with random bytes.
    fn fill(&mut self, dst: &mut [u8]);
}

impl<R: Randomness + ?Sized> Randomness for Box<R> {
    fn fill(&mut self, dst: &mut [u8]) {
        (**self).fill(dst)
    }
}

/// The operating system's random generator, read 256 bytes at a time so that a masking key per
/// frame does not cost a system call per frame.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct OsRandom {
    pool: [u8; 256],
    used: usize,
}

#[cfg(feature = "std")]
impl OsRandom {
    /// A new source; nothing is read until the first call.
    pub fn new() -> Self {
        OsRandom { pool: [0; 256], used: 256 }
    }
}

#[cfg(feature = "std")]
impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl Randomness for OsRandom {
    fn fill(&mut self, mut dst: &mut [u8]) {
        while !dst.is_empty() {
            if self.used == self.pool.len() {
                // The OS generator failing is not something a WebSocket can recover from; it does
                // not happen on any supported platform once the process is running.
                getrandom::fill(&mut self.pool).expect("the operating system's random generator failed");
                self.used = 0;
            }
            let n = dst.len().min(self.pool.len() - self.used);
            dst[..n].copy_from_slice(&self.pool[self.used..self.used + n]);
            // Never hand the same bytes out twice.
            self.pool[self.used..self.used + n].fill(0);
            self.used += n;
            dst = &mut dst[n..];
        }
    }
}

/// A small deterministic generator (xorshift64*) for tests and simulations. **Not** for production:
/// its output is predictable.
#[derive(Debug, Clone)]
pub struct SeededRandom(u64);

impl SeededRandom {
    /// A generator with the given seed (zero is replaced by a fixed non-zero constant).
    pub fn new(seed: u64) -> Self {
        SeededRandom(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Randomness for SeededRandom {
    fn fill(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic_and_varied() {
        let (mut a, mut b) = (SeededRandom::new(7), SeededRandom::new(7));
        let (mut x, mut y) = ([0u8; 20], [0u8; 20]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        a.fill(&mut y);
        assert_ne!(x, y);
    }

    #[cfg(feature = "std")]
    #[test]
    fn os_random_fills_across_pool_refills() {
        let mut r = OsRandom::new();
        let mut big = [0u8; 600];
        r.fill(&mut big);
        // 600 zero bytes from a real generator has probability 2^-4800.
        assert!(big.iter().any(|&b| b != 0));
        let mut k1 = [0u8; 4];
        let mut k2 = [0u8; 4];
        r.fill(&mut k1);
        r.fill(&mut k2);
        assert_ne!((k1, k2), ([0; 4], [0; 4]));
    }
}

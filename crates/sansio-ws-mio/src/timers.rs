//! Deadlines of all connections in one heap: the event loop sleeps until the earliest, and wakes
//! only the connections that are due, never scanning every connection.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sansio_ws::Instant;

/// A heap of `(deadline, slot, generation)`. Entries are never removed early: a connection keeps
/// the deadline it scheduled, and a popped entry that no longer matches is ignored. A connection
/// pushes a new entry only when its deadline moves earlier than the one it has in the heap, so
/// stale entries stay few.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, slot: usize, generation: u64) {
        self.heap.push(Reverse((at, slot, generation)));
    }

    /// The earliest entry (possibly stale: waking for it is harmless).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Pops an entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        if self.next()? <= now { self.heap.pop().map(|Reverse(e)| e) } else { None }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let mut t = Timers::default();
        t.push(Instant::from_secs(5), 1, 0);
        t.push(Instant::from_secs(2), 2, 0);
        t.push(Instant::from_secs(9), 3, 0);
        assert_eq!(t.next(), Some(Instant::from_secs(2)));
        assert_eq!(t.pop_due(Instant::from_secs(1)), None);
        assert_eq!(t.pop_due(Instant::from_secs(6)), Some((Instant::from_secs(2), 2, 0)));
        assert_eq!(t.pop_due(Instant::from_secs(6)), Some((Instant::from_secs(5), 1, 0)));
        assert_eq!(t.pop_due(Instant::from_secs(6)), None);
        assert_eq!(t.len(), 1);
    }
}

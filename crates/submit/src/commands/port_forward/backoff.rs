//! How long to wait before starting a dropped forward again: 1 s, doubling
//! up to 30 s while forwards keep dropping at once, and 1 s again after one
//! that lasted (a laptop back on the network, a pod that runs again).

use std::time::Duration;

const FIRST: Duration = Duration::from_secs(1);
const LONGEST: Duration = Duration::from_secs(30);

/// A forward that lived this long was working: the next wait starts over.
const LASTED: Duration = Duration::from_secs(30);

/// The waits between starts.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// The wait before the next start, after a forward (or a failed start)
    /// that lived `lived`.
    pub fn after(&mut self, lived: Duration) -> Duration {
        if lived >= LASTED {
            self.next = FIRST;
        }
        let wait = self.next;
        self.next = (wait * 2).min(LONGEST);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_thirty_seconds_and_starts_over_after_a_forward_that_lasted() {
        let mut backoff = Backoff::default();
        let quick = Duration::from_millis(200);
        let waits: Vec<u64> = (0..7).map(|_| backoff.after(quick).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff.after(Duration::from_secs(45)).as_secs(), 1);
        assert_eq!(backoff.after(quick).as_secs(), 2);
    }
}

//! One doubling backoff for every retry loop (connecting, restarting a component, resubscribing,
//! idle polling): each delay is twice the previous, capped, and starts over after a success.

use std::time::Duration;

/// A doubling delay between `first` and `max`. Not shared: each loop owns its own.
#[derive(Debug, Clone)]
pub struct Doubling {
    first: Duration,
    max: Duration,
    current: Duration,
}

impl Doubling {
    /// Starts at `first`, doubling up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Doubling {
            first,
            max,
            current: first.min(max),
        }
    }

    /// The delay `next_delay` would return, without advancing.
    pub fn peek(&self) -> Duration {
        self.current
    }

    /// The delay to wait now; the following one is twice as long (at most `max`).
    pub fn next_delay(&mut self) -> Duration {
        let now = self.current;
        self.current = (now * 2).min(self.max);
        now
    }

    /// Starts over at `first` (after a success).
    pub fn reset(&mut self) {
        self.current = self.first.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap_and_starts_over_on_reset() {
        let mut b = Doubling::new(200 * MS, 1000 * MS);
        let got: Vec<_> = (0..5).map(|_| b.next_delay()).collect();
        assert_eq!(got, [200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]);
        assert_eq!(b.peek(), 1000 * MS);
        b.reset();
        assert_eq!(b.peek(), 200 * MS);
        assert_eq!(b.next_delay(), 200 * MS);
        assert_eq!(b.next_delay(), 400 * MS);
    }

    #[test]
    fn a_first_delay_above_the_cap_is_capped() {
        let mut b = Doubling::new(10 * MS, 5 * MS);
        assert_eq!(b.next_delay(), 5 * MS);
        b.reset();
        assert_eq!(b.next_delay(), 5 * MS);
    }
}

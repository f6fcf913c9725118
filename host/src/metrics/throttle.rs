//! Warnings of the hot path (lines rejected, events dead-lettered, events dropped by a
//! full buffer): at most one line per kind and source or destination every [`EVERY`],
//! carrying the count since the line before, so that a flood of bad input cannot flood
//! the log, and the lines still add up to the counters (the rest is said at the end).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line of a kind this often.
pub const EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Throttle(Mutex<Unsaid>);

#[derive(Debug, Default)]
struct Unsaid {
    /// When the last line was written.
    last: Option<Instant>,
    /// Occurrences since.
    count: u64,
}

impl Throttle {
    /// Counts `n` more occurrences; when a line is due, the count it should carry (these
    /// and those since the last line).
    pub fn due(&self, n: u64) -> Option<u64> {
        let mut unsaid = self.0.lock().expect("not poisoned");
        unsaid.count += n;
        if unsaid.last.is_some_and(|last| last.elapsed() < EVERY) {
            return None;
        }
        unsaid.last = Some(Instant::now());
        Some(std::mem::take(&mut unsaid.count))
    }

    /// The occurrences no line has carried yet, now said to be carried: for the last
    /// line, at the end.
    pub fn rest(&self) -> u64 {
        std::mem::take(&mut self.0.lock().expect("not poisoned").count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_said_then_the_rest_is_counted_until_the_end() {
        let throttle = Throttle::default();
        assert_eq!(throttle.due(1), Some(1));
        assert_eq!(throttle.due(1), None);
        assert_eq!(throttle.due(5), None);
        assert_eq!(throttle.rest(), 6);
        assert_eq!(throttle.rest(), 0);
    }
}

//! When to try again: exponential backoff with jitter (from `backon`, which adds up to
//! the delay again), unless the destination said how long to wait; never longer than
//! `max_backoff`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

use crate::config::RetryConfig;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Longest a batch may spend failing, from its first failure.
    pub max_retry_time: Option<Duration>,
    max_backoff: Duration,
    backoff: ExponentialBuilder,
}

impl RetryPolicy {
    pub fn new(config: &RetryConfig) -> Self {
        RetryPolicy {
            max_attempts: config.max_attempts,
            max_retry_time: config.max_retry_time,
            max_backoff: config.max_backoff,
            backoff: ExponentialBuilder::default()
                .with_min_delay(config.initial_backoff)
                .with_max_delay(config.max_backoff)
                .with_factor(2.0)
                .with_jitter()
                .without_max_times(),
        }
    }

    /// Whether an attempt numbered `attempt` (1-based) may be followed by another, for
    /// events failing since `failing_since`.
    pub fn may_retry(&self, attempt: u32, failing_since: Instant) -> bool {
        attempt < self.max_attempts
            && self
                .deadline(failing_since)
                .is_none_or(|d| Instant::now() < d)
    }

    /// When events failing since `failing_since` are given up, if there is a limit.
    pub fn deadline(&self, failing_since: Instant) -> Option<Instant> {
        self.max_retry_time.map(|limit| failing_since + limit)
    }

    /// The wait after failed attempt `attempt`: the destination's own wait if it gave
    /// one, up to `max_backoff` (a `Retry-After` of a day would stall the destination's
    /// queue for a day), else the backoff for that attempt.
    pub fn delay(&self, attempt: u32, destination_wait: Option<Duration>) -> Duration {
        match destination_wait {
            Some(wait) => wait.min(self.max_backoff),
            None => self.backoff(attempt),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.backoff
            .build()
            .nth(attempt.saturating_sub(1) as usize)
            .map_or(self.max_backoff, |delay| delay.min(self.max_backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_wait_is_kept_up_to_the_maximum_backoff() {
        let policy = RetryPolicy::new(&RetryConfig {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(60),
            max_retry_time: None,
        });
        let wait = |seconds| policy.delay(1, Some(Duration::from_secs(seconds)));
        assert_eq!(wait(3), Duration::from_secs(3));
        assert_eq!(wait(86_400), Duration::from_secs(60));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_maximum() {
        let policy = RetryPolicy::new(&RetryConfig {
            max_attempts: 30,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(60),
            max_retry_time: None,
        });
        for _ in 0..50 {
            // The jitter adds up to the delay again: 100..200 ms, then 400..800 ms.
            let first = policy.delay(1, None);
            assert!((100..=200).contains(&first.as_millis()), "{first:?}");
            let third = policy.delay(3, None);
            assert!((400..=800).contains(&third.as_millis()), "{third:?}");
            // Past the maximum, backon's jitter would reach 120 s: capped to 60 s.
            assert_eq!(policy.delay(25, None), Duration::from_secs(60));
        }
    }
}

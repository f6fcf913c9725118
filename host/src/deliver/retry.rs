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

    /// After failed attempt `attempt` (1-based) of events failing since
    /// `failing_since`, why they are given up (the start of their dead-letter reason),
    /// or none when they may be tried again. The one place that decides it.
    pub fn give_up(&self, attempt: u32, failing_since: Instant) -> Option<String> {
        if attempt >= self.max_attempts {
            return Some(format!("gave up after {attempt} attempts"));
        }
        self.deadline(failing_since)
            .filter(|&deadline| Instant::now() >= deadline)
            .map(|_| format!("gave up after retry.max_retry_time ({attempt} attempts)"))
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

    #[tokio::test(start_paused = true)]
    async fn events_are_given_up_after_the_attempts_or_the_time_whichever_first() {
        let policy = RetryPolicy::new(&RetryConfig {
            max_attempts: 3,
            max_retry_time: Some(Duration::from_secs(10)),
            ..RetryConfig::default()
        });
        let since = Instant::now();
        assert_eq!(policy.give_up(2, since), None);
        assert_eq!(
            policy.give_up(3, since).unwrap(),
            "gave up after 3 attempts"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            policy.give_up(1, since).unwrap(),
            "gave up after retry.max_retry_time (1 attempts)"
        );
    }

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

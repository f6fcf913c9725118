//! When to try again: exponential backoff with full jitter (from `backon`), unless the
//! destination said how long to wait.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::config::RetryConfig;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    backoff: ExponentialBuilder,
}

impl RetryPolicy {
    pub fn new(config: &RetryConfig) -> Self {
        RetryPolicy {
            max_attempts: config.max_attempts,
            backoff: ExponentialBuilder::default()
                .with_min_delay(config.initial_backoff)
                .with_max_delay(config.max_backoff)
                .with_factor(2.0)
                .with_jitter()
                .without_max_times(),
        }
    }

    /// Whether an attempt numbered `attempt` (1-based) may be followed by another.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The wait after failed attempt `attempt`: the destination's own wait if it gave
    /// one, else the backoff for that attempt.
    pub fn delay(&self, attempt: u32, destination_wait: Option<Duration>) -> Duration {
        destination_wait.unwrap_or_else(|| {
            self.backoff
                .build()
                .nth(attempt.saturating_sub(1) as usize)
                .unwrap_or(Duration::from_secs(1))
        })
    }
}

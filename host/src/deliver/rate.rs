//! An optional cap on what a destination is sent, in events and requests per second
//! (from `governor`, a generic cell rate algorithm): a request waits until both allow
//! it.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;

#[derive(Debug, Default)]
pub struct RateLimit {
    /// With its burst: a second's worth, the most one wait may ask for.
    events: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
    requests: Option<DefaultDirectRateLimiter>,
}

impl RateLimit {
    pub fn new(config: &RateLimitConfig) -> Self {
        let limiter = |rate: NonZeroU32| RateLimiter::direct(Quota::per_second(rate));
        RateLimit {
            events: config.events_per_second.map(|rate| (limiter(rate), rate)),
            requests: config.requests_per_second.map(limiter),
        }
    }

    /// Waits until a request of `events` events may be sent.
    pub async fn wait(&self, events: usize) {
        if let Some(requests) = &self.requests {
            requests.until_ready().await;
        }
        let Some((limiter, burst)) = &self.events else {
            return;
        };
        // A limiter lets at most a second's worth through at once: a larger request
        // takes its events a second's worth at a time.
        let mut left = events as u32;
        while left > 0 {
            let now = left.min(burst.get());
            let cells = NonZeroU32::new(now).expect("left > 0");
            limiter
                .until_n_ready(cells)
                .await
                .expect("at most the burst is asked for");
            left -= now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn events_beyond_the_rate_wait_for_the_next_second() {
        let limit = RateLimit::new(&RateLimitConfig {
            events_per_second: NonZeroU32::new(1000),
            requests_per_second: None,
        });
        let started = Instant::now();
        // The first second's worth goes at once; the next 1,500 need 1.5 s more.
        limit.wait(1000).await;
        limit.wait(1500).await;
        let took = started.elapsed().as_secs_f64();
        assert!((1.3..10.0).contains(&took), "{took}");
    }
}

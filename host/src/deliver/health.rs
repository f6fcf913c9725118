//! How a destination is doing: what it delivered and refused, and whether it is
//! failing. The operator hears of it in the log, not only in the final summary: a
//! destination failing for longer than `failure_alert_after` is reported at ERROR once
//! per such interval, one that recovers says after how many failures, and the periodic
//! progress line reads the figures.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One destination's figures and failure streak.
#[derive(Debug)]
pub struct Health {
    pub delivered: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Events of batches the shutdown deadline cut short (kept in the dead-letter store
    /// as abandoned; some may have arrived).
    pub abandoned: AtomicU64,
    /// Events sent again because the destination did not confirm them.
    pub sent_again: AtomicU64,
    /// Attempts that failed (each retry, and each give-up).
    pub failures: AtomicU64,
    streak: Mutex<Option<Streak>>,
    alert_after: Duration,
    /// When an attempt last delivered, and when one last failed (with why).
    last_success: Mutex<Option<jiff::Timestamp>>,
    last_error: Mutex<Option<(jiff::Timestamp, String)>>,
}

/// Failures since the last success.
#[derive(Debug, Clone, Copy)]
struct Streak {
    since: Instant,
    failures: u64,
    /// When the streak was last reported at ERROR.
    alerted: Option<Instant>,
}

impl Health {
    pub fn new(alert_after: Duration) -> Self {
        Health {
            delivered: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            sent_again: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            streak: Mutex::new(None),
            alert_after,
            last_success: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    /// An attempt failed with `reason`.
    pub fn failed(&self, destination: &str, reason: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("not poisoned") =
            Some((jiff::Timestamp::now(), reason.to_owned()));
        let now = Instant::now();
        let mut streak = self.streak.lock().expect("not poisoned");
        let streak = streak.get_or_insert(Streak {
            since: now,
            failures: 0,
            alerted: None,
        });
        streak.failures += 1;
        let failing_for = now - streak.since;
        let due = streak
            .alerted
            .map_or(failing_for >= self.alert_after, |last| {
                now - last >= self.alert_after
            });
        if due {
            streak.alerted = Some(now);
            tracing::error!(
                destination,
                failing_for = ?Duration::from_secs(failing_for.as_secs()),
                failures = streak.failures,
                last_reason = reason,
                "destination has been failing; events wait in its queue and retries"
            );
        }
    }

    /// An attempt delivered `events` events.
    pub fn delivered(&self, destination: &str, events: usize) {
        self.delivered.fetch_add(events as u64, Ordering::Relaxed);
        *self.last_success.lock().expect("not poisoned") = Some(jiff::Timestamp::now());
        if let Some(streak) = self.streak.lock().expect("not poisoned").take() {
            tracing::info!(
                destination,
                failures = streak.failures,
                failing_for = ?Duration::from_millis(streak.since.elapsed().as_millis() as u64),
                "destination delivered again after {} failure(s)",
                streak.failures
            );
        }
    }

    /// When an attempt last delivered, as RFC 3339, or `never`.
    pub fn last_success(&self) -> String {
        let last = *self.last_success.lock().expect("not poisoned");
        last.map_or_else(|| "never".into(), |time| time.to_string())
    }

    /// When an attempt last failed and why, or `never`.
    pub fn last_error(&self) -> (String, String) {
        match &*self.last_error.lock().expect("not poisoned") {
            Some((time, reason)) => (time.to_string(), reason.clone()),
            None => ("never".into(), String::new()),
        }
    }

    /// How long it has been failing (since the first failure after its last success).
    pub fn failing_for(&self) -> Option<Duration> {
        let streak = *self.streak.lock().expect("not poisoned");
        streak.map(|streak| streak.since.elapsed())
    }

    /// How long a destination fails before it is reported, and is not ready.
    pub fn alert_after(&self) -> Duration {
        self.alert_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_ends_with_a_success() {
        let health = Health::new(Duration::from_secs(60));
        health.failed("d", "busy");
        health.failed("d", "busy");
        assert!(health.failing_for().is_some());
        health.delivered("d", 5);
        assert!(health.failing_for().is_none());
        assert_eq!(health.failures.load(Ordering::Relaxed), 2);
        assert_eq!(health.delivered.load(Ordering::Relaxed), 5);
    }
}

//! A circuit breaker per destination: after `failures` attempts in a row fail (or, if
//! set, a `failure_ratio` of the last `window` attempts), nothing is sent for `open_for`; then one request probes the destination (half-open), and
//! its answer closes the circuit or opens it again. Batches wait meanwhile (in the
//! buffer or the spool) instead of spending their attempts on a destination that is
//! down. Each change of state is logged.

use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::CircuitBreakerConfig;

#[derive(Debug)]
pub struct Circuit {
    destination: std::sync::Arc<str>,
    config: CircuitBreakerConfig,
    state: Mutex<State>,
    /// The outcomes of the last `window` attempts (true: failed), for `failure_ratio`.
    recent: Mutex<std::collections::VecDeque<bool>>,
    changed: Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One request is probing the destination.
    HalfOpen,
}

/// Why a request may not be sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The circuit stayed open until the batch's deadline.
    Deadline,
    /// The shutdown deadline passed.
    Aborted,
}

impl Circuit {
    pub fn new(destination: std::sync::Arc<str>, config: &CircuitBreakerConfig) -> Self {
        Circuit {
            destination,
            config: config.clone(),
            state: Mutex::new(State::Closed { failures: 0 }),
            recent: Mutex::default(),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    /// `closed`, `open` or `half-open`, for progress lines and the summary.
    pub fn describe(&self) -> &'static str {
        match *self.state() {
            State::Closed { .. } => "closed",
            State::Open { .. } => "open",
            State::HalfOpen => "half-open",
        }
    }

    /// Whether the circuit is open now (so a batch about to wait starts its clock).
    pub fn is_open(&self) -> bool {
        !matches!(*self.state(), State::Closed { .. })
    }

    /// Waits until a request may be sent: at once while closed; while open, until it
    /// half-opens (the first to come then probes) or `deadline`. The admission tells the
    /// request's outcome.
    pub async fn admit(
        &self,
        deadline: Option<Instant>,
        abort: &CancellationToken,
    ) -> Result<Admission<'_>, Refusal> {
        let probe = self.wait_for_turn(deadline, abort).await?;
        Ok(Admission {
            circuit: self,
            probe,
        })
    }

    /// Waits for [`Circuit::admit`]; whether the request admitted is the probe.
    async fn wait_for_turn(
        &self,
        deadline: Option<Instant>,
        abort: &CancellationToken,
    ) -> Result<bool, Refusal> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let reopens = {
                let mut state = self.state();
                match *state {
                    State::Closed { .. } => return Ok(false),
                    State::Open { until } if Instant::now() >= until => {
                        *state = State::HalfOpen;
                        tracing::info!(destination = %self.destination, "circuit half-open: one request probes the destination");
                        return Ok(true);
                    }
                    State::Open { until } => Some(until),
                    State::HalfOpen => None,
                }
            };
            let wake = match (reopens, deadline) {
                (Some(at), Some(deadline)) => Some(at.min(deadline)),
                (at, deadline) => at.or(deadline),
            };
            tokio::select! {
                () = &mut changed => {}
                () = sleep_until(wake) => {}
                () = abort.cancelled() => return Err(Refusal::Aborted),
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(Refusal::Deadline);
            }
        }
    }

    /// Notes an attempt's outcome; whether the failure ratio over the window is reached.
    fn ratio_reached(&self, failed: bool) -> bool {
        let Some(ratio) = self.config.failure_ratio else {
            return false;
        };
        let mut recent = self.recent.lock().expect("not poisoned");
        recent.push_back(failed);
        if recent.len() > self.config.window as usize {
            recent.pop_front();
        }
        let failures = recent.iter().filter(|&&f| f).count();
        recent.len() == self.config.window as usize
            && failures as f64 >= ratio * recent.len() as f64
    }

    /// The destination answered (whatever it said of the events): close the circuit.
    fn succeeded(&self) {
        self.ratio_reached(false);
        let mut state = self.state();
        if !matches!(*state, State::Closed { .. }) {
            tracing::info!(destination = %self.destination, "circuit closed: the destination answers again");
            self.changed.notify_waiters();
        }
        *state = State::Closed { failures: 0 };
    }

    /// An attempt failed (no answer, or one that asks to try again).
    fn failed(&self) {
        let ratio_reached = self.ratio_reached(true);
        if self.config.failures == 0 && !ratio_reached {
            return;
        }
        let mut state = self.state();
        let threshold = self.config.failures;
        let open = match *state {
            State::Closed { .. } if ratio_reached => true,
            State::Closed { failures } if threshold > 0 && failures + 1 >= threshold => true,
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::HalfOpen => true,
            State::Open { .. } => false,
        };
        if open {
            tracing::warn!(destination = %self.destination, open_for = ?self.config.open_for, "circuit open: nothing is sent to the destination for a while; batches wait");
            self.open(&mut state);
        }
    }
}

/// A request the circuit let through, to be told how it went. A probe whose outcome is
/// never told (its task panicked, or stopped before an answer) opens the circuit again
/// when dropped: a circuit left half-open would hold every waiting batch for good.
#[derive(Debug)]
#[must_use = "the circuit needs the request's outcome"]
pub struct Admission<'a> {
    circuit: &'a Circuit,
    probe: bool,
}

impl Admission<'_> {
    /// The destination answered (whatever it said of the events).
    pub fn succeeded(mut self) {
        self.probe = false;
        self.circuit.succeeded();
    }

    /// No answer, or one that asks to try again.
    pub fn failed(mut self) {
        self.probe = false;
        self.circuit.failed();
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if !self.probe {
            return;
        }
        let mut state = self.circuit.state();
        if *state == State::HalfOpen {
            tracing::warn!(destination = %self.circuit.destination, "the circuit's probe ended without an answer; the circuit opens again");
            self.circuit.open(&mut state);
        }
    }
}

impl Circuit {
    /// Opens the circuit (its `state`, locked) for `open_for` and wakes the batches
    /// waiting on it.
    fn open(&self, state: &mut State) {
        *state = State::Open {
            until: Instant::now() + self.config.open_for,
        };
        self.recent.lock().expect("not poisoned").clear();
        self.changed.notify_waiters();
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn circuit(failures: u32) -> Circuit {
        let config = CircuitBreakerConfig {
            failures,
            open_for: Duration::from_secs(30),
            ..CircuitBreakerConfig::default()
        };
        Circuit::new("d".into(), &config)
    }

    #[test]
    fn a_failure_ratio_over_the_window_opens_it_without_failures_in_a_row() {
        let config = CircuitBreakerConfig {
            failures: 0,
            failure_ratio: Some(0.5),
            window: 10,
            ..CircuitBreakerConfig::default()
        };
        let circuit = Circuit::new("d".into(), &config);
        // Every other attempt fails: never two in a row, half of the window.
        for _ in 0..4 {
            circuit.failed();
            circuit.succeeded();
        }
        circuit.failed();
        assert_eq!(
            circuit.describe(),
            "closed",
            "9 attempts: the window is not full"
        );
        circuit.succeeded();
        circuit.failed();
        assert_eq!(circuit.describe(), "open");
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_in_a_row_and_a_probe_closes_it() {
        let circuit = circuit(3);
        let abort = CancellationToken::new();
        circuit.failed();
        circuit.failed();
        circuit.succeeded();
        circuit.failed();
        circuit.failed();
        assert_eq!(circuit.describe(), "closed", "a success reset the count");
        circuit.failed();
        assert_eq!(circuit.describe(), "open");
        let started = Instant::now();
        let probe = circuit.admit(None, &abort).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert_eq!(circuit.describe(), "half-open");
        probe.succeeded();
        assert_eq!(circuit.describe(), "closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_again_and_a_deadline_ends_the_wait() {
        let circuit = circuit(1);
        let abort = CancellationToken::new();
        circuit.failed();
        circuit.admit(None, &abort).await.unwrap().failed();
        assert_eq!(circuit.describe(), "open");
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            circuit.admit(Some(deadline), &abort).await.err(),
            Some(Refusal::Deadline)
        );
    }

    /// A probe that ends untold (its task panicked) used to leave the circuit half-open,
    /// and every other batch waiting for good.
    #[tokio::test(start_paused = true)]
    async fn a_probe_that_ends_without_an_outcome_opens_it_again() {
        let circuit = std::sync::Arc::new(circuit(1));
        let abort = CancellationToken::new();
        circuit.failed();
        let probe = circuit.admit(None, &abort).await.unwrap();
        let waiting = tokio::spawn({
            let circuit = circuit.clone();
            let abort = abort.clone();
            async move { circuit.admit(None, &abort).await.map(Admission::succeeded) }
        });
        tokio::task::yield_now().await;
        assert_eq!(circuit.describe(), "half-open");
        drop(probe);
        assert_eq!(circuit.describe(), "open");
        let started = Instant::now();
        waiting.await.unwrap().unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(30), "the next probe");
        assert_eq!(circuit.describe(), "closed");
    }

    #[tokio::test]
    async fn zero_failures_turns_the_breaker_off() {
        let circuit = circuit(0);
        for _ in 0..10 {
            circuit.failed();
        }
        assert_eq!(circuit.describe(), "closed");
    }
}

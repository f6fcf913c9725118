//! How a destination holds, paces and retries its events: `[destinations.buffer]`,
//! `[destinations.retry]`, `[destinations.circuit_breaker]`,
//! `[destinations.rate_limit]` and `[destinations.acknowledgement]`.

use std::num::NonZeroU32;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

/// The queue of events waiting for a destination's batcher: shared with the other
/// destinations (no copy), bounded in bytes and in events.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// Most bytes of events held; until a destination falls this far behind, the
    /// other destinations go on at their own pace.
    #[serde(default = "default_buffer_bytes")]
    pub max_bytes: usize,
    /// Most events held.
    #[serde(default = "default_buffer_events")]
    pub max_events: usize,
    /// What a full buffer does.
    #[serde(default)]
    pub when_full: WhenFull,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            max_bytes: default_buffer_bytes(),
            max_events: default_buffer_events(),
            when_full: WhenFull::default(),
        }
    }
}

/// What a full buffer does with the next events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// The sources wait: nothing is lost, a file is the buffer. The default, for audit
    /// logs, where a dropped event is a hole in the record.
    #[default]
    Block,
    /// The oldest queued events are dropped for this destination, counted and warned.
    DropOldest,
    /// The new events are dropped for this destination, counted and warned.
    DropNewest,
}

/// Exponential backoff with jitter between attempts; `Retry-After` is honoured.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per request before its events are dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait after a first failure; each further one doubles it, with jitter.
    #[schemars(with = "String")]
    #[serde(default = "default_initial_backoff", with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest wait between attempts, a destination's `Retry-After` included.
    #[schemars(with = "String")]
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Longest a batch may spend failing (attempts, waits, an open circuit) before its
    /// events are dead-lettered with the last reason; unset for no limit but
    /// `max_attempts`.
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    pub max_retry_time: Option<Duration>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: default_max_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            max_retry_time: None,
        }
    }
}

/// Stops sending to a destination that keeps failing, so it gets time to recover and
/// batches wait (in the buffer or spool) instead of spending their attempts.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Consecutive failed attempts that open the circuit; 0 turns the breaker off.
    #[serde(default = "default_circuit_failures")]
    pub failures: u32,
    /// How long an open circuit sends nothing; then one batch probes the destination.
    #[schemars(with = "String")]
    #[serde(default = "default_circuit_open_for", with = "humantime_serde")]
    pub open_for: Duration,
    /// Also open when at least this share (0 to 1) of the last `window` attempts
    /// failed, for a destination that fails often without failing `failures` times in
    /// a row; unset for none.
    pub failure_ratio: Option<f64>,
    /// The attempts `failure_ratio` looks at.
    #[serde(default = "default_circuit_window")]
    pub window: u32,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failures: default_circuit_failures(),
            open_for: default_circuit_open_for(),
            failure_ratio: None,
            window: default_circuit_window(),
        }
    }
}

/// An optional cap on what a destination is sent, for receivers with a licence or an
/// ingest quota.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Most events sent per second.
    pub events_per_second: Option<NonZeroU32>,
    /// Most requests sent per second.
    pub requests_per_second: Option<NonZeroU32>,
}

/// For a module whose destination confirms later what it kept (a `pending` verdict:
/// Splunk HEC with `ack = true`): how often the host asks, and how long it waits for a
/// confirmation before it sends the events again.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgementConfig {
    /// The wait between two polls of the tickets not yet confirmed (Splunk advises 10 s).
    #[schemars(with = "String")]
    #[serde(default = "default_ack_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// A request not confirmed within this long after it was taken is sent again (at
    /// least once: the first copy may still be kept; the event ids show it).
    #[schemars(with = "String")]
    #[serde(default = "default_ack_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Most tickets in one poll.
    #[serde(default = "default_ack_tickets_per_poll")]
    pub tickets_per_poll: usize,
    /// Most events taken and not yet confirmed (held in memory to be sent again): past
    /// it, the workers wait for confirmations before they send more.
    #[serde(default = "default_ack_max_pending_events")]
    pub max_pending_events: usize,
}

impl Default for AcknowledgementConfig {
    fn default() -> Self {
        AcknowledgementConfig {
            poll_interval: default_ack_poll_interval(),
            timeout: default_ack_timeout(),
            tickets_per_poll: default_ack_tickets_per_poll(),
            max_pending_events: default_ack_max_pending_events(),
        }
    }
}

fn default_ack_poll_interval() -> Duration {
    Duration::from_secs(10)
}
/// Splunk's advice for indexer acknowledgement: after about five minutes, count the
/// request lost.
fn default_ack_timeout() -> Duration {
    Duration::from_secs(300)
}
fn default_ack_max_pending_events() -> usize {
    100_000
}

fn default_ack_tickets_per_poll() -> usize {
    1000
}

/// 16 MiB: tens of thousands of audit events, a few seconds of a busy host.
fn default_buffer_bytes() -> usize {
    16 << 20
}
/// As many ~400-byte audit events as the default bytes hold, with room for small ones.
fn default_buffer_events() -> usize {
    100_000
}
fn default_max_attempts() -> u32 {
    10
}
fn default_initial_backoff() -> Duration {
    Duration::from_millis(500)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}
fn default_circuit_failures() -> u32 {
    5
}
fn default_circuit_window() -> u32 {
    20
}
fn default_circuit_open_for() -> Duration {
    Duration::from_secs(30)
}

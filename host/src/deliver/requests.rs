//! A destination's requests and module calls: how each request ended, and how long
//! requests and module calls took. Counted as the worker goes (an atomic add and a
//! histogram observation per request, not per event), read by `/metrics` and `/status`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;

/// How a request ended.
#[derive(Debug, Clone, Copy)]
pub enum RequestResult {
    /// The destination took it (whole, in part, or to confirm later).
    Ok,
    /// The destination answered that it should be sent again.
    Retried,
    /// The destination refused it as a whole (its events are dead-lettered).
    Refused,
    /// No answer: the connection or the exchange failed.
    Failed,
    /// No answer within `request_timeout`.
    Timeout,
}

impl RequestResult {
    pub const ALL: [RequestResult; 5] = [
        RequestResult::Ok,
        RequestResult::Retried,
        RequestResult::Refused,
        RequestResult::Failed,
        RequestResult::Timeout,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RequestResult::Ok => "ok",
            RequestResult::Retried => "retried",
            RequestResult::Refused => "refused",
            RequestResult::Failed => "failed",
            RequestResult::Timeout => "timeout",
        }
    }
}

/// A call into a destination's module.
#[derive(Debug, Clone, Copy)]
pub enum ModuleCall {
    Format,
    Classify,
    AckQuery,
    ReadAcks,
    /// Its filter module's `keep`.
    Filter,
}

impl ModuleCall {
    pub const ALL: [ModuleCall; 5] = [
        ModuleCall::Format,
        ModuleCall::Classify,
        ModuleCall::AckQuery,
        ModuleCall::ReadAcks,
        ModuleCall::Filter,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ModuleCall::Format => "format",
            ModuleCall::Classify => "classify",
            ModuleCall::AckQuery => "ack_query",
            ModuleCall::ReadAcks => "read_acks",
            ModuleCall::Filter => "filter",
        }
    }
}

/// Requests from 1 ms to about 65 s, doubling.
fn request_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 17)
}

/// Module calls from 10 µs to about 5 s (the default call limit), fourfold.
fn call_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.000_01, 4.0, 10)
}

/// One destination's requests and module calls.
#[derive(Debug)]
pub struct Requests {
    ended: [AtomicU64; RequestResult::ALL.len()],
    /// From sending a request to reading its answer (or failing to).
    pub duration: Histogram,
    calls: [Histogram; ModuleCall::ALL.len()],
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            ended: Default::default(),
            duration: Histogram::new(request_buckets()),
            calls: std::array::from_fn(|_| Histogram::new(call_buckets())),
        }
    }
}

impl Requests {
    /// A request ended with `result` after `took`.
    pub fn ended(&self, result: RequestResult, took: Duration) {
        self.ended[result as usize].fetch_add(1, Ordering::Relaxed);
        self.duration.observe(took.as_secs_f64());
    }

    /// A module call took `took`.
    pub fn called(&self, call: ModuleCall, took: Duration) {
        self.calls[call as usize].observe(took.as_secs_f64());
    }

    /// Requests that ended with `result`.
    pub fn count(&self, result: RequestResult) -> u64 {
        self.ended[result as usize].load(Ordering::Relaxed)
    }

    /// The durations of `call`.
    pub fn calls(&self, call: ModuleCall) -> &Histogram {
        &self.calls[call as usize]
    }
}

/// `/status` shows the counts by result.
impl serde::Serialize for Requests {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(RequestResult::ALL.len()))?;
        for result in RequestResult::ALL {
            map.serialize_entry(result.label(), &self.count(result))?;
        }
        map.end()
    }
}

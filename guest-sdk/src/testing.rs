//! Helpers for a module's native tests (`cargo test`): the module configured as the host
//! would configure it, and batches of events.

use crate::{Batch, Enrichment, EventId, FormatError, Formatter, Settings, TimeSource};

/// What a test host enriches with: host `test-host`, no tags.
pub fn enrichment() -> Enrichment {
    Enrichment {
        host_name: "test-host".into(),
        machine_id: String::new(),
        sluice_version: "0.0.0".into(),
        tags: Vec::new(),
    }
}

/// `F` configured with `settings` (and the defaults its `info` declares), as a
/// destination's `settings` table would configure it.
pub fn configure<F: Formatter>(settings: &[(&str, &str)]) -> Result<F, FormatError> {
    let values = settings
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    F::new(&Settings::new(values, F::info().settings), &enrichment())
}

/// Filter `F` configured with `settings`, as a destination's `filter_settings` would.
pub fn configure_filter<F: crate::filter::Filter>(
    settings: &[(&str, &str)],
) -> Result<F, FormatError> {
    let values = settings
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    F::new(&Settings::new(values, F::info().settings))
}

/// `events` (JSON objects) as a batch: event `n` has id `n` and time
/// `2023-11-14T22:13:20Z` plus `n` seconds.
pub fn batch(events: &[&str]) -> Batch<'static> {
    let mut batch = Batch::new();
    for (n, json) in events.iter().enumerate() {
        let time_ms = 1_700_000_000_000 + 1000 * n as i64;
        batch.push(json, time_ms, TimeSource::Event, EventId(n as u128));
    }
    batch
}

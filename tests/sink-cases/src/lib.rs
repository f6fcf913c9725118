//! What every reference sink's native tests run through their encoder: the lines of
//! `tests/data/edge-cases.jsonl` the host takes as events (UTF-8 JSON objects), one
//! reading of the file instead of one per sink.

use sluice_guest::{Batch, EventId, TimeSource};

/// The edge-case lines that are events, trimmed, in file order.
pub fn edge_case_events() -> Vec<String> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/edge-cases.jsonl"
    ))
    .expect("tests/data/edge-cases.jsonl");
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter(|line| serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.is_object()))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// `events` as a batch, event `n` with id `n` and time 0.
pub fn batch_of(events: &[String]) -> Batch<'static> {
    let mut batch = Batch::new();
    for (n, event) in events.iter().enumerate() {
        batch.push(event, 0, TimeSource::Event, EventId(n as u128));
    }
    batch
}

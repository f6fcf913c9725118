//! The sample event a module formats before it is used, so that a setting it refuses is
//! reported at start.

use crate::event::{EventMeta, Events};

/// One sample event, for the trial call a module answers before it is used.
pub(super) fn sample_events() -> Events {
    let sample =
        r#"{"timestamp":"2026-01-01T00:00:00Z","event_type":"sluice.check","action":"check"}"#;
    let mut events = Events::default();
    let meta = EventMeta {
        offset: 0,
        len: sample.len() as u32,
        time_ms: 1_767_225_600_000,
        ingest_time: false,
        id: 0,
    };
    events.push(sample, &meta);
    events
}

//! The event as it crosses stages: parsed into chunks by the pipeline, gathered into
//! the contract's column layout (`batch` in `wit/sluice.wit`) by the batcher.

use crate::ack::Ack;

pub use crate::module::types::Enrichment;

/// One parsed event of a chunk: where its JSON lies, its time and its id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventMeta {
    pub offset: u32,
    pub len: u32,
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// No time field held a time: `time_ms` is the ingest time.
    pub ingest_time: bool,
    /// Stable across re-reads of the same line (see `pipeline::parse`).
    pub id: u128,
}

/// A run of parsed events from one read of a source, shared (behind an `Arc`) by every
/// destination. `events[i]` describes `data[offset .. offset + len]`.
#[derive(Debug)]
pub struct EventChunk {
    pub data: String,
    pub events: Vec<EventMeta>,
    pub ack: Ack,
}

impl EventChunk {
    /// The JSON text of `meta`, an event of this chunk.
    pub fn json(&self, meta: &EventMeta) -> &str {
        meta.json_in(&self.data)
    }
}

impl EventMeta {
    /// This event's JSON text in `data`, the buffer it was parsed into.
    pub fn json_in<'a>(&self, data: &'a str) -> &'a str {
        let start = self.offset as usize;
        &data[start..start + self.len as usize]
    }
}

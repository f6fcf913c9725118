//! The event as it crosses stages. Its record type is the contract's own
//! (`event-meta` in `wit/sluice.wit`), so handing a batch to a module converts nothing.

use crate::ack::Ack;

pub use crate::module::types::{Enrichment, EventMeta, TimeSource};

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
        let start = meta.offset as usize;
        &self.data[start..start + meta.len as usize]
    }
}

/// The stable id of an event as the contract carries it.
pub fn id_parts(id: u128) -> (u64, u64) {
    ((id >> 64) as u64, id as u64)
}

/// The id's text form, 32 hex digits, as the guest SDK prints it.
pub fn id_text(meta: &EventMeta) -> String {
    format!("{:016x}{:016x}", meta.id_high, meta.id_low)
}

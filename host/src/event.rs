//! The event as it crosses stages: parsed into chunks by the pipeline, gathered into
//! the contract's column layout (`batch` in `wit/sluice.wit`) by the batcher.

pub use sluice_contract::types::{Columns, Enrichment};
pub use sluice_reader::{EventMeta, from_str_unbounded};

/// A run of parsed events from one read of a source, shared (behind an `Arc`) by every
/// destination. `events[i]` describes `data[offset .. offset + len]`.
#[derive(Debug)]
pub struct EventChunk {
    pub data: String,
    pub events: Vec<EventMeta>,
}

impl EventChunk {
    /// The JSON text of `meta`, an event of this chunk.
    pub fn json(&self, meta: &EventMeta) -> &str {
        meta.json_in(&self.data)
    }
}

/// The events of a batch in the contract's layout: their JSON text back to back, which
/// a module gets by handle, and the columns it gets by value.
#[derive(Debug, Default)]
pub struct Events {
    pub text: String,
    pub columns: Columns,
}

impl Events {
    /// Empty, with room for `events` events of `text_bytes` bytes of JSON in all.
    pub fn with_capacity(events: usize, text_bytes: usize) -> Events {
        Events {
            text: String::with_capacity(text_bytes),
            columns: Columns {
                ends: Vec::with_capacity(events),
                times_ms: Vec::with_capacity(events),
                ingest_times: Vec::new(),
                ids_high: Vec::with_capacity(events),
                ids_low: Vec::with_capacity(events),
            },
        }
    }

    pub fn len(&self) -> usize {
        self.columns.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.ends.is_empty()
    }

    /// Appends an event; `meta`'s offset and length are those of its old place, unused.
    pub fn push(&mut self, json: &str, meta: &EventMeta) {
        let columns = &mut self.columns;
        if meta.ingest_time {
            columns.ingest_times.push(columns.ends.len() as u32);
        }
        self.text.push_str(json);
        columns.ends.push(self.text.len() as u32);
        columns.times_ms.push(meta.time_ms);
        columns.ids_high.push((meta.id >> 64) as u64);
        columns.ids_low.push(meta.id as u64);
    }

    pub fn json(&self, index: usize) -> &str {
        let (start, end) = self.bounds(index);
        &self.text[start as usize..end as usize]
    }

    pub fn meta(&self, index: usize) -> EventMeta {
        let columns = &self.columns;
        let (start, end) = self.bounds(index);
        EventMeta {
            offset: start,
            len: end - start,
            time_ms: columns.times_ms[index],
            ingest_time: columns.ingest_times.binary_search(&(index as u32)).is_ok(),
            id: (u128::from(columns.ids_high[index]) << 64) | u128::from(columns.ids_low[index]),
        }
    }

    /// A copy of the events at `indices`, in that order.
    pub fn subset(&self, indices: impl IntoIterator<Item = u32>) -> Events {
        let mut part = Events::default();
        for index in indices {
            let meta = self.meta(index as usize);
            part.push(meta.json_in(&self.text), &meta);
        }
        part
    }

    /// Where event `index`'s JSON starts and ends in `text`.
    fn bounds(&self, index: usize) -> (u32, u32) {
        let ends = &self.columns.ends;
        let start = if index == 0 { 0 } else { ends[index - 1] };
        (start, ends[index])
    }
}

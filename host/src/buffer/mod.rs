//! Per-destination batching: events from every source are gathered into batches that
//! close on max events, max bytes or max wait, whichever comes first.
//!
//! The queue in front of a batcher is bounded (in chunks), so a destination that
//! cannot keep up slows its sources rather than growing memory. The disk spool and the
//! drop-oldest policy of reliable delivery will sit here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ack::Ack;
use crate::event::{Enrichment, EventChunk, EventMeta};
use crate::module::types;

/// A closed batch: the events in the contract's layout, and the acks of their chunks.
#[derive(Debug)]
pub struct Batch {
    pub content: types::Batch,
    pub acks: Vec<Ack>,
}

/// When batches close.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

/// The contract's batch, read and written by event. (A trait because the type is
/// generated from the WIT.)
pub trait Columns {
    fn with_enrichment(enrichment: Enrichment) -> Self;
    fn event_count(&self) -> usize;
    /// Appends an event; `meta`'s offset and length are those of its old place, unused.
    fn push_event(&mut self, json: &str, meta: &EventMeta);
    fn event_json(&self, index: usize) -> &str;
    fn event_meta(&self, index: usize) -> EventMeta;
}

impl Columns for types::Batch {
    fn with_enrichment(enrichment: Enrichment) -> Self {
        types::Batch {
            data: String::new(),
            ends: Vec::new(),
            times_ms: Vec::new(),
            ingest_times: Vec::new(),
            ids_high: Vec::new(),
            ids_low: Vec::new(),
            enrichment,
        }
    }

    fn event_count(&self) -> usize {
        self.ends.len()
    }

    fn push_event(&mut self, json: &str, meta: &EventMeta) {
        if meta.ingest_time {
            self.ingest_times.push(self.ends.len() as u32);
        }
        self.data.push_str(json);
        self.ends.push(self.data.len() as u32);
        self.times_ms.push(meta.time_ms);
        self.ids_high.push((meta.id >> 64) as u64);
        self.ids_low.push(meta.id as u64);
    }

    fn event_json(&self, index: usize) -> &str {
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        &self.data[start..self.ends[index] as usize]
    }

    fn event_meta(&self, index: usize) -> EventMeta {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        EventMeta {
            offset: start,
            len: self.ends[index] - start,
            time_ms: self.times_ms[index],
            ingest_time: self.ingest_times.binary_search(&(index as u32)).is_ok(),
            id: (u128::from(self.ids_high[index]) << 64) | u128::from(self.ids_low[index]),
        }
    }
}

/// A copy of the events at `indices` of `batch`, in that order.
pub fn subset(batch: &types::Batch, indices: impl IntoIterator<Item = u32>) -> types::Batch {
    let mut part = types::Batch::with_enrichment(batch.enrichment.clone());
    for index in indices {
        part.push_event(
            batch.event_json(index as usize),
            &batch.event_meta(index as usize),
        );
    }
    part
}

/// Gathers chunks into batches until the input closes, then sends what it holds.
pub async fn run_batcher(
    mut input: mpsc::Receiver<Arc<EventChunk>>,
    limits: BatchLimits,
    enrichment: Enrichment,
    output: mpsc::Sender<Batch>,
) {
    let empty = || Batch {
        content: types::Batch::with_enrichment(enrichment.clone()),
        acks: Vec::new(),
    };
    let mut current = empty();
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            chunk = input.recv() => {
                let Some(chunk) = chunk else { break };
                for meta in &chunk.events {
                    let full = current.content.event_count() >= limits.max_events
                        || (current.content.event_count() > 0
                            && current.content.data.len() + meta.len as usize > limits.max_bytes);
                    if full {
                        deadline = None;
                        if output.send(std::mem::replace(&mut current, empty())).await.is_err() {
                            return;
                        }
                    }
                    if current.content.event_count() == 0 {
                        deadline = Some(Instant::now() + limits.max_wait);
                    }
                    current.content.push_event(chunk.json(meta), meta);
                    if !current.acks.last().is_some_and(|ack| ack.same_chunk(&chunk.ack)) {
                        current.acks.push(chunk.ack.clone());
                    }
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                deadline = None;
                if output.send(std::mem::replace(&mut current, empty())).await.is_err() {
                    return;
                }
            }
        }
    }
    if current.content.event_count() > 0 {
        let _ = output.send(current).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

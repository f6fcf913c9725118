//! Per-destination batching: events from every source are gathered into batches that
//! close on max events, max bytes or max wait, whichever comes first.
//!
//! The queue in front of a batcher ([`queue`]) is bounded in bytes, so a destination
//! that cannot keep up slows its sources rather than growing memory.

mod queue;

pub use queue::{QueueReceiver, QueueSender, Refused, memory_queue};

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ack::Ack;
use crate::event::EventMeta;
use crate::module::types;

/// A closed batch: its events, and the acks of their chunks.
#[derive(Debug)]
pub struct Batch {
    pub events: Events,
    pub acks: Vec<Ack>,
}

/// When batches close.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

/// The events of a batch in the contract's layout: their JSON text back to back, which
/// a module gets by handle, and the columns it gets by value.
#[derive(Debug, Default)]
pub struct Events {
    pub text: String,
    pub columns: types::Batch,
}

#[allow(clippy::derivable_impls, reason = "the type is generated from the WIT")]
impl Default for types::Batch {
    fn default() -> Self {
        types::Batch {
            ends: Vec::new(),
            times_ms: Vec::new(),
            ingest_times: Vec::new(),
            ids_high: Vec::new(),
            ids_low: Vec::new(),
        }
    }
}

impl Events {
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

/// Gathers chunks into batches until the input closes, then sends what it holds.
pub async fn run_batcher(
    mut input: QueueReceiver,
    limits: BatchLimits,
    output: mpsc::Sender<Batch>,
) {
    let empty = || Batch {
        events: Events::default(),
        acks: Vec::new(),
    };
    let mut current = empty();
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            queued = input.pop() => {
                let Some(queued) = queued else { break };
                let chunk = &queued.chunk;
                for meta in &chunk.events {
                    let events = &current.events;
                    let full = events.len() >= limits.max_events
                        || (!events.is_empty()
                            && events.text.len() + meta.len as usize > limits.max_bytes);
                    if full {
                        deadline = None;
                        if output.send(std::mem::replace(&mut current, empty())).await.is_err() {
                            return;
                        }
                    }
                    if current.events.is_empty() {
                        deadline = Some(Instant::now() + limits.max_wait);
                    }
                    current.events.push(chunk.json(meta), meta);
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
    if !current.events.is_empty() {
        let _ = output.send(current).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

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

/// A copy of the events at `indices` of `batch`, in that order.
pub fn subset(batch: &types::Batch, indices: impl IntoIterator<Item = u32>) -> types::Batch {
    let mut part = types::Batch {
        data: String::new(),
        events: Vec::new(),
        enrichment: batch.enrichment.clone(),
    };
    for index in indices {
        let meta = &batch.events[index as usize];
        push(&mut part, json(batch, meta), meta);
    }
    part
}

/// The JSON text of `meta`, an event of `batch`.
pub fn json<'a>(batch: &'a types::Batch, meta: &EventMeta) -> &'a str {
    let start = meta.offset as usize;
    &batch.data[start..start + meta.len as usize]
}

fn push(batch: &mut types::Batch, json: &str, meta: &EventMeta) {
    let offset = batch.data.len() as u32;
    batch.data.push_str(json);
    batch.events.push(EventMeta { offset, ..*meta });
}

/// Gathers chunks into batches until the input closes, then sends what it holds.
pub async fn run_batcher(
    mut input: mpsc::Receiver<Arc<EventChunk>>,
    limits: BatchLimits,
    enrichment: Enrichment,
    output: mpsc::Sender<Batch>,
) {
    let empty = || Batch {
        content: types::Batch {
            data: String::new(),
            events: Vec::new(),
            enrichment: enrichment.clone(),
        },
        acks: Vec::new(),
    };
    let mut current = empty();
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            chunk = input.recv() => {
                let Some(chunk) = chunk else { break };
                for meta in &chunk.events {
                    let full = current.content.events.len() >= limits.max_events
                        || (!current.content.events.is_empty()
                            && current.content.data.len() + meta.len as usize > limits.max_bytes);
                    if full {
                        deadline = None;
                        if output.send(std::mem::replace(&mut current, empty())).await.is_err() {
                            return;
                        }
                    }
                    if current.content.events.is_empty() {
                        deadline = Some(Instant::now() + limits.max_wait);
                    }
                    push(&mut current.content, chunk.json(meta), meta);
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
    if !current.content.events.is_empty() {
        let _ = output.send(current).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

//! Per-destination batching: events from every source are gathered into batches that
//! close on max events, max bytes or max wait, whichever comes first.
//!
//! The queue in front of a batcher ([`queue`]) is bounded in bytes and events, so a
//! destination that cannot keep up slows its sources (or drops, as configured) rather
//! than growing memory.

mod queue;
mod select;

#[cfg(test)]
pub use queue::Queued;
pub use queue::{QueueGauge, QueueLimits, QueueReceiver, QueueSender, Refused, memory_queue};
pub use select::Selection;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ack::Ack;
use crate::event::Events;

/// A closed batch: its events, and the acks of their chunks.
#[derive(Debug)]
pub struct Batch {
    pub events: Events,
    pub acks: Vec<Ack>,
}

/// How long a batch waits for more events, unless its destination says.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(1);
/// The same for an object store, where a batch is an object: objects of five minutes,
/// not thousands a day of a few events each.
pub const OBJECT_MAX_WAIT: Duration = Duration::from_secs(300);

/// When batches close.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

impl BatchLimits {
    /// A destination's `batch` settings, else its module's defaults (`module`), else
    /// a wait of `default_wait`.
    pub fn configured(
        batch: &crate::config::BatchConfig,
        module: sluice_contract::types::BatchLimits,
        default_wait: Duration,
    ) -> BatchLimits {
        BatchLimits {
            max_events: batch.max_events.unwrap_or(module.max_events).max(1) as usize,
            max_bytes: batch.max_bytes.unwrap_or(module.max_bytes).max(1) as usize,
            max_wait: batch.max_wait.unwrap_or(default_wait),
        }
    }

    /// Whether a batch of `events` events and `bytes` bytes is closed before an event of
    /// `next` bytes (a single larger event makes a batch alone).
    pub fn full_before(&self, events: usize, bytes: usize, next: usize) -> bool {
        events >= self.max_events || (events > 0 && bytes + next > self.max_bytes)
    }
}

/// Gathers the events `selection` takes into batches until the input closes, then
/// sends what it holds. An event not taken is settled with its chunk.
pub async fn run_batcher(
    mut input: QueueReceiver,
    limits: BatchLimits,
    selection: Arc<Selection>,
    output: mpsc::Sender<Batch>,
) {
    // Each batch starts with the room the one before it took (at most the limits):
    // growing one from nothing copied its text several times over, for every
    // destination (3% of the CPU of the bench's run of three destinations).
    let empty = |before: &Events| Batch {
        events: Events::with_capacity(
            before.len().min(limits.max_events),
            before.text.len().min(limits.max_bytes),
        ),
        acks: Vec::new(),
    };
    let mut current = empty(&Events::default());
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            queued = input.pop() => {
                let Some(queued) = queued else { break };
                let chunk = &queued.chunk;
                let selector = selection.current();
                // The chunk's events before this index are in a batch (or skipped before
                // one that is): each batch's holder names the events it answers for.
                let mut covered = 0;
                for (index, meta) in (0u32..).zip(&chunk.events) {
                    if let Some(skip) = selector.as_ref().and_then(|s| s.skips(chunk.json(meta), meta.time_ms)) {
                        selection.count(skip);
                        continue;
                    }
                    let events = &current.events;
                    let full =
                        limits.full_before(events.len(), events.text.len(), meta.len as usize);
                    if full {
                        deadline = None;
                        let next = empty(&current.events);
                        if output.send(std::mem::replace(&mut current, next)).await.is_err() {
                            return;
                        }
                    }
                    if current.events.is_empty() {
                        deadline = Some(Instant::now() + limits.max_wait);
                    }
                    current.events.push(chunk.json(meta), meta);
                    match current.acks.last_mut() {
                        Some(ack) if ack.same_chunk(&queued.ack) => ack.extend_to(index + 1),
                        _ => current.acks.push(queued.ack.holder_of(covered..index + 1)),
                    }
                    covered = index + 1;
                }
                // Events skipped at the chunk's end go with its last batch, if still open.
                if let Some(ack) = current.acks.last_mut().filter(|ack| ack.same_chunk(&queued.ack)) {
                    ack.extend_to(chunk.events.len() as u32);
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                deadline = None;
                let next = empty(&current.events);
                if output.send(std::mem::replace(&mut current, next)).await.is_err() {
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

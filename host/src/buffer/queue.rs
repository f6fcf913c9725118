//! The queue in front of a destination's batcher: chunks shared with the other
//! destinations, bounded by the bytes they hold rather than by their number, so a
//! destination that falls behind holds a known amount of memory whatever the size of
//! the reads. Memory only, today; the disk spool and the overflow policies of
//! reliable delivery take this place.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::event::EventChunk;

/// A chunk in a queue, holding its share of the queue's bytes until the batcher is
/// done with it.
#[derive(Debug)]
pub struct Queued {
    pub chunk: Arc<EventChunk>,
    _room: OwnedSemaphorePermit,
}

/// The sending side, held by the pipeline.
#[derive(Debug, Clone)]
pub struct QueueSender {
    chunks: mpsc::UnboundedSender<Queued>,
    room: Arc<Semaphore>,
    max_bytes: u32,
}

/// The receiving side, held by the batcher.
#[derive(Debug)]
pub struct QueueReceiver {
    chunks: mpsc::UnboundedReceiver<Queued>,
}

/// Why a chunk was not queued.
#[derive(Debug)]
pub enum Refused {
    /// No room now; [`QueueSender::push`] waits for it.
    Full,
    /// The destination has stopped taking events.
    Closed,
}

/// A queue holding at most `max_bytes` of chunks (a larger chunk alone is let in).
pub fn memory_queue(max_bytes: usize) -> (QueueSender, QueueReceiver) {
    let max_bytes = u32::try_from(max_bytes).unwrap_or(u32::MAX);
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        QueueSender {
            chunks: sender,
            room: Arc::new(Semaphore::new(max_bytes as usize)),
            max_bytes,
        },
        QueueReceiver { chunks: receiver },
    )
}

/// How full a queue is, read without holding it open.
#[derive(Debug, Clone)]
pub struct QueueGauge {
    room: Arc<Semaphore>,
    max_bytes: u32,
}

impl QueueGauge {
    /// Bytes of events waiting in the queue.
    pub fn queued_bytes(&self) -> usize {
        (self.max_bytes as usize).saturating_sub(self.room.available_permits())
    }
}

impl QueueSender {
    /// A gauge of this queue's fill.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge {
            room: self.room.clone(),
            max_bytes: self.max_bytes,
        }
    }

    /// Queues `chunk` if there is room for it now.
    pub fn try_push(&self, chunk: &Arc<EventChunk>) -> Result<(), Refused> {
        match self.room.clone().try_acquire_many_owned(self.weight(chunk)) {
            Ok(room) => self.send(chunk, room),
            Err(tokio::sync::TryAcquireError::NoPermits) => Err(Refused::Full),
            Err(tokio::sync::TryAcquireError::Closed) => Err(Refused::Closed),
        }
    }

    /// Queues `chunk`, waiting for room.
    pub async fn push(&self, chunk: &Arc<EventChunk>) -> Result<(), Refused> {
        let room = self
            .room
            .clone()
            .acquire_many_owned(self.weight(chunk))
            .await
            .map_err(|_| Refused::Closed)?;
        self.send(chunk, room)
    }

    fn send(&self, chunk: &Arc<EventChunk>, room: OwnedSemaphorePermit) -> Result<(), Refused> {
        self.chunks
            .send(Queued {
                chunk: chunk.clone(),
                _room: room,
            })
            .map_err(|_| Refused::Closed)
    }

    /// The bytes `chunk` counts for: its text, capped so that any chunk fits alone.
    fn weight(&self, chunk: &EventChunk) -> u32 {
        u32::try_from(chunk.data.len())
            .unwrap_or(u32::MAX)
            .clamp(1, self.max_bytes)
    }
}

impl QueueReceiver {
    /// The next chunk, or `None` once every sender is gone and the queue is empty.
    pub async fn pop(&mut self) -> Option<Queued> {
        self.chunks.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::Ack;

    fn chunk(bytes: usize) -> Arc<EventChunk> {
        Arc::new(EventChunk {
            data: "x".repeat(bytes),
            events: Vec::new(),
            ack: Ack::new(|| {}).into_template(),
        })
    }

    #[tokio::test]
    async fn the_queue_is_bounded_by_bytes_and_room_returns_with_each_chunk_taken() {
        let (sender, mut receiver) = memory_queue(100);
        sender.try_push(&chunk(60)).unwrap();
        assert!(matches!(sender.try_push(&chunk(60)), Err(Refused::Full)));
        sender.try_push(&chunk(40)).unwrap();
        let first = receiver.pop().await.unwrap();
        assert!(
            matches!(sender.try_push(&chunk(60)), Err(Refused::Full)),
            "held until the batcher drops it"
        );
        drop(first);
        sender.try_push(&chunk(60)).unwrap();
        // A chunk larger than the whole queue waits for an empty queue, then goes in.
        let (big_sender, _receiver) = memory_queue(10);
        big_sender.try_push(&chunk(1000)).unwrap();
    }

    #[tokio::test]
    async fn a_queue_whose_batcher_is_gone_is_closed() {
        let (sender, receiver) = memory_queue(100);
        drop(receiver);
        assert!(matches!(sender.try_push(&chunk(1)), Err(Refused::Closed)));
    }
}

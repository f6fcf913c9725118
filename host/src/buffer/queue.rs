//! The queue in front of a destination's batcher: chunks shared with the other
//! destinations, bounded by the bytes and events they hold rather than by their number,
//! so a destination that falls behind holds a known amount of memory whatever the size
//! of the reads. When it is full, the destination's `when_full` policy applies: the
//! sources wait (`block`), or the oldest or the newest events are dropped for this
//! destination only, counted, and warned about at most once per [`throttle::EVERY`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::ack::Ack;
use crate::config::WhenFull;
use crate::event::EventChunk;
use crate::metrics::{Counters, Throttle, throttle};

/// At most this many arrivals are remembered for the age of the oldest unsettled
/// event; past it the newest two are merged, keeping the older time (the age reads
/// high, never low, for those).
const MAX_ARRIVALS: usize = 4096;

/// A chunk in a queue, with the template its batches take acknowledgements from.
#[derive(Debug)]
pub struct Queued {
    pub chunk: Arc<EventChunk>,
    pub ack: Ack,
}

/// How much a queue holds, and what happens when it is full.
#[derive(Debug, Clone)]
pub struct QueueLimits {
    pub max_bytes: usize,
    pub max_events: usize,
    pub when_full: WhenFull,
}

/// The sending side, held by the pipeline (or a spool reader).
#[derive(Debug)]
pub struct QueueSender {
    shared: Arc<Shared>,
}

/// The receiving side, held by the batcher.
#[derive(Debug)]
pub struct QueueReceiver {
    shared: Arc<Shared>,
}

/// Why a chunk was not queued.
#[derive(Debug)]
pub enum Refused {
    /// No room now; [`QueueSender::push`] waits for it.
    Full,
    /// The destination has stopped taking events.
    Closed,
}

#[derive(Debug)]
struct Shared {
    destination: Arc<str>,
    limits: QueueLimits,
    state: Mutex<State>,
    /// A chunk was queued, or the last sender left.
    pushed: Notify,
    /// A chunk was taken, or the receiver left.
    popped: Notify,
    dropped: AtomicU64,
    /// Drops warned about at most once per [`throttle::EVERY`].
    drop_warnings: Throttle,
    /// Events taken into the queue (its destination's events in).
    taken: AtomicU64,
    counters: Arc<Counters>,
}

#[derive(Debug)]
struct State {
    chunks: VecDeque<Queued>,
    bytes: usize,
    events: usize,
    senders: usize,
    receiving: bool,
    /// When chunks were kept: the count of events kept once each was, and when.
    arrivals: VecDeque<(u64, Instant)>,
    /// Events kept (taken and not dropped at once by `drop_newest`): the count
    /// `arrivals` numbers events by.
    kept: u64,
    /// Events `drop_newest` dropped as they came: settled, but not the oldest.
    dropped_newest: u64,
}

/// A queue for `destination` within `limits` (a chunk larger than the whole queue is
/// let in alone); drops are added to `counters`.
pub fn memory_queue(
    destination: Arc<str>,
    limits: QueueLimits,
    counters: Arc<Counters>,
) -> (QueueSender, QueueReceiver) {
    let shared = Arc::new(Shared {
        destination,
        limits,
        state: Mutex::new(State {
            chunks: VecDeque::new(),
            bytes: 0,
            events: 0,
            senders: 1,
            receiving: true,
            arrivals: VecDeque::new(),
            kept: 0,
            dropped_newest: 0,
        }),
        pushed: Notify::new(),
        popped: Notify::new(),
        dropped: AtomicU64::new(0),
        drop_warnings: Throttle::default(),
        taken: AtomicU64::new(0),
        counters,
    });
    (
        QueueSender {
            shared: shared.clone(),
        },
        QueueReceiver { shared },
    )
}

/// How full a queue is, read without holding it open.
#[derive(Debug, Clone)]
pub struct QueueGauge {
    shared: Arc<Shared>,
}

impl QueueGauge {
    /// Bytes of events waiting in the queue.
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().bytes
    }

    /// Events waiting in the queue.
    pub fn queued_events(&self) -> usize {
        self.shared.lock().events
    }

    /// Events taken into the queue so far.
    pub fn taken(&self) -> u64 {
        self.shared.taken.load(Ordering::Relaxed)
    }

    /// Events dropped by the `when_full` policy so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// How long ago the queue took the oldest event not yet `settled` (a count of the
    /// events taken that are settled, whatever the order), if one is not. The events
    /// `drop_newest` dropped are settled without being the oldest: they do not count.
    pub fn oldest_unsettled(&self, settled: u64) -> Option<Duration> {
        let mut state = self.shared.lock();
        let settled = settled.saturating_sub(state.dropped_newest);
        while state
            .arrivals
            .front()
            .is_some_and(|&(kept, _)| kept <= settled)
        {
            state.arrivals.pop_front();
        }
        state.arrivals.front().map(|(_, at)| at.elapsed())
    }

    /// Warns of the drops since the last warning, at the end of a run, so that the
    /// warnings add up to the count.
    pub fn warn_unwarned_drops(&self) {
        let events = self.shared.drop_warnings.rest();
        if events > 0 {
            tracing::warn!(
                destination = %self.shared.destination,
                events,
                "buffer full: events dropped for this destination (counted as `dropped`) since the last warning"
            );
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    /// Counts `events` taken now and kept, under the queue's lock.
    fn taken(&self, state: &mut State, events: usize) {
        self.taken.fetch_add(events as u64, Ordering::Relaxed);
        state.kept += events as u64;
        if state.arrivals.len() == MAX_ARRIVALS {
            let (newest, _) = state.arrivals.pop_back().expect("full");
            state.arrivals.back_mut().expect("full").0 = newest;
        }
        let kept = state.kept;
        state.arrivals.push_back((kept, Instant::now()));
    }

    /// Counts `events` dropped, and warns if the last warning is old enough.
    fn dropped(&self, events: usize, policy: &str) {
        self.dropped.fetch_add(events as u64, Ordering::Relaxed);
        Counters::add(&self.counters.dropped, events);
        if let Some(events) = self.drop_warnings.due(events as u64) {
            tracing::warn!(
                destination = %self.destination,
                events,
                policy,
                "buffer full: events dropped for this destination (counted as `dropped`); the next warning comes in {:?} at the earliest, with the count since this one",
                throttle::EVERY
            );
        }
    }
}

impl State {
    fn fits(&self, limits: &QueueLimits, bytes: usize, events: usize) -> bool {
        self.chunks.is_empty()
            || (self.bytes + bytes <= limits.max_bytes && self.events + events <= limits.max_events)
    }

    fn push_back(&mut self, queued: Queued, bytes: usize) {
        self.bytes += bytes;
        self.events += queued.chunk.events.len();
        self.chunks.push_back(queued);
    }

    fn pop_front(&mut self) -> Option<Queued> {
        let queued = self.chunks.pop_front()?;
        self.bytes -= queued.chunk.data.len();
        self.events -= queued.chunk.events.len();
        Some(queued)
    }
}

impl QueueSender {
    /// A gauge of this queue's fill.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge {
            shared: self.shared.clone(),
        }
    }

    /// Queues `chunk` (acknowledged through `ack`, a template) if there is room for it
    /// now, or makes room as the policy says.
    pub fn try_push(&self, chunk: &Arc<EventChunk>, ack: &Ack) -> Result<(), Refused> {
        let shared = &self.shared;
        let mut state = shared.lock();
        if !state.receiving {
            return Err(Refused::Closed);
        }
        let (bytes, events) = (chunk.data.len(), chunk.events.len());
        if !state.fits(&shared.limits, bytes, events) {
            match shared.limits.when_full {
                WhenFull::Block => return Err(Refused::Full),
                WhenFull::DropNewest => {
                    // Offered to the destination, then dropped: in its events in, as
                    // the dropped oldest are.
                    shared.taken.fetch_add(events as u64, Ordering::Relaxed);
                    state.dropped_newest += events as u64;
                    shared.dropped(events, "drop_newest");
                    return Ok(());
                }
                WhenFull::DropOldest => {
                    let mut dropped = 0;
                    while !state.fits(&shared.limits, bytes, events) {
                        let oldest = state
                            .pop_front()
                            .expect("a queue that is full is not empty");
                        dropped += oldest.chunk.events.len();
                    }
                    shared.dropped(dropped, "drop_oldest");
                }
            }
        }
        let queued = Queued {
            chunk: chunk.clone(),
            ack: ack.share_template(),
        };
        state.push_back(queued, bytes);
        shared.taken(&mut state, events);
        drop(state);
        shared.pushed.notify_one();
        Ok(())
    }

    /// Queues `chunk`, waiting for room.
    pub async fn push(&self, chunk: &Arc<EventChunk>, ack: &Ack) -> Result<(), Refused> {
        loop {
            let popped = self.shared.popped.notified();
            tokio::pin!(popped);
            popped.as_mut().enable();
            match self.try_push(chunk, ack) {
                Err(Refused::Full) => popped.await,
                done => return done,
            }
        }
    }
}

impl Clone for QueueSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        QueueSender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for QueueSender {
    fn drop(&mut self) {
        let last = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.shared.pushed.notify_one();
        }
    }
}

impl QueueReceiver {
    /// The next chunk, or `None` once every sender is gone and the queue is empty.
    pub async fn pop(&mut self) -> Option<Queued> {
        loop {
            let pushed = self.shared.pushed.notified();
            tokio::pin!(pushed);
            pushed.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if let Some(queued) = state.pop_front() {
                    drop(state);
                    self.shared.popped.notify_waiters();
                    return Some(queued);
                }
                if state.senders == 0 {
                    return None;
                }
            }
            pushed.await;
        }
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiving = false;
        // What is still queued will never be delivered here: not safe.
        for queued in state.chunks.drain(..) {
            queued.ack.mark_unsafe();
        }
        drop(state);
        self.shared.popped.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(bytes: usize, events: usize) -> Arc<EventChunk> {
        let meta = crate::event::EventMeta {
            offset: 0,
            len: 0,
            time_ms: 0,
            ingest_time: false,
            id: 0,
        };
        Arc::new(EventChunk {
            data: "x".repeat(bytes),
            events: vec![meta; events],
        })
    }

    fn queue(max_bytes: usize, when_full: WhenFull) -> (QueueSender, QueueReceiver) {
        let limits = QueueLimits {
            max_bytes,
            max_events: 1_000,
            when_full,
        };
        memory_queue("d".into(), limits, Arc::default())
    }

    fn template() -> Ack {
        Ack::new(|| {}).into_template()
    }

    #[test]
    fn the_oldest_unsettled_age_is_the_oldest_kept_events_whatever_drop_newest_dropped() {
        let (sender, _receiver) = queue(100, WhenFull::DropNewest);
        let gauge = sender.gauge();
        let ack = template();
        sender.try_push(&chunk(60, 2), &ack).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        // Full: these five are dropped as they come, settled but not the oldest.
        sender.try_push(&chunk(60, 5), &ack).unwrap();
        assert_eq!((gauge.taken(), gauge.dropped()), (7, 5));
        let age = gauge.oldest_unsettled(5).expect("the first two wait");
        assert!(age >= Duration::from_millis(30), "{age:?}");
        // Once those two are settled too, none waits.
        assert_eq!(gauge.oldest_unsettled(7), None);
    }

    #[tokio::test]
    async fn the_queue_is_bounded_by_bytes_and_room_returns_with_each_chunk_taken() {
        let (sender, mut receiver) = queue(100, WhenFull::Block);
        let ack = template();
        sender.try_push(&chunk(60, 1), &ack).unwrap();
        assert!(matches!(
            sender.try_push(&chunk(60, 1), &ack),
            Err(Refused::Full)
        ));
        sender.try_push(&chunk(40, 1), &ack).unwrap();
        receiver.pop().await.unwrap();
        sender.try_push(&chunk(60, 1), &ack).unwrap();
        // A chunk larger than the whole queue waits for an empty queue, then goes in.
        let (big_sender, _receiver) = queue(10, WhenFull::Block);
        big_sender.try_push(&chunk(1000, 1), &ack).unwrap();
    }

    #[tokio::test]
    async fn drop_oldest_makes_room_by_dropping_the_oldest_chunks_and_counts_their_events() {
        let (sender, mut receiver) = queue(100, WhenFull::DropOldest);
        let ack = template();
        for events in [3, 4, 5] {
            sender.try_push(&chunk(40, events), &ack).unwrap();
        }
        // 120 bytes would not fit: the oldest chunk (3 events) went.
        assert_eq!(sender.gauge().dropped(), 3);
        assert_eq!(receiver.pop().await.unwrap().chunk.events.len(), 4);
        assert_eq!(receiver.pop().await.unwrap().chunk.events.len(), 5);
    }

    #[tokio::test]
    async fn drop_newest_keeps_what_is_queued_and_counts_the_chunk_refused() {
        let (sender, mut receiver) = queue(100, WhenFull::DropNewest);
        let ack = template();
        for events in [3, 4, 5] {
            sender.try_push(&chunk(40, events), &ack).unwrap();
        }
        assert_eq!(sender.gauge().dropped(), 5);
        assert_eq!(sender.gauge().queued_events(), 7);
        assert_eq!(receiver.pop().await.unwrap().chunk.events.len(), 3);
    }

    #[tokio::test]
    async fn a_queue_whose_batcher_is_gone_is_closed_and_a_waiting_push_ends() {
        let (sender, receiver) = queue(100, WhenFull::Block);
        let ack = template();
        sender.try_push(&chunk(100, 1), &ack).unwrap();
        let waiting = tokio::spawn(async move { sender.push(&chunk(1, 1), &template()).await });
        tokio::task::yield_now().await;
        drop(receiver);
        assert!(matches!(waiting.await.unwrap(), Err(Refused::Closed)));
    }

    #[tokio::test]
    async fn the_receiver_sees_the_end_once_every_sender_is_gone() {
        let (sender, mut receiver) = queue(100, WhenFull::Block);
        let other = sender.clone();
        sender.try_push(&chunk(1, 1), &template()).unwrap();
        drop(sender);
        drop(other);
        assert!(receiver.pop().await.is_some());
        assert!(receiver.pop().await.is_none());
    }
}

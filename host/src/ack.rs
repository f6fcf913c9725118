//! The acknowledgement path from destinations back to sources.
//!
//! Each chunk of events a source read gets an [`Ack`] when the pipeline routes it. Every
//! batch that takes events of the chunk holds a clone; when a batch is settled (its
//! events delivered or dead-lettered) it calls [`Ack::settle`]. When the last clone is
//! gone and every clone was settled, the chunk is *safe* and its callback runs: today it
//! counts the events settled; a file source's checkpoint and a stream source's acks
//! will hang there. A clone dropped unsettled (a batch abandoned at a shutdown deadline)
//! marks the chunk unsafe for good.
//!
//! A holder may name the events of the chunk it holds (their indexes in it): when it
//! settles, the chunk's progress callback hears which, so that a spool position can move
//! inside a record instead of waiting for the whole of it.
//!
//! A chunk of a file carries its [`Position`]: when it is safe, the file's
//! [`Watermark`] moves, but only over chunks settled without a gap, so the watermark is
//! always a byte before which every event is safe: where a checkpoint may resume.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type OnSafe = Box<dyn FnOnce() + Send + Sync>;
type OnProgress = Box<dyn Fn(Range<u32>) + Send + Sync>;

struct Chunk {
    abandoned: AtomicBool,
    on_safe: std::sync::Mutex<Option<OnSafe>>,
    on_progress: Option<OnProgress>,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if !self.abandoned.load(Ordering::Acquire)
            && let Some(on_safe) = self.on_safe.lock().expect("not poisoned").take()
        {
            on_safe();
        }
    }
}

/// One holder's share of a chunk's acknowledgement.
pub struct Ack {
    chunk: Arc<Chunk>,
    settled: bool,
    /// The events of the chunk this holder answers for, by index (empty: unnamed).
    events: Range<u32>,
}

impl Ack {
    /// A new chunk whose `on_safe` runs once every holder has settled.
    pub fn new(on_safe: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self::with(on_safe, None)
    }

    /// A new chunk whose `on_progress` hears the events each holder that names them
    /// settles, before `on_safe` runs.
    pub fn with_progress(
        on_safe: impl FnOnce() + Send + Sync + 'static,
        on_progress: impl Fn(Range<u32>) + Send + Sync + 'static,
    ) -> Self {
        Self::with(on_safe, Some(Box::new(on_progress)))
    }

    fn with(
        on_safe: impl FnOnce() + Send + Sync + 'static,
        on_progress: Option<OnProgress>,
    ) -> Self {
        Ack {
            chunk: Arc::new(Chunk {
                abandoned: AtomicBool::new(false),
                on_safe: std::sync::Mutex::new(Some(Box::new(on_safe))),
                on_progress,
            }),
            settled: false,
            events: 0..0,
        }
    }

    /// This holder is done with the chunk's events.
    pub fn settle(mut self) {
        self.settled = true;
        if let Some(on_progress) = &self.chunk.on_progress
            && !self.events.is_empty()
        {
            on_progress(self.events.clone());
        }
    }

    /// A holder that answers for the chunk's events `events` (by index).
    pub fn holder_of(&self, events: Range<u32>) -> Ack {
        Ack {
            chunk: self.chunk.clone(),
            settled: false,
            events,
        }
    }

    /// This holder answers for the events up to `end` too.
    pub fn extend_to(&mut self, end: u32) {
        self.events.end = self.events.end.max(end);
    }

    /// Turns the source's own share into a template that only hands out holders (by
    /// `clone`): the chunk is safe once every clone settles, or at once if none is made.
    pub fn into_template(mut self) -> Ack {
        self.settled = true;
        self
    }

    /// Another template of the same chunk, for one more queue to hand out holders from.
    pub fn share_template(&self) -> Ack {
        Ack {
            chunk: self.chunk.clone(),
            settled: true,
            events: 0..0,
        }
    }

    /// Makes the chunk unsafe for good: some destination will never have its events
    /// (its queue closed, or the shutdown deadline passed before it took them).
    pub fn mark_unsafe(&self) {
        self.chunk.abandoned.store(true, Ordering::Release);
    }

    /// Whether `self` and `other` belong to the same chunk.
    pub fn same_chunk(&self, other: &Ack) -> bool {
        Arc::ptr_eq(&self.chunk, &other.chunk)
    }
}

impl Clone for Ack {
    fn clone(&self) -> Self {
        Ack {
            chunk: self.chunk.clone(),
            settled: false,
            events: 0..0,
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.settled {
            self.chunk.abandoned.store(true, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ack")
            .field("settled", &self.settled)
            .finish()
    }
}

/// A point between two lines of a stream: where a reader resumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamPoint {
    /// The byte after the last line before the point.
    pub offset: u64,
    /// Lines before the point.
    pub lines: u64,
}

/// Where a chunk ends in its stream, and its place in the stream's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Chunks of one stream are numbered from 0 in the order they were read.
    pub sequence: u64,
    /// The point after the chunk's last complete line.
    pub end: StreamPoint,
}

/// How far a stream (a file) is safe: the end of the longest run of chunks, from its
/// first, that every destination has settled. Shared by the source, which issues
/// positions, and the acknowledgements, which settle them.
#[derive(Debug, Clone, Default)]
pub struct Watermark(Arc<std::sync::Mutex<Marks>>);

#[derive(Debug, Default)]
struct Marks {
    issued: u64,
    /// The sequence the watermark waits for.
    next: u64,
    safe: StreamPoint,
    /// Settled out of order, waiting for the gap before them: sequence -> end.
    early: BTreeMap<u64, StreamPoint>,
}

impl Watermark {
    /// A watermark for a stream whose first `safe` bytes were safe before it was
    /// opened (a checkpoint's).
    pub fn starting_at(safe: StreamPoint) -> Self {
        Watermark(Arc::new(std::sync::Mutex::new(Marks {
            safe,
            ..Marks::default()
        })))
    }

    /// The position of the next chunk, which ends at `end`.
    pub fn issue(&self, end: StreamPoint) -> Position {
        let mut marks = self.0.lock().expect("not poisoned");
        let sequence = marks.issued;
        marks.issued += 1;
        Position { sequence, end }
    }

    /// `position`'s chunk is safe; the new safe point, when it moved.
    pub fn settle(&self, position: Position) -> Option<StreamPoint> {
        let mut marks = self.0.lock().expect("not poisoned");
        marks.early.insert(position.sequence, position.end);
        let mut moved = None;
        loop {
            let next = marks.next;
            let Some(end) = marks.early.remove(&next) else {
                break;
            };
            marks.next += 1;
            marks.safe = end;
            moved = Some(end);
        }
        moved
    }

    /// Every event before this point is safe.
    pub fn safe(&self) -> StreamPoint {
        self.0.lock().expect("not poisoned").safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn the_watermark_moves_only_over_chunks_settled_without_a_gap() {
        let watermark = Watermark::default();
        let at = |offset| StreamPoint {
            offset,
            lines: offset / 10,
        };
        let [first, second, third] = [100, 250, 400].map(|end| watermark.issue(at(end)));
        watermark.settle(second);
        assert_eq!(watermark.safe(), at(0), "the first chunk is not safe yet");
        watermark.settle(first);
        assert_eq!(watermark.safe(), at(250));
        let fourth = watermark.issue(at(500));
        watermark.settle(fourth);
        assert_eq!(watermark.safe(), at(250), "the third is missing");
        watermark.settle(third);
        assert_eq!(watermark.safe(), at(500));
    }

    fn counted() -> (Ack, Arc<AtomicUsize>) {
        let safe = Arc::new(AtomicUsize::new(0));
        let counter = safe.clone();
        (
            Ack::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
            safe,
        )
    }

    #[test]
    fn safe_once_every_holder_settled() {
        let (ack, safe) = counted();
        let other = ack.clone();
        ack.settle();
        assert_eq!(safe.load(Ordering::SeqCst), 0);
        other.settle();
        assert_eq!(safe.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_holder_that_names_its_events_reports_them_when_it_settles() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let progress = heard.clone();
        let template = Ack::with_progress(
            || {},
            move |events: Range<u32>| progress.lock().unwrap().push((events.start, events.end)),
        )
        .into_template();
        let mut first = template.holder_of(0..2);
        first.extend_to(5);
        let second = template.holder_of(5..9);
        let unnamed = template.clone();
        drop(template);
        second.settle();
        unnamed.settle();
        assert_eq!(*heard.lock().unwrap(), [(5, 9)]);
        first.settle();
        assert_eq!(*heard.lock().unwrap(), [(5, 9), (0, 5)]);
    }

    #[test]
    fn one_abandoned_holder_makes_the_chunk_unsafe() {
        let (ack, safe) = counted();
        let abandoned = ack.clone();
        drop(abandoned);
        ack.settle();
        assert_eq!(safe.load(Ordering::SeqCst), 0);
    }
}

//! A destination's feed: reads the spool from the destination's position, in order,
//! and queues each chunk of a source the destination takes; when the destination has
//! settled a chunk, its position moves over it; as its batches settle, the position
//! moves inside it ([`Progress`]), each batch settled past it is journaled too, and a
//! chunk read again after a restart is handed out without the events settled before. A
//! reload that changes the destination points the feed at the new one's queue
//! ([`FeedTarget`]): the old one delivers what it was handed, the new one goes on from
//! the next record, none twice, none skipped.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use super::place::{Ahead, Progress, Unsettled};
use super::{Segment, Spool, read_frame};
use crate::ack::{Ack, Position, StreamPoint, Watermark};
use crate::buffer::QueueSender;
use crate::event::EventChunk;

/// The queue a feed hands chunks to, and the sources it takes: swapped by a reload.
#[derive(Debug, Clone)]
pub struct FeedTarget(Arc<std::sync::Mutex<(QueueSender, Vec<bool>)>>);

impl FeedTarget {
    /// Chunks go to `queue`, from the sources flagged in `takes` (by index).
    pub fn new(queue: QueueSender, takes: Vec<bool>) -> Self {
        FeedTarget(Arc::new(std::sync::Mutex::new((queue, takes))))
    }

    /// A handle that does not keep the queue open: once the feed ends, its queue closes
    /// (and the destination's batcher flushes) whoever holds the handle.
    pub fn handle(&self) -> FeedHandle {
        FeedHandle(Arc::downgrade(&self.0))
    }

    fn current(&self) -> (QueueSender, Vec<bool>) {
        self.0.lock().expect("not poisoned").clone()
    }
}

/// A reload's way to a running feed's target.
#[derive(Debug, Clone)]
pub struct FeedHandle(std::sync::Weak<std::sync::Mutex<(QueueSender, Vec<bool>)>>);

impl FeedHandle {
    /// From the next chunk on, to `queue` from `takes`; the queue it replaces closes
    /// once a chunk handed to it meanwhile is in. False when the feed has ended.
    pub fn replace(&self, queue: QueueSender, takes: Vec<bool>) -> bool {
        match self.0.upgrade() {
            Some(target) => {
                *target.lock().expect("not poisoned") = (queue, takes);
                true
            }
            None => false,
        }
    }
}

impl FeedHandle {
    /// From the next chunk on, from the sources flagged in `takes` (a reload changed
    /// them); false when the feed has ended.
    pub fn set_takes(&self, takes: Vec<bool>) -> bool {
        match self.0.upgrade() {
            Some(target) => {
                target.lock().expect("not poisoned").1 = takes;
                true
            }
            None => false,
        }
    }
}

/// Feeds `destination` from its position in the spool into `target`, until the spool
/// is closed and read to its end, or `stop`.
pub async fn feed(
    spool: Arc<Spool>,
    destination: Arc<str>,
    target: FeedTarget,
    stop: CancellationToken,
) -> Result<()> {
    let (watermark, progress) = spool
        .cursor(&destination)
        .with_context(|| format!("the spool has no position for destination `{destination}`"))?;
    let mut next = watermark.safe().offset;
    let mut appended = spool.appended.subscribe();
    let mut reader: Option<SegmentReader> = None;
    loop {
        if appended.borrow().next <= next {
            // Caught up: the segment is not held open while the feed waits, so that its
            // room on disk comes back if it is removed meanwhile (the spool's
            // `max_bytes` counts only the segments it has).
            reader = None;
        }
        let ready = tokio::select! {
            ready = appended.wait_for(|a| a.next > next || a.closed) => ready.map(|a| a.next > next),
            () = stop.cancelled() => return Ok(()),
        };
        if !ready.unwrap_or(false) {
            return Ok(());
        }
        // Settled records may have been removed meanwhile only if this destination had
        // settled them, which it has not: the oldest is at most `next`, unless records
        // were lost before this start (said then), gone over as settled.
        let oldest = spool.oldest();
        if oldest > next {
            go_over(&watermark, oldest);
            next = oldest;
        }
        let Some((segment, end)) = spool.locate(next) else {
            continue;
        };
        if reader.as_ref().is_none_or(|r| r.first != segment.first) {
            reader = Some(SegmentReader::open(&segment)?);
        }
        let open = reader.as_mut().expect("opened above");
        let Some(frame) = tokio::task::block_in_place(|| open.read(next))? else {
            // The segment ends before `next`: its tail was cut at start (a torn or
            // corrupt record), and the numbers go on in the next segment.
            let past = match end {
                Some(end) => end,
                // Lost at the end before this start (said then): the next record written
                // comes after them.
                None if spool.missing_at_end.contains(&next) => spool.missing_at_end.end,
                None => anyhow::bail!(
                    "spool segment {} ends before record {next}, which was written",
                    segment.path.display()
                ),
            };
            go_over(&watermark, past);
            next = past;
            continue;
        };
        let record = next;
        let position = watermark.issue(StreamPoint {
            offset: next + 1,
            lines: 0,
        });
        next += 1;
        if end == Some(next) {
            // Read to its end: not held open either.
            reader = None;
        }
        let (source, mut chunk) = match frame {
            Ok(record) => (record.source, record.chunk),
            Err(problem) => {
                // Checked when the spool was opened, so a disk that changed under it.
                let lost = end.map_or(1, |end| end + 1 - next);
                tracing::error!(segment = %segment.path.display(), problem, %destination, records_lost = lost, "spool records lost: a corrupt record; the rest of the segment is skipped");
                crate::metrics::Counters::add(&spool.counters.spool_records_lost, lost as usize);
                watermark.settle(position);
                if let Some(end) = end {
                    next = end;
                }
                reader = None;
                continue;
            }
        };
        // Delivered by an earlier run: not handed out again.
        let mut settled = progress.settled_in(record);
        let len = chunk.events.len() as u32;
        if settled.last().is_some_and(|last| last.end > len) {
            // Never true of what a run saved (a record's events do not change): not
            // trusted, so the record is sent whole, twice rather than never.
            tracing::warn!(%destination, record, events = len, "the destination's saved position says events of a spool record past its end were delivered (an edited file?); the record is sent again whole");
            progress.forget(record);
            settled.clear();
        }
        let unsettled = Unsettled::of(len, &settled);
        if !settled.is_empty() {
            chunk.events = unsettled.select(&chunk.events);
        }
        let (queue, takes) = target.current();
        let handed = Handed {
            spool: spool.clone(),
            destination: destination.clone(),
            watermark: watermark.clone(),
            progress: progress.clone(),
            record,
            unsettled,
        };
        if !queue_chunk(
            &queue,
            &takes,
            handed,
            position,
            source,
            Arc::new(chunk),
            &stop,
        )
        .await
        {
            return Ok(());
        }
    }
}

/// Settles the records up to `past` that are not in the spool (lost, and said so when it
/// was opened): nothing holds the destination's position before them.
fn go_over(watermark: &Watermark, past: u64) {
    watermark.settle(watermark.issue(StreamPoint {
        offset: past,
        lines: 0,
    }));
}

/// A record handed to a destination, and where its place is kept and journaled as the
/// record's batches settle.
struct Handed {
    spool: Arc<Spool>,
    destination: Arc<str>,
    watermark: Watermark,
    progress: Arc<Progress>,
    record: u64,
    /// The record's events in the chunk (those an earlier run settled are left out).
    unsettled: Unsettled,
}

impl Handed {
    /// Journals the destination's place if it moved.
    fn journal_place(&self) {
        if let Some(place) = self.progress.moved(self.watermark.safe().offset) {
            self.spool.moved(&self.destination, place);
        }
    }

    /// The chunk's events `events` (a batch's) are settled: journals the place if it
    /// moved, and the events if they are past it.
    fn settle_batch(&self, events: std::ops::Range<u32>) {
        for events in self.unsettled.in_record(events) {
            let whole = self.watermark.safe().offset;
            let (moved, ahead) = self
                .progress
                .settle_batch(self.record, events.clone(), whole);
            if let Some(place) = moved {
                self.spool.moved(&self.destination, place);
            }
            if ahead {
                let ahead = Ahead {
                    record: self.record,
                    events,
                };
                self.spool.settled_ahead(&self.destination, &ahead);
            }
        }
    }
}

/// Queues `chunk`, read by `source`, if the destination takes that source (else it is
/// settled at once); false when the destination stopped taking events, or `stop`. As
/// its batches settle, the place they move is journaled; once they all have, the
/// chunk's record is settled.
async fn queue_chunk(
    queue: &QueueSender,
    takes: &[bool],
    handed: Handed,
    position: Position,
    source: u32,
    chunk: Arc<EventChunk>,
    stop: &CancellationToken,
) -> bool {
    if !takes.get(source as usize).copied().unwrap_or(false) || chunk.events.is_empty() {
        handed.watermark.settle(position);
        return true;
    }
    let record = Arc::new(handed);
    let batches = record.clone();
    let ack = Ack::with_progress(
        move || {
            if record.watermark.settle(position).is_some() {
                record.journal_place();
            }
        },
        move |events| batches.settle_batch(events),
    )
    .into_template();
    // A template dropped before the queue took a holder would make the record safe,
    // undelivered (the feed stopped, or its task was dropped, while it waited for room):
    // the guard marks it unsafe first, unless the push went through.
    let unqueued = Unqueued(Some(&ack));
    let queued = tokio::select! {
        queued = queue.push(&chunk, &ack) => queued.is_ok(),
        () = stop.cancelled() => false,
    };
    if queued {
        unqueued.disarm();
    }
    queued
}

/// Marks a chunk's acknowledgement unsafe when dropped armed.
struct Unqueued<'a>(Option<&'a Ack>);

impl Unqueued<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Unqueued<'_> {
    fn drop(&mut self) {
        if let Some(ack) = self.0 {
            ack.mark_unsafe();
        }
    }
}

/// A segment read in order, record by record.
struct SegmentReader {
    first: u64,
    /// The number of the record the file is at.
    at: u64,
    /// Read without a buffer: a record is one read of its header and one of its body,
    /// straight into the chunk's buffer.
    file: File,
    name: String,
}

impl SegmentReader {
    fn open(segment: &Segment) -> Result<Self> {
        let file = File::open(&segment.path)
            .with_context(|| format!("opening spool segment {}", segment.path.display()))?;
        Ok(SegmentReader {
            first: segment.first,
            at: segment.first,
            file,
            name: segment.path.display().to_string(),
        })
    }

    /// Record `number` of this segment (skipping those before it); none when the
    /// segment ends first.
    fn read(&mut self, number: u64) -> Result<Option<super::record::Decoded>> {
        while self.at < number {
            if !self.skip()? {
                return Ok(None);
            }
        }
        self.at += 1;
        read_frame(&mut self.file).with_context(|| format!("reading spool segment {}", self.name))
    }

    /// Moves over one record; false at the end of the segment.
    fn skip(&mut self) -> Result<bool> {
        let mut header = [0u8; super::FRAME_HEADER];
        match std::io::Read::read_exact(&mut self.file, &mut header) {
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            read => read.with_context(|| format!("reading spool segment {}", self.name))?,
        }
        let header = super::Header::parse(header).context("corrupt spool frame")?;
        self.file.seek(SeekFrom::Current(header.len as i64))?;
        self.at += 1;
        Ok(true)
    }
}

//! A model test of the spool with its positions and the file checkpoint it moves: random
//! sequences of appends (a source reading a file), deliveries settled in any order and
//! in parts, commits, crashes (`kill -9`, some in the middle of a write) and power cuts
//! (the kernel having written back some unforced pages in its own order, or none) with
//! restarts, and disk faults (a write that fails after part of it, a sync that
//! fails, a disk that fills up: [`faults`]), run against the real spool in a temporary
//! directory and checked against what a simple model says:
//!
//! - nothing is invented: every event delivered was read;
//! - nothing is lost: at the end, every event read was delivered;
//! - after a crash, no event the destination had settled is delivered again (whole
//!   records, and the batches of the others, settled in order or not: only those in
//!   flight come again), and the source reads again nothing the spool holds;
//! - a crash mid-write is a cut record, never a loss (`spool_records_lost` stays 0);
//! - a power cut loses only what no checkpoint counted on: the source reads it again
//!   (the spool is forced to disk before a checkpoint is written that counts on it), and
//!   no destination's position is lost past its last commit.
//!
//! A failed sync leaves the data in the page cache here; a kernel that drops the pages
//! of a failed sync (and reports success at the next one) is not modelled.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tokio_util::sync::CancellationToken;

use super::{FeedTarget, ReadTo, Spool, feed};
use crate::ack::StreamPoint;
use crate::buffer::{QueueLimits, QueueReceiver, Queued, memory_queue};
use crate::config::{Fsync, SpoolConfig, WhenFull};
use crate::event::{EventChunk, EventMeta};
use crate::metrics::Counters;
use crate::persist::FileId;
use crate::persist::disk::faults::{self, Fault, WriteBack};

#[derive(Debug, Clone)]
enum Op {
    /// The source reads this many events and spools them as one chunk.
    Append(u8),
    /// The destination settles the parts it holds, takes up to this many chunks, and
    /// settles them in two parts each (the last taken first when `reverse`).
    Deliver { chunks: u8, reverse: bool },
    /// The destination takes a chunk and settles its first events, up to this many
    /// (one batch of a record delivered, the next still in flight); it holds the rest.
    DeliverPart(u8),
    /// Positions and the checkpoint written, settled segments removed.
    Commit,
    /// `kill -9`, with a torn frame at the end of the spool when `torn` (a crash in the
    /// middle of a write), then a restart.
    Crash { torn: bool },
    /// The disk fails the next write or sync, or fills up.
    Fault(Fault),
    /// The disk has room again.
    Room,
    /// The power goes: the disk keeps what was forced, and what the kernel had written
    /// back of the rest in its own order; then a restart.
    PowerCut(WriteBack),
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (0usize..40).prop_map(|written| Fault::Write { written }),
        Just(Fault::Sync),
        (0u64..300).prop_map(|room| Fault::Full { room }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..6).prop_map(Op::Append),
        3 => (1u8..4, any::<bool>()).prop_map(|(chunks, reverse)| Op::Deliver { chunks, reverse }),
        2 => (1u8..5).prop_map(Op::DeliverPart),
        1 => Just(Op::Commit),
        1 => any::<bool>().prop_map(|torn| Op::Crash { torn }),
        1 => fault().prop_map(Op::Fault),
        1 => Just(Op::Room),
        1 => prop_oneof![Just(WriteBack::None), any::<u64>().prop_map(WriteBack::Some)]
            .prop_map(Op::PowerCut),
    ]
}

const DESTINATION: &str = "d";

fn file() -> FileId {
    FileId::from_bytes([9; 16])
}

/// Events `from..to` of the file: `{"n":k}`, one per line.
fn chunk(from: u64, to: u64) -> EventChunk {
    let mut data = String::new();
    let mut events = Vec::new();
    for n in from..to {
        let text = format!("{{\"n\":{n}}}");
        events.push(EventMeta {
            offset: data.len() as u32,
            len: text.len() as u32,
            time_ms: 0,
            ingest_time: false,
            id: u128::from(n),
        });
        data.push_str(&text);
    }
    EventChunk { data, events }
}

/// What survives a crash: what the last commit wrote of the file's checkpoint, and the
/// spool records it counted on.
#[derive(Default)]
struct Checkpoint {
    offset: u64,
    counted_through: u64,
}

/// A running spool with its destination's feed.
struct Running {
    spool: Arc<Spool>,
    queue: QueueReceiver,
    stop: CancellationToken,
    feed: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn start(
        dir: &std::path::Path,
        saved: &Checkpoint,
        counters: &Arc<Counters>,
    ) -> (Running, u64) {
        let config = SpoolConfig {
            enabled: Some(true),
            max_bytes: 1 << 30,
            // Small: appends roll segments, commits remove them.
            segment_bytes: 256,
            // Forced by the commits alone (the interval's task does not run here).
            fsync: Fsync::Every(Duration::from_secs(3600)),
        };
        let (spool, reads) = Spool::open(
            dir,
            &config,
            &[Arc::from(DESTINATION)],
            saved.counted_through,
            counters.clone(),
        )
        .unwrap();
        let spool = Arc::new(spool);
        // The file resumes at its checkpoint, moved up to what the spool holds.
        let resume = reads
            .get(&file())
            .map_or(saved.offset, |point| point.offset.max(saved.offset));
        let limits = QueueLimits {
            max_bytes: 1 << 20,
            max_events: 1 << 20,
            when_full: WhenFull::Block,
        };
        let (sender, queue) = memory_queue(DESTINATION.into(), limits, counters.clone());
        let stop = CancellationToken::new();
        let target = FeedTarget::new(sender, vec![true]);
        let feed = tokio::spawn(feed(
            spool.clone(),
            DESTINATION.into(),
            target,
            stop.clone(),
        ));
        let running = Running {
            spool,
            queue,
            stop,
            feed,
        };
        (running, resume)
    }

    /// The next chunk the feed queued, if one comes soon.
    async fn next(&mut self) -> Option<Queued> {
        tokio::time::timeout(Duration::from_millis(20), self.queue.pop())
            .await
            .ok()
            .flatten()
    }

    /// Stops as `kill -9` would: nothing more is written.
    async fn kill(self) {
        self.stop.cancel();
        self.feed.abort();
        let _ = self.feed.await;
    }
}

/// Events of a chunk a batch holds: its holder, and the events' numbers.
struct Part {
    holder: crate::ack::Ack,
    events: Vec<u64>,
}

impl Part {
    fn settle(self, delivered: &mut Vec<u64>) {
        delivered.extend(self.events);
        self.holder.settle();
    }
}

/// Splits a queued chunk into batches' parts: events before `at`, and the rest.
fn split(queued: Queued, at: usize) -> Vec<Part> {
    let numbers: Vec<u64> = queued.chunk.events.iter().map(|m| m.id as u64).collect();
    let at = at.min(numbers.len());
    [0..at, at..numbers.len()]
        .into_iter()
        .filter(|range| !range.is_empty())
        .map(|range| Part {
            holder: queued.ack.holder_of(range.start as u32..range.end as u32),
            events: numbers[range].to_vec(),
        })
        .collect()
}

/// The events before `place`, as the model saw them written.
fn settled_events(
    records: &BTreeMap<u64, (u64, u64)>,
    place: super::Place,
) -> impl Iterator<Item = u64> + '_ {
    let whole = records
        .range(..place.record)
        .flat_map(|(_, &(from, to))| from..to);
    let started = records
        .get(&place.record)
        .map(|&(from, to)| from..(from + u64::from(place.events)).min(to));
    whole.chain(started.into_iter().flatten())
}

fn check_not_again(events: &[u64], never_again: &HashSet<u64>) {
    assert!(
        events.iter().all(|n| !never_again.contains(n)),
        "{events:?} were settled before a crash, and came again"
    );
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let counters = Arc::new(Counters::default());
    let mut saved = Checkpoint::default();
    faults::install(dir.path());
    let (mut running, mut read_to) = Running::start(&spool_dir, &saved, &counters);
    // Record number -> the events it holds, for every record written: a number is
    // never given twice.
    let mut records: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut read: BTreeSet<u64> = BTreeSet::new();
    let mut delivered: Vec<u64> = Vec::new();
    // Events a destination had settled before a crash: never delivered again (unless a
    // power cut made the source read them again).
    let mut never_again: HashSet<u64> = HashSet::new();
    // Where in `delivered` the events settled since the journal last lost lines (a
    // power cut, a crash while a fault may have stopped it) begin: each is journaled
    // as it settles, in order or not, so a crash sends none of them again.
    let mut journaled_from = 0;
    // Parts of chunks taken and not yet settled.
    let mut held: Vec<Part> = Vec::new();
    // The destination's place when the last commit saved it, and whether a fault may
    // have stopped its journal since (a crash then goes back to the commit's place).
    let mut committed = super::Place::default();
    let mut faulted = false;
    let mut full = false;
    let mut disturbed = false;
    for op in ops {
        match op {
            Op::Append(count) => {
                let to = read_to + u64::from(count);
                let read_point = ReadTo {
                    file: file(),
                    point: StreamPoint {
                        offset: to,
                        lines: to,
                    },
                };
                let number = running.spool.written();
                // A source waits while the disk fails; this one gives up after a moment
                // and reads the chunk again at the next append.
                let give_up = CancellationToken::new();
                let waited = give_up.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    waited.cancel();
                });
                let appended = running
                    .spool
                    .append(0, &chunk(read_to, to), Some(read_point), &give_up)
                    .await;
                if !appended {
                    continue;
                }
                assert!(
                    records.insert(number, (read_to, to)).is_none(),
                    "record number {number} given twice"
                );
                read.extend(read_to..to);
                read_to = to;
            }
            Op::Deliver { chunks, reverse } => {
                let mut taken = Vec::new();
                for _ in 0..chunks {
                    match running.next().await {
                        Some(queued) => taken.push(queued),
                        None => break,
                    }
                }
                let mut parts = std::mem::take(&mut held);
                for queued in taken {
                    let half = queued.chunk.events.len() / 2;
                    parts.extend(split(queued, half));
                }
                if reverse {
                    parts.reverse();
                }
                for part in parts {
                    check_not_again(&part.events, &never_again);
                    part.settle(&mut delivered);
                }
            }
            Op::DeliverPart(first) => {
                if let Some(queued) = running.next().await {
                    let mut parts = split(queued, usize::from(first)).into_iter();
                    let part = parts.next().expect("a chunk has events");
                    check_not_again(&part.events, &never_again);
                    part.settle(&mut delivered);
                    held.extend(parts);
                }
            }
            Op::Commit => {
                // As `Persisted::commit`: positions, removal, then the spool forced
                // before the checkpoint that counts on it is written.
                let place = running.spool.place(DESTINATION).unwrap();
                let positions = running.spool.save_positions(true);
                running.spool.reclaim();
                // The source's safe point is what it spooled; the mark is read after it.
                let checkpoint = Checkpoint {
                    offset: read_to,
                    counted_through: running.spool.written(),
                };
                if positions.is_ok() {
                    committed = place;
                    // Unless a fault waits still (the commit had nothing new to write).
                    faulted = full || faults::armed();
                }
                if positions.is_ok() && running.spool.sync().is_ok() {
                    saved = checkpoint;
                }
            }
            Op::Fault(fault) => {
                faults::arm(fault);
                faulted = true;
                disturbed = true;
                full |= matches!(fault, Fault::Full { .. });
            }
            Op::Room => {
                faults::clear();
                full = false;
            }
            Op::PowerCut(write_back) => {
                // Only what the last commit saved of the position is sure to be on disk
                // (journal lines a crash kept in the page cache go with the power).
                never_again = settled_events(&records, committed).collect();
                journaled_from = delivered.len();
                held.clear();
                running.kill().await;
                faults::power_cut(write_back);
                let (restarted, resume) = Running::start(&spool_dir, &saved, &counters);
                assert!(resume <= read_to, "the source resumes past what it read");
                // What was not on disk is read again, in records numbered anew; the
                // events delivered of it may come again.
                records.retain(|_, &mut (from, _)| from < resume);
                never_again.retain(|&n| n < resume);
                running = restarted;
                read_to = resume;
                disturbed = true;
            }
            Op::Crash { torn } => {
                let place = match faulted {
                    true => committed,
                    false => running.spool.place(DESTINATION).unwrap(),
                };
                never_again.extend(settled_events(&records, place));
                match faulted {
                    true => journaled_from = delivered.len(),
                    false => never_again.extend(&delivered[journaled_from..]),
                }
                // What the batches in flight held is sent again.
                held.clear();
                running.kill().await;
                if torn {
                    let mut segments: Vec<_> = std::fs::read_dir(&spool_dir)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
                        .collect();
                    segments.sort();
                    if let Some(last) = segments.last() {
                        // A frame header, and part of a body.
                        let mut file = std::fs::OpenOptions::new().append(true).open(last).unwrap();
                        file.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, b'{']).unwrap();
                    }
                }
                let (restarted, resume) = Running::start(&spool_dir, &saved, &counters);
                // After a fault (a chunk kept out of the spool once its record before was
                // settled and removed) or a power cut (a gap it left, past which read
                // points are not trusted, until its segment goes), the source may read
                // again from its checkpoint: sent again, not lost.
                match disturbed {
                    false => assert_eq!(
                        resume, read_to,
                        "the source resumes after the last record spooled, not before"
                    ),
                    true => assert!(resume <= read_to, "the source resumes past what it read"),
                }
                records.retain(|_, &mut (from, _)| from < resume);
                never_again.retain(|&n| n < resume);
                running = restarted;
                read_to = resume;
            }
        }
    }
    // Drain: the disk works again, the source reads what a power cut made it read
    // again, and the destination takes everything left. (A record is settled when the
    // feed's share of its acknowledgement goes too, a moment after the delivery.)
    faults::clear();
    let file_end = read.last().map_or(0, |&n| n + 1);
    if read_to < file_end {
        let all = CancellationToken::new();
        assert!(
            running
                .spool
                .append(0, &chunk(read_to, file_end), None, &all)
                .await
        );
    }
    for part in std::mem::take(&mut held) {
        check_not_again(&part.events, &never_again);
        part.settle(&mut delivered);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while running.spool.pending(DESTINATION) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed hands out what is pending"
        );
        let Ok(queued) = tokio::time::timeout(Duration::from_millis(50), running.queue.pop()).await
        else {
            continue;
        };
        for part in split(queued.expect("the queue is open"), usize::MAX) {
            check_not_again(&part.events, &never_again);
            part.settle(&mut delivered);
        }
    }
    running.kill().await;
    faults::uninstall();
    let delivered_set: BTreeSet<u64> = delivered.iter().copied().collect();
    assert!(delivered_set.is_subset(&read), "nothing invented");
    assert_eq!(delivered_set, read, "nothing lost");
    assert_eq!(Counters::get(&counters.spool_records_lost), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_spool_loses_nothing_and_sends_again_only_what_was_in_flight(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(ops));
    }
}

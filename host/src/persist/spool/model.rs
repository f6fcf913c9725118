//! A model test of the spool with its positions and the file checkpoint it moves: random
//! sequences of appends (a source reading a file), deliveries settled in any order,
//! commits, and crashes (`kill -9`, some in the middle of a write) with restarts, run
//! against the real spool in a temporary directory and checked against what a simple
//! model says:
//!
//! - nothing is invented: every event delivered was read;
//! - nothing is lost: at the end, every event read was delivered;
//! - after a crash, no event of a record the destination had settled (its position) is
//!   delivered again, and the source reads again nothing the spool holds;
//! - a crash mid-write is a cut record, never a loss (`spool_records_lost` stays 0).

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

#[derive(Debug, Clone)]
enum Op {
    /// The source reads this many events and spools them as one chunk.
    Append(u8),
    /// The destination takes up to this many chunks, and settles them (the last taken
    /// first when `reverse`).
    Deliver { chunks: u8, reverse: bool },
    /// Positions and the checkpoint written, settled segments removed.
    Commit,
    /// `kill -9`, with a torn frame at the end of the spool when `torn` (a crash in the
    /// middle of a write), then a restart.
    Crash { torn: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..6).prop_map(Op::Append),
        3 => (1u8..4, any::<bool>()).prop_map(|(chunks, reverse)| Op::Deliver { chunks, reverse }),
        1 => Just(Op::Commit),
        1 => any::<bool>().prop_map(|torn| Op::Crash { torn }),
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
struct Disk {
    checkpoint: u64,
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
    fn start(dir: &std::path::Path, disk: &Disk, counters: &Arc<Counters>) -> (Running, u64) {
        let config = SpoolConfig {
            enabled: Some(true),
            max_bytes: 1 << 30,
            // Small: appends roll segments, commits remove them.
            segment_bytes: 256,
            fsync: Fsync::Never,
        };
        let (spool, reads) = Spool::open(
            dir,
            &config,
            &[Arc::from(DESTINATION)],
            disk.counted_through,
            counters.clone(),
        )
        .unwrap();
        let spool = Arc::new(spool);
        // The file resumes at its checkpoint, moved up to what the spool holds.
        let resume = reads
            .get(&file())
            .map_or(disk.checkpoint, |point| point.offset.max(disk.checkpoint));
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

fn settle(queued: Queued, delivered: &mut Vec<u64>) {
    delivered.extend(queued.chunk.events.iter().map(|meta| meta.id as u64));
    let holder = queued.ack.clone();
    drop(queued.ack);
    holder.settle();
}

/// The events of the records before `position`, as the model saw them written.
fn settled_events(
    records: &BTreeMap<u64, (u64, u64)>,
    position: u64,
) -> impl Iterator<Item = u64> + '_ {
    records
        .range(..position)
        .flat_map(|(_, &(from, to))| from..to)
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let counters = Arc::new(Counters::default());
    let mut disk = Disk::default();
    let (mut running, mut read_to) = Running::start(&spool_dir, &disk, &counters);
    // Record number -> the events it holds, for every record written: a number is
    // never given twice.
    let mut records: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut read: BTreeSet<u64> = BTreeSet::new();
    let mut delivered: Vec<u64> = Vec::new();
    // Events a destination had settled in order before a crash: never delivered again.
    let mut never_again: HashSet<u64> = HashSet::new();
    let give_up = CancellationToken::new();
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
                let appended = running
                    .spool
                    .append(0, &chunk(read_to, to), Some(read_point), &give_up)
                    .await;
                assert!(appended);
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
                if reverse {
                    taken.reverse();
                }
                for queued in taken {
                    let events: Vec<u64> =
                        queued.chunk.events.iter().map(|m| m.id as u64).collect();
                    assert!(
                        events.iter().all(|n| !never_again.contains(n)),
                        "{events:?} were settled before a crash, and came again"
                    );
                    settle(queued, &mut delivered);
                }
            }
            Op::Commit => {
                running.spool.reclaim();
                running.spool.save_positions(false).unwrap();
                // The source's safe point is what it spooled; the mark is read after it.
                disk.checkpoint = read_to;
                disk.counted_through = running.spool.written();
            }
            Op::Crash { torn } => {
                let position = running.spool.watermark(DESTINATION).unwrap().safe().offset;
                never_again.extend(settled_events(&records, position));
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
                let (restarted, resume) = Running::start(&spool_dir, &disk, &counters);
                assert_eq!(
                    resume, read_to,
                    "the source resumes after the last record spooled, not before"
                );
                running = restarted;
                read_to = resume;
            }
        }
    }
    // Drain: the destination takes everything left. (A record is settled when the
    // feed's share of its acknowledgement goes too, a moment after the delivery.)
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
        let queued = queued.expect("the queue is open");
        assert!(
            queued
                .chunk
                .events
                .iter()
                .all(|m| !never_again.contains(&(m.id as u64))),
            "an event settled before a crash came again"
        );
        settle(queued, &mut delivered);
    }
    running.kill().await;
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

//! The spool: a write-ahead log of the chunks sources read, on disk before the source
//! moves its checkpoint, read by every destination at its own pace, and removed a
//! segment at a time once every destination has settled the segment's events.
//!
//! One log for all destinations, with one position each (`positions.json`), not one
//! copy per destination. Records are numbered from 0 for the life of the spool;
//! a segment file is named by the number of its first record. On open, every segment
//! is read through and checked, never a refusal to start: a torn record past what the
//! last checkpoints counted on (a crash mid-write) is cut off with a WARN, and its source
//! reads it again; a record missing or damaged below it, that a destination had not
//! settled (a disk that lost it, a segment deleted by hand), is lost: said at ERROR and
//! counted (`spool_records_lost`), and the run ends with exit code 3.

mod feed;
#[cfg(test)]
mod model;
mod place;
mod positions;
mod record;

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use feed::{FeedHandle, FeedTarget, feed};
pub use record::ReadTo;

use crate::ack::{StreamPoint, Watermark};
use crate::config::{Fsync, SpoolConfig};
use crate::event::EventChunk;
use crate::metrics::Counters;
use crate::persist::{FileId, disk};
use place::{Ahead, Place, Progress};
use positions::Standing;
use record::{FRAME_HEADER, Header};

const SEGMENT_SUFFIX: &str = ".seg";
/// How often a source waiting for room in a full spool looks again.
const FULL_RETRY: Duration = Duration::from_millis(50);
/// How long a source waits before it writes again a chunk the spool failed to write
/// (a full disk, an I/O error).
const WRITE_RETRY: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    config: SpoolConfig,
    log: Mutex<Log>,
    /// The number of the next record to be written, and whether writing has ended.
    appended: watch::Sender<Appended>,
    /// One per destination; a reload adds and removes them.
    cursors: std::sync::RwLock<Vec<Cursor>>,
    counters: Arc<Counters>,
    /// Held by a sync from taking what is unsynced to its end: a second sync (the
    /// `fsync` interval's and a checkpoint's) waits for the first to finish, instead of
    /// returning before those bytes are on disk.
    syncing: Mutex<()>,
    /// Each destination's position, journaled as it moves.
    positions: positions::Positions,
    /// Record numbers after the last one found at start that are not on disk (lost, and
    /// said so): a feed goes over them.
    missing_at_end: std::ops::Range<u64>,
}

/// Whether [`Spool::remove_settled`] removes the segment written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// It is kept: removing it each time its records settle would make a segment per
    /// record for a destination that keeps up.
    Stays,
    GoesIfSettled,
}

#[derive(Debug, Clone, Copy)]
struct Appended {
    next: u64,
    closed: bool,
}

#[derive(Debug)]
struct Log {
    /// Oldest first; the last is the one written to.
    segments: VecDeque<Segment>,
    writer: Option<File>,
    next: u64,
    bytes: u64,
    /// The segment written to was written since the last `fsync`.
    unsynced: bool,
    /// Segments closed since the last `fsync`, still to be forced to disk.
    closed_unsynced: Vec<File>,
    /// A segment was created since the last `fsync`: its name is not yet durable in the
    /// spool's directory.
    directory_unsynced: bool,
    /// Whether the current wait for room was logged.
    full_logged: bool,
}

#[derive(Debug, Clone)]
struct Segment {
    first: u64,
    path: PathBuf,
    bytes: u64,
}

/// A destination's place in the spool: records before `watermark`'s offset are
/// settled, and the events `progress` holds of the records after.
#[derive(Debug)]
struct Cursor {
    destination: Arc<str>,
    watermark: Watermark,
    progress: Arc<Progress>,
}

impl Cursor {
    fn starting_at(destination: Arc<str>, place: Place, ahead: &[Ahead]) -> Cursor {
        Cursor {
            destination,
            watermark: Watermark::starting_at(StreamPoint {
                offset: place.record,
                lines: 0,
            }),
            progress: Arc::new(Progress::starting_at(place, ahead)),
        }
    }

    fn place(&self) -> Place {
        self.progress.place(self.watermark.safe().offset)
    }
}

impl Spool {
    /// Opens (or creates) the spool in `dir` for `destinations`, recovering what a
    /// crash left; each destination resumes at its saved position.
    /// `counted_through`: the records the last checkpoints counted on are those below it.
    /// Returns the spool, and where its records say each file was read to (for the
    /// checkpoints).
    pub fn open(
        dir: &Path,
        config: &SpoolConfig,
        destinations: &[Arc<str>],
        counted_through: u64,
        counters: Arc<Counters>,
    ) -> Result<(Spool, HashMap<FileId, StreamPoint>)> {
        crate::private_fs::create_dir_all(dir)
            .with_context(|| format!("creating the spool directory {}", dir.display()))?;
        let Recovery {
            mut segments,
            mut damage,
            mut reads,
        } = recover(dir, counted_through)?;
        // Every record below what the last checkpoints counted on was written (checkpoint
        // files of earlier versions do not say: `u64::MAX`).
        let counted = (counted_through != u64::MAX).then_some(counted_through);
        let (positions, mut saved) = positions::Positions::load(dir);
        // Records after the last checkpoint that no destination's saved position
        // covers, missing before the first segment (a power cut kept a later segment
        // and not an earlier one): their sources read them again from their
        // checkpoints, so the later segments go too (kept, a checkpoint written later
        // would count on them, and where they say their sources read to).
        let first = segments.front().map_or(0, |s| s.first);
        let head_missing = !segments.is_empty()
            && counted.is_some_and(|counted| first > counted)
            && !destinations.iter().all(|name| {
                saved
                    .get(name.as_ref())
                    .is_some_and(|standing| standing.place.record >= first)
            });
        if head_missing && !segments.iter().all(|s| s.every_read) {
            // Records of other sources, which nothing reads again, are kept: only where
            // the files' records say they were read to is not trusted.
            if !reads.is_empty() {
                tracing::warn!(spool = %dir.display(), first_record = first, "the spool's first records are missing and no checkpoint counted on them (a power cut?): the file sources read them again from their checkpoints");
                reads.clear();
            }
        } else if head_missing {
            let removed: u64 = segments.iter().map(|s| s.records).sum();
            tracing::warn!(spool = %dir.display(), first_record = first, records_removed = removed, "the spool's first records are missing and no checkpoint counted on them (a power cut?): the records after them are removed, and the sources read them all again from their checkpoints");
            for segment in segments.drain(..) {
                std::fs::remove_file(&segment.path).with_context(|| {
                    format!("removing spool segment {}", segment.path.display())
                })?;
            }
            Counters::add(&counters.spool_records_cut, removed as usize);
            reads.clear();
            damage.clear();
        }
        let written = segments.back().map_or(0, |s| s.first + s.records);
        let end = written.max(counted.unwrap_or(0));
        let mut clamped = false;
        for (name, standing) in &mut saved {
            // Records at the end or past it are numbered again: what was settled of
            // those numbers is not of the records that will have them.
            let given_again = standing.ahead.iter().any(|a| a.record >= end);
            standing.ahead.retain(|a| a.record < end);
            clamped |= given_again;
            let place = &mut standing.place;
            if *place > Place::at(end) {
                tracing::warn!(spool = %dir.display(), destination = %name, position = place.record, end, "the destination's saved position is past the spool's end (a power cut after it was saved, or an edited file); it resumes at the end, and the records before it count as delivered");
                *place = Place::at(end);
                clamped = true;
            }
        }
        if clamped {
            // Saved as clamped, so that no journal line past the end comes back at the
            // next start to skip the records given those numbers now.
            let all = saved
                .iter()
                .map(|(name, standing)| (name.as_str(), standing.clone()))
                .collect();
            positions.save(&all, config.fsync != Fsync::Never)?;
        }
        // A number is never given twice: the next is past every record written or
        // counted on, and every position saved (a spool emptied by the last run numbered
        // from 0 again, and a position of that run skipped this one's records).
        let next = saved
            .values()
            .map(|s| s.place.record)
            .max()
            .unwrap_or(0)
            .max(end);
        let oldest = segments.front().map_or(next, |s| s.first);
        // What each destination had settled (one new to the spool: all it will see).
        let standings: Vec<Standing> = destinations
            .iter()
            .map(|name| {
                saved.remove(name.as_ref()).unwrap_or(Standing {
                    place: Place::at(oldest),
                    ahead: Vec::new(),
                })
            })
            .collect();
        let settled: Vec<u64> = standings.iter().map(|s| s.place.record).collect();
        // Where each reads on: past records missing at the end, none of which is on disk.
        let starts: Vec<u64> = settled
            .iter()
            .map(|&s| match s >= written {
                true => next,
                false => s.clamp(oldest, next),
            })
            .collect();
        // Records missing before the first segment (deleted by hand), or past the last
        // one up to what the checkpoints counted on (the last deleted, or lost).
        let lowest = settled.iter().copied().min().unwrap_or(oldest);
        let first = segments.front().map_or(end, |s| s.first);
        if lowest < first {
            damage.push(Damage {
                from: lowest,
                to: Some(first),
                what: format!(
                    "records {lowest} to {} are missing from {} (a segment deleted?)",
                    first - 1,
                    dir.display()
                ),
            });
        }
        if let Some(counted) = counted.filter(|&counted| written < counted && !segments.is_empty())
        {
            // The last segment's cut tail, or records missing after it, if any, is where
            // they begin: one loss.
            match damage.iter_mut().find(|d| d.from == written) {
                Some(cut) => cut.to = Some(cut.to.map_or(counted, |to| to.max(counted))),
                None => damage.push(Damage {
                    from: written,
                    to: Some(counted),
                    what: format!("records {written} to {} are missing from the end of {} (a segment deleted, or lost?)", counted - 1, dir.display()),
                }),
            }
        }
        for damaged in damage {
            damaged.report(counted_through, &settled, &counters);
        }
        let cursors = destinations
            .iter()
            .zip(starts)
            .zip(standings)
            .map(|((name, start), Standing { place, ahead })| {
                // Inside a record still on disk: its first events are not read again.
                let place = match place.record == start {
                    true => place,
                    false => Place::at(start),
                };
                positions.start(name, place);
                Cursor::starting_at(name.clone(), place, &ahead)
            })
            .collect();
        if next > oldest {
            tracing::info!(spool = %dir.display(), records_on_disk = next - oldest, "spool recovered; each destination resumes at its saved position");
        }
        let bytes = segments.iter().map(|s| s.bytes).sum();
        // What a crash left may be in the page cache only (the last run was killed
        // before its sync): forced by the first sync, before a checkpoint counts on it.
        let recovered = segments
            .iter()
            .map(|s| File::open(&s.path))
            .collect::<std::io::Result<Vec<_>>>()
            .with_context(|| format!("opening the segments of {}", dir.display()))?;
        let log = Log {
            segments: segments.drain(..).map(|s| s.segment).collect(),
            writer: None,
            next,
            bytes,
            unsynced: false,
            directory_unsynced: !recovered.is_empty(),
            closed_unsynced: recovered,
            full_logged: false,
        };
        let spool = Spool {
            dir: dir.to_path_buf(),
            config: config.clone(),
            log: Mutex::new(log),
            appended: watch::Sender::new(Appended {
                next,
                closed: false,
            }),
            cursors: std::sync::RwLock::new(cursors),
            counters,
            syncing: Mutex::new(()),
            positions,
            missing_at_end: written..next,
        };
        Ok((spool, reads))
    }

    fn cursors(&self) -> std::sync::RwLockReadGuard<'_, Vec<Cursor>> {
        self.cursors.read().expect("not poisoned")
    }

    /// The watermark of `destination`'s position (over whole records), and what it
    /// settled of the records after.
    fn cursor(&self, destination: &str) -> Option<(Watermark, Arc<Progress>)> {
        self.cursors()
            .iter()
            .find(|c| c.destination.as_ref() == destination)
            .map(|c| (c.watermark.clone(), c.progress.clone()))
    }

    /// Where `destination` is: everything before it is settled.
    #[cfg(test)]
    fn place(&self, destination: &str) -> Option<Place> {
        self.cursors()
            .iter()
            .find(|c| c.destination.as_ref() == destination)
            .map(Cursor::place)
    }

    /// A position for `destination`, added by a reload: it takes the records written
    /// from now on.
    pub fn add_destination(&self, destination: Arc<str>) {
        let next = self.log().next;
        let mut cursors = self.cursors.write().expect("not poisoned");
        if !cursors.iter().any(|c| c.destination == destination) {
            self.positions.start(&destination, Place::at(next));
            cursors.push(Cursor::starting_at(destination, Place::at(next), &[]));
        }
    }

    /// Forgets `destination`'s position (removed by a reload): the records it had not
    /// settled no longer hold their segments.
    pub fn remove_destination(&self, destination: &str) {
        self.cursors
            .write()
            .expect("not poisoned")
            .retain(|c| c.destination.as_ref() != destination);
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().expect("not poisoned")
    }

    /// Writes `chunk`, read by the source at `source`; waits while the spool is full,
    /// and while a write fails (a full disk: logged at ERROR, then written again), until
    /// `give_up` (then false: the chunk is not spooled).
    pub async fn append(
        &self,
        source: usize,
        chunk: &EventChunk,
        read: Option<ReadTo>,
        give_up: &CancellationToken,
    ) -> bool {
        let frame = record::encode(source as u32, chunk, read);
        let mut failing = false;
        let mut appended = false;
        loop {
            while !appended && !self.has_room(frame.len() as u64) {
                tokio::select! {
                    () = tokio::time::sleep(FULL_RETRY) => {}
                    () = give_up.cancelled() => return false,
                }
            }
            // Page-cache writes; an `fsync` (policy `always`) may take milliseconds.
            match tokio::task::block_in_place(|| self.write(&frame, &mut appended)) {
                Ok(()) => {
                    if failing {
                        tracing::info!(spool = %self.dir.display(), "the spool is written again; the source goes on");
                    }
                    return true;
                }
                Err(error) if !failing => {
                    failing = true;
                    tracing::error!(spool = %self.dir.display(), error = %format!("{error:#}"), "cannot write to the spool; the source waits and writes the chunk again");
                }
                Err(_) => {}
            }
            tokio::select! {
                () = tokio::time::sleep(WRITE_RETRY) => {}
                () = give_up.cancelled() => return false,
            }
        }
    }

    /// Whether `bytes` more fit, after removing what every destination has settled: the
    /// segment written to as well when it is settled whole (else one record larger than
    /// the room left would wait for ever behind records already delivered).
    fn has_room(&self, bytes: u64) -> bool {
        let fits = |log: &Log| log.bytes == 0 || log.bytes + bytes <= self.config.max_bytes;
        self.reclaim();
        if !fits(&self.log()) {
            self.remove_settled(Written::GoesIfSettled);
        }
        let mut log = self.log();
        let fits = fits(&log);
        if !fits && !log.full_logged {
            tracing::warn!(spool = %self.dir.display(), max_bytes = self.config.max_bytes, "spool full: the sources wait for the slowest destination");
        }
        log.full_logged = !fits;
        fits
    }

    /// Appends `frame` unless `appended` says it was (a write again after a failed
    /// `fsync` forces it, without a second copy), and with `fsync = "always"` forces it
    /// to disk before the source moves on; then the feeds may read it.
    fn write(&self, frame: &record::Encoded<'_>, appended: &mut bool) -> Result<()> {
        if !*appended {
            self.append_frame(frame)?;
            *appended = true;
        }
        if self.config.fsync == Fsync::Always {
            self.sync()?;
        }
        let next = self.log().next;
        self.appended
            .send_modify(|appended| appended.next = next.max(appended.next));
        Ok(())
    }

    /// Appends `frame` to the segment written to; on a failure, the segment is cut back
    /// to its last whole record.
    fn append_frame(&self, frame: &record::Encoded<'_>) -> Result<()> {
        let mut log = self.log();
        let roll = match (&log.writer, log.segments.back()) {
            (Some(_), Some(current)) => current.bytes >= self.config.segment_bytes,
            _ => true,
        };
        if roll {
            self.start_segment(&mut log)?;
        }
        let log = &mut *log;
        let writer = log.writer.as_mut().expect("a segment is open");
        // Three writes, no copy of the text; a crash between them leaves a torn frame,
        // which the next start cuts off.
        let written = [&frame.header[..], frame.text, &frame.tail]
            .into_iter()
            .try_for_each(|part| disk::write_all(writer, part));
        let segment = log.segments.back_mut().expect("a segment is open");
        if let Err(error) = written {
            // What was written of the frame goes, so that the segment ends in a whole
            // record for its readers and the frame is written again whole. A segment
            // with records is closed: once its records are settled it can be removed,
            // the room a full disk needs (the segment written to never is); the frame
            // goes to a segment of its own.
            let whole = segment.bytes;
            let _ = writer
                .set_len(whole)
                .and_then(|()| std::io::Seek::seek(writer, std::io::SeekFrom::Start(whole)));
            if whole > 0
                && let Some(closing) = log.writer.take()
                && log.unsynced
                && self.config.fsync != Fsync::Never
            {
                // Its records are forced to disk by the next sync, as any closed one.
                log.closed_unsynced.push(closing);
                log.unsynced = false;
            }
            return Err(error)
                .with_context(|| format!("writing to the spool in {}", self.dir.display()));
        }
        segment.bytes += frame.len() as u64;
        log.bytes += frame.len() as u64;
        log.next += 1;
        log.unsynced = true;
        Ok(())
    }

    /// Closes the current segment (forced to disk unless the policy is `never`) and
    /// starts the next, named by the number of its first record.
    fn start_segment(&self, log: &mut Log) -> Result<()> {
        if log.unsynced
            && self.config.fsync != Fsync::Never
            && let Some(closing) = log.writer.take()
        {
            log.closed_unsynced.push(closing);
            log.unsynced = false;
        }
        let path = self.dir.join(format!("{:020}{SEGMENT_SUFFIX}", log.next));
        let file = crate::private_fs::create(&path)
            .with_context(|| format!("creating spool segment {}", path.display()))?;
        log.writer = Some(file);
        log.directory_unsynced = true;
        // Started already, by a write that failed before its first record: the same.
        let again = log
            .segments
            .back()
            .is_some_and(|back| back.first == log.next && back.bytes == 0);
        if !again {
            log.segments.push_back(Segment {
                first: log.next,
                path,
                bytes: 0,
            });
        }
        Ok(())
    }

    /// Forces what was written to disk (unless the policy is `never`): before a
    /// checkpoint is written that counts on it.
    pub fn sync(&self) -> Result<()> {
        if self.config.fsync == Fsync::Never {
            return Ok(());
        }
        let _syncing = self.syncing.lock().expect("not poisoned");
        let (to_sync, directory) = {
            let mut log = self.log();
            let directory = std::mem::take(&mut log.directory_unsynced);
            (unsynced(&mut log)?, directory)
        };
        let forced = force(&to_sync).and_then(|()| match directory {
            true => disk::sync_dir(&self.dir).context("forcing the spool's directory to disk"),
            false => Ok(()),
        });
        if forced.is_err() {
            // Forced again by the next sync: no checkpoint counts on them meanwhile.
            let mut log = self.log();
            log.directory_unsynced |= directory;
            log.closed_unsynced.extend(to_sync);
        }
        forced.and_then(|()| self.positions.sync())
    }

    /// Forces the spool to disk every `every` (the `fsync` policy's interval) until
    /// `stop`, on the blocking pool: the sources never wait for it.
    pub async fn run_syncs(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
            let spool = self.clone();
            let synced = tokio::task::spawn_blocking(move || spool.sync()).await;
            if let Ok(Err(error)) = synced {
                tracing::error!(error = %format!("{error:#}"), "cannot force the spool to disk");
            }
        }
    }

    /// No more records will be written: the destinations' feeds end at the last one.
    pub fn close(&self) {
        self.appended.send_modify(|appended| appended.closed = true);
    }

    /// Deletes the segments every destination has settled, as far as the disk knows: a
    /// record settled since the positions were last forced stays, so that a power cut
    /// cannot leave positions behind the oldest record (a gap at the head, read as a
    /// loss at the next start).
    pub fn reclaim(&self) {
        self.remove_settled(Written::Stays);
    }

    fn remove_settled(&self, written: Written) {
        let settled = self
            .cursors()
            .iter()
            .map(|cursor| {
                let durable = self.positions.durable(&cursor.destination);
                let durable = durable.map_or(0, |place| place.record);
                durable.min(cursor.watermark.safe().offset)
            })
            .min()
            .unwrap_or(u64::MAX);
        let closed = self.appended.borrow().closed;
        let mut log = self.log();
        while !log.segments.is_empty() {
            let end = log.segments.get(1).map(|next| next.first);
            let done = match end {
                Some(end) => end <= settled,
                // The segment written to goes only once writing has ended (or a write
                // that failed closed it), or to make room: the next record starts the
                // next segment.
                None => {
                    (closed || log.writer.is_none() || written == Written::GoesIfSettled)
                        && log.next <= settled
                }
            };
            if !done {
                break;
            }
            if end.is_none() {
                log.writer = None;
            }
            let oldest = log.segments.pop_front().expect("looked at above");
            log.bytes -= oldest.bytes;
            if let Err(error) = std::fs::remove_file(&oldest.path) {
                tracing::warn!(segment = %oldest.path.display(), %error, "cannot remove a settled spool segment");
            }
        }
    }

    /// Writes every destination's position whole (and empties the journal), so a
    /// restart resumes there.
    pub fn save_positions(&self, sync: bool) -> Result<()> {
        let cursors = self.cursors();
        let positions: std::collections::BTreeMap<&str, Standing> = cursors
            .iter()
            .map(|c| {
                let place = c.place();
                let ahead = c.progress.ahead(place);
                (c.destination.as_ref(), Standing { place, ahead })
            })
            .collect();
        self.positions.save(&positions, sync)
    }

    /// `destination` has settled everything before `place`: journaled at once.
    fn moved(&self, destination: &str, place: Place) {
        self.positions.moved(destination, place);
    }

    /// `destination` has settled `ahead`, past its place: journaled at once.
    fn settled_ahead(&self, destination: &str, ahead: &Ahead) {
        self.positions.settled_ahead(destination, ahead);
    }

    /// Records written and not yet settled by `destination`.
    pub fn pending(&self, destination: &str) -> u64 {
        let next = self.log().next;
        self.cursor(destination).map_or(0, |(watermark, _)| {
            next.saturating_sub(watermark.safe().offset)
        })
    }

    /// The number of the next record to be written: every record written is below it.
    pub fn written(&self) -> u64 {
        self.log().next
    }

    /// Bytes of segments on disk.
    pub fn bytes(&self) -> u64 {
        self.log().bytes
    }

    /// The segment holding record `number`, and where the next segment starts (none for
    /// the segment written to).
    fn locate(&self, number: u64) -> Option<(Segment, Option<u64>)> {
        let log = self.log();
        let at = log.segments.partition_point(|s| s.first <= number);
        let segment = log.segments.get(at.checked_sub(1)?)?.clone();
        let end = log.segments.get(at).map(|next| next.first);
        Some((segment, end))
    }

    /// The first record still on disk.
    fn oldest(&self) -> u64 {
        let log = self.log();
        log.segments.front().map_or(log.next, |s| s.first)
    }
}

/// The files written since the last `fsync` (handles of their own, so that they are
/// forced after the log is unlocked); the log counts them as forced from now on.
fn unsynced(log: &mut Log) -> Result<Vec<File>> {
    let writer = match &log.writer {
        Some(writer) if log.unsynced => Some(
            writer
                .try_clone()
                .context("opening the spool segment again")?,
        ),
        _ => None,
    };
    let mut files = std::mem::take(&mut log.closed_unsynced);
    files.extend(writer);
    log.unsynced = false;
    Ok(files)
}

fn force(files: &[File]) -> Result<()> {
    files
        .iter()
        .try_for_each(disk::sync_data)
        .context("forcing the spool to disk")
}

/// A segment found on open, with its number of whole records.
struct Recovered {
    segment: Segment,
    records: u64,
    /// Each of its records says where its file was read to.
    every_read: bool,
}

impl std::ops::Deref for Recovered {
    type Target = Segment;
    fn deref(&self) -> &Segment {
        &self.segment
    }
}

/// Records a spool found missing or cut off at start: numbers `from..to` (`to` unknown for
/// the tail of the last segment: at least the one record).
#[derive(Debug)]
struct Damage {
    from: u64,
    to: Option<u64>,
    what: String,
}

impl Damage {
    /// Logs and counts the damage: lost when a checkpoint counted on the records and a
    /// destination had not settled them (counted once per such destination, `starts`
    /// their positions); else a crash mid-write whose source reads the records again,
    /// or records every destination had settled.
    fn report(&self, counted_through: u64, starts: &[u64], counters: &Counters) {
        let end = self.to.unwrap_or(self.from + 1);
        // The records a checkpoint counted on are lost (their sources do not read them
        // again); those after it are cut (their sources do).
        let counted_end = end.min(counted_through);
        if self.from < counted_end {
            let records = counted_end - self.from;
            let unsettled = starts.iter().filter(|&&start| start < counted_end).count();
            if unsettled > 0 {
                tracing::error!(
                    records_lost = records,
                    destinations = unsettled,
                    first_record = self.from,
                    "spool records lost: {}; their events are not delivered to the destinations that had not settled them (a record is one read of a source, up to 256 KiB of lines)",
                    self.what
                );
                Counters::add(&counters.spool_records_lost, (records as usize) * unsettled);
            } else {
                tracing::info!(
                    first_record = self.from,
                    "{}: every destination had settled them",
                    self.what
                );
            }
        }
        let cut_from = self.from.max(counted_through);
        if cut_from < end {
            tracing::warn!(
                records_cut = end - cut_from,
                first_record = cut_from,
                "{}: from record {cut_from} on, written after the last checkpoint (a crash mid-write, or a power cut), so their sources read them again",
                self.what
            );
            Counters::add(&counters.spool_records_cut, (end - cut_from) as usize);
        }
    }
}

/// What a spool's segments held at start.
struct Recovery {
    segments: VecDeque<Recovered>,
    /// Records missing or cut.
    damage: Vec<Damage>,
    /// Where the last record of each file says it was read to.
    reads: HashMap<FileId, StreamPoint>,
}

/// Reads every segment in `dir` through, cutting a torn or corrupt tail off, and
/// removes empty ones, and those after records missing or cut that no checkpoint
/// counted on (below `counted_through`).
fn recover(dir: &Path, counted_through: u64) -> Result<Recovery> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let first = path.file_name().and_then(|name| {
            name.to_str()?
                .strip_suffix(SEGMENT_SUFFIX)?
                .parse::<u64>()
                .ok()
        });
        if let Some(first) = first {
            found.push((first, path));
        }
    }
    found.sort();
    let mut segments: VecDeque<Recovered> = VecDeque::new();
    let mut damage: Vec<Damage> = Vec::new();
    let mut reads = HashMap::new();
    // Where the records of the segment before end (the next segment should start there).
    let mut expected: Option<u64> = None;
    for (first, path) in found {
        if let Some(expected) = expected.filter(|&expected| expected < first) {
            // The tail cut from the segment before ends here now that it is known.
            match damage.last_mut() {
                Some(cut) if cut.from == expected && cut.to.is_none() => cut.to = Some(first),
                _ => damage.push(Damage {
                    from: expected,
                    to: Some(first),
                    what: format!(
                        "records {expected} to {} are missing from {} (a segment deleted?)",
                        first - 1,
                        dir.display()
                    ),
                }),
            }
        }
        let uncounted_cut = damage
            .iter()
            .find(|d| d.to.is_none_or(|to| to > counted_through))
            .map(|cut| cut.from.max(counted_through));
        // Past a gap or a cut, a record whole on disk does not say what the source may
        // skip.
        let mut after_damage = HashMap::new();
        let scanned = match damage.is_empty() {
            true => &mut reads,
            false => &mut after_damage,
        };
        let (records, whole, every_read) = scan(&path, scanned)?;
        if let Some(cut_from) = uncounted_cut
            && every_read
        {
            // Written back before the records missing or cut (a power cut: the kernel
            // writes pages back in its own order), which no checkpoint counted on: their
            // file sources read them all again from their checkpoints, and a checkpoint
            // written later must not count on records after a gap. (A record of another
            // source, which nothing reads again, keeps its segment.)
            std::fs::remove_file(&path)?;
            damage.push(Damage {
                from: first,
                to: Some(first + records),
                what: format!(
                    "spool segment {} was written back before record {cut_from}, which is missing or cut; it is removed",
                    path.display()
                ),
            });
            expected = Some(first + records);
            continue;
        }
        let bytes = std::fs::metadata(&path)?.len();
        if whole < bytes {
            damage.push(Damage {
                from: first + records,
                to: None,
                what: format!(
                    "spool segment {} has a torn or corrupt record after its {records} whole ones; its last {} bytes are cut off",
                    path.display(),
                    bytes - whole
                ),
            });
            let file = std::fs::OpenOptions::new().write(true).open(&path)?;
            file.set_len(whole)?;
            file.sync_all()?;
        }
        expected = Some(first + records);
        if records == 0 {
            std::fs::remove_file(&path)?;
            continue;
        }
        segments.push_back(Recovered {
            segment: Segment {
                first,
                path,
                bytes: whole,
            },
            records,
            every_read,
        });
    }
    Ok(Recovery {
        segments,
        damage,
        reads,
    })
}

/// The whole records of a segment file, the bytes they take, and whether each says
/// where its file was read to (a file source's: read again from its checkpoint when
/// lost); `reads` learns where each file was read to by the last of them that says.
fn scan(path: &Path, reads: &mut HashMap<FileId, StreamPoint>) -> Result<(u64, u64, bool)> {
    let mut reader = BufReader::new(
        File::open(path).with_context(|| format!("opening spool segment {}", path.display()))?,
    );
    let (mut records, mut whole, mut every_read) = (0, 0, true);
    while let Some(Ok(record)) = read_frame(&mut reader)? {
        match record.read {
            Some(read) => {
                reads.insert(read.file, read.point);
            }
            None => every_read = false,
        }
        records += 1;
        whole = reader_position(&mut reader)?;
    }
    Ok((records, whole, every_read))
}

fn reader_position(reader: &mut BufReader<File>) -> Result<u64> {
    use std::io::Seek;
    Ok(reader.stream_position()?)
}

/// The next frame of `reader`: `None` at a clean end, `Some(Err)` for a torn or
/// corrupt frame (with what is wrong), else the source and chunk.
fn read_frame(reader: &mut impl Read) -> Result<Option<record::Decoded>> {
    let mut header = [0u8; FRAME_HEADER];
    match read_full(reader, &mut header)? {
        0 => return Ok(None),
        FRAME_HEADER => {}
        _ => return Ok(Some(Err("torn frame header"))),
    }
    let Some(header) = Header::parse(header) else {
        return Ok(Some(Err("frame length out of bounds")));
    };
    // Filled by the read, not zeroed first.
    let mut body = Vec::with_capacity(header.len);
    reader.take(header.len as u64).read_to_end(&mut body)?;
    if body.len() < header.len {
        return Ok(Some(Err("torn frame body")));
    }
    Ok(Some(record::decode(header, body)))
}

/// Reads until `buf` is full or the end of the file; how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventMeta;

    fn one_event(n: u64) -> EventChunk {
        let data = format!("{{\"n\":{n}}}");
        let meta = EventMeta {
            offset: 0,
            len: data.len() as u32,
            time_ms: 0,
            ingest_time: false,
            id: u128::from(n),
        };
        EventChunk {
            data,
            events: vec![meta],
        }
    }

    /// Six records, one per segment, read from a file (`read_points`) or not, then
    /// records 2 and 3 deleted, and the spool opened again with a checkpoint that
    /// counted on records 0 to 2: the spool's directory, its counters, and where it says
    /// the file was read to.
    async fn a_gap_across_the_checkpoint(
        read_points: bool,
    ) -> (
        tempfile::TempDir,
        Arc<Counters>,
        HashMap<FileId, StreamPoint>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = SpoolConfig {
            enabled: Some(true),
            max_bytes: 1 << 30,
            // A record per segment.
            segment_bytes: 1,
            fsync: Fsync::Never,
        };
        let file = FileId::from_bytes([7; 16]);
        let counters = Arc::new(Counters::default());
        let destinations = [Arc::from("d")];
        let (spool, _) =
            Spool::open(dir.path(), &config, &destinations, 0, counters.clone()).unwrap();
        for n in 0..6 {
            let read = read_points.then_some(ReadTo {
                file,
                point: StreamPoint {
                    offset: n + 1,
                    lines: n + 1,
                },
            });
            let appended = spool
                .append(0, &one_event(n), read, &CancellationToken::new())
                .await;
            assert!(appended);
        }
        drop(spool);
        std::fs::remove_file(segment(dir.path(), 2)).unwrap();
        std::fs::remove_file(segment(dir.path(), 3)).unwrap();
        let (_spool, reads) =
            Spool::open(dir.path(), &config, &destinations, 3, counters.clone()).unwrap();
        (dir, counters, reads)
    }

    fn segment(dir: &Path, first: u64) -> PathBuf {
        dir.join(format!("{first:020}{SEGMENT_SUFFIX}"))
    }

    /// Records missing across the last checkpoint (it counted on the first of them):
    /// that one is lost, the other is cut (its source reads it again), and the segments
    /// after it go, since the source reads them again too (kept, they were sent twice).
    #[tokio::test(flavor = "multi_thread")]
    async fn a_gap_across_the_last_checkpoint_loses_what_it_counted_on_and_cuts_the_rest() {
        let (dir, counters, reads) = a_gap_across_the_checkpoint(true).await;
        assert_eq!(Counters::get(&counters.spool_records_lost), 1, "record 2");
        assert_eq!(
            Counters::get(&counters.spool_records_cut),
            3,
            "record 3, and records 4 and 5 removed"
        );
        assert!(!segment(dir.path(), 4).exists() && !segment(dir.path(), 5).exists());
        assert!(segment(dir.path(), 1).exists());
        let file = FileId::from_bytes([7; 16]);
        assert_eq!(reads[&file].offset, 2, "read to where record 1 says");
    }

    /// Records of a source that reads nothing again (HTTP, syslog) after such a gap are
    /// kept: removed, they would be lost.
    #[tokio::test(flavor = "multi_thread")]
    async fn records_no_source_reads_again_are_kept_after_a_gap() {
        let (dir, counters, _) = a_gap_across_the_checkpoint(false).await;
        assert_eq!(Counters::get(&counters.spool_records_cut), 1, "record 3");
        assert!(segment(dir.path(), 4).exists() && segment(dir.path(), 5).exists());
    }
}

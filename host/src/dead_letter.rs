//! The dead-letter store: events that will never be delivered, with the reason, as JSON
//! Lines in `<dead_letter_dir>/dead-letter.jsonl`. Nothing the host gives up on is lost
//! silently: an event counts as settled only once its record is on disk (written and
//! synced). When the store cannot take records (a full disk, a directory that is not
//! writable), the events stay where they are and the write is tried again, loudly,
//! until it works or the shutdown deadline passes.
//!
//! Writes run on the blocking pool, never on a thread that runs async tasks. The file is
//! rotated at `max_file_bytes`, to `dead-letter-<time>.jsonl`; rotated files are kept
//! until all the files take more than `max_bytes`, then the oldest go (logged at WARN,
//! their records counted).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::metrics::Tally;

/// The first wait before trying a failed write again; it doubles up to [`MAX_RETRY_WAIT`].
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(250);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// One dead-lettered event or line.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// When the host gave up, RFC 3339 UTC.
    pub time: String,
    /// `parse` (the line was not an event), `deliver` (refused or out of attempts) or
    /// `shutdown` (abandoned at the shutdown deadline).
    pub stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<&'a str>,
    /// Why it was given up: the last error.
    pub reason: &'a str,
    /// Attempts made to deliver it, when it was sent at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The first error, when it failed more than once and the first differs from the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<&'a str>,
    /// `file:line` for parse rejects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The event, as JSON, when it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a RawValue>,
    /// The raw line (invalid UTF-8 replaced by U+FFFD) when it was not an event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

/// A line that was not an event, held until its record is written.
#[derive(Debug)]
pub struct RejectedLine {
    /// Where it was read: a file path, or `stdin`...
    pub source: String,
    /// Its 1-based line number there.
    pub number: u64,
    pub reason: String,
    /// The line (invalid UTF-8 replaced by U+FFFD).
    pub line: String,
}

impl RejectedLine {
    pub fn new(source: &str, number: u64, reason: String, line: &[u8]) -> Self {
        RejectedLine {
            source: source.to_owned(),
            number,
            reason,
            line: String::from_utf8_lossy(line).into_owned(),
        }
    }

    /// Their records (stage `parse`, `origin` = `source:number`), written at `time`.
    pub fn records<'a>(lines: &'a [RejectedLine], time: &str) -> Vec<Record<'a>> {
        lines
            .iter()
            .map(|rejected| Record {
                time: time.to_owned(),
                stage: "parse",
                destination: None,
                reason: &rejected.reason,
                attempts: None,
                first_error: None,
                origin: Some(format!("{}:{}", rejected.source, rejected.number)),
                event_id: None,
                event: None,
                line: Some(rejected.line.clone()),
            })
            .collect()
    }
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// How a process uses the store, for [`DeadLetter::lock`].
#[derive(Debug, Clone, Copy)]
pub enum StoreUse {
    Append,
    Rewrite,
}

/// Appends records; writers take turns, so records never interleave.
#[derive(Debug)]
pub struct DeadLetter {
    path: PathBuf,
    bounds: Bounds,
    /// Taken by the write in progress (and lost if it panics: the next one reopens).
    file: tokio::sync::Mutex<Option<std::fs::File>>,
    /// Records in rotated files removed to keep the store within its bound.
    removed: std::sync::Arc<AtomicU64>,
    /// Records written by this process, by destination (empty for lines that were not
    /// events) and stage.
    written: Tally<(String, &'static str)>,
    /// Why the last write failed, while writes fail (whoever waits on the store, a
    /// source or a destination, is held back meanwhile).
    failing: std::sync::Mutex<Option<String>>,
    /// Each write is synced, but past the shutdown deadline, where batches are
    /// abandoned by the thousand and a sync each would run far past the deadline: then
    /// they are synced once, by [`DeadLetter::finish`].
    sync_each: AtomicBool,
    /// Written without a sync since the last one.
    unsynced: AtomicBool,
}

/// How big the files get.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    file: u64,
    total: u64,
}

impl DeadLetter {
    pub fn new(dir: &Path, max_file_bytes: u64, max_bytes: u64) -> Self {
        DeadLetter {
            path: dir.join("dead-letter.jsonl"),
            bounds: Bounds {
                file: max_file_bytes,
                total: max_bytes,
            },
            file: tokio::sync::Mutex::new(None),
            removed: Default::default(),
            written: Tally::default(),
            failing: std::sync::Mutex::default(),
            sync_each: AtomicBool::new(true),
            unsynced: AtomicBool::new(false),
        }
    }

    /// The store the configuration names.
    pub fn configured(config: &crate::config::Config) -> Self {
        DeadLetter::new(
            &config.dead_letter_dir,
            config.dead_letter_max_file_bytes,
            config.dead_letter_max_bytes,
        )
    }

    /// Records removed with the oldest files to keep the store within `max_bytes`.
    pub fn removed(&self) -> u64 {
        self.removed.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records this process wrote, by destination and stage.
    pub fn written(&self) -> Vec<((String, &'static str), u64)> {
        self.written.counts()
    }

    /// From now on (the shutdown deadline has passed), writes are synced once, at
    /// [`DeadLetter::finish`], not each.
    pub fn defer_syncs(&self) {
        self.sync_each.store(false, Ordering::Relaxed);
    }

    /// Syncs what was written since the last sync: the run's last word on the store.
    pub async fn finish(&self) {
        if !self.unsynced.swap(false, Ordering::Relaxed) {
            return;
        }
        let slot = self.file.lock().await;
        if let Some(file) = slot.as_ref()
            && let Err(error) = tokio::task::block_in_place(|| file.sync_data())
        {
            tracing::error!(%error, file = %self.path.display(), "cannot sync the dead-letter store's last records");
        }
    }

    /// Removes the files whose newest record is older than `max_age` (the current one
    /// too, between two writes), counting their records as removed.
    pub async fn remove_expired(&self, max_age: Duration) {
        let mut slot = self.file.lock().await;
        let current = self.path.clone();
        let removed = self.removed.clone();
        let took_current =
            tokio::task::block_in_place(|| remove_older_than(&current, max_age, &removed));
        if took_current {
            // The next write makes the file again.
            *slot = None;
        }
    }

    /// Why writes to the store fail, while they do.
    pub fn failing(&self) -> Option<String> {
        self.failing.lock().expect("not poisoned").clone()
    }

    /// Bytes of the store's files on disk.
    pub fn bytes(&self) -> u64 {
        files(&self.path).iter().map(size).sum()
    }

    /// Locks the store for `how` until the file returned is dropped: runs share it (each
    /// appends whole records), while `sluice dlq replay`, which rewrites its files, takes
    /// it alone (a rewrite renamed over a file a run appends to would lose records).
    /// None when the lock file cannot be made (a directory not writable yet: a run
    /// still starts, its writes tried again loudly); an error when the store is taken.
    pub fn lock(&self, how: StoreUse) -> Result<Option<std::fs::File>> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let path = dir.join(".lock");
        let opened = crate::private_fs::create_dir_all(dir).and_then(|()| {
            crate::private_fs::options()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        });
        let lock = match opened {
            Ok(lock) => lock,
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "cannot lock the dead-letter store");
                return Ok(None);
            }
        };
        let taken = match how {
            StoreUse::Append => lock.try_lock_shared(),
            StoreUse::Rewrite => lock.try_lock(),
        };
        match (taken, how) {
            (Ok(()), _) => Ok(Some(lock)),
            (Err(_), StoreUse::Append) => anyhow::bail!(
                "the dead-letter store {} is being rewritten by `sluice dlq replay`; start again when it is done",
                dir.display()
            ),
            (Err(_), StoreUse::Rewrite) => anyhow::bail!(
                "the dead-letter store {} is in use by a running sluice (it holds {}); replay once it has stopped",
                dir.display(),
                path.display()
            ),
        }
    }

    /// Checks that records can be written: the directory exists or can be made, and a
    /// file can be created in it. For `sluice check`, before any event depends on it.
    pub fn check_writable(&self) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::private_fs::create_dir_all(dir)
            .with_context(|| format!("cannot create dead-letter directory {}", dir.display()))?;
        let probe = dir.join(format!(".sluice-check-{}", std::process::id()));
        // A block written and forced: an empty file can still be made on a full disk.
        let written = crate::private_fs::create(&probe).and_then(|mut file| {
            file.write_all(&[b'\n'; 4096])?;
            file.sync_data()
        });
        let removed = std::fs::remove_file(&probe);
        written
            .with_context(|| format!("cannot write in dead-letter directory {}", dir.display()))?;
        removed.with_context(|| format!("cannot remove {}", probe.display()))
    }

    /// Writes `records` and syncs them, trying again (and saying so at ERROR) until it
    /// works; false when `give_up` is cancelled first, the records then not written.
    pub async fn store(&self, records: &[Record<'_>], give_up: &CancellationToken) -> bool {
        if records.is_empty() {
            return true;
        }
        let text = match serialize(records) {
            Ok(text) => text,
            Err(error) => {
                // Records hold validated JSON and plain strings: this is a host bug.
                tracing::error!(%error, "cannot serialize dead-letter records");
                return false;
            }
        };
        let mut wait = FIRST_RETRY_WAIT;
        loop {
            let appended = self.append(text.clone()).await;
            *self.failing.lock().expect("not poisoned") =
                appended.as_ref().err().map(|error| format!("{error:#}"));
            match appended {
                Ok(()) => {
                    // One count per run of records alike: a call holds one kind.
                    for alike in records
                        .chunk_by(|a, b| (a.destination, a.stage) == (b.destination, b.stage))
                    {
                        let destination = alike[0].destination.unwrap_or_default().to_owned();
                        self.written
                            .add((destination, alike[0].stage), alike.len() as u64);
                    }
                    return true;
                }
                Err(error) => {
                    tracing::error!(
                        count = records.len(),
                        error = %format!("{error:#}"),
                        retry_in = ?wait,
                        "cannot write to the dead-letter store; the events are kept and the write tried again"
                    );
                }
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => wait = (wait * 2).min(MAX_RETRY_WAIT),
                () = give_up.cancelled() => return false,
            }
        }
    }

    /// One append and its sync (unless syncs are deferred), on the blocking pool.
    async fn append(&self, text: Vec<u8>) -> Result<()> {
        let mut slot = self.file.lock().await;
        let file = slot.take();
        let path = self.path.clone();
        let bounds = self.bounds;
        let removed = self.removed.clone();
        let sync = self.sync_each.load(Ordering::Relaxed);
        let (file, result) = tokio::task::spawn_blocking(move || {
            let mut file = file;
            let result = append_blocking(&path, &mut file, &text, (bounds, sync), &removed);
            (file, result)
        })
        .await
        .context("the dead-letter write panicked")?;
        *slot = file;
        if result.is_ok() && !sync {
            self.unsynced.store(true, Ordering::Relaxed);
        }
        result
    }
}

fn serialize(records: &[Record<'_>]) -> serde_json::Result<Vec<u8>> {
    let mut text = Vec::with_capacity(records.len() * 256);
    for record in records {
        serde_json::to_writer(&mut text, record)?;
        text.push(b'\n');
    }
    Ok(text)
}

/// Appends `text` to the file at `path` (opened into `file` on first use), rotating it
/// first when `text` would take it past its bound.
fn append_blocking(
    path: &Path,
    file: &mut Option<std::fs::File>,
    text: &[u8],
    (bounds, sync): (Bounds, bool),
    removed: &AtomicU64,
) -> Result<()> {
    let open = match file {
        Some(open) => open,
        None => file.insert(open_append(path)?),
    };
    let size = open.metadata()?.len();
    let written = append_whole(open, size, text, (bounds, sync), path);
    match written {
        Ok(Rotate::No) => Ok(()),
        Ok(Rotate::Yes) => {
            // What was written without a sync is synced before the file goes aside.
            if !sync {
                open.sync_data()
                    .with_context(|| format!("syncing {}", path.display()))?;
            }
            rotate(path, bounds, removed)?;
            *file = None;
            append_blocking(path, file, text, (bounds, sync), removed)
        }
        Err(error) => {
            // The next write opens the file again and cuts what this one left.
            *file = None;
            Err(error)
        }
    }
}

/// Whether the file must be rotated before the text is written.
enum Rotate {
    Yes,
    No,
}

/// Appends `text` to `open` (of `size` bytes) and syncs it (when `sync`), unless the
/// file must be rotated first. A write or sync that fails is cut back to `size`, so that
/// no torn record is left for the write again to follow.
fn append_whole(
    open: &mut std::fs::File,
    size: u64,
    text: &[u8],
    (bounds, sync): (Bounds, bool),
    path: &Path,
) -> Result<Rotate> {
    if size > 0 && size + text.len() as u64 > bounds.file {
        return Ok(Rotate::Yes);
    }
    let written = open
        .write_all(text)
        .with_context(|| format!("writing {}", path.display()))
        .and_then(|()| match sync {
            true => open
                .sync_data()
                .with_context(|| format!("syncing {}", path.display())),
            false => Ok(()),
        });
    if written.is_err() {
        let _ = open.set_len(size);
    }
    written.map(|()| Rotate::No)
}

/// Renames the current file aside, and removes the oldest to keep the store in bounds.
fn rotate(path: &Path, bounds: Bounds, removed: &AtomicU64) -> Result<()> {
    let rotated = path.with_file_name(format!(
        "dead-letter-{}.jsonl",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.6fZ")
    ));
    std::fs::rename(path, &rotated)
        .with_context(|| format!("rotating {} to {}", path.display(), rotated.display()))?;
    tracing::info!(file = %rotated.display(), "dead-letter file rotated");
    // Room for the new file to grow to its own bound.
    remove_oldest(path, bounds.total.saturating_sub(bounds.file), removed);
    Ok(())
}

/// The store's files, oldest first (rotated files by their time, then the current one).
pub fn files(current: &Path) -> Vec<PathBuf> {
    let dir = current.parent().unwrap_or(Path::new("."));
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dead-letter-") && n.ends_with(".jsonl"))
        })
        .collect();
    rotated.sort();
    rotated.extend(current.exists().then(|| current.to_path_buf()));
    rotated
}

/// A file's size; 0 for one that went meanwhile.
fn size(path: &PathBuf) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Removes the oldest rotated files until the store holds at most `keep` bytes,
/// counting their records in `removed`.
fn remove_oldest(current: &Path, keep: u64, removed: &AtomicU64) {
    let files = files(current);
    let mut total: u64 = files.iter().map(size).sum();
    for oldest in files.iter().filter(|p| p.as_path() != current) {
        if total <= keep {
            break;
        }
        let bytes = size(oldest);
        if let Some(records) = remove_counted(oldest, removed) {
            total -= bytes.min(total);
            tracing::warn!(file = %oldest.display(), records, "dead-letter store over dead_letter_max_bytes: its oldest file was removed");
        }
    }
}

/// Removes the files of the store whose last write is older than `max_age`; whether
/// the current file was one.
fn remove_older_than(current: &Path, max_age: Duration, removed: &AtomicU64) -> bool {
    let mut took_current = false;
    for path in files(current) {
        let expired = std::fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if !expired {
            continue;
        }
        if let Some(records) = remove_counted(&path, removed) {
            took_current |= path == current;
            tracing::info!(file = %path.display(), records, ?max_age, "dead-letter records older than dead_letter_max_age removed");
        }
    }
    took_current
}

/// Removes a file of the store, its records counted in `removed`; how many it held, or
/// `None` (said at ERROR) when it could not be removed.
fn remove_counted(path: &Path, removed: &AtomicU64) -> Option<u64> {
    let records = std::fs::read(path).map_or(0, |b| count_lines(&b));
    match std::fs::remove_file(path) {
        Ok(()) => {
            removed.fetch_add(records, Ordering::Relaxed);
            Some(records)
        }
        Err(error) => {
            tracing::error!(file = %path.display(), %error, "cannot remove a dead-letter file");
            None
        }
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Opens the current file to append to, cutting a torn record off its end first: a
/// write that failed and could not be cut back (its events were kept and written again).
fn open_append(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        crate::private_fs::create_dir_all(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = crate::private_fs::options()
        .read(true)
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let whole = whole_records_end(&file).with_context(|| format!("reading {}", path.display()))?;
    if whole < file.metadata()?.len() {
        tracing::warn!(file = %path.display(), cut_from = whole, "the dead-letter file ends in a torn record (a write that failed, in this run or an earlier one); it is cut off (a record this run failed to write is written again whole)");
        file.set_len(whole)
            .with_context(|| format!("cutting the torn record off {}", path.display()))?;
    }
    Ok(file)
}

/// The end of the last whole record (line) of `file`.
fn whole_records_end(file: &std::fs::File) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut end = file.metadata()?.len();
    let mut block = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let read = &mut block[..(end - start) as usize];
        file.read_exact_at(read, start)?;
        if let Some(newline) = read.iter().rposition(|&b| b == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(reason: &str) -> Record<'_> {
        Record {
            time: now_rfc3339(),
            stage: "parse",
            destination: None,
            reason,
            attempts: None,
            first_error: None,
            origin: None,
            event_id: None,
            event: None,
            line: Some("x".repeat(100)),
        }
    }

    #[tokio::test]
    async fn the_file_is_rotated_at_its_size_bound_and_nothing_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeadLetter::new(dir.path(), 1000, 1 << 20);
        let never = CancellationToken::new();
        for n in 0..30 {
            assert!(store.store(&[record(&format!("r{n}"))], &never).await);
        }
        let mut lines = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let size = std::fs::metadata(&path).unwrap().len();
            assert!(size <= 1000, "{} is {size} bytes", path.display());
            lines += std::fs::read_to_string(&path).unwrap().lines().count();
        }
        assert_eq!(lines, 30);
    }

    #[tokio::test]
    async fn past_its_total_bound_the_oldest_files_go_and_their_records_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeadLetter::new(dir.path(), 1000, 3000);
        let never = CancellationToken::new();
        for n in 0..100 {
            assert!(store.store(&[record(&format!("r{n}"))], &never).await);
        }
        let files = files(store.path());
        let total: u64 = files
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(total <= 3000, "{total} bytes kept");
        let kept: u64 = files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap().lines().count() as u64)
            .sum();
        assert_eq!(kept + store.removed(), 100, "every record kept or counted");
        assert!(store.removed() > 0);
        let last = std::fs::read_to_string(store.path()).unwrap();
        assert!(last.contains("\"r99\""), "the newest records stay");
    }

    #[tokio::test]
    async fn a_store_that_cannot_write_keeps_trying_until_told_to_give_up() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("a-file");
        std::fs::write(&blocked, "in the way").unwrap();
        let store = DeadLetter::new(&blocked.join("dlq"), 1 << 20, 1 << 20);
        assert!(store.check_writable().is_err());
        let give_up = CancellationToken::new();
        let cancel = give_up.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            cancel.cancel();
        });
        assert!(!store.store(&[record("r")], &give_up).await);
    }
}

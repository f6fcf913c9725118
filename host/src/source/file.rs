//! JSON Lines files: read once (a file or a glob, to its end, the last line taken even
//! without a final newline), or followed as they grow.
//!
//! Files are known by identity (device and inode), not by name: a file is read once
//! however many patterns or sources match it, and a rotated file renamed to a name the
//! glob still matches is not read again. Following polls: every `poll_interval` the
//! globs are expanded again (new files are read from their start) and each open file
//! is read to its current end. Then:
//!
//! - a file no longer at its name (renamed away, or its name now another file's) is
//!   still read, for lines its writer appends late, until it has been quiet for
//!   `rotate_wait` or is deleted;
//! - a deleted file is read to its end and closed, so its disk space is freed;
//! - a file that shrank, or whose first bytes changed (truncated and written again
//!   within one poll), is read again from its start.
//!
//! A line without its newline waits until the newline arrives, or the file is closed
//! (then it is taken). A file that cannot be opened is logged and tried again at the
//! next poll; it never stops the source.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::READ_BLOCK;
use super::{LinePosition, LineSplitter};
use crate::ack::{StreamPoint, Watermark};
use crate::module::one_line;
use crate::persist::{Checkpoints, FINGERPRINT_BYTES, FileId};
use crate::pipeline::{Ingest, Mark, Origin};

/// How long a source stopped by a reload waits for what it read to be settled before it
/// hands its files over (the next source then reads again what was not).
const HANDOVER_WAIT: Duration = Duration::from_secs(2);

/// The files every file source of a run has opened, so that no file is read twice.
pub type Claims = Arc<Mutex<HashMap<FileId, Claim>>>;

/// What the run knows of a file it has opened.
#[derive(Debug)]
pub enum Claim {
    /// A source is reading it.
    Open,
    /// Read and closed, its first bytes kept: a file found later under the same
    /// identity with other first bytes is another file (the inode was reused).
    Closed { fingerprint: Vec<u8> },
    /// Left by a source a reload stopped (renamed, or its patterns changed): the next
    /// source to find it reads on from `point`, what was settled, if it still starts
    /// with `fingerprint`.
    HandedOver {
        fingerprint: Vec<u8>,
        point: StreamPoint,
    },
}

/// What a source may do with a file it found.
enum Claimed {
    /// Another source reads it, or read it.
    No,
    /// Read it, from its checkpoint if it has one.
    Yes,
    /// Read it from where the source that had it stopped.
    From(StreamPoint, Vec<u8>),
}

/// How a file source reads.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub patterns: Vec<String>,
    pub follow: bool,
    pub poll_interval: Duration,
    pub rotate_wait: Duration,
    /// Where each file resumes, and where its safe point is kept; none without a
    /// `data_dir`.
    pub checkpoints: Option<Arc<Checkpoints>>,
    /// The run's shutdown: a source stopped while it goes on (by a reload) hands its
    /// files over to the source that may replace it.
    pub run_shutdown: CancellationToken,
}

pub async fn run(
    source: FileSource,
    mut ingest: Ingest,
    claims: Claims,
    shutdown: CancellationToken,
) -> Result<()> {
    ingest.chain_each_file();
    let mut reader = Reader {
        source,
        files: HashMap::new(),
        claims,
        not_opened: HashSet::new(),
        looked_for_rotated: false,
        block: vec![0u8; READ_BLOCK],
    };
    let result = reader.run(&mut ingest, &shutdown).await;
    reader.release_all();
    reader.files.clear();
    reader.publish(&ingest);
    result
}

struct Reader {
    source: FileSource,
    files: HashMap<FileId, OpenFile>,
    claims: Claims,
    /// Names that could not be opened, so each failure is logged once.
    not_opened: HashSet<PathBuf>,
    /// Whether the files rotated while sluice was stopped were looked for (once, at the
    /// first discovery).
    looked_for_rotated: bool,
    block: Vec<u8>,
}

impl Reader {
    async fn run(&mut self, ingest: &mut Ingest, shutdown: &CancellationToken) -> Result<()> {
        loop {
            let matched = self.discover(ingest).await?;
            if !self.source.follow && !matched {
                tracing::warn!(patterns = ?self.source.patterns, "no file matches the source's paths");
                ingest.read_error();
            }
            let ids: Vec<FileId> = self.files.keys().copied().collect();
            for id in ids {
                if shutdown.is_cancelled() {
                    break;
                }
                let file = self.files.get_mut(&id).expect("listed above");
                // Before reading on: new bytes of a file written anew are not a
                // continuation of the old ones.
                let check = file.check(self.source.rotate_wait).await;
                if let Check::Replaced = check {
                    tracing::info!(file = %one_line(&file.name), "file truncated or written anew; reading it from its start");
                    file.restart(ingest).await?;
                }
                self.publish(ingest);
                let file = self.files.get_mut(&id).expect("listed above");
                file.read_available(ingest, &mut self.block, shutdown)
                    .await?;
                if !file.at_end {
                    // Stopped mid-file (shutdown, or every destination gone).
                    break;
                }
                match check {
                    _ if !self.source.follow => self.close(id, ingest, Closing::ReadOnce).await,
                    // Read to its end first, for what was written before it went.
                    Check::Done(why) => self.close(id, ingest, why).await,
                    Check::Open | Check::Replaced => {}
                }
            }
            self.publish(ingest);
            if !self.source.follow || shutdown.is_cancelled() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(self.source.poll_interval) => {}
                () = shutdown.cancelled() => break,
            }
        }
        if shutdown.is_cancelled() && !self.source.run_shutdown.is_cancelled() {
            self.hand_over().await;
            return Ok(());
        }
        // The host is stopping; take the unterminated last lines of files read to their
        // end rather than lose them. A file the stop interrupted mid-read is left where
        // it stopped: its last bytes are the cut end of a read, not a line.
        let ids: Vec<FileId> = self.files.keys().copied().collect();
        for id in ids {
            let file = &self.files[&id];
            if file.at_end {
                self.close(id, ingest, Closing::Stopping).await;
            } else {
                tracing::info!(file = %one_line(&file.name), settled_through = file.watermark.safe().offset, read = file.read_bytes, "stopped before the end of the file");
            }
        }
        Ok(())
    }

    /// Shows the files open and the bytes in them not read yet in the source's figures.
    fn publish(&self, ingest: &Ingest) {
        let unread = self.files.values().map(OpenFile::unread).sum();
        ingest.figures().files(self.files.len(), unread);
    }

    /// Opens the files the patterns name now that are not open yet (by identity);
    /// whether the patterns name any file.
    async fn discover(&mut self, ingest: &mut Ingest) -> Result<bool> {
        let Matches {
            files: paths,
            not_files,
            unreadable,
            not_utf8,
        } = matches(&self.source.patterns)?;
        // Such a file is matched, though not read: said as itself, not as no match.
        let odd_names = !not_utf8.is_empty();
        let not_read = not_utf8
            .into_iter()
            .map(|path| {
                let why = "a file whose name is not UTF-8 is not read (no pattern can name it): rename it";
                (path, why.to_owned())
            })
            .chain(unreadable.into_iter().map(|(path, error)| {
                let why = format!("cannot read a directory the source's patterns search: {error}");
                (path, why)
            }));
        // Each said once, counted as an input not read, and the source's problem while
        // it lasts.
        let mut unopened = None;
        for (path, why) in not_read {
            let shown = one_line(&path.display().to_string());
            if self.not_opened.insert(path) {
                tracing::warn!(path = %shown, patterns = ?self.source.patterns, "{why}; looked at again at the next poll");
                ingest.read_error();
            }
            unopened = Some(format!("{why}: {shown}"));
        }
        for path in not_files {
            if self.not_opened.insert(path.clone()) {
                tracing::warn!(path = %one_line(&path.display().to_string()), "a path the source's patterns match is not a regular file (a directory, a device, a FIFO?); it is not read");
            }
        }
        let matched = !paths.is_empty() || odd_names;
        if !self.looked_for_rotated {
            self.looked_for_rotated = true;
            self.open_rotated_while_stopped(&paths, ingest).await;
        }
        for path in paths {
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(_) => continue,
            };
            let id = FileId::of(&meta);
            if let Some(open) = self.files.get_mut(&id) {
                // The same file under another matching name: a rename, not a new file.
                if open.path != path {
                    tracing::debug!(file = %one_line(&open.name), now = %one_line(&path.display().to_string()), "file renamed");
                    open.path = path;
                }
                continue;
            }
            let handed = match self.claim(id, &path) {
                Claimed::No => continue,
                Claimed::Yes => None,
                Claimed::From(point, fingerprint) => Some((point, fingerprint)),
            };
            // A handed-over file's bytes were counted by the source that read them.
            let from_checkpoint = handed.is_none();
            match OpenFile::open(
                &path,
                id,
                ingest.max_line_bytes(),
                self.source.checkpoints.as_ref(),
                handed,
            )
            .await
            {
                Ok(mut file) => {
                    if from_checkpoint {
                        ingest.resumed_bytes(file.read_bytes);
                    }
                    file.replay_chain(ingest);
                    self.not_opened.remove(&path);
                    tracing::info!(file = %one_line(&file.name), from = file.read_bytes, "reading file");
                    self.files.insert(id, file);
                }
                Err(error) => {
                    self.claims.lock().expect("not poisoned").remove(&id);
                    let error = format!("{error:#}");
                    if self.not_opened.insert(path.clone()) {
                        tracing::warn!(%error, "cannot open file; trying again at the next poll");
                        ingest.read_error();
                    }
                    unopened = Some(format!("cannot open a file: {error}"));
                }
            }
        }
        ingest.figures().set_problem(unopened);
        Ok(matched)
    }

    /// Opens the files this source read before the restart that were renamed away from
    /// its patterns meanwhile, at their checkpoints, judged rotated by their old name.
    async fn open_rotated_while_stopped(&mut self, paths: &[PathBuf], ingest: &mut Ingest) {
        let Some(checkpoints) = self.source.checkpoints.clone() else {
            return;
        };
        let matched: Vec<FileId> = paths
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok().map(|meta| FileId::of(&meta)))
            .collect();
        let found =
            super::rotated::rotated_while_stopped(&self.source.patterns, &matched, &checkpoints);
        for rotated in found {
            if !matches!(self.claim(rotated.id, &rotated.path), Claimed::Yes) {
                continue;
            }
            let opened = OpenFile::open(
                &rotated.path,
                rotated.id,
                ingest.max_line_bytes(),
                Some(&checkpoints),
                None,
            )
            .await;
            match opened {
                Ok(mut file) => {
                    file.path = rotated.read_as;
                    file.replay_chain(ingest);
                    self.files.insert(rotated.id, file);
                }
                Err(error) => {
                    self.claims
                        .lock()
                        .expect("not poisoned")
                        .remove(&rotated.id);
                    tracing::warn!(error = %format!("{error:#}"), "cannot open a file rotated while sluice was stopped");
                    ingest.read_error();
                }
            }
        }
    }

    /// Claims the file `id`, found at `path`, for this source: not when it is being
    /// read, or was read, already; from where a source a reload stopped left it.
    fn claim(&mut self, id: FileId, path: &Path) -> Claimed {
        let mut claims = self.claims.lock().expect("not poisoned");
        let claimed = match claims.get(&id) {
            Some(Claim::Open) => {
                if self.not_opened.insert(path.to_path_buf()) {
                    tracing::info!(file = %one_line(&path.display().to_string()), "file read by another file source; not read twice (a source a reload stopped hands it over)");
                }
                return Claimed::No;
            }
            Some(Claim::Closed { fingerprint }) if starts_with(path, fingerprint) => {
                return Claimed::No;
            }
            Some(Claim::HandedOver { fingerprint, point }) if starts_with(path, fingerprint) => {
                Claimed::From(*point, fingerprint.clone())
            }
            // Never seen, or its identity now another file's.
            None | Some(Claim::Closed { .. } | Claim::HandedOver { .. }) => Claimed::Yes,
        };
        self.not_opened.remove(path);
        claims.insert(id, Claim::Open);
        claimed
    }

    /// Leaves the open files to the source that may replace this one (a reload stopped
    /// it): each at the point before which what this source read is settled, waiting
    /// up to [`HANDOVER_WAIT`] for the rest; an unfinished last line is left to be read
    /// whole.
    async fn hand_over(&mut self) {
        let waited = Instant::now();
        for (id, file) in std::mem::take(&mut self.files) {
            let read = file.read_point().offset;
            while file.watermark.safe().offset < read
                && waited.elapsed() < HANDOVER_WAIT
                && !self.source.run_shutdown.is_cancelled()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let point = file.watermark.safe();
            tracing::info!(file = %one_line(&file.name), from = point.offset, "file handed over to the source that replaces this one");
            let mut fingerprint = file.fingerprint;
            fingerprint.truncate(usize::try_from(point.offset).unwrap_or(usize::MAX));
            self.claims
                .lock()
                .expect("not poisoned")
                .insert(id, Claim::HandedOver { fingerprint, point });
        }
    }

    /// Takes the file's unterminated last line and closes it.
    async fn close(&mut self, id: FileId, ingest: &mut Ingest, why: Closing) {
        let Some(mut file) = self.files.remove(&id) else {
            return;
        };
        ingest.seal_chain(file.id.seed());
        file.finish(ingest).await;
        let mut claims = self.claims.lock().expect("not poisoned");
        if let (Closing::Deleted, Some(checkpoints)) = (why, &self.source.checkpoints) {
            checkpoints.forget(id);
        }
        match why {
            // Its identity may be reused by a new file at once.
            Closing::Deleted => claims.remove(&id),
            _ => claims.insert(
                id,
                Claim::Closed {
                    fingerprint: std::mem::take(&mut file.fingerprint),
                },
            ),
        };
        tracing::info!(file = %one_line(&file.name), read = file.read_bytes, settled_through = file.watermark.safe().offset, "file closed: {why}");
    }

    /// Leaves the files still open to be read by whoever finds them next.
    fn release_all(&mut self) {
        let mut claims = self.claims.lock().expect("not poisoned");
        for id in self.files.keys() {
            claims.remove(id);
        }
    }
}

/// The entries of `pattern`'s directory whose names are not UTF-8 and that its last part
/// would match, read as text (the glob crate skips such names without a word). Only
/// where the directory part has no wildcard: one directory is listed, not a tree.
fn not_utf8_matches(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let wildcard = |text: &str| text.contains(['*', '?', '[']);
    let Ok(name) = glob::Pattern::new(name) else {
        return Vec::new();
    };
    if wildcard(&dir.to_string_lossy()) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|entry| entry.file_name())
        .filter(|file| file.to_str().is_none() && name.matches(&file.to_string_lossy()))
        .map(|file| path.with_file_name(file))
        .collect()
}

/// The files the patterns name now, in a stable order.
pub fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    Ok(matches(patterns)?.files)
}

/// What the patterns name now: regular files, the other paths (directories, devices,
/// FIFOs, sockets), which are not read, the directories the search could not read
/// (with why), where files may hide, and the files whose names are not UTF-8, which
/// a pattern cannot name (found where the last part of a pattern holds its wildcards).
#[derive(Debug, Default)]
pub struct Matches {
    pub files: Vec<PathBuf>,
    pub not_files: Vec<PathBuf>,
    pub unreadable: Vec<(PathBuf, String)>,
    pub not_utf8: Vec<PathBuf>,
}

/// The paths the patterns name now, each list in a stable order.
pub fn matches(patterns: &[String]) -> Result<Matches> {
    let mut found = Matches::default();
    for pattern in patterns {
        for entry in glob::glob(pattern).with_context(|| format!("bad glob `{pattern}`"))? {
            match entry {
                Ok(path) if path.is_file() => found.files.push(path),
                Ok(path) => found.not_files.push(path),
                Err(error) => found
                    .unreadable
                    .push((error.path().to_path_buf(), error.error().to_string())),
            }
        }
        found.not_utf8.extend(not_utf8_matches(pattern));
    }
    for list in [&mut found.files, &mut found.not_files] {
        list.sort();
        list.dedup();
    }
    Ok(found)
}

/// Whether the file at `path` starts with `bytes`.
fn starts_with(path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let mut start = vec![0u8; bytes.len()];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| start == bytes)
}

/// What a poll found of an open file.
enum Check {
    Open,
    /// Truncated, or written anew in place: read again from the start.
    Replaced,
    /// Read it no more.
    Done(Closing),
}

/// Why a file is closed.
#[derive(Debug, Clone, Copy)]
enum Closing {
    ReadOnce,
    Deleted,
    Unreadable,
    RotatedAway,
    Stopping,
}

impl std::fmt::Display for Closing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Closing::ReadOnce => "read to its end",
            Closing::Deleted => "it was deleted",
            Closing::Unreadable => "it can no longer be read",
            Closing::RotatedAway => "rotated away, and quiet for rotate_wait",
            Closing::Stopping => "the host is stopping",
        })
    }
}

struct OpenFile {
    id: FileId,
    /// Where the file was last seen.
    path: PathBuf,
    /// Its name when opened: the origin of its events.
    name: String,
    /// Read in place on the runtime's thread (`block_in_place`, as the spool reads):
    /// tokio's `File` read into a buffer of its own on a blocking thread, then copied it
    /// into ours, which cost a copy of every byte and a hand-off per read.
    file: std::fs::File,
    splitter: LineSplitter,
    read_bytes: u64,
    /// Its size when last looked at.
    seen_bytes: u64,
    /// The file's first bytes as read, up to [`FINGERPRINT_BYTES`].
    fingerprint: Vec<u8>,
    /// The last read reached the end of the file as it was then.
    at_end: bool,
    /// When a read last found new bytes.
    last_growth: Instant,
    watermark: Watermark,
    checkpoints: Option<Arc<Checkpoints>>,
}

impl OpenFile {
    /// Opens the file at `path`, known as `id`, where a source a reload stopped left it
    /// (`handed`), else where its checkpoint says (if it has one and is still the same
    /// file), and keeps its checkpoint from now on.
    async fn open(
        path: &Path,
        id: FileId,
        max_line_bytes: usize,
        checkpoints: Option<&Arc<Checkpoints>>,
        handed: Option<(StreamPoint, Vec<u8>)>,
    ) -> Result<Self> {
        let mut file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let opened = FileId::of(&file.metadata()?);
        anyhow::ensure!(
            opened == id,
            "{} was replaced while being opened",
            path.display()
        );
        let name = path.display().to_string();
        let resumed = handed.or_else(|| checkpoints.and_then(|c| c.resume(id, &name, &mut file)));
        let (start, mut fingerprint) = resumed.unwrap_or_default();
        // What follows the checkpoint is read again, and extends the first bytes anew.
        fingerprint.truncate(usize::try_from(start.offset).unwrap_or(usize::MAX));
        file.seek(SeekFrom::Start(start.offset))
            .with_context(|| format!("seeking {} to its checkpoint", path.display()))?;
        let watermark = Watermark::starting_at(start);
        if let Some(checkpoints) = checkpoints {
            checkpoints.track(id, &name, watermark.clone());
            checkpoints.first_bytes(id, &fingerprint);
        }
        Ok(OpenFile {
            id,
            path: path.to_path_buf(),
            name,
            file,
            splitter: LineSplitter::resuming(
                max_line_bytes,
                LinePosition {
                    number: start.lines,
                    offset: start.offset,
                },
            ),
            read_bytes: start.offset,
            seen_bytes: start.offset,
            fingerprint,
            at_end: false,
            last_growth: Instant::now(),
            watermark,
            checkpoints: checkpoints.cloned(),
        })
    }

    /// With `[integrity]`, chains the events before where the file resumes, as they
    /// were chained when first read, so that what is read next continues the chain. A
    /// failure is said: the events read next start the chain anew (a fork `sluice
    /// verify` reports).
    fn replay_chain(&mut self, ingest: &mut Ingest) {
        if !ingest.chaining() || self.read_bytes == 0 {
            return;
        }
        let (stream, resume_at) = (self.id.seed(), self.read_bytes);
        let replayed = tokio::task::block_in_place(|| {
            self.file.seek(SeekFrom::Start(0))?;
            let mut prefix = (&mut self.file).take(resume_at);
            ingest.replay_chain(stream, &self.name, &mut prefix)?;
            self.file.seek(SeekFrom::Start(resume_at))
        });
        if let Err(error) = replayed {
            tracing::error!(file = %one_line(&self.name), %error, "cannot chain again the events before the checkpoint: the events read next start a new chain");
            ingest.restart_chain(stream);
        }
    }

    /// Bytes past where it has read, as of the last look at its size.
    fn unread(&self) -> u64 {
        self.seen_bytes.saturating_sub(self.read_bytes)
    }

    /// The point after the last line read: where the next chunk ends.
    fn read_point(&self) -> StreamPoint {
        StreamPoint {
            offset: self.splitter.consumed(),
            lines: self.splitter.lines(),
        }
    }

    /// Reads to the current end of the file, one chunk per read.
    async fn read_available(
        &mut self,
        ingest: &mut Ingest,
        block: &mut [u8],
        shutdown: &CancellationToken,
    ) -> Result<()> {
        loop {
            let read = tokio::task::block_in_place(|| self.file.read(block))
                .with_context(|| format!("reading {}", one_line(&self.name)))?;
            self.at_end = read == 0;
            if self.at_end {
                return Ok(());
            }
            self.last_growth = Instant::now();
            ingest.read_bytes(read);
            let bytes = &block[..read];
            if self.fingerprint.len() < FINGERPRINT_BYTES
                && self.read_bytes < FINGERPRINT_BYTES as u64
            {
                let wanted = FINGERPRINT_BYTES - self.fingerprint.len();
                self.fingerprint
                    .extend_from_slice(&bytes[..bytes.len().min(wanted)]);
                if let Some(checkpoints) = &self.checkpoints {
                    checkpoints.first_bytes(self.id, &self.fingerprint);
                }
            }
            let unread = self.unread();
            self.read_bytes += read as u64;
            ingest.figures().unread_fell(unread - self.unread());
            let (name, stream) = (&self.name, self.id.seed());
            self.splitter.feed(bytes, |position, line| {
                ingest.line(origin(name, stream, position), line)
            });
            let position = self.watermark.issue(self.read_point());
            if ingest
                .flush(Some(Mark::file(&self.watermark, position, self.id)))
                .await
                .is_err()
                || shutdown.is_cancelled()
            {
                return Ok(());
            }
        }
    }

    /// What became of the file since the last read.
    async fn check(&mut self, rotate_wait: Duration) -> Check {
        let Ok(meta) = self.file.metadata() else {
            return Check::Done(Closing::Unreadable);
        };
        if meta.nlink() == 0 {
            return Check::Done(Closing::Deleted);
        }
        self.seen_bytes = meta.len();
        // The first bytes are read again only when there is something new to read: a
        // quiet file costs a `stat` per poll, not a seek and a read.
        let grew = meta.len() > self.read_bytes;
        if meta.len() < self.read_bytes || (grew && self.first_bytes_changed().await) {
            return Check::Replaced;
        }
        let at_its_name = std::fs::metadata(&self.path)
            .map(|meta| FileId::of(&meta) == self.id)
            .unwrap_or(false);
        if !at_its_name && self.last_growth.elapsed() >= rotate_wait {
            return Check::Done(Closing::RotatedAway);
        }
        Check::Open
    }

    /// Whether the bytes at the start of the file differ from those read there.
    async fn first_bytes_changed(&mut self) -> bool {
        if self.fingerprint.is_empty() {
            return false;
        }
        let mut now = vec![0u8; self.fingerprint.len()];
        let read = tokio::task::block_in_place(|| {
            self.file.seek(SeekFrom::Start(0))?;
            self.file.read_exact(&mut now)?;
            self.file.seek(SeekFrom::Start(self.read_bytes))
        });
        match read {
            Ok(_) => now != self.fingerprint,
            // Shorter than what was read: the size check says so.
            Err(_) => false,
        }
    }

    /// Takes what is left of the old content's last line, then starts over at byte 0.
    async fn restart(&mut self, ingest: &mut Ingest) -> Result<()> {
        self.finish(ingest).await;
        ingest.restart_chain(self.id.seed());
        self.file
            .seek(SeekFrom::Start(0))
            .with_context(|| format!("rewinding {}", one_line(&self.name)))?;
        self.splitter = LineSplitter::new(ingest.max_line_bytes());
        self.read_bytes = 0;
        self.fingerprint.clear();
        self.watermark = Watermark::default();
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.track(self.id, &self.name, self.watermark.clone());
        }
        Ok(())
    }

    /// Takes the unterminated last line, if any.
    async fn finish(&mut self, ingest: &mut Ingest) {
        let (name, stream) = (&self.name, self.id.seed());
        self.splitter
            .finish(|position, line| ingest.line(origin(name, stream, position), line));
        let position = self.watermark.issue(self.read_point());
        let _ = ingest
            .flush(Some(Mark::file(&self.watermark, position, self.id)))
            .await;
    }
}

fn origin(name: &str, stream: u64, position: LinePosition) -> Origin<'_> {
    Origin {
        name,
        stream,
        line: position.number,
        offset: position.offset,
    }
}

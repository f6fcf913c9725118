//! The files an export reads: those its sources' patterns match now and the names
//! rotation gives them (`audit.jsonl.1`, `audit.jsonl.2.gz`, `audit.jsonl-20261201.zst`),
//! oldest first; each opened through its decompressor, told by its first bytes, not
//! by its name; and the test that leaves a file unread when its times show it holds
//! nothing in the range.

use std::io::{BufReader, Read, Seek};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::persist::FileId;
use crate::pipeline::ChunkBuilder;
use sluice_reader::{LineParser, Parsed};

/// How far an event may stand out of order in its file, or a file's modification time
/// from its last event's own time (a producer that buffers, a clock that drifts): a
/// file is left unread only when its times are this far outside the range.
pub const SLACK_MS: i64 = 3_600_000;

/// Bytes read from each end of a file to find its first and last times.
const PROBE_BYTES: usize = 1 << 20;

/// A file to export, as found when the export started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub path: PathBuf,
    pub len: u64,
    pub device: u64,
    pub inode: u64,
}

impl Input {
    pub fn id(&self) -> FileId {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.device.to_le_bytes());
        bytes[8..].copy_from_slice(&self.inode.to_le_bytes());
        FileId::from_bytes(bytes)
    }

    /// The path for logs and dead-letter records: one line whatever its bytes.
    pub fn name(&self) -> String {
        crate::module::one_line(&self.path.display().to_string())
    }
}

/// The files `patterns` match and their rotated names, each once, oldest (by
/// modification time) first, without `exclude` (the export's own output and state).
/// Unreadable directories and files that are not regular are said on stderr.
pub fn find(patterns: &[String], exclude: &[PathBuf]) -> Result<Vec<Input>> {
    let mut wanted = Vec::new();
    for pattern in patterns {
        // `NAME.1`, `NAME.2.gz` (logrotate's numbers), `NAME-20261201[.gz]` (its dateext).
        wanted.extend([
            pattern.clone(),
            format!("{pattern}.*"),
            format!("{pattern}-*"),
        ]);
    }
    let found = crate::source::matches(&wanted)?;
    for (dir, error) in &found.unreadable {
        eprintln!(
            "sluice: warning: {} cannot be searched ({error}): files there are not exported",
            dir.display()
        );
    }
    let globs: Vec<glob::Pattern> = patterns
        .iter()
        .filter_map(|p| glob::Pattern::new(p).ok())
        .collect();
    let excluded: Vec<PathBuf> = exclude
        .iter()
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .collect();
    let mut inputs = Vec::new();
    for path in found.files {
        let ours = globs.iter().any(|glob| rotated_of(glob, &path));
        if !ours || excluded.contains(&std::fs::canonicalize(&path)?) {
            continue;
        }
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?;
        inputs.push((
            meta.modified().ok(),
            Input {
                path,
                len: meta.len(),
                device: meta.dev(),
                inode: meta.ino(),
            },
        ));
    }
    // One file under two names (a hard link) is read once.
    inputs.sort_by_key(|a| (a.1.device, a.1.inode));
    inputs.dedup_by(|a, b| (a.1.device, a.1.inode) == (b.1.device, b.1.inode));
    inputs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.path.cmp(&b.1.path)));
    Ok(inputs.into_iter().map(|(_, input)| input).collect())
}

/// Whether `path` is what `glob` matches, or a rotated copy of it: with `.N` (logrotate's
/// numbers), `-YYYYMMDD` or `-YYYY-MM-DD` (its `dateext`) after the name, then `.gz` or
/// `.zst` or neither. Other names beside it (`.old`, `.bak`, `.bz2`, an export's
/// output) are not the source's.
fn rotated_of(glob: &glob::Pattern, path: &std::path::Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let dated = |s: &str| {
        let bytes = s.as_bytes();
        (s.len() == 8 && digits(s))
            || (s.len() == 10
                && bytes[4] == b'-'
                && bytes[7] == b'-'
                && digits(&s[..4])
                && digits(&s[5..7])
                && digits(&s[8..]))
    };
    let plain = [".gz", ".zst"]
        .iter()
        .find_map(|suffix| text.strip_suffix(suffix))
        .unwrap_or(text);
    let numbered = plain
        .rsplit_once('.')
        .filter(|(_, n)| digits(n))
        .map(|(name, _)| name);
    let stamped = [8, 10].iter().find_map(|&len| {
        let cut = plain.len().checked_sub(len + 1)?;
        let (name, date) = plain.split_at_checked(cut)?;
        (date.starts_with('-') && dated(&date[1..])).then_some(name)
    });
    [Some(text), Some(plain), numbered, stamped]
        .into_iter()
        .flatten()
        .any(|name| glob.matches(name))
}

/// How a file's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Told by the file's first bytes (a `.gz` that is not gzip is read as it is).
    fn of(file: &mut std::fs::File) -> std::io::Result<Compression> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < magic.len() {
            match file.read(&mut magic[got..])? {
                0 => break,
                n => got += n,
            }
        }
        file.rewind()?;
        Ok(match &magic[..got] {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
            _ => Compression::None,
        })
    }
}

/// `file`'s text, through gzip or zstd when its first bytes say so.
pub fn decompressed(mut file: std::fs::File) -> Result<Box<dyn Read + Send>> {
    let compression = Compression::of(&mut file)?;
    decoder(compression, BufReader::new(file))
}

/// `bytes` decompressed as `compression` says.
fn decoder(
    compression: Compression,
    bytes: impl std::io::BufRead + Send + 'static,
) -> Result<Box<dyn Read + Send>> {
    Ok(match compression {
        Compression::None => Box::new(bytes),
        // Multi: `cat a.gz b.gz` and bgzip files are gzip members back to back.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(bytes)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(bytes)?),
    })
}

/// Counts the bytes read from the file itself (compressed, for a compressed one): the
/// progress of an export is measured against the files' sizes.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// `input`'s text (decompressed) from byte `from` of it, the file's own bytes read
/// counted in `read`. A file that is no longer the one found (replaced meanwhile) is
/// an error.
pub fn open(input: &Input, from: u64, read: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>> {
    let mut file = locate(input)?;
    let compression = Compression::of(&mut file)?;
    if compression == Compression::None {
        let len = file.metadata()?.len();
        anyhow::ensure!(
            len >= from,
            "{} holds {len} bytes, fewer than the {from} an earlier run exported: it was cut or written anew",
            input.name()
        );
        file.seek(std::io::SeekFrom::Start(from))?;
        read.fetch_add(from, Ordering::Relaxed);
    }
    let counted = BufReader::with_capacity(super::READ_BLOCK, Counted { inner: file, read });
    if compression == Compression::None {
        return Ok(Box::new(counted));
    }
    let mut text = decoder(compression, counted).with_context(|| {
        format!(
            "{}: cannot start reading its compressed stream",
            input.name()
        )
    })?;
    // Compressed text has no index: what was exported of it is read again and passed.
    let passed = std::io::copy(&mut (&mut text).take(from), &mut std::io::sink())
        .with_context(|| format!("reading {}", input.name()))?;
    anyhow::ensure!(
        passed == from,
        "{} holds {passed} bytes, fewer than the {from} an earlier run exported",
        input.name()
    );
    Ok(text)
}

/// `input`, the file found when the export began: at its path, or renamed in its
/// directory since (a rotation while the export was stopped), by its identity.
fn locate(input: &Input) -> Result<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    let same = |meta: &std::fs::Metadata| (meta.dev(), meta.ino()) == (input.device, input.inode);
    if let Ok(file) = std::fs::File::open(&input.path)
        && file.metadata().is_ok_and(|meta| same(&meta))
    {
        return Ok(file);
    }
    let dir = match input.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let renamed = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| std::fs::symlink_metadata(path).is_ok_and(|meta| same(&meta)));
    match renamed {
        Some(path) => {
            tracing::info!(file = %input.name(), now = %crate::module::one_line(&path.display().to_string()), "renamed since the export began: read under its new name");
            Ok(std::fs::File::open(path)?)
        }
        None => anyhow::bail!(
            "{} is no longer in its directory under any name (deleted, or compressed into a new file, since the export began)",
            input.name()
        ),
    }
}

/// The times of the first and last events of a file, as far as can be told without
/// reading all of it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Span {
    pub first_ms: Option<i64>,
    /// For a compressed file, its modification time (gzip and zstd keep the original's).
    pub last_ms: Option<i64>,
}

impl Span {
    /// Why a file of these times holds nothing in `[from, to)`, if it cannot.
    pub fn outside(&self, from_ms: i64, to_ms: i64) -> Option<&'static str> {
        if self.first_ms.is_some_and(|first| first >= to_ms + SLACK_MS) {
            return Some("its first event is more than an hour after --to");
        }
        if self.last_ms.is_some_and(|last| last < from_ms - SLACK_MS) {
            return Some("its last event is more than an hour before --from");
        }
        None
    }
}

/// The earliest event time in the first MiB of `input`'s text and the latest in its
/// last MiB (for a compressed file, its modification time).
pub fn span(input: &Input, parser: &LineParser) -> Result<Span> {
    let mut text = open(input, 0, Arc::default())?;
    let mut head = Vec::with_capacity(PROBE_BYTES);
    (&mut text)
        .take(PROBE_BYTES as u64)
        .read_to_end(&mut head)?;
    // The earliest of the first MiB and the latest of the last: one stray time does
    // not hide a file.
    let first_ms = head
        .split(|&b| b == b'\n')
        .filter_map(|line| time_of(line, parser))
        .min();
    let mut file = locate(input)?;
    let last_ms = match Compression::of(&mut file)? {
        Compression::None => {
            let start = input.len.saturating_sub(PROBE_BYTES as u64);
            file.seek(std::io::SeekFrom::Start(start))?;
            let mut tail = Vec::with_capacity(PROBE_BYTES);
            file.take(PROBE_BYTES as u64).read_to_end(&mut tail)?;
            let lines: Vec<&[u8]> = tail.split(|&b| b == b'\n').collect();
            // The first line of the tail may be the end of a line cut in two.
            let whole = if start > 0 { &lines[1..] } else { &lines[..] };
            whole.iter().filter_map(|line| time_of(line, parser)).max()
        }
        Compression::Gzip | Compression::Zstd => file
            .metadata()?
            .modified()
            .ok()
            .and_then(|at| jiff::Timestamp::try_from(at).ok())
            .map(|at| at.as_millisecond()),
    };
    Ok(Span { first_ms, last_ms })
}

/// The event time of `line`, when it is an event with a time of its own.
fn time_of(line: &[u8], parser: &LineParser) -> Option<i64> {
    let mut chunk = ChunkBuilder::default();
    let now = jiff::Timestamp::now().as_millisecond();
    match parser.parse(line, 0, now, &mut chunk) {
        Parsed::Event { .. } => chunk
            .events
            .first()
            .filter(|m| !m.ingest_time)?
            .time_ms
            .into(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn text_of(input: &Input, from: u64) -> String {
        let mut text = String::new();
        open(input, from, Arc::default())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn rotated_names_are_found_and_each_file_is_read_through_what_its_bytes_say() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("audit.jsonl"), "live\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"one\ntwo\n").unwrap();
        // Named as if plain: the bytes decide.
        std::fs::write(path("audit.jsonl.1"), gz.finish().unwrap()).unwrap();
        let zst = zstd::encode_all(&b"dated\n"[..], 1).unwrap();
        std::fs::write(path("audit.jsonl-20261201.zst"), zst).unwrap();
        std::fs::write(path("other.jsonl"), "not ours\n").unwrap();
        std::fs::write(path("audit.jsonl.out"), "the output\n").unwrap();
        let pattern = path("audit.jsonl").display().to_string();
        let found = find(&[pattern], &[path("audit.jsonl.out")]).unwrap();
        let mut names: Vec<String> = found
            .iter()
            .map(|i| i.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["audit.jsonl", "audit.jsonl-20261201.zst", "audit.jsonl.1"]
        );
        let by_name = |name: &str| found.iter().find(|i| i.path == path(name)).unwrap();
        assert_eq!(text_of(by_name("audit.jsonl.1"), 0), "one\ntwo\n");
        assert_eq!(text_of(by_name("audit.jsonl.1"), 4), "two\n");
        assert_eq!(text_of(by_name("audit.jsonl-20261201.zst"), 0), "dated\n");
        assert_eq!(text_of(by_name("audit.jsonl"), 2), "ve\n");
    }

    #[test]
    fn only_the_names_rotation_gives_are_the_sources() {
        let glob = glob::Pattern::new("/var/log/*.log").unwrap();
        let ours = |name: &str| rotated_of(&glob, std::path::Path::new(name));
        for name in [
            "/var/log/a.log",
            "/var/log/a.log.1",
            "/var/log/a.log.12.gz",
            "/var/log/a.log.3.zst",
            "/var/log/a.log-20261201",
            "/var/log/a.log-2026-12-01.gz",
            "/var/log/a.log.gz",
        ] {
            assert!(ours(name), "{name}");
        }
        for name in [
            "/var/log/a.log.old",
            "/var/log/a.log.1.bak",
            "/var/log/a.log.4.bz2",
            "/var/log/a.log.export.jsonl",
            "/var/log/a.log.json.export-state.json",
            "/var/log/a.log-2026",
            "/var/log/b.txt.1",
        ] {
            assert!(!ours(name), "{name}");
        }
    }

    #[test]
    fn a_file_is_left_unread_only_when_its_times_are_an_hour_outside_the_range() {
        let (from, to) = (10 * SLACK_MS, 20 * SLACK_MS);
        let span = |first, last| Span {
            first_ms: first,
            last_ms: last,
        };
        assert!(span(Some(to + SLACK_MS), None).outside(from, to).is_some());
        assert!(
            span(Some(to + SLACK_MS - 1), None)
                .outside(from, to)
                .is_none()
        );
        assert!(
            span(None, Some(from - SLACK_MS - 1))
                .outside(from, to)
                .is_some()
        );
        assert!(
            span(None, Some(from - SLACK_MS))
                .outside(from, to)
                .is_none()
        );
        assert!(
            span(None, None).outside(from, to).is_none(),
            "no time known: read"
        );
    }
}

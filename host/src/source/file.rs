//! JSON Lines files: read once (a file or a glob, to its end, the last line taken even
//! without a final newline), or followed as they grow.
//!
//! Following polls: every `poll_interval` the globs are expanded again (new files are
//! read from their start), each file is read to its current end, and a file whose
//! inode changed or that shrank is treated as rotated: the rest of the old file,
//! including an unterminated last line, is read before the new one starts. A line
//! without its newline waits until the newline arrives, the file rotates, or the host
//! stops.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::READ_BLOCK;
use super::lines::{LinePosition, LineSplitter};
use crate::pipeline::{Ingest, Origin};

pub async fn run(
    patterns: Vec<String>,
    follow: bool,
    poll_interval: Duration,
    mut ingest: Ingest,
    shutdown: CancellationToken,
) -> Result<()> {
    let mut files: BTreeMap<PathBuf, OpenFile> = BTreeMap::new();
    let mut block = vec![0u8; READ_BLOCK];
    loop {
        for path in expand(&patterns)? {
            if let std::collections::btree_map::Entry::Vacant(slot) = files.entry(path) {
                match OpenFile::open(slot.key(), ingest.max_line_bytes()).await {
                    Ok(file) => {
                        slot.insert(file);
                    }
                    Err(error) => tracing::warn!(error = %format!("{error:#}"), "cannot open file"),
                }
            }
        }
        if !follow && files.is_empty() {
            tracing::warn!(patterns = ?patterns, "no file matches the source's paths");
        }
        for file in files.values_mut() {
            if shutdown.is_cancelled() {
                break;
            }
            file.read_available(&mut ingest, &mut block, &shutdown)
                .await?;
            if follow && file.rotated().await {
                file.finish(&mut ingest).await;
                tracing::info!(file = %file.name, "file rotated; reading the new one from its start");
                *file = OpenFile::open(&file.path, ingest.max_line_bytes()).await?;
            }
        }
        if !follow || shutdown.is_cancelled() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(poll_interval) => {}
            () = shutdown.cancelled() => {}
        }
    }
    // Read once: the files are finished. Followed: the host is stopping; take the
    // unterminated last lines rather than lose them. A file the stop interrupted
    // mid-read is left where it stopped: its last bytes are the cut end of a read, not
    // a line.
    for file in files.values_mut() {
        if file.at_end {
            file.finish(&mut ingest).await;
        } else {
            tracing::info!(file = %file.name, read_bytes = file.read_bytes, "stopped before the end of the file");
        }
    }
    Ok(())
}

/// The files the patterns name now, in a stable order.
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for pattern in patterns {
        for entry in glob::glob(pattern).with_context(|| format!("bad glob `{pattern}`"))? {
            match entry {
                Ok(path) if path.is_file() => paths.push(path),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read a path of the glob"),
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

struct OpenFile {
    path: PathBuf,
    name: String,
    file: tokio::fs::File,
    inode: u64,
    splitter: LineSplitter,
    read_bytes: u64,
    /// The last read reached the end of the file as it was then.
    at_end: bool,
}

impl OpenFile {
    async fn open(path: &Path, max_line_bytes: usize) -> Result<Self> {
        let file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let inode = file.metadata().await?.ino();
        Ok(OpenFile {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            file,
            inode,
            splitter: LineSplitter::new(max_line_bytes),
            read_bytes: 0,
            at_end: false,
        })
    }

    /// Reads to the current end of the file, one chunk per read.
    async fn read_available(
        &mut self,
        ingest: &mut Ingest,
        block: &mut [u8],
        shutdown: &CancellationToken,
    ) -> Result<()> {
        loop {
            let read = self
                .file
                .read(block)
                .await
                .with_context(|| format!("reading {}", self.name))?;
            self.at_end = read == 0;
            if self.at_end {
                return Ok(());
            }
            self.read_bytes += read as u64;
            let name = &self.name;
            self.splitter.feed(&block[..read], |position, line| {
                ingest.line(origin(name, position), line)
            });
            if ingest.flush().await.is_err() || shutdown.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// Takes the unterminated last line, if any.
    async fn finish(&mut self, ingest: &mut Ingest) {
        let name = &self.name;
        self.splitter
            .finish(|position, line| ingest.line(origin(name, position), line));
        let _ = ingest.flush().await;
    }

    /// Whether the path now names another file, or the file shrank (copy-truncate).
    async fn rotated(&self) -> bool {
        match tokio::fs::metadata(&self.path).await {
            Ok(meta) => meta.ino() != self.inode || meta.len() < self.read_bytes,
            Err(_) => false,
        }
    }
}

fn origin(name: &str, position: LinePosition) -> Origin<'_> {
    Origin {
        name,
        line: position.number,
        offset: position.offset,
    }
}

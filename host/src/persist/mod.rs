//! What sluice keeps in `data_dir` across restarts: file checkpoints, and the spool
//! with each destination's position in it. One task writes them every
//! `checkpoint_interval` and once more at the end of a run, in an order that never lets
//! a checkpoint count on events that are not safe: the sources' positions are read
//! first, then the spool is forced to disk, then the checkpoints are written.

mod checkpoint;
pub(crate) mod disk;
mod source_ids;
pub mod spool;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

pub use checkpoint::{Checkpoints, FINGERPRINT_BYTES, FileId};
pub use source_ids::{SourceIds, SourceMap};
pub use spool::Spool;

use crate::config::{Config, Fsync};
use crate::metrics::Counters;

/// The state of a run that has a `data_dir`.
#[derive(Debug)]
pub struct Persisted {
    pub checkpoints: Arc<Checkpoints>,
    pub spool: Option<Arc<Spool>>,
    fsync: bool,
    /// The spool's `fsync` interval, when it has one.
    fsync_every: Option<Duration>,
    /// Held for the run: a second sluice on the same `data_dir` would corrupt it.
    _lock: std::fs::File,
    counters: Arc<Counters>,
}

impl Persisted {
    /// Opens `config.data_dir`, if set: locks it, loads the checkpoints, and opens
    /// (and recovers) the spool when it is on.
    pub fn open(config: &Config, counters: &Arc<Counters>) -> Result<Option<Persisted>> {
        let Some(dir) = &config.data_dir else {
            return Ok(None);
        };
        let lock = lock_data_dir(dir)?;
        let checkpoints = Checkpoints::load(&dir.join("checkpoints.json"));
        let spool = if config.spooled() {
            let names: Vec<Arc<str>> = config
                .destinations
                .iter()
                .map(|d| Arc::from(d.name.as_str()))
                .collect();
            let (spool, reads) = Spool::open(
                &dir.join("spool"),
                &config.spool,
                &names,
                checkpoints.spool_counted_through(),
                counters.clone(),
            )?;
            checkpoints.advance(reads);
            Some(Arc::new(spool))
        } else {
            None
        };
        Ok(Some(Persisted {
            checkpoints: Arc::new(checkpoints),
            spool,
            fsync: config.spool.fsync != Fsync::Never,
            fsync_every: match config.spool.fsync {
                Fsync::Every(every) => Some(every),
                Fsync::Always | Fsync::Never => None,
            },
            _lock: lock,
            counters: counters.clone(),
        }))
    }

    /// Writes the spool positions, removes the segments every destination has settled
    /// (whether the positions could be written or not: on a full disk the removal makes
    /// the room the next writes need), then writes the checkpoints. The positions go
    /// first: they count on deliveries, not on the spool's sync, which may take a while
    /// after a burst of writes (and a restart that finds them past the spool's end after
    /// a power cut starts at its end); written before the removal, they are not behind
    /// the oldest segment left.
    pub fn commit(&self) -> Result<()> {
        if let Some(spool) = &self.spool {
            let saved = spool.save_positions(self.fsync);
            spool.reclaim();
            saved?;
        }
        let spool_written = || self.spool.as_ref().map_or(0, |spool| spool.written());
        let snapshot = self.checkpoints.snapshot(spool_written);
        if let Some(spool) = &self.spool {
            spool.sync()?;
        }
        self.checkpoints.write(snapshot, self.fsync)
    }

    /// Commits every `interval` until `stop`, then once more. A failure is logged at
    /// ERROR once until a commit works again (the run goes on; a restart would then
    /// read again from the last checkpoint written). Once `forget_after` has passed, the
    /// checkpoints of files no source opened are forgotten.
    pub async fn run_commits(
        self: Arc<Self>,
        interval: Duration,
        forget_after: Duration,
        stop: CancellationToken,
    ) {
        let forget_at = tokio::time::Instant::now() + forget_after;
        let mut forgotten = false;
        let syncs = match (&self.spool, self.fsync_every) {
            (Some(spool), Some(every)) => {
                Some(tokio::spawn(spool.clone().run_syncs(every, stop.clone())))
            }
            _ => None,
        };
        let mut failing = false;
        loop {
            let stopping = tokio::select! {
                () = tokio::time::sleep(interval) => false,
                () = stop.cancelled() => true,
            };
            if !forgotten && tokio::time::Instant::now() >= forget_at {
                forgotten = true;
                let count = self.checkpoints.forget_unopened();
                if count > 0 {
                    tracing::info!(
                        files = count,
                        "checkpoints of files no source found (deleted or rotated away while sluice was stopped) forgotten"
                    );
                }
            }
            let persisted = self.clone();
            let result = tokio::task::spawn_blocking(move || persisted.commit())
                .await
                .unwrap_or_else(|panic| Err(anyhow::anyhow!("the commit panicked: {panic}")));
            match result {
                Err(error) if !failing => {
                    failing = true;
                    tracing::error!(error = %format!("{error:#}"), "cannot write checkpoints; a restart would read again from the last ones written");
                }
                Err(_) => {}
                Ok(()) => {
                    failing = false;
                    Counters::add(&self.counters.checkpoint_writes, 1);
                }
            }
            self.counters
                .checkpoints_unsaved
                .store(u64::from(failing), std::sync::atomic::Ordering::Relaxed);
            if stopping {
                if let Some(syncs) = syncs {
                    let _ = syncs.await;
                }
                return;
            }
        }
    }
}

/// Locks `dir` (created if need be) for this process, until the file returned is
/// dropped: one sluice per `data_dir`, and no `dlq replay` beside a running one.
pub fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
    crate::private_fs::create_dir_all(dir)
        .with_context(|| format!("creating data_dir {}", dir.display()))?;
    let lock_path = dir.join("lock");
    let lock = crate::private_fs::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "data_dir {} is in use by another sluice (it holds {})",
            dir.display(),
            lock_path.display()
        )
    })?;
    Ok(lock)
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one,
/// never a mix: a temporary file, renamed over it (and forced to disk if `sync`).
pub fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = crate::private_fs::create(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    disk::write_all(&mut file, bytes)?;
    if sync {
        disk::sync_data(&file)?;
    }
    std::fs::rename(&temporary, path)
        .with_context(|| format!("renaming {} to {}", temporary.display(), path.display()))?;
    if sync && let Some(dir) = path.parent() {
        // A bare file name's directory is the current one.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        disk::sync_dir(dir)?;
    }
    Ok(())
}

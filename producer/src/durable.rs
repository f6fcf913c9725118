//! Durable mode: the queue appended to JSON Lines files in a local directory, for a
//! Sluice file source to follow (`paths = ["DIR/*.jsonl"]`, `follow = true`).
//!
//! A file is named by the time it was started (`events-<ms>-<n>.jsonl`, so names sort
//! as they were written); a new one starts past `segment_bytes`. What is written is
//! forced to disk every `fsync_interval` and at a flush or shutdown: only then is it
//! counted delivered. Removing files Sluice has read is left to the operator (Sluice's
//! checkpoints say how far it read each one).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::{Counts, Item};

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub dir: PathBuf,
    pub segment_bytes: u64,
    pub fsync_interval: Duration,
}

pub(crate) struct Writer {
    settings: Settings,
    counts: Arc<Counts>,
    file: Option<File>,
    bytes: u64,
    /// Files started by this writer: the second part of their names.
    started: u64,
    /// Events written since the last sync.
    unsynced: u64,
}

impl Writer {
    /// A writer into `settings.dir`, made (owner only) if missing.
    pub(crate) fn open(settings: Settings, counts: Arc<Counts>) -> std::io::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&settings.dir)?;
        Ok(Writer {
            settings,
            counts,
            file: None,
            bytes: 0,
            started: 0,
            unsynced: 0,
        })
    }

    /// Writes the queue until it is closed and empty; runs on a thread of its own.
    pub(crate) fn run(mut self, mut items: mpsc::Receiver<Item>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime for the writer's timer");
        runtime.block_on(async {
            let mut next_sync = tokio::time::Instant::now() + self.settings.fsync_interval;
            loop {
                let item = match self.unsynced {
                    0 => items.recv().await,
                    _ => match tokio::time::timeout_at(next_sync, items.recv()).await {
                        Ok(item) => item,
                        Err(_) => {
                            self.sync();
                            next_sync = tokio::time::Instant::now() + self.settings.fsync_interval;
                            continue;
                        }
                    },
                };
                match item {
                    Some(Item::Event(line)) => {
                        if self.unsynced == 0 {
                            next_sync = tokio::time::Instant::now() + self.settings.fsync_interval;
                        }
                        self.write(&line);
                    }
                    Some(Item::Flush(done)) => {
                        self.sync();
                        let _ = done.send(());
                    }
                    None => {
                        self.sync();
                        return;
                    }
                }
            }
        });
    }

    /// Appends one event; an error is logged and the event counted refused (the disk
    /// is the destination here: there is nowhere else to keep it).
    fn write(&mut self, line: &[u8]) {
        let written = self.file().and_then(|file| {
            file.write_all(line)?;
            file.write_all(b"\n")
        });
        match written {
            Ok(()) => {
                self.bytes += line.len() as u64 + 1;
                self.unsynced += 1;
            }
            Err(error) => {
                tracing::error!(dir = %self.settings.dir.display(), %error, "sluice producer: an event could not be written");
                self.counts.refused.fetch_add(1, Ordering::AcqRel);
                // The next event starts a new file after a whole line.
                self.file = None;
            }
        }
    }

    /// The file written to, a new one past `segment_bytes`.
    fn file(&mut self) -> std::io::Result<&mut File> {
        if self.bytes >= self.settings.segment_bytes {
            self.sync();
            self.file = None;
        }
        if self.file.is_none() {
            let millis = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            self.started += 1;
            let path = self
                .settings
                .dir
                .join(format!("events-{millis:013}-{:06}.jsonl", self.started));
            let file = std::fs::OpenOptions::new()
                .create_new(true)
                .append(true)
                .mode(0o600)
                .open(&path)?;
            // The directory's entry for it, forced once.
            File::open(&self.settings.dir)?.sync_all()?;
            self.file = Some(file);
            self.bytes = 0;
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Forces what was written to disk: it is delivered.
    fn sync(&mut self) {
        if self.unsynced == 0 {
            return;
        }
        let synced = self.file.as_ref().map_or(Ok(()), File::sync_data);
        match synced {
            Ok(()) => {
                self.counts
                    .delivered
                    .fetch_add(self.unsynced, Ordering::AcqRel);
                self.unsynced = 0;
            }
            Err(error) => {
                tracing::error!(dir = %self.settings.dir.display(), %error, "sluice producer: events could not be forced to disk; tried again");
            }
        }
    }
}

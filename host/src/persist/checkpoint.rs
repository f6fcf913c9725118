//! File checkpoints: for each file, its identity (device and inode, and its first bytes
//! against a reused inode) and the point before which every event is safe (spooled,
//! or without a spool settled by every destination). A restart resumes each file
//! there: it neither loses nor reads again more than what was read after the last
//! checkpoint was written (`checkpoint_interval`).

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::ack::{StreamPoint, Watermark};

/// Bytes at the start of a file that identify its content, to see it replaced in place
/// (or another file under a reused inode).
pub const FINGERPRINT_BYTES: usize = 256;

/// A file's identity: the same file under any name, until it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        FileId {
            device: meta.dev(),
            inode: meta.ino(),
        }
    }

    /// A hash of the identity, which seeds the ids of the file's events.
    pub fn seed(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.to_bytes())
    }

    /// Device then inode, little-endian: how a spool record names the file it read.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.device.to_le_bytes());
        bytes[8..].copy_from_slice(&self.inode.to_le_bytes());
        bytes
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        FileId {
            device: u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
            inode: u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes")),
        }
    }
}

/// The checkpoints of every file source of a run.
#[derive(Debug)]
pub struct Checkpoints {
    path: PathBuf,
    files: Mutex<HashMap<FileId, Entry>>,
    /// The spool records the checkpoints last written may count on: those numbered
    /// below this. A record past it that the spool finds torn at start was still being
    /// written, and its source reads it again; one below it is lost.
    spool_counted_through: u64,
    /// What was last written, so that an interval with nothing new writes nothing.
    last_written: Mutex<Vec<u8>>,
}

/// `checkpoints.json`: the files, and the spool records they count on.
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointFile {
    spool_counted_through: u64,
    files: Vec<Saved>,
}

/// What earlier versions wrote (the files alone), read as well.
#[derive(Deserialize)]
#[serde(untagged)]
enum AnyCheckpointFile {
    Current(CheckpointFile),
    Files(Vec<Saved>),
}

#[derive(Debug)]
enum Entry {
    /// From the last run, not opened in this one (yet).
    Saved(Saved),
    /// Opened in this run: the checkpoint moves with its watermark.
    Tracked {
        name: String,
        first_bytes: Vec<u8>,
        watermark: Watermark,
    },
}

/// One file's line in `checkpoints.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    path: String,
    device: u64,
    inode: u64,
    /// The file's first bytes (up to 256), hex: another file under a reused inode has
    /// other first bytes.
    first_bytes: String,
    offset: u64,
    lines: u64,
}

impl Checkpoints {
    /// The checkpoints saved at `path`, if any; an unreadable file is logged and every
    /// file is read from its start.
    pub fn load(path: &Path) -> Checkpoints {
        let (saved, spool_counted_through) = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(AnyCheckpointFile::Current(file)) => (file.files, file.spool_counted_through),
                // Counted on every spool record there was: none is taken for a torn
                // tail read again.
                Ok(AnyCheckpointFile::Files(files)) => (files, u64::MAX),
                Err(error) => {
                    tracing::error!(file = %path.display(), %error, "checkpoints unreadable; files are read from their start");
                    (Vec::new(), 0)
                }
            },
            Err(_) => (Vec::new(), 0),
        };
        let files = saved
            .into_iter()
            .map(|saved| {
                let id = FileId {
                    device: saved.device,
                    inode: saved.inode,
                };
                (id, Entry::Saved(saved))
            })
            .collect();
        Checkpoints {
            path: path.to_path_buf(),
            files: Mutex::new(files),
            spool_counted_through,
            last_written: Mutex::default(),
        }
    }

    /// Forgets the checkpoints of the last run that no source opened in this one (by
    /// identity, under any name): files deleted or rotated away while sluice was stopped.
    /// Called once the sources have had `rotate_wait` to find them; without it, the file
    /// would keep every file ever read. How many were forgotten.
    pub fn forget_unopened(&self) -> usize {
        let mut files = self.files();
        let before = files.len();
        files.retain(|_, entry| matches!(entry, Entry::Tracked { .. }));
        before - files.len()
    }

    /// The spool records the checkpoints of the last run counted on: those below this.
    pub fn spool_counted_through(&self) -> u64 {
        self.spool_counted_through
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<FileId, Entry>> {
        self.files.lock().expect("not poisoned")
    }

    /// Where the file `id`, open as `file`, resumes: its checkpoint if the file still
    /// starts with the same bytes and is not shorter than the checkpoint, else its
    /// start. The first bytes read back come with the point.
    pub fn resume(
        &self,
        id: FileId,
        name: &str,
        file: &mut std::fs::File,
    ) -> Option<(StreamPoint, Vec<u8>)> {
        let files = self.files();
        let Some(Entry::Saved(saved)) = files.get(&id) else {
            return None;
        };
        let mut first_bytes = hex::decode(&saved.first_bytes).ok()?;
        if first_bytes.is_empty() {
            // Known from the spool's records alone (no checkpoint was written): the
            // bytes it starts with now are those it had.
            let len = saved.offset.min(FINGERPRINT_BYTES as u64) as usize;
            first_bytes.resize(len, 0);
            file.read_exact(&mut first_bytes).ok()?;
            std::io::Seek::rewind(file).ok()?;
        }
        let mut now = vec![0u8; first_bytes.len()];
        let same = file.read_exact(&mut now).is_ok() && now == first_bytes;
        let long_enough = file.metadata().is_ok_and(|meta| meta.len() >= saved.offset);
        if !(same && long_enough) {
            // Truncated or written anew in place while sluice was stopped (copytruncate),
            // or another file under a reused inode: what the old content held past the
            // checkpoint is gone.
            tracing::warn!(
                file = name,
                read_to = saved.offset,
                "a checkpoint names this file's inode, but not its content (truncated or replaced while sluice was stopped); it is read from its start, and whatever the old content held past the byte it was read to was not read"
            );
            return None;
        }
        Some((
            StreamPoint {
                offset: saved.offset,
                lines: saved.lines,
            },
            first_bytes,
        ))
    }

    /// Moves the saved checkpoints up to where the spool's records say their files were
    /// read to (`reads`, by identity): what was spooled after the last checkpoint write
    /// is not read and spooled again after a crash. A file the spool read before any
    /// checkpoint of it was written (a crash within the first `checkpoint_interval`)
    /// gets one, its first bytes taken when it is opened.
    pub fn advance(&self, reads: HashMap<FileId, StreamPoint>) {
        let mut files = self.files();
        for (id, point) in reads {
            match files.get_mut(&id) {
                Some(Entry::Saved(saved)) if point.offset > saved.offset => {
                    saved.offset = point.offset;
                    saved.lines = point.lines;
                }
                Some(_) => {}
                None => {
                    let saved = Saved {
                        path: String::new(),
                        device: id.device,
                        inode: id.inode,
                        first_bytes: String::new(),
                        offset: point.offset,
                        lines: point.lines,
                    };
                    files.insert(id, Entry::Saved(saved));
                }
            }
        }
    }

    /// The checkpoints of the last run no source has opened yet: each file's identity,
    /// the name it was read under, and how far.
    pub fn unopened(&self) -> Vec<(FileId, String, u64)> {
        self.files()
            .iter()
            .filter_map(|(id, entry)| match entry {
                Entry::Saved(saved) => Some((*id, saved.path.clone(), saved.offset)),
                Entry::Tracked { .. } => None,
            })
            .collect()
    }

    /// Keeps the checkpoint of the file `id` at `watermark` from now on.
    pub fn track(&self, id: FileId, name: &str, watermark: Watermark) {
        let entry = Entry::Tracked {
            name: name.to_owned(),
            first_bytes: Vec::new(),
            watermark,
        };
        self.files().insert(id, entry);
    }

    /// The first bytes of the file `id` as read so far.
    pub fn first_bytes(&self, id: FileId, bytes: &[u8]) {
        if let Some(Entry::Tracked { first_bytes, .. }) = self.files().get_mut(&id) {
            first_bytes.clear();
            first_bytes.extend_from_slice(bytes);
        }
    }

    /// The file `id` was deleted: its checkpoint goes (its inode may be reused).
    pub fn forget(&self, id: FileId) {
        self.files().remove(&id);
    }

    /// Every file's safe point now, and `spool_written()` read after them (every record
    /// they count on is below it). Taken before the spool is forced to disk, so that
    /// what is written never counts on more than what is on disk.
    pub fn snapshot(&self, spool_written: impl FnOnce() -> u64) -> Vec<u8> {
        let files: Vec<Saved> = self
            .files()
            .iter()
            .map(|(id, entry)| match entry {
                Entry::Saved(saved) => saved.clone(),
                Entry::Tracked {
                    name,
                    first_bytes,
                    watermark,
                } => {
                    let safe = watermark.safe();
                    Saved {
                        path: name.clone(),
                        device: id.device,
                        inode: id.inode,
                        first_bytes: hex::encode(first_bytes),
                        offset: safe.offset,
                        lines: safe.lines,
                    }
                }
            })
            .collect();
        let file = CheckpointFile {
            spool_counted_through: spool_written(),
            files,
        };
        serde_json::to_vec_pretty(&file).expect("plain fields")
    }

    /// Writes a snapshot as the checkpoints file, unless it is what was written last.
    pub fn write(&self, snapshot: Vec<u8>, sync: bool) -> Result<()> {
        let mut last = self.last_written.lock().expect("not poisoned");
        if *last == snapshot {
            return Ok(());
        }
        super::write_atomically(&self.path, &snapshot, sync)
            .with_context(|| format!("writing checkpoints to {}", self.path.display()))?;
        *last = snapshot;
        Ok(())
    }
}

//! The writes and syncs that make the spool, its positions and the checkpoints durable,
//! in one place, so that the model test can put a disk under them that fails a write
//! (after part of it) or a sync, fills up, and at a power cut keeps what was forced to
//! disk and perhaps some of the rest ([`faults`]). Outside tests these are the plain calls.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes all of `bytes` at the file's position.
pub fn write_all(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(test)]
    let bytes = match faults::before_write(file, bytes) {
        Ok(bytes) => bytes,
        Err((written, error)) => {
            file.write_all(written)?;
            return Err(error);
        }
    };
    file.write_all(bytes)
}

/// Forces `file`'s data to disk.
pub fn sync_data(file: &File) -> std::io::Result<()> {
    #[cfg(test)]
    faults::before_sync(file)?;
    file.sync_data()?;
    #[cfg(test)]
    faults::synced(file);
    Ok(())
}

/// Forces `dir`'s entries (files created, renamed or removed in it) to disk.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let handle = File::open(dir)?;
    #[cfg(test)]
    faults::before_sync(&handle)?;
    handle.sync_all()?;
    #[cfg(test)]
    faults::synced_dir(dir);
    Ok(())
}

/// A disk that fails on demand and loses what was not forced at a power cut, for the
/// files under one directory (the test's): every other file is left alone.
#[cfg(test)]
pub mod faults {
    use std::collections::{HashMap, HashSet};
    use std::fs::File;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    /// What the next write or sync under the root meets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        /// The next write puts this many of its bytes down, then fails (a full disk).
        Write { written: usize },
        /// The next sync fails (an I/O error: the kernel may have dropped the pages).
        Sync,
        /// Writes fail once the files under the root hold this many more bytes.
        Full { room: u64 },
    }

    #[derive(Debug, Default)]
    struct Disk {
        root: PathBuf,
        fault: Option<Fault>,
        /// Bytes the files under the root may hold while `Full`.
        limit: Option<u64>,
        /// Each file's length when it was last forced, by inode.
        synced: HashMap<u64, u64>,
        /// Each directory's names when it was last forced.
        entries: HashMap<PathBuf, HashSet<std::ffi::OsString>>,
    }

    static DISK: Mutex<Option<Disk>> = Mutex::new(None);

    /// The faults apply to the files under `root` from now on (one root at a time).
    pub fn install(root: &Path) {
        let mut disk = Disk {
            root: root.to_path_buf(),
            ..Disk::default()
        };
        disk.settle();
        *DISK.lock().unwrap() = Some(disk);
    }

    pub fn uninstall() {
        *DISK.lock().unwrap() = None;
    }

    /// The next write or sync meets `fault`.
    pub fn arm(fault: Fault) {
        if let Some(disk) = DISK.lock().unwrap().as_mut() {
            match fault {
                Fault::Full { room } => disk.limit = Some(usage(&disk.root) + room),
                _ => disk.fault = Some(fault),
            }
        }
    }

    /// Whether a fault armed waits for its write or sync.
    pub fn armed() -> bool {
        DISK.lock()
            .unwrap()
            .as_ref()
            .is_some_and(|disk| disk.fault.is_some())
    }

    /// The disk has room again.
    pub fn clear() {
        if let Some(disk) = DISK.lock().unwrap().as_mut() {
            disk.fault = None;
            disk.limit = None;
        }
    }

    fn path_of(file: &File) -> Option<PathBuf> {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
    }

    /// Runs `f` on the disk if `file` is under its root.
    fn under_root<T>(file: &File, f: impl FnOnce(&mut Disk, &Path) -> T) -> Option<T> {
        let mut disk = DISK.lock().unwrap();
        let disk = disk.as_mut()?;
        let path = path_of(file)?;
        path.starts_with(&disk.root).then(|| f(disk, &path))
    }

    fn usage(root: &Path) -> u64 {
        walk(root).iter().map(|(_, meta)| meta.len()).sum()
    }

    fn walk(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let (path, Ok(meta)) = (entry.path(), entry.metadata()) else {
                continue;
            };
            if meta.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push((path, meta));
            }
        }
        found
    }

    fn no_room() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::ENOSPC)
    }

    /// What of `bytes` a write puts down: all (`Ok`), or a part and then an error.
    pub(super) fn before_write<'a>(
        file: &File,
        bytes: &'a [u8],
    ) -> Result<&'a [u8], (&'a [u8], std::io::Error)> {
        under_root(file, |disk, _| {
            if let Some(Fault::Write { written }) = disk.fault {
                disk.fault = None;
                return Err((&bytes[..written.min(bytes.len())], no_room()));
            }
            if let Some(limit) = disk.limit {
                let room = limit.saturating_sub(usage(&disk.root)) as usize;
                if room < bytes.len() {
                    return Err((&bytes[..room], no_room()));
                }
            }
            Ok(bytes)
        })
        .unwrap_or(Ok(bytes))
    }

    pub(super) fn before_sync(file: &File) -> std::io::Result<()> {
        under_root(file, |disk, _| match disk.fault {
            Some(Fault::Sync) => {
                disk.fault = None;
                Err(std::io::Error::from_raw_os_error(libc::EIO))
            }
            _ => Ok(()),
        })
        .unwrap_or(Ok(()))
    }

    pub(super) fn synced(file: &File) {
        under_root(file, |disk, _| {
            if let Ok(meta) = file.metadata() {
                disk.synced.insert(meta.ino(), meta.len());
            }
        });
    }

    pub(super) fn synced_dir(dir: &Path) {
        let mut disk = DISK.lock().unwrap();
        let Some(disk) = disk.as_mut().filter(|d| dir.starts_with(&d.root)) else {
            return;
        };
        let names = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        disk.entries.insert(dir.to_path_buf(), names);
    }

    /// What the kernel had written back of the unforced pages when the power went.
    #[derive(Debug, Clone, Copy)]
    pub enum WriteBack {
        /// Nothing: each file keeps what was forced.
        None,
        /// Some, in its own order, chosen by this seed: each file keeps any part of its
        /// unforced tail, with a hole of zeros in it (a later page written back before an
        /// earlier one), and a file made since its directory was forced may be kept
        /// (its entry written back) or not.
        Some(u64),
    }

    /// A power cut: each file under the root keeps what was forced and what `write_back`
    /// says the kernel had written of the rest; a file never forced whose directory was
    /// not forced since it was made is gone unless its entry was written back.
    /// (Whatever wrote to them is stopped first.)
    pub fn power_cut(write_back: WriteBack) {
        let mut disk = DISK.lock().unwrap();
        let Some(disk) = disk.as_mut() else { return };
        let mut dice = match write_back {
            WriteBack::None => None,
            WriteBack::Some(seed) => Some(Dice(seed | 1)),
        };
        for (path, meta) in walk(&disk.root) {
            let durable = disk.synced.get(&meta.ino()).copied().unwrap_or(0);
            let named = path
                .parent()
                .and_then(|dir| disk.entries.get(dir))
                .is_some_and(|names| names.contains(path.file_name().expect("a file's name")));
            let entry_written_back = dice.as_mut().is_some_and(|d| d.below(2) == 0);
            if !named && durable == 0 && !entry_written_back {
                std::fs::remove_file(&path).unwrap();
                continue;
            }
            let unforced = meta.len().saturating_sub(durable);
            let kept = dice.as_mut().map_or(0, |d| d.below(unforced + 1));
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            if meta.len() > durable + kept {
                file.set_len(durable + kept).unwrap();
            }
            if let Some(dice) = dice.as_mut().filter(|_| kept > 0) {
                let from = dice.below(kept);
                let len = 1 + dice.below(kept - from);
                if dice.below(2) == 0 {
                    use std::os::unix::fs::FileExt;
                    file.write_all_at(&vec![0; len as usize], durable + from)
                        .unwrap();
                }
            }
        }
        disk.fault = None;
        disk.limit = None;
        disk.settle();
    }

    /// A small xorshift, so that a failing sequence replays as proptest prints it.
    struct Dice(u64);

    impl Dice {
        /// A number below `n` (0 when `n` is 0).
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0.checked_rem(n).unwrap_or(0)
        }
    }

    impl Disk {
        /// What is under the root now is on disk.
        fn settle(&mut self) {
            self.synced.clear();
            self.entries.clear();
            for (path, meta) in walk(&self.root) {
                self.synced.insert(meta.ino(), meta.len());
                let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                    continue;
                };
                self.entries
                    .entry(dir.to_path_buf())
                    .or_default()
                    .insert(name.to_owned());
            }
        }
    }
}

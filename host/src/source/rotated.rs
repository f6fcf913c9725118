//! Files a source read before a restart that were renamed away from its patterns while
//! sluice was stopped: a rotation under a pattern that names one file
//! (`paths = ["app.log"]`, then `app.log` renamed to `app.log.1` and a new `app.log`).
//! The checkpoint knows the file's identity and the name it was read under; the file is
//! looked for by identity in that name's directory, so that the tail written before the
//! rotation is read. One that is gone is said, with how far it had been read.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::module::one_line;
use crate::persist::{Checkpoints, FileId};

/// A file found under a new name.
#[derive(Debug)]
pub struct Rotated {
    pub id: FileId,
    /// Where it is now.
    pub path: PathBuf,
    /// The name it was read under, which its rotation is judged by.
    pub read_as: PathBuf,
}

/// The files with a checkpoint that `patterns` matched under their old name, and not
/// under any name now (`matched`), found again in their directory.
pub fn rotated_while_stopped(
    patterns: &[String],
    matched: &[FileId],
    checkpoints: &Checkpoints,
) -> Vec<Rotated> {
    let patterns: Vec<glob::Pattern> = patterns
        .iter()
        .filter_map(|pattern| glob::Pattern::new(pattern).ok())
        .collect();
    let mut found = Vec::new();
    for (id, read_as, offset) in checkpoints.unopened() {
        if matched.contains(&id) || !patterns.iter().any(|p| p.matches(&read_as)) {
            continue;
        }
        let read_as = PathBuf::from(read_as);
        match find_by_identity(&read_as, id, checkpoints) {
            Some(path) => {
                tracing::info!(file = %one_line(&path.display().to_string()), read_as = %one_line(&read_as.display().to_string()), "a file rotated while sluice was stopped is found under its new name; its tail is read");
                found.push(Rotated { id, path, read_as });
            }
            None => tracing::warn!(
                file = %one_line(&read_as.display().to_string()),
                read_to = offset,
                "a file read before the restart was rotated away and is not in its directory: whatever was written to it after the byte it was read to was not read"
            ),
        }
    }
    found
}

/// The file of identity `id`, with the content its checkpoint knows, in the directory
/// of `read_as`.
fn find_by_identity(read_as: &Path, id: FileId, checkpoints: &Checkpoints) -> Option<PathBuf> {
    let dir = match read_as.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let entries = std::fs::read_dir(dir).ok()?;
    let path = entries.flatten().find_map(|entry| {
        let meta = entry.metadata().ok()?;
        (meta.is_file() && FileId::of(&meta) == id && meta.nlink() > 0).then(|| {
            // Named as the pattern names its files (`./` kept off a relative name).
            match read_as.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.join(entry.file_name()),
                _ => PathBuf::from(entry.file_name()),
            }
        })
    })?;
    // An inode reused by another file since is not that file.
    let mut file = std::fs::File::open(&path).ok()?;
    let name = path.display().to_string();
    checkpoints.resume(id, &name, &mut file).map(|_| path)
}

//! Files and directories only the running user may read: what Sluice writes holds audit
//! events (spool segments, dead letters, captured requests), where they were read
//! (checkpoints), or native code (the module cache). Each is created 0600, each
//! directory 0700, whatever the process's umask (which can only take bits away).
//!
//! A directory that exists already keeps its mode: an operator may have chosen it.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The mode of every file Sluice creates.
pub const FILE_MODE: u32 = 0o600;
/// The mode of every directory Sluice creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each 0700.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Options that create a file 0600 (add `create`, `create_new`, `append`... as needed).
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Creates (or truncates) `path` for writing, 0600 when created.
pub fn create(path: &Path) -> std::io::Result<std::fs::File> {
    options().write(true).create(true).truncate(true).open(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir_all(&dir).unwrap();
        create(&dir.join("f")).unwrap();
        assert_eq!(mode(&root.path().join("a")), DIR_MODE);
        assert_eq!(mode(&dir), DIR_MODE);
        assert_eq!(mode(&dir.join("f")), FILE_MODE);
    }
}

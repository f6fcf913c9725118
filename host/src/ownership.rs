//! Whether a file or directory can be trusted with what Sluice reads from it: native
//! code (the module cache), modules (a modules directory) or a key. Whoever can write
//! such a path can run code in the host or in its sandbox, so it must belong to the
//! running user (or, for what it only reads, to root) and be writable by nobody else.
//!
//! Each check returns why a path fails it, in words for an operator.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The user the process runs as.
#[allow(unsafe_code, reason = "a libc call without preconditions")]
fn running_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A directory of the running user's that nobody else may write (the module cache).
pub fn check_private_dir(dir: &Path) -> Result<(), String> {
    let metadata = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !metadata.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    owned_by(dir, &metadata, &[running_uid()])?;
    not_writable_by_others(dir, &metadata)
}

/// A file of the running user's that nobody else may read or write (a key).
pub fn check_unreadable_by_others(path: &Path, metadata: &Metadata) -> Result<(), String> {
    owned_by(path, metadata, &[running_uid()])?;
    let mode = metadata.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} can be read or written by its group or by others (mode {mode:04o}; 0600 expected)",
            path.display()
        ));
    }
    Ok(())
}

/// A module file, as what it resolves to (a symbolic link is followed): the file and
/// every directory above it must belong to the running user or root and be writable by
/// nobody else, as OpenSSH asks of `authorized_keys`: whoever could rename a directory
/// on the way could put another module in its place. A sticky directory (`/tmp`) may be
/// writable by all, since there only an entry's owner may rename or remove it.
pub fn check_module_file(path: &Path) -> Result<(), String> {
    let real = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    let metadata =
        std::fs::metadata(&real).map_err(|e| format!("cannot read {}: {e}", real.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", real.display()));
    }
    owned_by(&real, &metadata, &[running_uid(), 0])?;
    not_writable_by_others(&real, &metadata)?;
    for dir in real.ancestors().skip(1) {
        let metadata =
            std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        owned_by(dir, &metadata, &[running_uid(), 0])?;
        if metadata.mode() & libc::S_ISVTX == 0 {
            not_writable_by_others(dir, &metadata)?;
        }
    }
    Ok(())
}

fn owned_by(path: &Path, metadata: &Metadata, owners: &[u32]) -> Result<(), String> {
    let owner = metadata.uid();
    if owners.contains(&owner) {
        return Ok(());
    }
    Err(format!(
        "{} is owned by uid {owner}, not by the user running sluice (uid {})",
        path.display(),
        running_uid()
    ))
}

fn not_writable_by_others(path: &Path, metadata: &Metadata) -> Result<(), String> {
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "{} can be written by its group or by others (mode {:04o})",
            path.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_path_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        set_mode(dir.path(), 0o700);
        check_private_dir(dir.path()).unwrap();
        set_mode(dir.path(), 0o770);
        let error = check_private_dir(dir.path()).unwrap_err();
        assert!(error.ends_with("can be written by its group or by others (mode 0770)"));
    }

    /// A link to a module in a directory others could write, or a module below such a
    /// directory, passed when only the link's own directory was looked at.
    #[test]
    fn a_module_is_checked_where_it_really_is_all_the_way_up() {
        let root = tempfile::tempdir().unwrap();
        let open = root.path().join("open");
        let inner = open.join("inner");
        std::fs::create_dir_all(&inner).unwrap();
        let module = inner.join("m.wasm");
        std::fs::write(&module, "m").unwrap();
        set_mode(&module, 0o644);
        set_mode(&inner, 0o755);
        set_mode(&open, 0o755);
        check_module_file(&module).unwrap();
        let mods = root.path().join("mods");
        std::fs::create_dir(&mods).unwrap();
        std::os::unix::fs::symlink(&module, mods.join("m.wasm")).unwrap();
        check_module_file(&mods.join("m.wasm")).unwrap();

        set_mode(&open, 0o777);
        for path in [module.clone(), mods.join("m.wasm")] {
            let error = check_module_file(&path).unwrap_err();
            assert!(
                error.contains("open can be written by its group or by others (mode 0777)"),
                "{error}"
            );
        }
        set_mode(&open, 0o1777);
        check_module_file(&module).unwrap();
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "k").unwrap();
        set_mode(&key, 0o600);
        check_unreadable_by_others(&key, &std::fs::metadata(&key).unwrap()).unwrap();
        set_mode(&key, 0o644);
        let error = check_unreadable_by_others(&key, &std::fs::metadata(&key).unwrap());
        assert!(error.unwrap_err().contains("mode 0644"));
    }

    #[test]
    fn a_link_is_not_a_private_directory() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(
            check_private_dir(&link)
                .unwrap_err()
                .ends_with("is not a directory")
        );
    }
}

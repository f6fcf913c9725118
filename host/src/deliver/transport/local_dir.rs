//! A `file://` archive: objects as files in a directory, written as the cloud stores
//! write them (whole, once, never over another) and as Sluice writes audit data
//! ([`crate::private_fs`]): each file 0600 from its first byte, each directory Sluice
//! makes 0700, the bytes synced before the object counts as written.
//!
//! Not `object_store`'s `LocalFileSystem`, which stages an object world-readable (its
//! files and directories take the process's umask), follows symbolic links in the
//! directories under the root, and syncs nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

/// What a write did.
pub enum Created {
    Written,
    /// A file has the name: nothing was written.
    NameTaken,
}

/// The directory the objects go under.
#[derive(Debug)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: PathBuf) -> Self {
        LocalDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// For `check --connect`: the root is ready and a file can be written in it.
    pub fn probe(&self) -> Result<(), String> {
        self.ready()?;
        let mut token = [0u8; 8];
        getrandom::fill(&mut token).map_err(|e| e.to_string())?;
        let probe = self
            .root
            .join(format!(".sluice-check.{}", hex::encode(token)));
        crate::private_fs::options()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(|e| format!("cannot write in {}: {e}", self.root.display()))?;
        std::fs::remove_file(&probe).map_err(|e| e.to_string())
    }

    /// Makes the root (0700) when it is missing; the error says what is in the way.
    pub fn ready(&self) -> Result<(), String> {
        match std::fs::metadata(&self.root) {
            Ok(found) if found.is_dir() => Ok(()),
            Ok(_) => Err(format!("{} is not a directory", self.root.display())),
            Err(_) => crate::private_fs::create_dir_all(&self.root)
                .map_err(|e| format!("cannot create {}: {e}", self.root.display())),
        }
    }

    /// Writes `body` as `name` (`/`-separated) unless a file has that name.
    pub fn write(&self, name: &str, body: &[u8]) -> Result<Created, String> {
        self.try_write(name, body)
            .map_err(|error| format!("{}/{name}: {error}", self.root.display()))
    }

    fn try_write(&self, name: &str, body: &[u8]) -> std::io::Result<Created> {
        self.ready().map_err(std::io::Error::other)?;
        let path = self.root.join(name);
        let dir = path.parent().expect("a name under the root");
        self.make_dirs(dir)?;
        let file_name = path.file_name().expect("a name").to_string_lossy();
        // A random name: one a crash left behind (with a PID that comes back, as PID 1
        // in a container) is never in the way.
        let mut token = [0u8; 8];
        getrandom::fill(&mut token).map_err(std::io::Error::other)?;
        let staged = dir.join(format!(".{file_name}.{}.partial", hex::encode(token)));
        let mut file = crate::private_fs::options()
            .write(true)
            .create_new(true)
            .open(&staged)?;
        let written = file.write_all(body).and_then(|()| file.sync_all());
        // A link fails where a name exists: another file is never replaced.
        let linked = written.and_then(|()| std::fs::hard_link(&staged, &path));
        let _ = std::fs::remove_file(&staged);
        match linked {
            Ok(()) => {
                std::fs::File::open(dir)?.sync_all()?;
                Ok(Created::Written)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(Created::NameTaken)
            }
            Err(error) => Err(error),
        }
    }

    /// Makes each missing directory from the root down to `dir` 0700, and refuses one
    /// that is a symbolic link: an object goes nowhere but under the root.
    fn make_dirs(&self, dir: &Path) -> std::io::Result<()> {
        let below = dir.strip_prefix(&self.root).expect("under the root");
        let mut at = self.root.clone();
        for part in below.components() {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(found) if found.is_dir() => {}
                Ok(_) => {
                    return Err(std::io::Error::other(format!(
                        "{} is a link or a file, not a directory Sluice made",
                        at.display()
                    )));
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    use std::os::unix::fs::DirBuilderExt;
                    match std::fs::DirBuilder::new()
                        .mode(crate::private_fs::DIR_MODE)
                        .create(&at)
                    {
                        Ok(()) => {}
                        // Made meanwhile by another writer: checked on the next round.
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                            if !std::fs::symlink_metadata(&at)?.is_dir() {
                                return Err(std::io::Error::other(format!(
                                    "{} is not a directory",
                                    at.display()
                                )));
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Whether the file `name` holds exactly `body`; an error when it cannot be read.
    pub fn holds(&self, name: &str, body: &[u8]) -> Result<bool, String> {
        std::fs::read(self.root.join(name))
            .map(|found| found == body)
            .map_err(|e| e.to_string())
    }
}

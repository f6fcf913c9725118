//! Compiled modules on disk, so that a restart or a second host does not pay for
//! Cranelift again. An artifact is native code that runs outside the sandbox, so the
//! cache trusts nothing it did not write itself:
//!
//! - the directory must be the running user's and writable by nobody else (else the
//!   cache is not used, said in one WARN line, and every module is compiled);
//! - every artifact is sealed: an HMAC-SHA256, under a key kept 0600 in the directory,
//!   of the module's SHA-256, the engine's compatibility hash (wasmtime version,
//!   target, settings) and the artifact. An artifact whose seal does not match (planted,
//!   damaged, or another module's renamed) is refused and the module compiled again;
//! - files are created 0600 and written through `tempfile` (random names, `O_EXCL`), so
//!   a planted symbolic link is never followed.

use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::ownership;
use crate::private_fs;

/// The first bytes of an artifact file, before its seal.
const MAGIC: &[u8; 8] = b"SLUICEC1";
const SEAL_BYTES: usize = 32;
const KEY_BYTES: usize = 32;
/// The file of the cache's sealing key.
const KEY_FILE: &str = "seal.key";

type Seal = Hmac<Sha256>;

/// A directory of sealed precompiled components, or none (always compile).
#[derive(Clone)]
pub struct ArtifactCache {
    sealed: Option<Sealed>,
}

#[derive(Clone)]
struct Sealed {
    dir: PathBuf,
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dir = self.sealed.as_ref().map(|sealed| &sealed.dir);
        f.debug_struct("ArtifactCache").field("dir", &dir).finish()
    }
}

impl ArtifactCache {
    /// The cache in `dir` (created 0700 if missing), or no cache when `dir` is none or
    /// cannot be trusted (said in one WARN line).
    pub fn new(dir: Option<PathBuf>) -> Self {
        let sealed = dir.and_then(|dir| match Sealed::open(&dir) {
            Ok(sealed) => Some(sealed),
            Err(error) => {
                tracing::warn!(
                    directory = %dir.display(),
                    "not using the module cache: {error:#}; every module is compiled"
                );
                None
            }
        });
        ArtifactCache { sealed }
    }

    /// The component for `wasm`, from the cache when an artifact sealed for it is
    /// there, otherwise compiled and then stored.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Result<Component> {
        let Some(sealed) = &self.sealed else {
            return Ok(Component::new(engine, wasm)?);
        };
        let binding = Binding::new(engine, wasm);
        let path = sealed.dir.join(binding.file_name());
        match sealed.read(&path, &binding) {
            Ok(Some(artifact)) => return deserialize(engine, &artifact),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                path = %path.display(),
                "refusing a cached module artifact: {error:#}; compiling the module again"
            ),
        }
        let artifact = engine.precompile_component(wasm)?;
        if let Err(error) = sealed.write(&path, &binding, &artifact) {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "cannot cache module artifact");
        }
        // The artifact just compiled, not a second compilation of `wasm`.
        deserialize(engine, &artifact)
    }
}

/// What an artifact is bound to: the module's bytes and the engine that compiled them.
struct Binding {
    module_sha256: [u8; 32],
    engine_hash: u64,
}

impl Binding {
    fn new(engine: &Engine, wasm: &[u8]) -> Self {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        Binding {
            module_sha256: Sha256::digest(wasm).into(),
            engine_hash: engine_hash.finish(),
        }
    }

    fn file_name(&self) -> String {
        format!(
            "{}-{:016x}.cwasm",
            hex::encode(self.module_sha256),
            self.engine_hash
        )
    }
}

impl Sealed {
    /// Checks that `dir` is the running user's alone, then reads its key (made at the
    /// first use).
    fn open(dir: &Path) -> Result<Sealed> {
        private_fs::create_dir_all(dir).context("cannot create it")?;
        ownership::check_private_dir(dir).map_err(anyhow::Error::msg)?;
        let key = read_or_make_key(dir)?;
        Ok(Sealed {
            dir: dir.to_path_buf(),
            key,
        })
    }

    fn seal(&self, binding: &Binding, artifact: &[u8]) -> Seal {
        let mut seal = Seal::new_from_slice(&self.key).expect("HMAC takes any key length");
        seal.update(&binding.module_sha256);
        seal.update(&binding.engine_hash.to_le_bytes());
        seal.update(artifact);
        seal
    }

    /// The artifact at `path`, once its seal is checked; none when there is no file.
    fn read(&self, path: &Path, binding: &Binding) -> Result<Option<Vec<u8>>> {
        let mut file = match open_no_follow(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error).context("cannot open it"),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).context("cannot read it")?;
        let header = MAGIC.len() + SEAL_BYTES;
        anyhow::ensure!(
            bytes.len() > header && bytes.starts_with(MAGIC),
            "it is not an artifact this cache wrote"
        );
        let (seal, artifact) = bytes[MAGIC.len()..].split_at(SEAL_BYTES);
        self.seal(binding, artifact).verify_slice(seal).map_err(|_| {
            anyhow::anyhow!(
                "its seal does not match the module it is named for (planted, damaged, or compiled from other bytes)"
            )
        })?;
        bytes.drain(..header);
        Ok(Some(bytes))
    }

    /// Writes the sealed artifact to a fresh temporary file, then renames it into place,
    /// so a concurrent reader never sees half a file.
    fn write(&self, path: &Path, binding: &Binding, artifact: &[u8]) -> Result<()> {
        let seal = self.seal(binding, artifact).finalize().into_bytes();
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .context("creating a temporary file")?;
        temp.write_all(MAGIC)?;
        temp.write_all(&seal)?;
        temp.write_all(artifact)?;
        temp.persist(path)
            .with_context(|| format!("renaming to {}", path.display()))?;
        Ok(())
    }
}

/// Opens `path` for reading if it is a regular file: not through a symbolic link, and
/// without waiting (a FIFO planted in its place would block the open, then the read).
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// The cache's sealing key: read when it is there (it must be the running user's and
/// readable by nobody else), else made from the system's random source, 0600. It is
/// put in place whole and never replaced, so hosts starting together agree on it.
fn read_or_make_key(dir: &Path) -> Result<[u8; KEY_BYTES]> {
    let path = dir.join(KEY_FILE);
    if let Some(key) = read_key(&path)? {
        return Ok(key);
    }
    let mut key = [0; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .context("creating a temporary file")?;
    temp.write_all(&key)?;
    match temp.persist_noclobber(&path) {
        Ok(_) => Ok(key),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key(&path)?.with_context(|| format!("{} vanished", path.display()))
        }
        Err(error) => Err(error.error).with_context(|| format!("creating {}", path.display())),
    }
}

fn read_key(path: &Path) -> Result<Option<[u8; KEY_BYTES]>> {
    let mut file = match open_no_follow(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("opening {}", path.display())),
    };
    ownership::check_unreadable_by_others(path, &file.metadata()?).map_err(anyhow::Error::msg)?;
    let mut key = [0; KEY_BYTES];
    file.read_exact(&mut key)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(key))
}

#[allow(
    unsafe_code,
    reason = "wasmtime's deserialization of native code is unsafe by nature"
)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> Result<Component> {
    // SAFETY: `artifact` is what `precompile_component` of an engine with this
    // compatibility hash returned: compiled a moment ago, or read back from a file whose
    // seal, under a key only the running user can read, binds it to these module bytes
    // and this engine (and the directory is writable by nobody else). wasmtime also
    // checks its header.
    Ok(unsafe { Component::deserialize(engine, artifact) }?)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// An empty component: the magic, the component-model version and layer.
    const MODULE: &[u8] = b"\0asm\x0d\x00\x01\x00";

    fn engine() -> Engine {
        Engine::default()
    }

    fn artifacts(dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn an_artifact_is_reused_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let cache = ArtifactCache::new(Some(cache_dir.clone()));
        cache.load(&engine(), MODULE).unwrap();
        let [artifact] = artifacts(&cache_dir).try_into().unwrap();
        let written = std::fs::read(&artifact).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache_dir), 0o700);
        assert_eq!(mode(&artifact), 0o600);
        assert_eq!(mode(&cache_dir.join(KEY_FILE)), 0o600);
        // A second load reads it (and leaves it as it is).
        ArtifactCache::new(Some(cache_dir.clone()))
            .load(&engine(), MODULE)
            .unwrap();
        assert_eq!(std::fs::read(&artifact).unwrap(), written);
    }

    #[test]
    fn an_artifact_without_the_right_seal_is_refused_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(Some(dir.path().to_path_buf()));
        cache.load(&engine(), MODULE).unwrap();
        let [artifact] = artifacts(dir.path()).try_into().unwrap();
        let mut planted = std::fs::read(&artifact).unwrap();
        let last = planted.len() - 1;
        planted[last] ^= 1;
        std::fs::write(&artifact, &planted).unwrap();
        let binding = Binding::new(&engine(), MODULE);
        let sealed = cache.sealed.as_ref().unwrap();
        let error = sealed.read(&artifact, &binding).unwrap_err();
        assert!(
            format!("{error}").contains("seal does not match"),
            "{error}"
        );
        cache.load(&engine(), MODULE).unwrap();
        assert_ne!(std::fs::read(&artifact).unwrap(), planted);
    }

    /// A FIFO in an artifact's place blocked the host in `open` for good.
    #[test]
    fn a_fifo_in_place_of_an_artifact_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(Some(dir.path().to_path_buf()));
        let binding = Binding::new(&engine(), MODULE);
        let path = dir.path().join(binding.file_name());
        let fifo = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        #[allow(unsafe_code, reason = "mkfifo(3) on a path of our own")]
        // SAFETY: a valid C string; mkfifo has no other precondition.
        let made = unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) };
        assert_eq!(made, 0);
        let error = cache
            .sealed
            .as_ref()
            .unwrap()
            .read(&path, &binding)
            .unwrap_err();
        assert!(
            format!("{error:#}").contains("not a regular file"),
            "{error:#}"
        );
    }

    #[test]
    fn a_directory_others_can_write_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let cache = ArtifactCache::new(Some(dir.path().to_path_buf()));
        assert!(cache.sealed.is_none());
        cache.load(&engine(), MODULE).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// The temporary file of the cache used to have a name made of the process and
    /// thread ids, opened without `O_EXCL`: a link planted under that name made the
    /// host overwrite the link's target.
    #[test]
    fn a_planted_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        private_fs::create_dir_all(&cache_dir).unwrap();
        for thread in 0..256 {
            let name = format!(".tmp-{}-ThreadId({thread})", std::process::id());
            std::os::unix::fs::symlink(&victim, cache_dir.join(name)).unwrap();
        }
        ArtifactCache::new(Some(cache_dir.clone()))
            .load(&engine(), MODULE)
            .unwrap();
        assert_eq!(artifacts(&cache_dir).len(), 1);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}

//! Compiled modules on disk, so that a restart or a second host does not pay for
//! Cranelift again. An artifact is keyed by the module's SHA-256 and the engine's
//! compatibility hash (wasmtime version, target, settings): any change to either is a
//! miss, never a wrong artifact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components, or none (always compile).
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: Option<PathBuf>,
}

impl ArtifactCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        ArtifactCache { dir }
    }

    /// The component for `wasm`, from the cache when a valid artifact is there,
    /// otherwise compiled and then stored.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Result<Component> {
        let Some(dir) = &self.dir else {
            return Ok(Component::new(engine, wasm)?);
        };
        let path = dir.join(artifact_name(engine, wasm));
        if path.exists() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "ignoring unreadable module artifact")
                }
            }
        }
        let artifact = engine.precompile_component(wasm)?;
        if let Err(error) = store(dir, &path, &artifact) {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "cannot cache module artifact");
        }
        // The artifact just compiled, not a second compilation of `wasm`.
        deserialize_fresh(engine, &artifact)
    }
}

fn artifact_name(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    format!(
        "{}-{:016x}.cwasm",
        hex::encode(Sha256::digest(wasm)),
        engine_hash.finish()
    )
}

#[allow(
    unsafe_code,
    reason = "wasmtime's deserialization of native code is unsafe by nature"
)]
fn deserialize(engine: &Engine, path: &Path) -> Result<Component> {
    // SAFETY: the artifact was written by `store` below from `precompile_component` of
    // this engine configuration (the file name holds its compatibility hash), in a cache
    // directory the host's configuration owns; wasmtime also checks the header.
    Ok(unsafe { Component::deserialize_file(engine, path) }?)
}

#[allow(
    unsafe_code,
    reason = "wasmtime's deserialization of native code is unsafe by nature"
)]
fn deserialize_fresh(engine: &Engine, artifact: &[u8]) -> Result<Component> {
    // SAFETY: `artifact` is what `precompile_component` of this very engine returned a
    // moment ago, never stored or read back.
    Ok(unsafe { Component::deserialize(engine, artifact) }?)
}

/// Writes atomically (temp file + rename), so a concurrent reader never sees half a file.
fn store(dir: &Path, path: &Path, artifact: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temp = tempfile_in(dir, artifact)?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn tempfile_in(dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let temp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&temp, bytes).with_context(|| format!("writing {}", temp.display()))?;
    Ok(temp)
}

//! Watching the files a run loads (`notify`, debounced): a `.wasm` written, replaced or
//! removed in a modules directory says "reload the modules", the same reload SIGHUP asks
//! for, so a new version of a module ships by copying the file in; a filter policy file
//! written says "reload the policies", the configuration file "reload the configuration".

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

/// Changes within this long of each other are one: a copy in progress, or several files.
/// Short, as it is most of a reload's latency; a file written more slowly than this (a
/// copy over the network) may be read half-written: refused, and taken once complete.
const SETTLE: Duration = Duration::from_millis(200);

/// What changed since the last look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub config: bool,
    pub modules: bool,
    pub policies: bool,
}

impl Changes {
    fn any(self) -> bool {
        self.config || self.modules || self.policies
    }

    fn merge(&mut self, other: Changes) {
        self.config |= other.config;
        self.modules |= other.modules;
        self.policies |= other.policies;
    }
}

/// Watches directories for as long as it lives.
pub struct Watch {
    changes: mpsc::UnboundedReceiver<Changes>,
    _debouncer: Option<Debouncer<RecommendedWatcher>>,
}

impl Watch {
    /// Watches `modules_dirs` (those that exist) for modules, and the files `policies`
    /// and `config` for their own changes (by their directories, so that a file
    /// replaced by a rename is seen).
    pub fn start(modules_dirs: &[PathBuf], policies: &[PathBuf], config: &Path) -> Result<Watch> {
        let (sender, changes) = mpsc::unbounded_channel();
        let modules_dirs: Vec<PathBuf> = modules_dirs
            .iter()
            .filter_map(|dir| dir.canonicalize().ok())
            .collect();
        let policies: Vec<PathBuf> = policies.iter().filter_map(|p| canonical(p)).collect();
        let config = canonical(config);
        let mut dirs: Vec<PathBuf> = modules_dirs.clone();
        for parent in policies.iter().chain(&config).filter_map(|p| p.parent()) {
            if !dirs.iter().any(|dir| dir == parent) {
                dirs.push(parent.to_path_buf());
            }
        }
        if dirs.is_empty() {
            return Ok(Watch {
                changes,
                _debouncer: None,
            });
        }
        let mut stamps = Stamps::default();
        for dir in &modules_dirs {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                stamps.changed(&entry.path());
            }
        }
        for file in policies.iter().chain(&config) {
            stamps.changed(file);
        }
        let mut debouncer = new_debouncer(SETTLE, move |result: DebounceEventResult| {
            let Ok(events) = result else { return };
            let mut changes = Changes::default();
            for event in events {
                let path = &event.path;
                let module = path.extension().is_some_and(|x| x == "wasm")
                    && path
                        .parent()
                        .is_some_and(|dir| modules_dirs.iter().any(|d| d == dir));
                let policy = policies.iter().any(|policy| policy == path);
                let configuration = config.as_ref() == Some(path);
                // Reading a file is an event too (the reload's own read): only new
                // contents count.
                if (module || policy || configuration) && stamps.changed(path) {
                    changes.modules |= module;
                    changes.policies |= policy;
                    changes.config |= configuration;
                }
            }
            if changes.any() {
                let _ = sender.send(changes);
            }
        })
        .context("starting the file watcher")?;
        for dir in dirs {
            debouncer
                .watcher()
                .watch(&dir, RecursiveMode::NonRecursive)
                .with_context(|| format!("watching directory {}", dir.display()))?;
        }
        Ok(Watch {
            changes,
            _debouncer: Some(debouncer),
        })
    }

    /// The changes since the last call, once there is one (never, when nothing is
    /// watched).
    pub async fn changed(&mut self) -> Changes {
        let Some(mut changes) = self.changes.recv().await else {
            return std::future::pending().await;
        };
        while let Ok(more) = self.changes.try_recv() {
            changes.merge(more);
        }
        changes
    }
}

/// What a file was when last looked at: a change of contents changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

/// The stamp of each file looked at; `None` for one that does not exist.
#[derive(Debug, Default)]
struct Stamps(std::collections::HashMap<PathBuf, Option<Stamp>>);

impl Stamps {
    /// Looks at `path` again: true when it is not what it was.
    fn changed(&mut self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let stamp = std::fs::metadata(path).ok().map(|meta| Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
        });
        self.0.insert(path.to_path_buf(), stamp) != Some(stamp)
    }
}

/// `path` with its directory made canonical: the form the watcher reports it in.
fn canonical(path: &Path) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = dir.canonicalize().ok()?;
    Some(dir.join(path.file_name()?))
}

//! Watching the modules directories (`notify`, debounced): a `.wasm` written, replaced
//! or removed there says "reload the modules", the same reload SIGHUP asks for, so a
//! new version of a module ships by copying the file in.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

/// Changes within this long of each other are one: a copy in progress, or several files.
const SETTLE: Duration = Duration::from_millis(500);

/// Watches directories for as long as it lives.
pub struct ModuleWatch {
    changes: mpsc::Receiver<()>,
    _debouncer: Option<Debouncer<RecommendedWatcher>>,
}

impl ModuleWatch {
    /// Watches `dirs` (those that exist; none is fine: nothing ever changes).
    pub fn start(dirs: &[PathBuf]) -> Result<ModuleWatch> {
        let (sender, changes) = mpsc::channel(1);
        let dirs: Vec<&PathBuf> = dirs.iter().filter(|dir| dir.is_dir()).collect();
        if dirs.is_empty() {
            return Ok(ModuleWatch {
                changes,
                _debouncer: None,
            });
        }
        let mut debouncer = new_debouncer(SETTLE, move |result: DebounceEventResult| {
            let module_changed = result.is_ok_and(|events| {
                events
                    .iter()
                    .any(|event| event.path.extension().is_some_and(|x| x == "wasm"))
            });
            if module_changed {
                // Full: a reload is due already, and will see this change too.
                let _ = sender.try_send(());
            }
        })
        .context("starting the modules directory watcher")?;
        for dir in dirs {
            debouncer
                .watcher()
                .watch(dir, RecursiveMode::NonRecursive)
                .with_context(|| format!("watching modules directory {}", dir.display()))?;
        }
        Ok(ModuleWatch {
            changes,
            _debouncer: Some(debouncer),
        })
    }

    /// The next change (never, when nothing is watched).
    pub async fn changed(&mut self) {
        if self.changes.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}

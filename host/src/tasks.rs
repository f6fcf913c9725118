//! The tasks of a run that come and go while it lasts (a reload starts a destination's),
//! waited for together at its end; each that fails or panics is logged and counted.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone)]
pub struct Tasks {
    tracker: TaskTracker,
    failed: Arc<AtomicUsize>,
    /// What they are, for the log: `delivery`.
    what: &'static str,
}

impl Tasks {
    pub fn new(what: &'static str) -> Self {
        Tasks {
            tracker: TaskTracker::new(),
            failed: Arc::default(),
            what,
        }
    }

    /// Runs `task` on the runtime, as one of these.
    pub fn spawn(&self, task: impl Future<Output = Result<()>> + Send + 'static) {
        let running = tokio::spawn(task);
        let failed = self.failed.clone();
        let what = self.what;
        self.tracker.spawn(async move {
            let failure = match running.await {
                Ok(Ok(())) => return,
                Ok(Err(error)) => format!("{error:#}"),
                Err(panic) => format!("panicked: {panic}"),
            };
            tracing::error!(error = %failure, "a {what} task failed");
            failed.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// Waits for every task, those started meanwhile too; returns how many failed.
    pub async fn wait(&self) -> usize {
        self.tracker.close();
        self.tracker.wait().await;
        self.failed.load(Ordering::Relaxed)
    }
}

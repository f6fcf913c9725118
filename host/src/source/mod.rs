//! Sources: where events come from. Each runs as a task feeding an [`Ingest`], stops
//! reading when shutdown starts, and finishes the line it holds.

mod file;

pub use file::expand;

pub use sluice_reader::lines::{LinePosition, LineSplitter};
mod stdin;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::SourceConfig;
use crate::persist::Checkpoints;
use crate::pipeline::{Ingest, Router};
use crate::tasks::Tasks;

/// Bytes read at once; a read becomes one chunk of events.
const READ_BLOCK: usize = 256 * 1024;

/// Starts every source; each task ends when its input ends (one-shot) or at shutdown.
pub fn spawn_all(
    sources: &[SourceConfig],
    router: Arc<Router>,
    checkpoints: Option<Arc<Checkpoints>>,
    shutdown: CancellationToken,
    tasks: &Tasks,
) {
    let claims = file::Claims::default();
    for (index, source) in sources.iter().cloned().enumerate() {
        let ingest = Ingest::new(router.clone(), index, shutdown.clone());
        let shutdown = shutdown.clone();
        match source {
            SourceConfig::File {
                name: _,
                paths,
                follow,
                poll_interval,
                rotate_wait,
            } => {
                let source = file::FileSource {
                    patterns: paths,
                    follow,
                    poll_interval,
                    rotate_wait,
                    checkpoints: checkpoints.clone(),
                };
                tasks.spawn(file::run(source, ingest, claims.clone(), shutdown));
            }
            SourceConfig::Stdin { .. } => {
                tasks.spawn(stdin::run(ingest, shutdown));
            }
        }
    }
}

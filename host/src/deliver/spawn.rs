//! A destination's tasks: its batcher, its `concurrency` workers and the tracker of
//! what it confirms later, started once the destination is checked.

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::acknowledgement::Tracker;
use super::destination::Destination;
use super::worker::{self, Kept};
use crate::buffer::{self, QueueLimits, QueueSender};
use crate::config::{DestinationConfig, WhenFull};
use crate::event::Enrichment;
use crate::tasks::Tasks;

/// Bytes of events a spooled destination reads ahead into memory, at most: enough to
/// keep its batches full (a few read blocks), without the spool's content in memory.
const SPOOL_READ_AHEAD: usize = 2 << 20;

impl Destination {
    /// Starts the batcher and workers, each with an instance of the module configured
    /// (so a setting the module refuses stops the start); returns the queue that feeds
    /// them.
    pub fn spawn(
        self: Arc<Self>,
        config: &DestinationConfig,
        enrichment: Enrichment,
        abort: CancellationToken,
        tasks: &Tasks,
    ) -> Result<QueueSender> {
        let limits = self.limits;
        // With the spool, events wait there: memory holds only a read-ahead, and a full
        // one waits (a chunk dropped from it would settle events never delivered).
        let (max_bytes, when_full) = match self.spooled {
            true => (
                config.buffer.max_bytes.min(SPOOL_READ_AHEAD),
                WhenFull::Block,
            ),
            false => (config.buffer.max_bytes, config.buffer.when_full),
        };
        let queue_limits = QueueLimits {
            max_bytes,
            max_events: config.buffer.max_events,
            when_full,
        };
        let (input, chunks) =
            buffer::memory_queue(self.name.clone(), queue_limits, self.counters.clone());
        let (batches_in, batches) = mpsc::channel(config.concurrency);
        let selection = self.selection.clone();
        tasks.spawn(async move {
            buffer::run_batcher(chunks, limits, selection, batches_in).await;
            Ok(())
        });
        let batches = Arc::new(Mutex::new(batches));
        let (unconfirmed, tracked) = mpsc::channel(config.concurrency);
        let tracker = Tracker::new(
            self.clone(),
            self.setup(enrichment.clone()),
            (config.acknowledgement.clone(), config.concurrency),
            abort.clone(),
        );
        tasks.spawn(tracker.run(tracked));
        let pending = worker::PendingBound::new(config.acknowledgement.max_pending_events);
        for _ in 0..config.concurrency {
            let setup = self.setup(enrichment.clone());
            let (module, generation) = self.current();
            let mut instance = module.instantiate(setup.clone())?;
            instance.configure()?;
            tasks.spawn(worker::run(
                self.clone(),
                setup,
                Kept::new((instance, generation)),
                batches.clone(),
                (unconfirmed.clone(), pending.clone()),
                abort.clone(),
            ));
        }
        Ok(input)
    }
}

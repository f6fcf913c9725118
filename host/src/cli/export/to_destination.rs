//! An export sent to a configured destination: its module, settings, batching, retries
//! and dead-letter store, as `run` delivers. Pieces are acknowledged out of order (a
//! destination sends batches side by side); the export stands at the end of the
//! longest run of pieces, from the first, that are all settled (delivered, or in the
//! dead-letter store), and that is what `--resume` goes on from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use super::state::Point;
use crate::ack::Ack;
use crate::buffer::QueueSender;
use crate::config::Config;
use crate::dead_letter::DeadLetter;
use crate::event::EventChunk;
use crate::metrics::Counters;
use crate::module::Runtime;
use crate::pipeline::{ChunkBuilder, enrichment};
use crate::tasks::Tasks;

/// The pieces sent and which are settled.
#[derive(Debug, Default)]
struct Frontier {
    /// Pieces settled past the first unsettled one.
    settled: BTreeSet<u64>,
    /// The point after each piece not yet behind the frontier, and its events.
    points: BTreeMap<u64, (Point, u64)>,
    /// The first piece not settled.
    first_open: u64,
    /// Where the export stands: after the last piece of the settled run.
    point: Option<Point>,
    exported: u64,
}

impl Frontier {
    fn settle(&mut self, piece: u64) {
        self.settled.insert(piece);
        while self.settled.remove(&self.first_open) {
            if let Some((point, events)) = self.points.remove(&self.first_open) {
                self.point = Some(point);
                self.exported += events;
            }
            self.first_open += 1;
        }
    }
}

/// The destination's queue, its tasks, and the frontier of what it settled.
pub struct ToDestination {
    queue: Option<QueueSender>,
    tasks: Tasks,
    /// Cancelled when the shutdown deadline passes: what is in flight is dead-lettered.
    abort: CancellationToken,
    frontier: Arc<Mutex<Frontier>>,
    next: u64,
}

impl ToDestination {
    /// Starts destination `index` of `config`, its filter module included.
    pub async fn start(
        config: &Config,
        index: usize,
        dead_letter: &Arc<DeadLetter>,
        counters: &Arc<Counters>,
    ) -> Result<ToDestination> {
        let modules = Runtime::configured(config)?;
        let mut destinations = tokio::task::block_in_place(|| {
            crate::load::load_destinations(config, &modules, dead_letter, counters)
        })?;
        let destination = destinations.swap_remove(index);
        let tasks = Tasks::new("delivery");
        let abort = CancellationToken::new();
        let queue = destination
            .spawn(
                &config.destinations[index],
                enrichment(&config.events.tags),
                abort.clone(),
                &tasks,
            )
            .with_context(|| {
                format!(
                    "{}: {}",
                    config.path.display(),
                    config.destinations[index].location()
                )
            })?;
        Ok(ToDestination {
            queue: Some(queue),
            tasks,
            abort,
            frontier: Arc::default(),
            next: 0,
        })
    }

    /// Sends `chunk`'s events, which end at `point`; waits while the destination's
    /// queue is full. False when the destination stopped taking events.
    pub async fn send(&mut self, chunk: ChunkBuilder, point: Point) -> bool {
        let piece = self.next;
        self.next += 1;
        let events = chunk.events.len() as u64;
        self.frontier
            .lock()
            .expect("not poisoned")
            .points
            .insert(piece, (point, events));
        if events == 0 {
            self.frontier.lock().expect("not poisoned").settle(piece);
            return true;
        }
        let frontier = self.frontier.clone();
        let ack =
            Ack::new(move || frontier.lock().expect("not poisoned").settle(piece)).into_template();
        let ChunkBuilder { data, events } = chunk;
        let queue = self.queue.as_ref().expect("sending before the end");
        queue
            .push(&Arc::new(EventChunk { data, events }), &ack)
            .await
            .is_ok()
    }

    /// Where the export stands (`None`: nothing settled yet), and the events settled.
    pub fn point(&self) -> (Option<Point>, u64) {
        let frontier = self.frontier.lock().expect("not poisoned");
        (frontier.point, frontier.exported)
    }

    /// No more events: waits until the destination has settled what it holds, or, past
    /// `deadline` after `stopping` (an interrupt), dead-letters what is left. The number
    /// of delivery tasks that failed.
    pub async fn finish(
        &mut self,
        stopping: &CancellationToken,
        deadline: std::time::Duration,
    ) -> usize {
        drop(self.queue.take());
        let wait = self.tasks.wait();
        tokio::pin!(wait);
        let abort = async {
            stopping.cancelled().await;
            tokio::time::sleep(deadline).await;
        };
        tokio::select! {
            failed = &mut wait => return failed,
            () = abort => {
                tracing::warn!(?deadline, "the destination did not settle its events within shutdown_timeout of the interrupt: they are abandoned, and --resume sends them again");
                self.abort.cancel();
            }
        }
        wait.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_stands_after_the_longest_settled_run_from_the_first_piece() {
        let mut frontier = Frontier::default();
        for piece in 0..4 {
            let point = Point {
                file: 0,
                offset: 10 * (piece + 1),
                line: piece + 1,
            };
            frontier.points.insert(piece, (point, 1));
        }
        frontier.settle(1);
        frontier.settle(3);
        assert_eq!(frontier.point, None, "piece 0 is not settled");
        frontier.settle(0);
        assert_eq!(frontier.point.map(|p| p.offset), Some(20));
        assert_eq!(frontier.exported, 2);
        frontier.settle(2);
        assert_eq!(frontier.point.map(|p| p.offset), Some(40));
        assert_eq!(frontier.exported, 4);
    }
}

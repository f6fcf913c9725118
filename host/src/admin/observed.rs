//! What a running host shows of itself, read from one place by every reader: the
//! progress lines, the summary, and the admin listener's `/status`, `/ready` and
//! `/metrics`. Nothing here is counted twice: the figures are the counters the stages
//! keep as they work, read when asked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deliver::Figures;
use crate::fleet::Roster;
use crate::metrics::Counters;
use crate::persist::Spool;

pub struct Observed {
    pub counters: Arc<Counters>,
    /// The running destinations, swapped by a reload.
    roster: Roster,
    spool: Option<Arc<Spool>>,
    started: Instant,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observed")
    }
}

impl Observed {
    pub fn new(counters: Arc<Counters>, roster: Roster, spool: Option<Arc<Spool>>) -> Self {
        Observed {
            counters,
            roster,
            spool,
            started: Instant::now(),
        }
    }

    /// Each running destination's figures, in the configuration's order.
    pub fn destinations(&self) -> Vec<Figures> {
        let roster = self.roster.read().expect("not poisoned").clone();
        roster
            .iter()
            .map(|(destination, queue)| {
                let spooled = self
                    .spool
                    .as_ref()
                    .map(|spool| (spool.pending(&destination.name), spool.bytes()));
                destination.figures(queue, spooled)
            })
            .collect()
    }

    /// The spool's bytes on disk, when there is one.
    pub fn spool_bytes(&self) -> Option<u64> {
        self.spool.as_ref().map(|spool| spool.bytes())
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

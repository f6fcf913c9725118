//! What a running host shows of itself, read from one place by every reader: the
//! progress lines, the summary, and the admin listener's `/status`, `/ready` and
//! `/metrics`. Nothing here is counted twice: the figures are the counters the stages
//! keep as they work, read when asked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dead_letter::DeadLetter;
use crate::deliver::Figures;
use crate::fleet::Roster;
use crate::metrics::Counters;
use crate::metrics::{SourceFigures, SourceRoster};
use crate::persist::Spool;

pub struct Observed {
    pub counters: Arc<Counters>,
    /// The running destinations, swapped by a reload.
    roster: Roster,
    /// The running sources, swapped by a reload.
    sources: SourceRoster,
    spool: Option<Arc<Spool>>,
    pub dead_letter: Arc<DeadLetter>,
    started: Instant,
}

/// A module a destination runs, for `sluice_module_info`.
#[derive(Debug)]
pub struct RunningModule {
    pub destination: String,
    pub name: String,
    pub version: String,
    pub contract: &'static str,
    pub sha256: String,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observed")
    }
}

impl Observed {
    pub fn new(
        counters: Arc<Counters>,
        (roster, sources): (Roster, SourceRoster),
        spool: Option<Arc<Spool>>,
        dead_letter: Arc<DeadLetter>,
    ) -> Self {
        Observed {
            counters,
            roster,
            sources,
            spool,
            dead_letter,
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

    /// Each running source's figures, in the order they started.
    pub fn sources(&self) -> Vec<Arc<SourceFigures>> {
        self.sources.read().expect("not poisoned").clone()
    }

    /// The module each running destination runs now.
    pub fn modules(&self) -> Vec<RunningModule> {
        let roster = self.roster.read().expect("not poisoned").clone();
        roster
            .iter()
            .map(|(destination, _)| {
                let module = destination.module();
                RunningModule {
                    destination: destination.name.to_string(),
                    name: module.info().name.clone(),
                    version: module.info().version.clone(),
                    contract: module.contract_version(),
                    sha256: module.sha256(),
                }
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

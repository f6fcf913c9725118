//! What a destination takes of the events offered to it: its own filter policy and the
//! global routes decide ([`Selector`]); the batcher asks before it adds an event. A
//! reloaded policy takes effect from the next chunk on.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use sluice_reader::{Selector, Skip};

use crate::metrics::Counters;

#[derive(Debug, Default)]
pub struct Selection {
    current: RwLock<Option<Arc<Selector>>>,
    /// Events the destination's own filter dropped.
    pub filtered: AtomicU64,
    /// Events a route sent to other destinations only.
    pub routed_away: AtomicU64,
}

impl Selection {
    /// Decides with `selector` from now on (none: every event is taken).
    pub fn set(&self, selector: Option<Selector>) {
        *self.current.write().expect("not poisoned") = selector.map(Arc::new);
    }

    /// The selector in force, taken once per chunk.
    pub fn current(&self) -> Option<Arc<Selector>> {
        self.current.read().expect("not poisoned").clone()
    }

    /// Counts `skip`; never dead-lettered, as the event was not meant for here.
    pub fn count(&self, skip: Skip) {
        let figure = match skip {
            Skip::Filtered => &self.filtered,
            Skip::RoutedAway => &self.routed_away,
        };
        Counters::add(figure, 1);
    }
}

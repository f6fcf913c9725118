//! The destinations of a run: started with it and, when the configuration is reloaded,
//! added, removed or replaced while the others go on untouched.
//!
//! A destination removed (or replaced by one of the same name with other settings)
//! stops taking new events and delivers what it holds, as at the end of a run: nothing
//! queued is lost. With the spool, a replacement reads on from where its predecessor's
//! feed stopped (none twice, none skipped); a destination added takes the events read
//! from then on, and one removed gives up its position.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::buffer::{QueueGauge, QueueSender};
use crate::config::{Config, DestinationConfig};
use crate::deliver::Destination;
use crate::event::Enrichment;
use crate::persist::{SourceMap, Spool, spool};
use crate::pipeline::Routing;
use crate::tasks::Tasks;

/// The destinations a run reports on: running, then those a reload retired.
pub type Roster = Arc<RwLock<Vec<(Arc<Destination>, QueueGauge)>>>;

pub struct Fleet {
    running: Vec<Running>,
    /// Every destination started, in order, for progress lines and the summary.
    roster: Roster,
    enrichment: Enrichment,
    abandon: CancellationToken,
    spool: Option<Arc<Spool>>,
    tasks: Tasks,
}

struct Running {
    config: DestinationConfig,
    destination: Arc<Destination>,
    /// Its spool feed: where it hands chunks, and what stops it.
    feed: Option<(spool::FeedHandle, CancellationToken)>,
}

/// What a reload did to the destinations, by name.
#[derive(Debug, Default)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Fleet {
    /// Starts `destinations`, those of `config` in its order, its sources having ids
    /// in `sources`; returns the fleet and the routing of their queues (without queues
    /// with the spool: each reads it).
    pub fn start(
        config: &Config,
        sources: &SourceMap,
        destinations: Vec<Arc<Destination>>,
        enrichment: Enrichment,
        abandon: CancellationToken,
        spool: Option<Arc<Spool>>,
        tasks: Tasks,
    ) -> Result<(Fleet, Routing)> {
        let mut fleet = Fleet {
            running: Vec::new(),
            roster: Roster::default(),
            enrichment,
            abandon,
            spool,
            tasks,
        };
        let routes = routes_by_id(config, sources);
        let mut queues = Vec::new();
        for (index, destination) in destinations.into_iter().enumerate() {
            let queue = fleet.spawn(config, index, &destination)?;
            let (running, queue) = fleet.wire(config, index, &routes, destination, queue, None);
            queues.extend(queue);
            fleet.running.push(running);
        }
        Ok((fleet, Routing { queues, routes }))
    }

    /// Starts the batcher and workers of the destination at `index` of `config`.
    fn spawn(
        &self,
        config: &Config,
        index: usize,
        destination: &Arc<Destination>,
    ) -> Result<QueueSender> {
        let settings = &config.destinations[index];
        destination
            .clone()
            .spawn(
                settings,
                self.enrichment.clone(),
                self.abandon.clone(),
                &self.tasks,
            )
            .with_context(|| format!("{}: {}", config.path.display(), settings.location()))
    }

    /// Connects the destination at `index` of `config`, started with `queue`: with the
    /// spool, to `feed` (its predecessor's) when there is one, else to a feed of its
    /// own, taking the sources `routes` (by source id) send it; without, returns its
    /// queue for the routing.
    fn wire(
        &self,
        config: &Config,
        index: usize,
        routes: &[Vec<usize>],
        destination: Arc<Destination>,
        queue: QueueSender,
        feed: Option<(spool::FeedHandle, CancellationToken)>,
    ) -> (Running, Option<(Arc<str>, QueueSender)>) {
        self.roster
            .write()
            .expect("not poisoned")
            .push((destination.clone(), queue.gauge()));
        let name = destination.name.clone();
        let running = |feed| Running {
            config: config.destinations[index].clone(),
            destination,
            feed,
        };
        let Some(spool) = &self.spool else {
            return (running(None), Some((name, queue)));
        };
        let takes = takes(routes, index);
        if let Some((handle, stop)) = feed
            && handle.replace(queue.clone(), takes.clone())
        {
            return (running(Some((handle, stop))), None);
        }
        spool.add_destination(name.clone());
        let target = spool::FeedTarget::new(queue, takes);
        let stop = self.abandon.child_token();
        let handle = target.handle();
        self.tasks
            .spawn(spool::feed(spool.clone(), name, target, stop.clone()));
        (running(Some((handle, stop))), None)
    }

    /// The running destinations with their configuration, in its order.
    pub fn running(&self) -> impl Iterator<Item = (&Arc<Destination>, &DestinationConfig)> {
        self.running.iter().map(|r| (&r.destination, &r.config))
    }

    /// Every destination started, for progress lines and the summary.
    pub fn roster(&self) -> Roster {
        self.roster.clone()
    }

    /// The configurations of `new` whose destinations are not running as they are:
    /// added, or changed. A reload loads these (and only these) first.
    pub fn to_load<'c>(&self, new: &'c Config) -> Vec<(usize, &'c DestinationConfig)> {
        new.destinations
            .iter()
            .enumerate()
            .filter(|(_, config)| !self.running.iter().any(|r| r.config == **config))
            .collect()
    }

    /// Runs the destinations of `new`: those loaded (by name: the added and changed
    /// ones) start, the unchanged go on, the others stop taking events and deliver what
    /// they hold. Returns the routing of `new` (its queues from `current`'s for the
    /// unchanged destinations) and what changed.
    pub fn reconfigure(
        &mut self,
        new: &Config,
        sources: &SourceMap,
        mut loaded: HashMap<String, Arc<Destination>>,
        current: &Routing,
    ) -> Result<(Routing, Changes)> {
        let routes = routes_by_id(new, sources);
        // What can fail first, before anything running is touched.
        let mut started = HashMap::new();
        for (index, config) in new.destinations.iter().enumerate() {
            if let Some(destination) = loaded.remove(&config.name) {
                let queue = self.spawn(new, index, &destination)?;
                started.insert(config.name.clone(), (destination, queue));
            }
        }
        let mut changes = Changes::default();
        let mut previous = std::mem::take(&mut self.running);
        let mut queues = Vec::new();
        for (index, config) in new.destinations.iter().enumerate() {
            let before = previous
                .iter()
                .position(|r| r.config.name == config.name)
                .map(|at| previous.remove(at));
            let Some((destination, queue)) = started.remove(&config.name) else {
                let unchanged =
                    before.expect("to_load loads every destination not running as it is");
                queues.extend(
                    current
                        .queue(&config.name)
                        .map(|q| (config.name.as_str().into(), q)),
                );
                // The sources may have changed.
                if let Some((feed, _)) = &unchanged.feed {
                    feed.set_takes(takes(&routes, index));
                }
                self.running.push(unchanged);
                continue;
            };
            let feed = match before {
                Some(before) => {
                    changes.changed.push(config.name.clone());
                    before.feed
                }
                None => {
                    changes.added.push(config.name.clone());
                    None
                }
            };
            let (running, queue) = self.wire(new, index, &routes, destination, queue, feed);
            queues.extend(queue);
            self.running.push(running);
        }
        for gone in previous {
            changes.removed.push(gone.config.name.clone());
            if let (Some(spool), Some((_, stop))) = (&self.spool, &gone.feed) {
                stop.cancel();
                spool.remove_destination(&gone.config.name);
            }
        }
        Ok((Routing { queues, routes }, changes))
    }
}

/// `config`'s routes by source id: `sources.ids[i]` is the id of its source `i`; an id
/// no source has (its records still in the spool, or its last chunk on the way) goes to
/// the destinations that took it, those `config` still has.
fn routes_by_id(config: &Config, sources: &SourceMap) -> Vec<Vec<usize>> {
    let last = sources.ids.iter().chain(sources.retired.keys()).max();
    let mut routes = vec![Vec::new(); last.map_or(0, |max| max + 1)];
    for (id, names) in &sources.retired {
        routes[*id] = names
            .iter()
            .filter_map(|name| config.destinations.iter().position(|d| d.name == *name))
            .collect();
    }
    for (to, &id) in config.routes().into_iter().zip(&sources.ids) {
        routes[id] = to;
    }
    routes
}

/// Which sources (by id) the destination at `index` takes.
fn takes(routes: &[Vec<usize>], index: usize) -> Vec<bool> {
    routes.iter().map(|to| to.contains(&index)).collect()
}

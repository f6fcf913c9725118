//! What a running host reloads, and when: on SIGHUP, or when a file it watches changes
//! (the configuration, a module in a modules directory, a filter policy). Whatever is
//! refused is logged with why, and what runs goes on as it was.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use anyhow::Result;

use crate::config::{Config, DestinationConfig};
use crate::dead_letter::DeadLetter;
use crate::deliver::{Destination, FilterStage};
use crate::event::Enrichment;
use crate::fleet::{Changes, Fleet};
use crate::load::{load_destination, load_filter_module, pinned};
use crate::metrics::Counters;
use crate::module::{ModuleSource, Runtime};
use crate::pipeline::{Filters, Router, enrichment};
use crate::source::{SourceChanges, Sources};
use crate::watch::{self, Watch};

pub struct Reloader {
    config: Config,
    runtime: Runtime,
    filters: Filters,
    fleet: Fleet,
    sources: Sources,
    /// The sources' router; gone once every source has ended (nothing is read any more,
    /// and nothing is reloaded).
    router: Weak<Router>,
    dead_letter: Arc<DeadLetter>,
    counters: Arc<Counters>,
    watch: Watch,
}

impl Reloader {
    /// Watches the files of `config` for a run of `running` destinations and sources,
    /// whose sources route through `router`.
    pub fn new(
        config: Config,
        runtime: Runtime,
        filters: Filters,
        (fleet, sources): (Fleet, Sources),
        router: &Arc<Router>,
        dead_letter: Arc<DeadLetter>,
        counters: Arc<Counters>,
    ) -> Result<Self> {
        let watch = Watch::start(&config.modules_dirs, &filters.files(), &config.path)?;
        Ok(Reloader {
            config,
            runtime,
            filters,
            fleet,
            sources,
            router: Arc::downgrade(router),
            dead_letter,
            counters,
            watch,
        })
    }

    /// The filters in force, for the summary.
    pub fn filters(&self) -> &Filters {
        &self.filters
    }

    /// What changed among the watched files, once something has.
    pub async fn changed(&mut self) -> watch::Changes {
        self.watch.changed().await
    }

    /// SIGHUP: the configuration, then every module and policy file, read again.
    pub fn sighup(&mut self) {
        tracing::info!("SIGHUP: reloading the configuration, the modules and the filter policies");
        self.reload_config();
        self.reload_modules();
        self.reload_filters();
    }

    /// Reloads what `changes` says changed.
    pub fn apply(&mut self, changes: watch::Changes) {
        if changes.config {
            tracing::info!("the configuration file changed: reloading it");
            self.reload_config();
        }
        if changes.modules {
            tracing::info!("a module file changed: reloading the modules");
            self.reload_modules();
        }
        if changes.policies {
            self.reload_filters();
        }
    }

    fn reload_modules(&self) {
        let enrichment = enrichment(&self.config.events.tags);
        reload_modules(
            &self.config,
            &self.runtime,
            self.fleet.running(),
            (&enrichment, &self.counters),
        );
    }

    /// Reads every filter policy file again, and puts the policies that changed in
    /// force: the global ones for the lines read from now on, the destinations' own and
    /// the routes for the chunks batched from now on.
    fn reload_filters(&mut self) {
        if self.filters.reload() {
            if let Some(router) = self.router.upgrade() {
                router.set_parsing(self.filters.parsing());
            }
            self.select();
        }
    }

    /// Gives each running destination its selection under the filters in force.
    fn select(&self) {
        for (index, (destination, _)) in self.fleet.running().enumerate() {
            destination.selection.set(self.filters.selector(index));
        }
    }

    /// Reads the configuration file again; a valid one that differs is put in force:
    /// its destinations added, removed or changed, its filters. One `sluice check`
    /// refuses is refused with the same message, and the running one stays.
    fn reload_config(&mut self) {
        // `sluice check`'s message, on one log line (a TOML error quotes the line it is on).
        let counters = self.counters.clone();
        let refused = |error: anyhow::Error| {
            let message = format!("{error:#}");
            let message: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            tracing::error!(error = %message.join(" "), "configuration refused; the running one stays");
            counters.config_reloads.add("refused", 1);
        };
        let new = match Config::load(&self.config.path) {
            Ok(new) => new,
            Err(error) => return refused(error),
        };
        if new == self.config {
            tracing::info!("configuration unchanged");
            self.counters.config_reloads.add("unchanged", 1);
            return;
        }
        let Some(router) = self.router.upgrade() else {
            tracing::warn!(
                "configuration not reloaded: the sources have ended, sluice is finishing"
            );
            return;
        };
        match self.reconfigure(new, &router) {
            Ok((changes, sources)) => {
                self.counters.config_reloads.add("applied", 1);
                if !sources.unchanged_until_restart.is_empty() {
                    tracing::warn!(sources = ?sources.unchanged_until_restart, "sources changed in their settings, not in what they read: the change takes effect at the next start");
                }
                tracing::info!(
                    added = ?changes.added,
                    removed = ?changes.removed,
                    changed = ?changes.changed,
                    sources_added = ?sources.added,
                    sources_removed = ?sources.removed,
                    "configuration reloaded; destinations removed or changed deliver what they hold"
                )
            }
            Err(error) => refused(error),
        }
    }

    /// Puts `new` in force, or changes nothing when any part of it cannot start.
    fn reconfigure(
        &mut self,
        new: Config,
        router: &Arc<Router>,
    ) -> Result<(Changes, SourceChanges)> {
        let new = self.live_part(new);
        let filters = Filters::load(&new, Some(&self.filters))?;
        let mut loaded = HashMap::new();
        for (index, _) in self.fleet.to_load(&new) {
            let destination = load_destination(
                &new,
                index,
                &self.runtime,
                &self.dead_letter,
                &self.counters,
            )?;
            loaded.insert(new.destinations[index].name.clone(), destination);
        }
        let watch = Watch::start(&new.modules_dirs, &filters.files(), &new.path)?;
        let source_ids = self.sources.map(&new)?;
        // Fails, if it does, before it touches a running destination.
        let (routing, changes) =
            self.fleet
                .reconfigure(&new, &source_ids, loaded, &router.routing())?;
        router.set_routing(routing);
        router.set_parsing(filters.parsing());
        // Started and stopped once the routes know them.
        let sources = self
            .sources
            .reconfigure(&new.sources, &source_ids.ids, router);
        self.filters = filters;
        self.select();
        self.watch = watch;
        self.config = new;
        Ok((changes, sources))
    }

    /// `new`'s sources, destinations and filters with the rest of the running
    /// configuration: the spool, limits and the other settings change only at a restart
    /// (said so when they differ).
    fn live_part(&self, new: Config) -> Config {
        let live = self.config.with_live_parts_of(&new);
        if live != new {
            tracing::warn!(
                "settings outside [[sources]], [[destinations]] and [[filters]] changed; they take effect at the next start"
            );
        }
        live
    }
}

/// What a swap log line says of a module: name, version, where from, SHA-256.
fn provenance(name: &str, version: &str, label: &str, sha256: &str) -> String {
    format!("{name} {version} from {label}, sha256 {sha256}")
}

/// Loads every destination's module again (a file in `modules_dirs` or a path may have
/// changed) and puts each changed one in place of the running one once it passes the
/// checks of a start; a module refused is logged, and the running one goes on. A module
/// whose file is gone pauses its destination (only it) until a module of that name is
/// back.
fn reload_modules<'a>(
    config: &Config,
    runtime: &Runtime,
    destinations: impl Iterator<Item = (&'a Arc<Destination>, &'a DestinationConfig)>,
    (enrichment, counters): (&Enrichment, &Counters),
) {
    for (destination, settings) in destinations {
        let counted = |result| {
            counters
                .module_reloads
                .add((settings.module.clone(), result), 1)
        };
        let source = match ModuleSource::resolve(&settings.module, &config.modules_dirs) {
            Ok(source) => source,
            Err(gone) => {
                let reason = format!("{gone:#}");
                counted("gone");
                if destination.pause(reason.clone()) {
                    tracing::warn!(destination = %destination.name, %reason, "module gone: the destination is paused, its events wait (queued, or in the spool) until a module of that name is back");
                }
                continue;
            }
        };
        let reloaded = runtime
            .load_formatter(&source)
            .and_then(|module| pinned(settings, module))
            .and_then(|module| {
                let info = module.info();
                let described =
                    provenance(&info.name, &info.version, module.label(), &module.sha256());
                Ok((destination.reload(module, enrichment.clone())?, described))
            });
        if reloaded.is_ok() && destination.resume() {
            tracing::info!(destination = %destination.name, "module back: the destination takes batches again");
        }
        match reloaded {
            Ok((Some(generation), module)) => {
                counted("reloaded");
                tracing::info!(destination = %destination.name, %module, generation, "module reloaded; batches from now on use it")
            }
            Ok((None, _)) => {
                counted("unchanged");
                tracing::info!(destination = %destination.name, "module unchanged")
            }
            Err(error) => {
                counted("refused");
                tracing::error!(
                    destination = %destination.name,
                    error = %format!("{error:#}"),
                    "module reload refused; the running module goes on"
                )
            }
        }
        if let Some(stage) = &destination.filter_stage {
            reload_filter_module(config, runtime, destination, stage, settings);
        }
    }
}

/// Loads the filter module `name` again and puts it in place of `stage`'s once it passes
/// the checks of a start. One that is gone or refused is logged, and the running one goes
/// on filtering: events never pass unfiltered.
fn reload_filter_module(
    config: &Config,
    runtime: &Runtime,
    destination: &Destination,
    stage: &FilterStage,
    settings: &DestinationConfig,
) {
    let reloaded = load_filter_module(config, settings, runtime).and_then(|module| {
        let info = module.info();
        let described = provenance(&info.name, &info.version, module.label(), &module.sha256());
        Ok((stage.reload(module)?, described))
    });
    match reloaded {
        Ok((Some(generation), module)) => {
            tracing::info!(destination = %destination.name, %module, generation, "filter module reloaded; batches from now on use it")
        }
        Ok((None, _)) => {}
        Err(error) => tracing::error!(
            destination = %destination.name,
            error = %format!("{error:#}"),
            "filter module reload refused; the running one goes on"
        ),
    }
}

//! The filter policies of a run: the global ones (`[[filters]]`), applied by the parser
//! as it reads each line, and each destination's own (`filter`), applied with the
//! global routes by the destination's batcher. Their files are read again when they
//! change: a policy that compiles takes the old one's place for the events read (or
//! batched) from then on; one that does not is refused with its line and column, and
//! the old one stays.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use sluice_reader::Selector;

use super::{FilterCount, Parsing, line_parser};
use crate::config::{Config, EventsConfig, FilterConfig, Policy};

#[derive(Debug)]
pub struct Filters {
    events: EventsConfig,
    global: Vec<Loaded>,
    /// Each destination's own policy, by the destination's index.
    own: Vec<Option<Loaded>>,
    destinations: Vec<String>,
    /// What each global filter dropped, in their order.
    pub counts: Vec<Arc<FilterCount>>,
}

/// A policy, with the text it was compiled from.
#[derive(Debug)]
struct Loaded {
    config: FilterConfig,
    text: String,
    policy: Arc<Policy>,
}

/// Where a policy is attached: what it may hold depends on it.
#[derive(Clone, Copy)]
enum Attached<'a> {
    Global { destinations: &'a [String] },
    Destination,
}

impl Loaded {
    fn load(config: FilterConfig, attached: Attached<'_>) -> Result<Loaded> {
        let text = config.read()?;
        let policy = compile(&config, &text, attached)?;
        Ok(Loaded {
            config,
            text,
            policy: Arc::new(policy),
        })
    }

    /// Reads the file again: true when it changed and the new policy is in force; a
    /// policy refused is logged, and this one stays.
    fn reload(&mut self, attached: Attached<'_>) -> bool {
        let config = &self.config;
        let read = config.read().and_then(|text| {
            let changed = text != self.text;
            let policy = changed
                .then(|| compile(config, &text, attached))
                .transpose()?;
            Ok((text, policy))
        });
        match read {
            Ok((_, None)) => false,
            Ok((text, Some(policy))) => {
                tracing::info!(filter = %config.name, file = %config.policy.display(), "filter policy reloaded; events from now on follow it");
                self.text = text;
                self.policy = Arc::new(policy);
                true
            }
            Err(error) => {
                tracing::error!(filter = %config.name, error = %format!("{error:#}"), "filter policy refused; the running one stays");
                false
            }
        }
    }
}

/// Compiles `text`, refusing what its place does not allow.
fn compile(config: &FilterConfig, text: &str, attached: Attached<'_>) -> Result<Policy> {
    let policy = config.compile(text)?;
    let file = config.policy.display();
    match attached {
        Attached::Destination if policy.routes() => bail!(
            "filter `{}` ({file}): [[route]] tables belong in a global [[filters]] policy",
            config.name
        ),
        Attached::Destination if policy.requires() => bail!(
            "filter `{}` ({file}): [require] belongs in a global [[filters]] policy (an event without the field is dead-lettered as it is read)",
            config.name
        ),
        Attached::Global { destinations } => {
            if let Some(unknown) = policy
                .route_targets()
                .into_iter()
                .find(|target| !destinations.iter().any(|name| name == target))
            {
                bail!(
                    "filter `{}` ({file}): a [[route]] sends events to `{unknown}`, but no destination has that name",
                    config.name
                );
            }
        }
        Attached::Destination => {}
    }
    Ok(policy)
}

impl Filters {
    /// Loads every policy `config` names; a filter of `previous` (the running ones, at
    /// a reload) by the same name keeps counting where it was.
    pub fn load(config: &Config, previous: Option<&Filters>) -> Result<Filters> {
        let destinations: Vec<String> =
            config.destinations.iter().map(|d| d.name.clone()).collect();
        let global = config
            .filters
            .iter()
            .map(|filter| {
                let attached = Attached::Global {
                    destinations: &destinations,
                };
                Loaded::load(filter.clone(), attached)
            })
            .collect::<Result<Vec<_>>>()?;
        let own = config
            .destinations
            .iter()
            .map(|destination| {
                destination
                    .filter_config()
                    .map(|filter| Loaded::load(filter, Attached::Destination))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let counts = global
            .iter()
            .map(|loaded| {
                let name = &loaded.config.name;
                let kept = previous.and_then(|p| p.counts.iter().find(|c| c.name == *name));
                kept.cloned().unwrap_or_else(|| {
                    Arc::new(FilterCount {
                        name: name.clone(),
                        dropped: Default::default(),
                    })
                })
            })
            .collect();
        Ok(Filters {
            events: config.events.clone(),
            global,
            own,
            destinations,
            counts,
        })
    }

    /// The parser that applies the global policies, with their counts.
    pub fn parsing(&self) -> Parsing {
        Parsing {
            parser: line_parser(&self.events, self.global_policies()),
            counts: self.counts.clone(),
        }
    }

    /// The global policies, in their order.
    pub fn global_policies(&self) -> Vec<Arc<Policy>> {
        self.global.iter().map(|l| l.policy.clone()).collect()
    }

    /// What the destination at `index` takes: its own policy and the global routes.
    pub fn selector(&self, index: usize) -> Option<Selector> {
        Selector::new(
            &self.destinations[index],
            self.own[index].as_ref().map(|l| l.policy.clone()),
            self.global.iter().map(|l| l.policy.clone()),
            self.events.max_depth,
        )
    }

    /// Every policy file, to watch.
    pub fn files(&self) -> Vec<PathBuf> {
        self.global
            .iter()
            .chain(self.own.iter().flatten())
            .map(|l| l.config.policy.clone())
            .collect()
    }

    /// Reads every policy file again; true when a policy changed (the parser and the
    /// selectors are then due to be made again).
    pub fn reload(&mut self) -> bool {
        let mut changed = false;
        for loaded in &mut self.global {
            let attached = Attached::Global {
                destinations: &self.destinations,
            };
            changed |= loaded.reload(attached);
        }
        for loaded in self.own.iter_mut().flatten() {
            changed |= loaded.reload(Attached::Destination);
        }
        changed
    }
}

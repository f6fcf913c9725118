//! Loading a configuration's destinations: each one's module and filter module, pinned
//! and checked, ready to start. Used at start, by a config reload, and by the commands
//! that look at destinations without running them.

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::{Config, DestinationConfig};
use crate::dead_letter::DeadLetter;
use crate::deliver::{Destination, FilterStage};
use crate::metrics::Counters;
use crate::module::{FilterModule, FormatterModule, ModuleSource, Runtime};

/// `module`, if its bytes are those the destination pins (`module_sha256`).
pub fn pinned(
    destination: &DestinationConfig,
    module: Arc<FormatterModule>,
) -> Result<Arc<FormatterModule>> {
    let pin = destination.module_sha256.as_deref();
    check_pin("module_sha256", pin, module.label(), &module.sha256())?;
    Ok(module)
}

/// Refuses the module from `label` whose bytes have `sha256`, unless `pin` (the
/// destination's `key`) is unset or that very digest.
pub fn check_pin(key: &str, pin: Option<&str>, label: &str, sha256: &str) -> Result<()> {
    match pin {
        Some(pin) if !pin.eq_ignore_ascii_case(sha256) => {
            anyhow::bail!("{label} has SHA-256 {sha256}, but {key} pins {pin}")
        }
        _ => Ok(()),
    }
}

/// Loads every destination's module with one runtime; errors name the destination.
pub fn load_destinations(
    config: &Config,
    runtime: &Runtime,
    dead_letter: &Arc<DeadLetter>,
    counters: &Arc<Counters>,
) -> Result<Vec<Arc<Destination>>> {
    (0..config.destinations.len())
        .map(|index| load_destination(config, index, runtime, dead_letter, counters))
        .collect()
}

/// Loads the destination at `index` of `config`: its module, its filter module, its
/// checks, and a sample event formatted with its settings (what `check` tries is what
/// a start and a reload require); errors name it.
pub fn load_destination(
    config: &Config,
    index: usize,
    runtime: &Runtime,
    dead_letter: &Arc<DeadLetter>,
    counters: &Arc<Counters>,
) -> Result<Arc<Destination>> {
    let destination = &config.destinations[index];
    let at = || format!("{}: {}", config.path.display(), destination.location());
    let module = load_formatter_module(config, index, runtime)?;
    let filter_stage = load_filter_stage(config, destination, runtime)
        .with_context(|| format!("{}.filter_module", at()))?;
    let loaded = Destination::new(
        destination,
        module,
        filter_stage,
        dead_letter.clone(),
        counters.clone(),
        config.failure_alert_after,
        config.spooled(),
    )
    .with_context(at)?;
    loaded
        .dry_run(crate::pipeline::enrichment(&config.events.tags))
        .with_context(at)?;
    Ok(Arc::new(loaded))
}

/// The module of the destination at `index` of `config`, loaded and pinned; errors
/// name the destination.
pub fn load_formatter_module(
    config: &Config,
    index: usize,
    runtime: &Runtime,
) -> Result<Arc<FormatterModule>> {
    let destination = &config.destinations[index];
    let at = || {
        format!(
            "{}: {}.module",
            config.path.display(),
            destination.location()
        )
    };
    let source =
        ModuleSource::resolve(&destination.module, &config.modules_dirs).with_context(at)?;
    runtime
        .load_formatter(&source)
        .and_then(|module| pinned(destination, module))
        .with_context(at)
}

/// The filter module `destination` names, loaded and checked with its settings.
pub fn load_filter_stage(
    config: &Config,
    destination: &DestinationConfig,
    runtime: &Runtime,
) -> Result<Option<FilterStage>> {
    if destination.filter_module.is_none() {
        return Ok(None);
    }
    let module = load_filter_module(config, destination, runtime)?;
    Ok(Some(FilterStage::new(
        module,
        destination.filter_settings()?,
    )?))
}

/// The filter module `destination` names (none: an error), loaded and pinned.
pub fn load_filter_module(
    config: &Config,
    destination: &DestinationConfig,
    runtime: &Runtime,
) -> Result<Arc<FilterModule>> {
    let name = destination
        .filter_module
        .as_deref()
        .context("no filter_module")?;
    let module = runtime.load_filter(&ModuleSource::resolve(name, &config.modules_dirs)?)?;
    let pin = destination.filter_module_sha256.as_deref();
    check_pin(
        "filter_module_sha256",
        pin,
        module.label(),
        &module.sha256(),
    )?;
    Ok(module)
}

//! `sluice run`: start every destination and source, wait for the sources to end or a
//! signal, then flush within the shutdown deadline.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal, SignalKind};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::buffer::QueueGauge;
use crate::config::{Config, DestinationConfig};
use crate::dead_letter::DeadLetter;
use crate::deliver::{Destination, FilterStage};
use crate::event::Enrichment;
use crate::metrics::Counters;
use crate::module::{FormatterModule, Limits, ModuleSource, Runtime};
use crate::persist::{Persisted, Spool, spool};
use crate::pipeline::{Filters, Router, Sink, enrichment};

/// What a run did, for the closing log line and the exit code.
#[derive(Debug)]
pub struct Summary {
    pub counters: Arc<Counters>,
    pub dead_letter_file: std::path::PathBuf,
    /// Source and delivery tasks that failed or panicked (each was logged).
    pub failed_tasks: usize,
}

impl Summary {
    fn new(counters: Arc<Counters>, dead_letter: &DeadLetter, failed_tasks: usize) -> Self {
        Summary {
            counters,
            dead_letter_file: dead_letter.path().to_path_buf(),
            failed_tasks,
        }
    }
}

/// `module`, if its bytes are those the destination pins (`module_sha256`).
fn pinned(
    destination: &DestinationConfig,
    module: Arc<FormatterModule>,
) -> Result<Arc<FormatterModule>> {
    match &destination.module_sha256 {
        Some(pin) if !pin.eq_ignore_ascii_case(&module.sha256()) => anyhow::bail!(
            "{} has SHA-256 {}, but module_sha256 pins {pin}",
            module.label(),
            module.sha256()
        ),
        _ => Ok(module),
    }
}

/// Loads every destination's module with one runtime; errors name the destination.
pub fn load_destinations(
    config: &Config,
    runtime: &Runtime,
    dead_letter: &Arc<DeadLetter>,
    counters: &Arc<Counters>,
) -> Result<Vec<Arc<Destination>>> {
    config
        .destinations
        .iter()
        .enumerate()
        .map(|(i, destination)| {
            let at = || format!("{}: {}", config.path.display(), destination.location(i));
            let source = ModuleSource::resolve(&destination.module, &config.modules_dirs)
                .with_context(|| format!("{}.module", at()))?;
            let module = runtime
                .load_formatter(&source)
                .and_then(|module| pinned(destination, module))
                .with_context(|| format!("{}.module", at()))?;
            let filter_stage = load_filter_stage(config, destination, runtime)
                .with_context(|| format!("{}.filter_module", at()))?;
            Ok(Arc::new(
                Destination::new(
                    destination,
                    module,
                    filter_stage,
                    dead_letter.clone(),
                    counters.clone(),
                    config.failure_alert_after,
                    config.spooled(),
                )
                .with_context(at)?,
            ))
        })
        .collect()
}

/// The filter module `destination` names, loaded and checked with its settings.
fn load_filter_stage(
    config: &Config,
    destination: &DestinationConfig,
    runtime: &Runtime,
) -> Result<Option<FilterStage>> {
    let Some(name) = &destination.filter_module else {
        return Ok(None);
    };
    let module = runtime.load_filter(&ModuleSource::resolve(name, &config.modules_dirs)?)?;
    Ok(Some(FilterStage::new(
        module,
        destination.filter_settings()?,
    )?))
}

pub async fn run(config: Config, counters: Arc<Counters>) -> Result<Summary> {
    // Installed before anything starts, and kept for the whole run: a signal that
    // arrives while one stage hands over to the next is queued, not lost.
    let mut signals = Signals::install()?;
    let mut filters = Filters::load(&config)?;
    let mut file_changes = crate::watch::Watch::start(&config.modules_dirs, &filters.files())?;
    let dead_letter = Arc::new(DeadLetter::configured(&config));
    let persisted = Persisted::open(&config, &counters)?.map(Arc::new);
    let runtime = Runtime::new(Limits::from(&config.limits), config.cache_dir())?;
    // Compiling is seconds of CPU: not on a thread that runs async tasks.
    let destinations = tokio::task::block_in_place(|| {
        load_destinations(&config, &runtime, &dead_letter, &counters)
    })?;

    let stop_reading = CancellationToken::new();
    let abandon = CancellationToken::new();
    let enrichment = enrichment(&config.events.tags);
    let mut delivery = JoinSet::new();
    let mut queues = Vec::new();
    let mut watched = Vec::new();
    for (i, (destination, settings)) in destinations
        .into_iter()
        .zip(&config.destinations)
        .enumerate()
    {
        let queue = destination
            .clone()
            .spawn(settings, enrichment.clone(), abandon.clone(), &mut delivery)
            .with_context(|| format!("{}: {}", config.path.display(), settings.location(i)))?;
        watched.push((destination, queue.gauge()));
        queues.push(queue);
    }
    let spool = persisted.as_ref().and_then(|p| p.spool.clone());
    let progress = (!config.progress_interval.is_zero()).then(|| {
        tokio::spawn(log_progress(
            config.progress_interval,
            counters.clone(),
            watched.clone(),
            spool.clone(),
        ))
    });
    let routes = config.routes();
    let sink = match spool.clone() {
        // Each destination reads the spool into its queue.
        Some(spool) => {
            for (index, queue) in queues.into_iter().enumerate() {
                let takes = routes.iter().map(|to| to.contains(&index)).collect();
                let feed = spool::feed(spool.clone(), index, takes, queue, abandon.clone());
                delivery.spawn(feed);
            }
            Sink::Spool(spool)
        }
        None => Sink::Queues(queues),
    };
    let stop_commits = CancellationToken::new();
    let commits = persisted.as_ref().map(|persisted| {
        tokio::spawn(
            persisted
                .clone()
                .run_commits(config.checkpoint_interval, stop_commits.clone()),
        )
    });
    let router = Arc::new(Router::new(
        filters.parser(),
        config.events.max_line_bytes,
        sink,
        routes,
        dead_letter.clone(),
        counters.clone(),
        filters.counts.clone(),
    ));
    for (index, (destination, _)) in watched.iter().enumerate() {
        destination.selection.set(filters.selector(index));
    }
    let mut sources = JoinSet::new();
    // The sources hold the only strong references to the router: when they end, every
    // destination's input (or the spool) closes and its batcher flushes.
    let parsing = Arc::downgrade(&router);
    let checkpoints = persisted.as_ref().map(|p| p.checkpoints.clone());
    crate::source::spawn_all(
        &config.sources,
        router,
        checkpoints,
        stop_reading.clone(),
        &mut sources,
    );
    tracing::info!(
        sources = config.sources.len(),
        destinations = config.destinations.len(),
        "sluice running"
    );

    // Read until the inputs end, then deliver what was read. Without a signal this
    // takes as long as it takes (retries are bounded); once one comes, reading stops
    // and the shutdown deadline applies to everything still under way.
    let work = async {
        join_logging(&mut sources, "source").await + join_logging(&mut delivery, "delivery").await
    };
    tokio::pin!(work);
    let finished = loop {
        tokio::select! {
            failed = &mut work => break Some(failed),
            received = signals.next() => match received {
                Received::Shutdown => break None,
                // Compiling is seconds of CPU: not on a thread that runs async tasks.
                Received::Reload => tokio::task::block_in_place(|| {
                    tracing::info!("SIGHUP: reloading the modules and the filter policies");
                    reload_modules(&config, &runtime, &watched, &enrichment);
                    reload_filters(&mut filters, &parsing, &watched);
                }),
            },
            changes = file_changes.changed() => tokio::task::block_in_place(|| {
                if changes.modules {
                    tracing::info!("a module file changed: reloading the modules");
                    reload_modules(&config, &runtime, &watched, &enrichment);
                }
                if changes.policies {
                    reload_filters(&mut filters, &parsing, &watched);
                }
            }),
        }
    };
    let failed_tasks = match finished {
        Some(failed) => failed,
        None => {
            tracing::info!(timeout = ?config.shutdown_timeout, "shutdown requested: no more reading; flushing every queue");
            stop_reading.cancel();
            let cut_short = async {
                tokio::select! {
                    () = tokio::time::sleep(config.shutdown_timeout) => "shutdown deadline passed",
                    () = signals.shutdown() => "second shutdown request",
                }
            };
            tokio::select! {
                failed = &mut work => failed,
                why = cut_short => {
                    tracing::error!("{why}; abandoning what is still queued");
                    abandon.cancel();
                    work.await
                }
            }
        }
    };
    if let Some(progress) = progress {
        progress.abort();
    }
    // The last checkpoints and spool positions, once every task has settled what it will.
    stop_commits.cancel();
    if let Some(commits) = commits {
        let _ = commits.await;
    }
    for (destination, queue) in &watched {
        let spooled = spooled_figures(spool.as_deref(), &destination.name);
        destination.log_figures("destination summary", queue, spooled);
        if let Some((pending, _)) = spooled.filter(|(pending, _)| *pending > 0) {
            tracing::info!(destination = %destination.name, records = pending, "events remain in the spool; they are delivered after a restart");
        }
    }
    for (destination, queue) in &watched {
        destination.log_where_captured();
        queue.warn_unwarned_drops();
    }
    for filter in filters.counts.iter() {
        tracing::info!(filter = %filter.name, dropped = Counters::get(&filter.dropped), "filter summary");
    }
    Counters::add(
        &counters.dead_letters_removed,
        dead_letter.removed() as usize,
    );
    Ok(Summary::new(counters, &dead_letter, failed_tasks))
}

/// Every `interval`, a line with the events read (and their rate since the last line),
/// then one per destination with what it delivered, refused and holds.
async fn log_progress(
    interval: std::time::Duration,
    counters: Arc<Counters>,
    destinations: Vec<(Arc<Destination>, QueueGauge)>,
    spool: Option<Arc<Spool>>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    let mut last_read = 0;
    loop {
        ticks.tick().await;
        let read = Counters::get(&counters.events_in);
        tracing::info!(
            events_read = read,
            events_per_second = ((read - last_read) as f64 / interval.as_secs_f64()).round(),
            lines_rejected = Counters::get(&counters.lines_rejected),
            "progress"
        );
        last_read = read;
        for (destination, queue) in &destinations {
            let spooled = spooled_figures(spool.as_deref(), &destination.name);
            destination.log_figures("progress", queue, spooled);
        }
    }
}

/// The records `destination` has not settled in the spool, and the spool's bytes.
fn spooled_figures(spool: Option<&Spool>, destination: &str) -> Option<(u64, u64)> {
    spool.map(|spool| (spool.pending(destination), spool.bytes()))
}

/// Waits for every task; returns how many failed or panicked (each one logged).
async fn join_logging(tasks: &mut JoinSet<Result<()>>, what: &str) -> usize {
    let mut failed = 0;
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => {
                tracing::error!(error = %format!("{error:#}"), "a {what} task failed")
            }
            Err(error) => tracing::error!(%error, "a {what} task panicked"),
        }
        failed += 1;
    }
    failed
}

/// The signals a run listens to, for its whole life.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        let listen = |kind: SignalKind, name: &str| {
            tokio::signal::unix::signal(kind)
                .with_context(|| format!("installing a {name} handler"))
        };
        Ok(Signals {
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            hangup: listen(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The next signal: SIGTERM or SIGINT (Ctrl-C) to stop, SIGHUP to reload the
    /// modules.
    async fn next(&mut self) -> Received {
        tokio::select! {
            _ = self.terminate.recv() => Received::Shutdown,
            _ = self.interrupt.recv() => Received::Shutdown,
            _ = self.hangup.recv() => Received::Reload,
        }
    }

    /// The next SIGTERM or SIGINT; a SIGHUP meanwhile is logged and ignored (the host
    /// is stopping).
    async fn shutdown(&mut self) {
        while let Received::Reload = self.next().await {
            tracing::warn!("SIGHUP ignored: sluice is stopping");
        }
    }
}

/// What a signal asks for.
enum Received {
    Shutdown,
    Reload,
}

/// Reads every filter policy file again, and puts the policies that changed in force:
/// the global ones for the lines read from now on, the destinations' own and the routes
/// for the chunks batched from now on.
fn reload_filters(
    filters: &mut Filters,
    parsing: &std::sync::Weak<Router>,
    destinations: &[(Arc<Destination>, QueueGauge)],
) {
    if filters.reload() {
        // Gone once every source has ended: no line is read any more.
        if let Some(router) = parsing.upgrade() {
            router.set_parser(filters.parser());
        }
        for (index, (destination, _)) in destinations.iter().enumerate() {
            destination.selection.set(filters.selector(index));
        }
    }
}

/// Loads every destination's module again (a file in `modules_dirs` or a path may have
/// changed) and puts each changed one in place of the running one once it passes the
/// checks of a start; a module refused is logged, and the running one goes on. A module
/// whose file is gone pauses its destination (only it) until a module of that name is
/// back.
fn reload_modules(
    config: &Config,
    runtime: &Runtime,
    destinations: &[(Arc<Destination>, QueueGauge)],
    enrichment: &Enrichment,
) {
    for ((destination, _), settings) in destinations.iter().zip(&config.destinations) {
        let source = match ModuleSource::resolve(&settings.module, &config.modules_dirs) {
            Ok(source) => source,
            Err(gone) => {
                let reason = format!("{gone:#}");
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
                let described = format!(
                    "{} {} from {}, sha256 {}",
                    module.info().name,
                    module.info().version,
                    module.label(),
                    module.sha256()
                );
                Ok((destination.reload(module, enrichment.clone())?, described))
            });
        if reloaded.is_ok() && destination.resume() {
            tracing::info!(destination = %destination.name, "module back: the destination takes batches again");
        }
        match reloaded {
            Ok((Some(generation), module)) => {
                tracing::info!(destination = %destination.name, %module, generation, "module reloaded; batches from now on use it")
            }
            Ok((None, _)) => {
                tracing::info!(destination = %destination.name, "module unchanged")
            }
            Err(error) => tracing::error!(
                destination = %destination.name,
                error = %format!("{error:#}"),
                "module reload refused; the running module goes on"
            ),
        }
        if let (Some(stage), Some(name)) = (&destination.filter_stage, &settings.filter_module) {
            reload_filter_module(config, runtime, &destination.name, stage, name);
        }
    }
}

/// Loads the filter module `name` again and puts it in place of `stage`'s once it passes
/// the checks of a start. One that is gone or refused is logged, and the running one goes
/// on filtering: events never pass unfiltered.
fn reload_filter_module(
    config: &Config,
    runtime: &Runtime,
    destination: &str,
    stage: &FilterStage,
    name: &str,
) {
    let reloaded = ModuleSource::resolve(name, &config.modules_dirs)
        .and_then(|source| runtime.load_filter(&source))
        .and_then(|module| {
            let described = format!(
                "{} {} from {}, sha256 {}",
                module.info().name,
                module.info().version,
                module.label(),
                module.sha256()
            );
            Ok((stage.reload(module)?, described))
        });
    match reloaded {
        Ok((Some(generation), module)) => {
            tracing::info!(destination, %module, generation, "filter module reloaded; batches from now on use it")
        }
        Ok((None, _)) => {}
        Err(error) => tracing::error!(
            destination,
            error = %format!("{error:#}"),
            "filter module reload refused; the running one goes on"
        ),
    }
}

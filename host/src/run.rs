//! `sluice run`: start every destination and source, wait for the sources to end or a
//! signal, then flush within the shutdown deadline.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::admin::Observed;
use crate::config::{Config, SourceConfig};
use crate::dead_letter::{DeadLetter, StoreUse};
use crate::fleet::Fleet;
use crate::load::load_destinations;
use crate::metrics::Counters;
use crate::module::Runtime;
use crate::persist::{Persisted, SourceIds};
use crate::pipeline::{Filters, Router, enrichment};
use crate::reload::Reloader;
use crate::source::Sources;
use crate::tasks::Tasks;

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

pub async fn run(config: Config, counters: Arc<Counters>) -> Result<Summary> {
    // Installed before anything starts, and kept for the whole run: a signal that
    // arrives while one stage hands over to the next is queued, not lost.
    let mut signals = Signals::install()?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let filters = Filters::load(&config, None)?;
    let dead_letter = Arc::new(DeadLetter::configured(&config));
    let _store_lock = dead_letter.lock(StoreUse::Append)?;
    // Once before anything is written (a write makes the current file young again).
    if let Some(max_age) = config.dead_letter_max_age {
        dead_letter.remove_expired(max_age).await;
    }
    let expiry = config
        .dead_letter_max_age
        .map(|max_age| tokio::spawn(remove_expired(dead_letter.clone(), max_age)));
    let persisted = Persisted::open(&config, &counters)?.map(Arc::new);
    let runtime = Runtime::configured(&config)?;
    // Compiling is seconds of CPU: not on a thread that runs async tasks.
    let destinations = tokio::task::block_in_place(|| {
        load_destinations(&config, &runtime, &dead_letter, &counters)
    })?;

    let stop_reading = CancellationToken::new();
    let abandon = CancellationToken::new();
    let delivery = Tasks::new("delivery");
    let spool = persisted.as_ref().and_then(|p| p.spool.clone());
    let source_tasks = Tasks::new("source");
    let checkpoints = persisted.as_ref().map(|p| p.checkpoints.clone());
    let ids = SourceIds::load(config.data_dir.as_ref().map(|dir| dir.join("sources.json")))?;
    let mut sources = Sources::new(ids, checkpoints, stop_reading.clone(), source_tasks.clone());
    let source_ids = sources.map(&config)?;
    let (fleet, routing) = Fleet::start(
        &config,
        &source_ids,
        destinations,
        enrichment(&config.events.tags),
        abandon.clone(),
        spool.clone(),
        delivery.clone(),
    )?;
    let roster = fleet.roster();
    let observed = Arc::new(Observed::new(
        counters.clone(),
        (roster.clone(), sources.roster()),
        spool.clone(),
        dead_letter.clone(),
    ));
    let admin = match &config.admin {
        Some(admin) => Some(crate::admin::start(admin, observed.clone()).await?),
        None => None,
    };
    let progress = (!config.progress_interval.is_zero())
        .then(|| tokio::spawn(log_progress(config.progress_interval, observed.clone())));
    let stop_commits = CancellationToken::new();
    // The file sources have found every file they will under its new name by then (a
    // source that reads its files once lists them at its start).
    let forget_after = config
        .sources
        .iter()
        .filter_map(|source| match source {
            SourceConfig::File {
                follow: true,
                poll_interval,
                rotate_wait,
                ..
            } => Some(*poll_interval + *rotate_wait),
            SourceConfig::File { .. }
            | SourceConfig::Stdin { .. }
            | SourceConfig::Http(_)
            | SourceConfig::Syslog(_)
            | SourceConfig::JetStream(_) => None,
        })
        .max()
        .unwrap_or_default();
    let commits = persisted.as_ref().map(|persisted| {
        tokio::spawn(persisted.clone().run_commits(
            config.checkpoint_interval,
            forget_after,
            stop_commits.clone(),
        ))
    });
    let integrity = match (&config.integrity, &config.data_dir) {
        (Some(integrity), Some(data_dir)) => Some(Arc::new(
            crate::integrity::Integrity::configured(integrity, data_dir).context("integrity")?,
        )),
        _ => None,
    };
    let router = Arc::new(Router::new(
        filters.parsing(),
        config.events.max_line_bytes,
        spool.clone(),
        routing,
        (dead_letter.clone(), counters.clone()),
        integrity,
    ));
    for (index, (destination, _)) in fleet.running().enumerate() {
        destination.selection.set(filters.selector(index));
    }
    // The sources hold the only strong references to the router: when they end, every
    // destination's input (or the spool) closes and its batcher flushes.
    sources.reconfigure(&config.sources, &source_ids.ids, &router);
    tracing::info!(
        sources = config.sources.len(),
        destinations = config.destinations.len(),
        "sluice running"
    );
    let shutdown_timeout = config.shutdown_timeout;
    let mut live = Reloader::new(
        config,
        runtime,
        filters,
        (fleet, sources),
        &router,
        dead_letter.clone(),
        counters.clone(),
    )?;
    drop(router);

    // Read until the inputs end, then deliver what was read. Without a signal this
    // takes as long as it takes (retries are bounded); once one comes, reading stops
    // and the shutdown deadline applies to everything still under way.
    let work = async { source_tasks.wait().await + delivery.wait().await };
    tokio::pin!(work);
    let finished = loop {
        tokio::select! {
            failed = &mut work => break Some(failed),
            received = signals.next() => match received {
                Received::Shutdown => break None,
                // Compiling is seconds of CPU: not on a thread that runs async tasks.
                Received::Reload => tokio::task::block_in_place(|| live.sighup()),
            },
            changes = live.changed() => tokio::task::block_in_place(|| live.apply(changes)),
        }
    };
    let failed_tasks = match finished {
        Some(failed) => failed,
        None => {
            tracing::info!(timeout = ?shutdown_timeout, "shutdown requested: no more reading; flushing every queue");
            stop_reading.cancel();
            let cut_short = async {
                tokio::select! {
                    () = tokio::time::sleep(shutdown_timeout) => "shutdown deadline passed",
                    () = signals.shutdown() => "second shutdown request",
                }
            };
            tokio::select! {
                failed = &mut work => failed,
                why = cut_short => {
                    match spool {
                        // Nothing is lost: what is left waits in the spool.
                        Some(_) => tracing::info!("{why}; what is still queued stays in the spool for the next run"),
                        None => tracing::error!("{why}; abandoning what is still queued"),
                    }
                    abandon.cancel();
                    dead_letter.defer_syncs();
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
    for source in observed.sources() {
        let (requests, connections, evicted) = (
            Counters::get(&source.refused_requests),
            Counters::get(&source.refused_connections),
            Counters::get(&source.evicted_connections),
        );
        if requests + connections + evicted > 0 {
            tracing::warn!(source = %source.label, refused_requests = requests, refused_connections = connections, evicted_connections = evicted, "source summary: requests answered 503 (their producers keep the events), connections closed unread at a bound (what they sent was never read), and idle connections closed to make room");
        }
        let redelivered = Counters::get(&source.redelivered);
        if redelivered > 0 {
            tracing::info!(source = %source.label, redelivered, "source summary: messages the broker delivered again (not acknowledged in time, or refused as not yet safe); their events kept their ids");
        }
    }
    for figures in observed.destinations() {
        figures.log("destination summary");
        if let Some(pending) = figures.spool_records_pending.filter(|pending| *pending > 0) {
            tracing::info!(destination = %figures.name, records = pending, "events remain in the spool; they are delivered after a restart");
        }
    }
    let watched = roster.read().expect("not poisoned").clone();
    for (destination, queue) in &watched {
        destination.log_end();
        queue.warn_unwarned_drops();
    }
    for filter in &live.filters().counts {
        tracing::info!(filter = %filter.name, dropped = Counters::get(&filter.dropped), "filter summary");
    }
    if let Some(expiry) = expiry {
        expiry.abort();
    }
    dead_letter.finish().await;
    Counters::add(
        &counters.dead_letters_removed,
        dead_letter.removed() as usize,
    );
    // Served to the end, so that a last scrape sees the figures of the summary.
    if let Some(admin) = admin {
        admin.close().await;
    }
    Ok(Summary::new(counters, &dead_letter, failed_tasks))
}

/// Removes the dead-letter files older than `max_age` every minute (or every tenth of
/// `max_age`, when that is shorter).
async fn remove_expired(dead_letter: Arc<DeadLetter>, max_age: std::time::Duration) {
    let every = (max_age / 10).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(60),
    );
    loop {
        tokio::time::sleep(every).await;
        dead_letter.remove_expired(max_age).await;
    }
}

/// Every `interval`, a line with the events read (and their rate since the last line),
/// then one per destination with what it delivered, refused and holds.
async fn log_progress(interval: std::time::Duration, observed: Arc<Observed>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    let mut last_read = 0;
    let counters = &observed.counters;
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
        for figures in observed.destinations() {
            figures.log("progress");
        }
    }
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

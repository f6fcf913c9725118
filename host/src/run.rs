//! `sluice run`: start every destination and source, wait for the sources to end or a
//! signal, then flush within the shutdown deadline.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::dead_letter::DeadLetter;
use crate::deliver::Destination;
use crate::metrics::Counters;
use crate::module::{ModuleSource, Runtime};
use crate::pipeline::{LineParser, Router, enrichment};

/// What a run did, for the closing log line and the exit code.
#[derive(Debug)]
pub struct Summary {
    pub counters: Arc<Counters>,
    pub dead_letter_file: std::path::PathBuf,
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
                .with_context(|| format!("{}.module", at()))?;
            Ok(Arc::new(
                Destination::new(destination, module, dead_letter.clone(), counters.clone())
                    .with_context(at)?,
            ))
        })
        .collect()
}

pub async fn run(config: Config) -> Result<Summary> {
    let counters = Arc::new(Counters::default());
    let dead_letter = Arc::new(DeadLetter::new(&config.dead_letter_dir));
    let runtime = Runtime::new(config.module_limits(), config.cache_dir())?;
    let destinations = load_destinations(&config, &runtime, &dead_letter, &counters)?;

    let stop_reading = CancellationToken::new();
    let abandon = CancellationToken::new();
    let enrichment = enrichment(&config.events.tags);
    let mut delivery = JoinSet::new();
    let mut routes = Vec::new();
    for (i, (destination, settings)) in destinations
        .into_iter()
        .zip(&config.destinations)
        .enumerate()
    {
        let route = destination
            .spawn(settings, enrichment.clone(), abandon.clone(), &mut delivery)
            .with_context(|| format!("{}: {}", config.path.display(), settings.location(i)))?;
        routes.push(route);
    }
    let router = Arc::new(Router {
        parser: LineParser::new(config.events.time_fields.clone()),
        max_line_bytes: config.events.max_line_bytes,
        routes,
        dead_letter: dead_letter.clone(),
        counters: counters.clone(),
    });
    let mut sources = JoinSet::new();
    // The sources hold the only references to the router: when they end, every
    // destination's input closes and its batcher flushes.
    crate::source::spawn_all(&config.sources, router, stop_reading.clone(), &mut sources);
    tracing::info!(
        sources = config.sources.len(),
        destinations = config.destinations.len(),
        "sluice running"
    );

    // Phase 1: read until the inputs end or a shutdown is requested.
    let mut signalled = tokio::select! {
        () = join_logging(&mut sources, "source") => false,
        () = shutdown_signal() => true,
    };
    if signalled {
        stop_reading.cancel();
        join_logging(&mut sources, "source").await;
    }
    // Phase 2: deliver what was read. Without a signal this takes as long as it takes
    // (retries are bounded); once one comes, the shutdown deadline applies.
    let flush = join_logging(&mut delivery, "delivery");
    tokio::pin!(flush);
    if !signalled {
        signalled = tokio::select! {
            () = &mut flush => false,
            () = shutdown_signal() => true,
        };
    }
    if signalled {
        tracing::info!(timeout = ?config.shutdown_timeout, "shutdown requested: no more reading; flushing every queue");
        tokio::select! {
            () = &mut flush => {}
            () = tokio::time::sleep(config.shutdown_timeout) => {
                tracing::error!("shutdown deadline passed; abandoning what is still queued");
                abandon.cancel();
                flush.await;
            }
            () = shutdown_signal() => {
                tracing::error!("second shutdown request; abandoning what is still queued");
                abandon.cancel();
                flush.await;
            }
        }
    }
    Ok(Summary {
        counters,
        dead_letter_file: dead_letter.path().to_path_buf(),
    })
}

async fn join_logging(tasks: &mut JoinSet<Result<()>>, what: &str) {
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %format!("{error:#}"), "a {what} task failed")
            }
            Err(error) => tracing::error!(%error, "a {what} task panicked"),
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

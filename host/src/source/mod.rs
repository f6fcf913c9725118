//! Sources: where events come from. Each runs as a task feeding an [`Ingest`], stops
//! reading when shutdown starts (or a config reload removes it), and finishes the line
//! it holds.

mod file;
mod http;
mod jetstream;
mod rotated;
mod syslog;

pub use file::{expand, matches};
pub use jetstream::probe as probe_jetstream;

pub use sluice_reader::lines::{LinePosition, LineSplitter};
mod stdin;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::SourceConfig;
use crate::metrics::{SourceFigures, SourceRoster};
use crate::persist::{Checkpoints, SourceIds, SourceMap};
use crate::pipeline::{Ingest, Router};
use crate::tasks::Tasks;

/// Bytes read at once; a read becomes one chunk of events.
const READ_BLOCK: usize = 256 * 1024;

/// The running sources: started with the run, added and removed by a config reload.
/// Each has an id that stays its own across reloads and restarts ([`SourceIds`]): the
/// spool's records and the routes know it by that id.
pub struct Sources {
    ids: SourceIds,
    running: Vec<Running>,
    claims: file::Claims,
    checkpoints: Option<Arc<Checkpoints>>,
    shutdown: CancellationToken,
    tasks: Tasks,
    /// The running sources' figures, for the admin listener.
    roster: SourceRoster,
}

struct Running {
    config: SourceConfig,
    /// Stops this source alone (a reload removed it).
    stop: CancellationToken,
    figures: Arc<SourceFigures>,
}

/// What a reload did to the sources, by key.
#[derive(Debug, Default)]
pub struct SourceChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Changed in their settings but not in what they read: taken at the next start.
    pub unchanged_until_restart: Vec<String>,
}

impl Sources {
    /// The sources of a run, their ids from `ids`; none started yet.
    pub fn new(
        ids: SourceIds,
        checkpoints: Option<Arc<Checkpoints>>,
        shutdown: CancellationToken,
        tasks: Tasks,
    ) -> Self {
        Sources {
            ids,
            running: Vec::new(),
            claims: file::Claims::default(),
            checkpoints,
            shutdown,
            tasks,
            roster: SourceRoster::default(),
        }
    }

    /// The running sources' figures, kept up to date across reloads.
    pub fn roster(&self) -> SourceRoster {
        self.roster.clone()
    }

    /// The id of each of `config`'s sources, in their order (new ones get the next
    /// ids), and where the ids it no longer has went.
    pub fn map(&mut self, config: &crate::config::Config) -> anyhow::Result<SourceMap> {
        self.ids.map(config)
    }

    /// Starts every one of `sources` (the configuration's, whose ids are `ids`, from
    /// [`Sources::ids_of`]) not running yet and stops the running ones it no longer has.
    pub fn reconfigure(
        &mut self,
        sources: &[SourceConfig],
        ids: &[usize],
        router: &Arc<Router>,
    ) -> SourceChanges {
        let mut changes = SourceChanges::default();
        // Those added first: the router lives as long as a source holds it.
        for (config, &id) in sources.iter().zip(ids) {
            let key = config.key();
            match self.running.iter().find(|r| r.config.key() == key) {
                Some(running) if running.config != *config => {
                    changes.unchanged_until_restart.push(key)
                }
                Some(_) => {}
                None => {
                    self.start(config.clone(), id, router.clone());
                    changes.added.push(key);
                }
            }
        }
        let wanted: Vec<String> = sources.iter().map(SourceConfig::key).collect();
        self.running.retain(|running| {
            let key = running.config.key();
            let keep = wanted.contains(&key);
            if !keep {
                running.stop.cancel();
                changes.removed.push(key);
            }
            keep
        });
        *self.roster.write().expect("not poisoned") =
            self.running.iter().map(|r| r.figures.clone()).collect();
        changes
    }

    fn start(&mut self, config: SourceConfig, id: usize, router: Arc<Router>) {
        let stop = self.shutdown.child_token();
        let figures = Arc::new(SourceFigures::new(config.label()));
        match config.clone() {
            SourceConfig::File {
                name: _,
                paths,
                follow,
                poll_interval,
                rotate_wait,
            } => {
                let source = file::FileSource {
                    patterns: paths,
                    follow,
                    poll_interval,
                    rotate_wait,
                    checkpoints: self.checkpoints.clone(),
                    run_shutdown: self.shutdown.clone(),
                };
                let claims = self.claims.clone();
                let ingest = Ingest::new(router, (id, figures.clone()), stop.clone());
                let reading = file::run(source, ingest, claims, stop.clone());
                self.tasks.spawn(reported(reading, figures.clone()));
            }
            SourceConfig::Stdin { .. } => {
                let ingest = Ingest::new(router, (id, figures.clone()), stop.clone());
                let reading = stdin::run(ingest, stop.clone());
                self.tasks.spawn(reported(reading, figures.clone()));
            }
            SourceConfig::Http(http) => {
                let serving = http::run(http, router, (id, figures.clone()), stop.clone());
                self.tasks.spawn(reported(serving, figures.clone()));
            }
            SourceConfig::Syslog(syslog) => {
                let listening = syslog::run(syslog, router, (id, figures.clone()), stop.clone());
                self.tasks.spawn(reported(listening, figures.clone()));
            }
            SourceConfig::JetStream(jetstream) => {
                let pulling =
                    jetstream::run(jetstream, router, (id, figures.clone()), stop.clone());
                self.tasks.spawn(reported(pulling, figures.clone()));
            }
        }
        self.running.push(Running {
            config,
            stop,
            figures,
        });
    }
}

/// `json` (valid JSON) without the whitespace between its tokens: one line.
pub fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// A seed for the ids of a stream no resend could match (a request without a key, a
/// syslog connection): chance.
fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system's random numbers");
    u64::from_le_bytes(bytes)
}

/// Runs a source's `reading`; the error that ends it is its problem from then on.
async fn reported(
    reading: impl Future<Output = anyhow::Result<()>>,
    figures: Arc<SourceFigures>,
) -> anyhow::Result<()> {
    let read = reading.await;
    if let Err(error) = &read {
        figures.set_problem(Some(format!("stopped: {error:#}")));
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_keeps_the_whitespace_of_strings() {
        assert_eq!(
            compact_json("{ \"k\" : \"a b\\\\\" ,\n \"l\": [1, 2] }"),
            "{\"k\":\"a b\\\\\",\"l\":[1,2]}"
        );
    }
}

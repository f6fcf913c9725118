//! `sluice export`: the events of a time range, by each event's own time, out of the
//! files the configured sources read (rotated and compressed ones too), kept by the
//! policies, sent to a destination or written to a file in a format; interrupted, it
//! goes on from its state file with `--resume`.
//!
//! The reading runs on a thread of its own ([`read`]); the pieces it makes go, in
//! order, to the output, and the state is saved whenever what is exported for certain
//! moves on (an output file synced, a destination's acknowledgements).

mod file_output;
mod inputs;
mod read;
mod state;
mod to_destination;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::value::RawValue;
use sluice_contract::id::IdText;
use tokio_util::sync::CancellationToken;

pub use file_output::Format;
pub use inputs::decompressed;

use super::progress::Progress;
use crate::config::{Config, FilterConfig, SourceConfig};
use crate::dead_letter::{DeadLetter, Record, RejectedLine, now_rfc3339};
use crate::event::Events;
use crate::metrics::Counters;
use crate::pipeline::{ChunkBuilder, line_parser};
use file_output::FileOutput;
use read::{Piece, Reading, Tally};
use state::{Job, Point, State};
use to_destination::ToDestination;

/// Bytes read at once from a file.
const READ_BLOCK: usize = 256 * 1024;
/// How often an output file is synced and the state saved, at most.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How often a progress line is logged when stderr is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The command line's `sluice export`.
#[derive(Debug)]
pub struct Request {
    pub from: String,
    pub to: String,
    pub policy: Option<PathBuf>,
    pub sources: Vec<String>,
    pub destination: Option<String>,
    pub output: Option<(PathBuf, Format)>,
    pub settings: Vec<(String, String)>,
    pub resume: bool,
    pub state: Option<PathBuf>,
    /// Read every file, whatever its times.
    pub read_every_file: bool,
}

/// Where the events go.
enum Output {
    File(Box<FileOutput>),
    Destination(ToDestination),
}

pub fn export(config: Config, request: Request, show_progress: bool) -> Result<ExitCode> {
    let patterns = source_patterns(&config, &request.sources)?;
    let destination = destination_index(&config, request.destination.as_deref())?;
    let output = request.output.as_ref().map(|(path, _)| path.as_path());
    let state_path = match &request.state {
        Some(path) => path.clone(),
        None => state::default_path(
            output,
            request.destination.as_deref(),
            config.data_dir.as_deref(),
        )?,
    };
    anyhow::ensure!(
        Some(state_path.as_path()) != output,
        "--state and --output name the same file"
    );
    // Two processes on one export would write over each other's output and state.
    let _lock = state::lock(&state_path)?;
    let job = Job {
        from: request.from.clone(),
        to: request.to.clone(),
        sources: request.sources.clone(),
        policy: request.policy.clone(),
        target: match (&request.destination, &request.output) {
            (Some(name), _) => format!("destination {name}"),
            (None, Some((path, format))) => format!("{} to {}", format.name(), path.display()),
            (None, None) => unreachable!("clap requires one"),
        },
        settings: request.settings.clone(),
    };
    let mut state = match request.resume {
        true => {
            let state = State::resumed(&state_path, &job)?;
            if state.finished {
                println!(
                    "the export was finished already ({} events): nothing to do",
                    state.exported
                );
                return Ok(ExitCode::SUCCESS);
            }
            state
        }
        false => {
            anyhow::ensure!(
                !state_path.exists(),
                "{} exists: the state of an earlier export. --resume goes on with it; remove it (or give another --state) to start a new one",
                state_path.display()
            );
            let mut exclude = vec![state_path.clone()];
            exclude.extend(output.map(Path::to_owned));
            let inputs = inputs::find(&patterns, &exclude)?;
            anyhow::ensure!(
                !inputs.is_empty(),
                "no file matches the sources' patterns ({}), nor their rotated names: nothing to export",
                patterns.join(", ")
            );
            State::new(job, range_of(&request)?, inputs)
        }
    };
    // Global policies, then the export's own.
    let filters = crate::pipeline::Filters::load(&config, None)?;
    let mut policies = filters.global_policies();
    let mut policy_names: Vec<String> = config.filters.iter().map(|f| f.name.clone()).collect();
    if let Some(path) = &request.policy {
        let filter = FilterConfig {
            name: "--policy".into(),
            policy: path.clone(),
        };
        policies.push(Arc::new(filter.load()?));
        policy_names.push(filter.name);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let reading = Reading {
        inputs: state.inputs.clone(),
        from: state.point,
        range_ms: state.range_ms,
        read_every_file: request.read_every_file,
        parser: line_parser(&config.events, policies),
        probe: line_parser(&config.events, Vec::new()),
        policy_names,
        selector: destination.and_then(|index| filters.selector(index)),
        max_line_bytes: config.events.max_line_bytes,
        tally: tally.clone(),
        stop: stop.clone(),
    };
    let counters = Arc::new(Counters::default());
    let dead_letter = Arc::new(DeadLetter::configured(&config));
    dead_letter.check_writable()?;
    let outcome = runtime.block_on(async {
        let output = match (destination, &request.output) {
            (Some(index), _) => Output::Destination(
                ToDestination::start(&config, index, &dead_letter, &counters).await?,
            ),
            (None, Some((path, format))) => {
                let modules = crate::module::Runtime::configured(&config)?;
                let resume = request.resume.then_some(state::Written {
                    bytes: state.output_bytes,
                    events: state.exported,
                    file: state.output_file,
                });
                Output::File(Box::new(tokio::task::block_in_place(|| {
                    FileOutput::open(
                        &modules,
                        (*format, request.settings.clone()),
                        crate::pipeline::enrichment(&config.events.tags),
                        path,
                        resume,
                    )
                })?))
            }
            (None, None) => unreachable!("clap requires one"),
        };
        let exporting = Exporting {
            config: &config,
            state_path: &state_path,
            dead_letter: &dead_letter,
            counters: &counters,
            tally: &tally,
            earlier: (state.rejected, state.dead_lettered, state.read_errors),
        };
        exporting
            .run(&mut state, output, reading, show_progress)
            .await
    });
    runtime.shutdown_background();
    let outcome = outcome?;
    Ok(summary(&state, &tally, &counters, outcome))
}

/// `--from` and `--to` in milliseconds, from now; the error says which is wrong.
fn range_of(request: &Request) -> Result<(i64, i64)> {
    let now = jiff::Timestamp::now();
    let instant =
        |text: &str, name| sluice_filter::instant(text, name, now).map_err(anyhow::Error::msg);
    let range_ms = (
        instant(&request.from, "--from")?,
        instant(&request.to, "--to")?,
    );
    anyhow::ensure!(
        range_ms.0 < range_ms.1,
        "--from ({}) is not before --to ({}): the range holds no time",
        request.from,
        request.to
    );
    Ok(range_ms)
}

/// The index of destination `name`, when the export goes to one.
fn destination_index(config: &Config, name: Option<&str>) -> Result<Option<usize>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let names: Vec<&str> = config
        .destinations
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    let index = names.iter().position(|n| *n == name).with_context(|| {
        format!(
            "{}: no destination is named `{name}` (there are: {})",
            config.path.display(),
            names.join(", ")
        )
    })?;
    Ok(Some(index))
}

/// How an export ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Finished,
    Interrupted,
    /// A delivery task failed.
    Failed,
}

/// What the export's steps share.
struct Exporting<'a> {
    config: &'a Config,
    state_path: &'a std::path::Path,
    dead_letter: &'a Arc<DeadLetter>,
    counters: &'a Arc<Counters>,
    tally: &'a Arc<Tally>,
    /// Lines rejected, events dead-lettered and files not read to their end by the
    /// earlier runs of a resumed export.
    earlier: (u64, u64, u64),
}

impl Exporting<'_> {
    async fn run(
        &self,
        state: &mut State,
        mut output: Output,
        reading: Reading,
        show_progress: bool,
    ) -> Result<Ended> {
        let total: u64 = state.inputs.iter().map(|input| input.len).sum();
        let before: u64 = state.inputs[..state.point.file].iter().map(|i| i.len).sum();
        self.tally.bytes.fetch_add(before, Ordering::Relaxed);
        // Events exported by the earlier runs of a resumed export.
        let base = state.exported;
        // Saved before anything goes out: a kill at any moment leaves a state to resume.
        match &mut output {
            Output::File(file) => {
                state.output_file = Some(file.identity());
                self.save_file(state, file, state.point)?;
            }
            Output::Destination(_) => state.save(self.state_path)?,
        }
        let stop = reading.stop.clone();
        let stopping = CancellationToken::new();
        tokio::spawn(watch_interrupts(stop.clone(), stopping.clone()));
        let (pieces_in, mut pieces) = tokio::sync::mpsc::channel::<Piece>(4);
        let reader = std::thread::Builder::new()
            .name("sluice-export-read".into())
            .spawn(move || read::read(reading, pieces_in))?;
        let exported = Arc::new(AtomicU64::new(base));
        let bar = show_progress
            .then(|| {
                let exported = exported.clone();
                Progress::for_export(total, self.tally.bytes.clone(), move || {
                    format!("{} events exported", exported.load(Ordering::Relaxed))
                })
            })
            .flatten();
        let mut progress = ProgressLine::new(total);
        let mut saved_at = Instant::now();
        let mut last_point = state.point;
        while let Some(piece) = pieces.recv().await {
            self.store_rejected(&piece.rejected).await?;
            last_point = piece.point;
            match &mut output {
                Output::File(file) => {
                    self.write(file, &piece.chunk).await?;
                    if saved_at.elapsed() >= SAVE_EVERY {
                        self.save_file(state, file, piece.point)?;
                        saved_at = Instant::now();
                    }
                    exported.store(file.events(), Ordering::Relaxed);
                }
                Output::Destination(to) => {
                    if !to.send(piece.chunk, piece.point).await {
                        break;
                    }
                    if saved_at.elapsed() >= SAVE_EVERY {
                        self.save_frontier(state, to, base)?;
                        saved_at = Instant::now();
                    }
                    exported.store(base + to.point().1, Ordering::Relaxed);
                }
            }
            if bar.is_none() {
                progress.log_when_due(self.tally, exported.load(Ordering::Relaxed));
            }
        }
        drop(pieces);
        let read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reading thread panicked"))?;
        let read_all = read.is_ok() && !stop.load(Ordering::Relaxed);
        let mut ended = match read_all {
            true => Ended::Finished,
            false => Ended::Interrupted,
        };
        match &mut output {
            Output::File(file) => {
                self.save_file(state, file, last_point)?;
                if read_all {
                    tokio::task::block_in_place(|| file.finish())?;
                    state.finished = true;
                }
            }
            Output::Destination(to) => {
                let failed = to.finish(&stopping, self.config.shutdown_timeout).await;
                self.save_frontier(state, to, base)?;
                if failed > 0 {
                    ended = Ended::Failed;
                } else if read_all && state.point == last_point {
                    state.finished = true;
                } else if read_all {
                    // Events were abandoned at the deadline: the state stands before them.
                    ended = Ended::Interrupted;
                }
            }
        }
        self.dead_letter.finish().await;
        self.count_into(state);
        state.save(self.state_path)?;
        drop(bar);
        read?;
        Ok(ended)
    }

    /// Writes `chunk`'s events to the file; those its module refuses go to the
    /// dead-letter store.
    async fn write(&self, file: &mut FileOutput, chunk: &ChunkBuilder) -> Result<()> {
        if chunk.events.is_empty() {
            return Ok(());
        }
        let mut events = Events::default();
        for meta in &chunk.events {
            events.push(meta.json_in(&chunk.data), meta);
        }
        let events = Arc::new(events);
        let refusals = tokio::task::block_in_place(|| file.write(&events))?;
        let to = format!("--output ({})", file.format().name());
        self.store_refused(&events, &refusals, &to).await?;
        Counters::add(&self.counters.delivered, events.len() - refusals.len());
        Ok(())
    }

    /// Syncs the file and saves the state: everything before `point` is in it.
    fn save_file(&self, state: &mut State, file: &mut FileOutput, point: Point) -> Result<()> {
        let (bytes, events) = tokio::task::block_in_place(|| file.sync())?;
        (state.point, state.output_bytes, state.exported) = (point, bytes, events);
        self.count_into(state);
        state.save(self.state_path)
    }

    /// What the earlier runs and this one left out, into `state`: a run killed after a
    /// save has its rejections counted by the run that finishes.
    fn count_into(&self, state: &mut State) {
        let (rejected, dead_lettered, read_errors) = self.earlier;
        state.rejected = rejected + Counters::get(&self.counters.lines_rejected);
        state.dead_lettered = dead_lettered + Counters::get(&self.counters.dead_lettered);
        state.read_errors = read_errors + self.tally.read_errors.load(Ordering::Relaxed);
    }

    /// Saves where the destination's acknowledgements have brought the export.
    fn save_frontier(&self, state: &mut State, to: &ToDestination, base: u64) -> Result<()> {
        if let (Some(point), exported) = to.point() {
            state.point = point;
            state.exported = base + exported;
            self.count_into(state);
            state.save(self.state_path)?;
        }
        Ok(())
    }

    async fn store_rejected(&self, rejected: &[RejectedLine]) -> Result<()> {
        let records = RejectedLine::records(rejected, &now_rfc3339());
        self.store(&records).await?;
        Counters::add(&self.counters.lines_rejected, records.len());
        Ok(())
    }

    /// The events the module of a file output refused, for the dead-letter store.
    async fn store_refused(
        &self,
        events: &Events,
        refusals: &[(usize, String)],
        to: &str,
    ) -> Result<()> {
        let time = now_rfc3339();
        let raw: Vec<Box<RawValue>> = refusals
            .iter()
            .map(|(i, _)| RawValue::from_string(events.json(*i).to_owned()))
            .collect::<Result<_, _>>()?;
        let records: Vec<Record<'_>> = refusals
            .iter()
            .zip(&raw)
            .map(|((i, reason), event)| Record {
                time: time.clone(),
                stage: "deliver",
                destination: Some(to),
                reason,
                attempts: Some(1),
                first_error: None,
                origin: None,
                event_id: Some(IdText(events.meta(*i).id).to_string()),
                event: Some(event),
                line: None,
            })
            .collect();
        self.store(&records).await?;
        Counters::add(&self.counters.dead_lettered, records.len());
        Ok(())
    }

    async fn store(&self, records: &[Record<'_>]) -> Result<()> {
        // An export has no deadline to give up at: it waits for the store (saying why).
        let stored = self
            .dead_letter
            .store(records, &CancellationToken::new())
            .await;
        anyhow::ensure!(stored, "the dead-letter store did not take the records");
        Ok(())
    }
}

/// Ctrl-C or SIGTERM: the reading stops (`stop`), and the deadline for the destination
/// starts (`stopping`). A second one is not waited for.
async fn watch_interrupts(stop: Arc<AtomicBool>, stopping: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::warn!(
        "interrupted: the export stops after what it holds; `--resume` goes on from there"
    );
    stop.store(true, Ordering::Relaxed);
    stopping.cancel();
}

/// The patterns of the file sources the export reads: those `names` names, or all.
fn source_patterns(config: &Config, names: &[String]) -> Result<Vec<String>> {
    let mut patterns = Vec::new();
    let mut found = vec![false; names.len()];
    for source in &config.sources {
        let SourceConfig::File { name, paths, .. } = source else {
            continue;
        };
        let label = source.label();
        let named = names
            .iter()
            .position(|n| Some(n) == name.as_ref() || *n == label);
        if let Some(i) = named {
            found[i] = true;
        }
        if names.is_empty() || named.is_some() {
            patterns.extend(paths.iter().cloned());
        }
    }
    if let Some(i) = found.iter().position(|f| !f) {
        anyhow::bail!(
            "{}: no file source is named `{}`",
            config.path.display(),
            names[i]
        );
    }
    anyhow::ensure!(
        !patterns.is_empty(),
        "{}: no file source to export from (an export reads the files of `type = \"file\"` sources)",
        config.path.display()
    );
    Ok(patterns)
}

/// Without a terminal, a line every [`PROGRESS_EVERY`]: how far, how fast, how long left.
struct ProgressLine {
    total: u64,
    started: Instant,
    last: Instant,
}

impl ProgressLine {
    fn new(total: u64) -> Self {
        let now = Instant::now();
        ProgressLine {
            total,
            started: now,
            last: now,
        }
    }

    fn log_when_due(&mut self, tally: &Tally, exported: u64) {
        if self.last.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last = Instant::now();
        let read = tally.bytes.load(Ordering::Relaxed);
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = read as f64 / seconds;
        let left = (self.total.saturating_sub(read) as f64 / rate.max(1.0)).round() as u64;
        tracing::info!(
            read_bytes = read,
            total_bytes = self.total,
            percent = (100 * read).checked_div(self.total).unwrap_or(100),
            events_read = tally.events.load(Ordering::Relaxed),
            exported,
            bytes_per_second = rate.round() as u64,
            seconds_left = left,
            "export progress"
        );
    }
}

/// Says what the export did, and the exit code that says it too.
fn summary(state: &State, tally: &Tally, counters: &Counters, ended: Ended) -> ExitCode {
    let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
    let abandoned = Counters::get(&counters.abandoned);
    // What every run of the export so far left out: the run that finishes says it.
    let (rejected, dead_lettered, read_errors) =
        (state.rejected, state.dead_lettered, state.read_errors);
    tracing::info!(
        files_read = get(&tally.files_read),
        files_skipped = get(&tally.files_skipped),
        events_read = get(&tally.events),
        out_of_range = get(&tally.out_of_range),
        filtered = get(&tally.filtered),
        not_taken_by_the_destination = get(&tally.not_taken),
        exported = state.exported,
        lines_rejected = Counters::get(&counters.lines_rejected),
        dead_lettered = Counters::get(&counters.dead_lettered),
        abandoned,
        read_errors = get(&tally.read_errors),
        "sluice export ended (this run's figures)"
    );
    println!(
        "exported {} events in all ({}); this run read {} of {} files ({} left unread by their times, {} unreadable), {} events outside the range, {} filtered out, {} not for the destination; in all {rejected} lines rejected, {dead_lettered} events dead-lettered, {read_errors} files not read to their end",
        state.exported,
        state.job.target,
        get(&tally.files_read),
        state.inputs.len(),
        get(&tally.files_skipped),
        get(&tally.read_errors),
        get(&tally.out_of_range),
        get(&tally.filtered),
        get(&tally.not_taken),
    );
    if rejected + dead_lettered + read_errors > 0 {
        tracing::warn!(
            lines_rejected = rejected,
            events_dead_lettered = dead_lettered,
            files_not_read_to_their_end = read_errors,
            "not everything in the range was exported: the dead-letter store has each line and event with why, the log each file"
        );
    }
    match ended {
        Ended::Failed => ExitCode::from(2),
        Ended::Interrupted => {
            eprintln!(
                "sluice: the export stopped before its end; run the same command with --resume to go on"
            );
            ExitCode::from(1)
        }
        Ended::Finished if rejected + dead_lettered + read_errors + abandoned > 0 => {
            ExitCode::from(3)
        }
        Ended::Finished => ExitCode::SUCCESS,
    }
}

//! Where an export stands, kept in a file so that `--resume` goes on from there: the
//! files it reads (fixed when it began), how far every event before a point was
//! written or delivered, and for an output file how many of its bytes hold them.
//! Written whole and renamed over the last (0600), after the output it counts is
//! synced: a crash leaves the state of the last point that is on disk.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::inputs::Input;

/// What an export is: a resumed export must be the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `--from` and `--to` as given: a relative time is taken when the export began.
    pub from: String,
    pub to: String,
    pub sources: Vec<String>,
    pub policy: Option<PathBuf>,
    /// `destination NAME` or `FORMAT to PATH`.
    pub target: String,
    /// The format's module settings (`--set`).
    pub settings: Vec<(String, String)>,
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} from {} to {}", self.target, self.from, self.to)?;
        if !self.sources.is_empty() {
            write!(f, ", sources {}", self.sources.join(", "))?;
        }
        if let Some(policy) = &self.policy {
            write!(f, ", policy {}", policy.display())?;
        }
        for (key, value) in &self.settings {
            write!(f, ", --set {key}={value}")?;
        }
        Ok(())
    }
}

/// What an output file held at a point, to cut it back to on resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub bytes: u64,
    pub events: u64,
    /// Its device and inode: a resume writes to that file only.
    pub file: Option<(u64, u64)>,
}

/// A point in the inputs: everything before it is exported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Index in [`State::inputs`]; `inputs.len()` when all are read.
    pub file: usize,
    /// Bytes of the file's text (decompressed) before the point.
    pub offset: u64,
    /// Lines before the point.
    pub line: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub job: Job,
    /// The range in milliseconds since the epoch, from when the export began.
    pub range_ms: (i64, i64),
    pub inputs: Vec<Input>,
    pub point: Point,
    /// Bytes of the output file that hold the events before `point`.
    pub output_bytes: u64,
    /// Events written or delivered before `point`.
    pub exported: u64,
    /// The output file's device and inode.
    pub output_file: Option<(u64, u64)>,
    /// What every run of it so far rejected, dead-lettered or could not read: the
    /// exit code of the run that finishes says so.
    pub rejected: u64,
    pub dead_lettered: u64,
    pub read_errors: u64,
    pub finished: bool,
}

impl State {
    pub fn new(job: Job, range_ms: (i64, i64), inputs: Vec<Input>) -> State {
        State {
            job,
            range_ms,
            inputs,
            point: Point::default(),
            output_bytes: 0,
            exported: 0,
            output_file: None,
            rejected: 0,
            dead_lettered: 0,
            read_errors: 0,
            finished: false,
        }
    }

    /// The state at `path`, of the export `job` (another is refused).
    pub fn resumed(path: &Path, job: &Job) -> Result<State> {
        let state = State::load(path)?;
        anyhow::ensure!(
            state.job == *job,
            "{} is the state of another export ({}); resume it with the same arguments, or start this one without --resume",
            path.display(),
            state.job
        );
        Ok(state)
    }

    fn load(path: &Path) -> Result<State> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the state of the export to resume, {}",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not the state of an export", path.display()))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).expect("plain data");
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            crate::private_fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::persist::write_atomically(path, &text, true)
            .with_context(|| format!("cannot write the export's state to {}", path.display()))
    }
}

/// Holds the export at `state` for this process: a second one on the same state is
/// refused while it runs.
pub fn lock(state: &Path) -> Result<std::fs::File> {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        crate::private_fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = crate::private_fs::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another sluice export runs with the state {}: wait for it, or stop it",
            state.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Where the state of an export is kept unless `--state` says: beside its output file,
/// or for a destination in the configuration's `data_dir`.
pub fn default_path(
    output: Option<&Path>,
    destination: Option<&str>,
    data_dir: Option<&Path>,
) -> Result<PathBuf> {
    match (output, destination, data_dir) {
        (Some(output), _, _) => {
            let mut name = output.as_os_str().to_owned();
            name.push(".export-state.json");
            Ok(PathBuf::from(name))
        }
        (None, Some(name), Some(dir)) => Ok(dir.join(format!("export-{name}.json"))),
        _ => anyhow::bail!(
            "an export to a destination keeps its state in data_dir, which the configuration does not set: give --state FILE"
        ),
    }
}

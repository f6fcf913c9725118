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
    pub finished: bool,
}

impl State {
    pub fn load(path: &Path) -> Result<State> {
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

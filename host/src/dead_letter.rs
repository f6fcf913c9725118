//! The dead-letter store: events that will never be delivered, with the reason, as JSON
//! Lines in `<dead_letter_dir>/dead-letter.jsonl`. Nothing the host gives up on is lost
//! silently; an operator can fix the cause and replay the file with `sluice run`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::value::RawValue;

/// One dead-lettered event or line.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// When the host gave up, RFC 3339 UTC.
    pub time: String,
    /// `parse` (the line was not an event), `deliver` (refused or out of attempts) or
    /// `shutdown` (abandoned at the shutdown deadline).
    pub stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<&'a str>,
    pub reason: &'a str,
    /// `file:line` for parse rejects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The event, as JSON, when it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a RawValue>,
    /// The raw line (invalid UTF-8 replaced by U+FFFD) when it was not an event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Appends records; writers are serialized so records never interleave.
#[derive(Debug)]
pub struct DeadLetter {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl DeadLetter {
    pub fn new(dir: &Path) -> Self {
        DeadLetter {
            path: dir.join("dead-letter.jsonl"),
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `records` and flushes them to the OS. The file is created on first use.
    pub fn write(&self, records: &[Record<'_>]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = Vec::with_capacity(records.len() * 256);
        for record in records {
            serde_json::to_writer(&mut text, record)?;
            text.push(b'\n');
        }
        let mut file = self.file.lock().expect("dead-letter lock");
        if file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            *file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .with_context(|| format!("opening {}", self.path.display()))?,
            );
        }
        let handle = file.as_mut().expect("opened above");
        handle
            .write_all(&text)
            .with_context(|| format!("writing {}", self.path.display()))?;
        handle
            .sync_data()
            .with_context(|| format!("syncing {}", self.path.display()))
    }

    /// Like [`DeadLetter::write`], but a failure is logged loudly rather than returned:
    /// callers have nowhere better to put the events.
    pub fn write_or_log(&self, records: &[Record<'_>]) {
        if let Err(error) = self.write(records) {
            tracing::error!(count = records.len(), error = %format!("{error:#}"), "cannot write to the dead-letter store; these events are lost");
        }
    }
}

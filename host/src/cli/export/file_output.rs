//! An export written to one file through the built-in module of its format: the
//! module formats each batch as it would for a destination, and its bodies are
//! written one after another, in order, as one document. What a module writes once per
//! body for any batch (the CSV header row) is its head: written once, at the start.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::event::Events;
use crate::module::{CallError, FormatterInstance, ModuleSource, Runtime, Setup};
use sluice_contract::answer;
use sluice_contract::types::{FormatError, FramedMessages, Request};

/// What `--format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One event per line, as read (`archive`, uncompressed).
    Jsonl,
    /// One JSON array of the events.
    Json,
    /// A header row then a row per event (`csv`; its `columns` setting is required).
    Csv,
    /// ArcSight CEF, a line per event (`cef`).
    Cef,
    /// IBM QRadar LEEF, a line per event (`leef`).
    Leef,
    /// RFC 5424 syslog messages, a line per event (`syslog`).
    Syslog,
}

impl Format {
    /// The built-in module that writes it, the settings the file needs of it, and those
    /// that make it leave out what a file has once (the CSV header row).
    fn module(self) -> (&'static str, Settings, Settings) {
        match self {
            Format::Jsonl | Format::Json => ("archive", &[("gzip", "false")], &[]),
            Format::Csv => ("csv", &[], &[("header", "false")]),
            Format::Cef => ("cef", &[], &[]),
            Format::Leef => ("leef", &[], &[]),
            Format::Syslog => ("syslog", &[], &[]),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::Syslog => "syslog",
        }
    }
}

type Settings = &'static [(&'static str, &'static str)];

/// Why events of a batch were not written, by their index in it.
pub type Refusals = Vec<(usize, String)>;

/// The output file and the module instance that formats for it.
pub struct FileOutput {
    path: PathBuf,
    file: std::fs::File,
    format: Format,
    instance: FormatterInstance,
    /// Bytes of the file written so far.
    bytes: u64,
    /// Events written so far (a JSON array puts a comma before all but the first).
    events: u64,
}

impl FileOutput {
    /// Opens `path` for the export: made new (with the format's head) (0600, and never over an existing file),
    /// or, to resume, cut back to the `bytes` that held its first `events` events.
    pub fn open(
        runtime: &Runtime,
        (format, settings): (Format, Vec<(String, String)>),
        enrichment: crate::event::Enrichment,
        path: &Path,
        resume: Option<super::state::Written>,
    ) -> Result<FileOutput> {
        let (name, fixed, once_left_out) = format.module();
        let module = runtime.load_formatter(&ModuleSource::resolve(name, &[])?)?;
        let owned = |pairs: Settings| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let fixed_key = |key: &String| fixed.iter().any(|(k, _)| k == key);
        if let Some((key, _)) = settings.iter().find(|(key, _)| fixed_key(key)) {
            anyhow::bail!("--set {key}: the {} format sets it itself", format.name());
        }
        let mut all = owned(fixed);
        all.extend(settings);
        if let Some((key, problem)) = module.unknown_setting(&all) {
            anyhow::bail!("--set {key}: {problem}");
        }
        let setup = |settings: Vec<(String, String)>| Setup {
            settings,
            enrichment: enrichment.clone(),
            ..Setup::default()
        };
        let mut once = module.instantiate(setup(all.clone()))?;
        all.extend(owned(once_left_out));
        let mut instance = module.instantiate(setup(all))?;
        let head = head(&mut once, &mut instance)?;
        let (file, bytes, events) = match resume {
            None => {
                let mut file = crate::private_fs::options()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .with_context(|| match path.exists() {
                        true => format!("{} exists: remove it, or continue the export that wrote it with --resume", path.display()),
                        false => format!("cannot create {}", path.display()),
                    })?;
                let opening =
                    [&head[..], if format == Format::Json { b"[\n" } else { b"" }].concat();
                file.write_all(&opening)?;
                (file, opening.len() as u64, 0)
            }
            Some(super::state::Written {
                bytes,
                events,
                file: written_to,
            }) => {
                use std::os::unix::fs::OpenOptionsExt;
                // Not through a link put there since: the state's file, or nothing.
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)
                    .with_context(|| {
                        format!(
                            "cannot open {} to resume the export (a symbolic link is not followed)",
                            path.display()
                        )
                    })?;
                anyhow::ensure!(
                    written_to.is_none_or(|id| id == identity(&file)),
                    "{} is not the file the export wrote (it was replaced since)",
                    path.display()
                );
                let len = file.metadata()?.len();
                anyhow::ensure!(
                    len >= bytes,
                    "{} holds {len} bytes, fewer than the {bytes} the export's state counts: it is not the file the export wrote",
                    path.display()
                );
                // What was written after the last point the state counts is written again.
                file.set_len(bytes)?;
                file.seek(std::io::SeekFrom::End(0))?;
                (file, bytes, events)
            }
        };
        Ok(FileOutput {
            path: path.to_owned(),
            file,
            format,
            instance,
            bytes,
            events,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Events written so far, by this run and those it resumes.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Formats `events` and appends them; the events the module refused or left out.
    pub fn write(&mut self, events: &Arc<Events>) -> Result<Refusals> {
        let formatted = formatted(&mut self.instance, events)?;
        let mut refusals: Refusals = formatted
            .refused
            .iter()
            .map(|r| {
                (
                    r.event as usize,
                    format!("the module refused it: {}", r.reason),
                )
            })
            .collect();
        refusals.extend(
            answer::forgotten(&formatted, events.len())
                .into_iter()
                .map(|i| {
                    (
                        i as usize,
                        "the module neither wrote nor refused it".to_owned(),
                    )
                }),
        );
        let written = events.len() - refusals.len();
        let mut body = bodies(formatted, &events.text)?;
        if self.format == Format::Json {
            body = self.json_elements(&body);
        }
        self.file
            .write_all(&body)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.bytes += body.len() as u64;
        self.events += written as u64;
        Ok(refusals)
    }

    /// The lines of `body` (one event each) as elements of the file's JSON array.
    fn json_elements(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + body.len() / 64);
        let lines = body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        for (count, line) in (self.events..).zip(lines) {
            if count > 0 {
                out.extend_from_slice(b",\n");
            }
            out.extend_from_slice(line);
        }
        out
    }

    /// The file's device and inode.
    pub fn identity(&self) -> (u64, u64) {
        identity(&self.file)
    }

    /// Syncs what was written; the bytes and events the file then holds for certain.
    pub fn sync(&mut self) -> Result<(u64, u64)> {
        crate::persist::disk::sync_data(&self.file)?;
        Ok((self.bytes, self.events))
    }

    /// Closes the document (a JSON array's `]`) and syncs it.
    pub fn finish(&mut self) -> Result<()> {
        if self.format == Format::Json {
            self.file.write_all(b"\n]\n")?;
        }
        crate::persist::disk::sync_data(&self.file)?;
        Ok(())
    }
}

fn identity(file: &std::fs::File) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    file.metadata()
        .map_or((0, 0), |meta| (meta.dev(), meta.ino()))
}

/// What the file has once, at its start: what the module writes for a batch with its
/// own settings (`once`) before what it writes without it (`instance`), found by
/// formatting one event with both.
fn head(once: &mut FormatterInstance, instance: &mut FormatterInstance) -> Result<Vec<u8>> {
    let mut probe = Events::default();
    let meta = sluice_reader::EventMeta {
        offset: 0,
        len: 2,
        time_ms: jiff::Timestamp::now().as_millisecond(),
        ingest_time: false,
        id: 0,
    };
    probe.push("{}", &meta);
    let probe = Arc::new(probe);
    let whole = bodies(formatted(once, &probe)?, &probe.text)?;
    let rest = bodies(formatted(instance, &probe)?, &probe.text)?;
    whole
        .strip_suffix(&rest[..])
        .map(<[u8]>::to_vec)
        .context("the module's header is not at the start of its body: it cannot write one file")
}

/// The module's answer for `events`; a setting it refuses is named as `--set` gave it.
fn formatted(
    instance: &mut FormatterInstance,
    events: &Arc<Events>,
) -> Result<sluice_contract::types::Formatted> {
    match instance.format(events) {
        Ok(Ok(formatted)) => Ok(formatted),
        Ok(Err(FormatError::InvalidSetting(problem)))
        | Err(CallError::Configure {
            error: FormatError::InvalidSetting(problem),
            ..
        }) => anyhow::bail!("--set {}: {}", problem.key, problem.problem),
        Ok(Err(FormatError::Failed(reason))) => anyhow::bail!("the module failed: {reason}"),
        Err(error) => Err(error.into()),
    }
}

/// The requests' bodies, back to back: an HTTP body as it is, messages a line each.
fn bodies(formatted: sluice_contract::types::Formatted, text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for request in &formatted.requests {
        match request {
            Request::Http(http) => {
                out.extend_from_slice(&http.body.view().assemble(text.as_bytes()))
            }
            Request::Messages(framed) => lines(&mut out, framed, text),
            Request::Publish(_) => {
                anyhow::bail!("the module publishes messages; it does not write a file")
            }
        }
    }
    Ok(out)
}

fn lines(out: &mut Vec<u8>, framed: &FramedMessages, text: &str) {
    let messages = framed.messages.view().assemble(text.as_bytes());
    let mut start = 0;
    for &end in &framed.message_ends {
        out.extend_from_slice(messages.get(start..end as usize).unwrap_or_default());
        // A message that ends its own line (a syslog frame with its LF) gets no other.
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        start = end as usize;
    }
}

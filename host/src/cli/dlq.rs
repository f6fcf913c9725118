//! `sluice dlq`: what the dead-letter store holds (`list`), and sending its events
//! again through a destination's current module and settings (`replay`), after an
//! operator fixed what refused them. Replayed events keep their event ids; those
//! delivered leave the store, those refused again are written back with the new reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_contract::id::IdText;
use tokio_util::sync::CancellationToken;

use crate::ack::Ack;
use crate::config::Config;
use crate::dead_letter::{self, DeadLetter, StoreUse};
use crate::event::EventChunk;
use crate::metrics::Counters;
use crate::module::Runtime;
use crate::pipeline::{ChunkBuilder, Parsed, enrichment, line_parser};

/// Records sent again at once, in one chunk.
const REPLAY_CHUNK: usize = 1000;

/// A dead-letter record as stored: what `list` and `replay` look at.
#[derive(Debug, Deserialize)]
struct Stored {
    time: String,
    stage: String,
    destination: Option<String>,
    reason: String,
    event_id: Option<String>,
    event: Option<Box<RawValue>>,
}

/// A record of the store: its file, its line there, and what it says.
struct Found {
    file: usize,
    line: usize,
    record: Stored,
}

/// Every record of the store's files, and how many lines are not records (each is
/// reported and left alone).
fn read_store(files: &[PathBuf]) -> Result<(Vec<Found>, usize)> {
    let mut found = Vec::new();
    let mut unreadable = 0;
    for (file, path) in files.iter().enumerate() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (line, text) in text.lines().enumerate() {
            match serde_json::from_str::<Stored>(text) {
                Ok(record) => found.push(Found { file, line, record }),
                Err(error) => {
                    unreadable += 1;
                    eprintln!(
                        "sluice: warning: {}:{}: not a dead-letter record ({error}); left alone",
                        path.display(),
                        line + 1
                    );
                }
            }
        }
    }
    Ok((found, unreadable))
}

/// `sluice dlq list`: records by destination and reason, most first.
pub fn list(config: &Config) -> Result<ExitCode> {
    let store = DeadLetter::configured(config);
    let files = dead_letter::files(store.path());
    let mut groups: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (records, unreadable) = read_store(&files)?;
    for found in records {
        let record = found.record;
        let destination = record
            .destination
            .unwrap_or_else(|| format!("({} stage)", record.stage));
        *groups.entry((destination, record.reason)).or_default() += 1;
    }
    let total: usize = groups.values().sum();
    println!(
        "{total} record(s) in {} file(s) under {}",
        files.len(),
        config.dead_letter_dir.display()
    );
    if unreadable > 0 {
        println!("{unreadable:>9}  line(s) that are not records (see the warnings above)");
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for ((destination, reason), count) in groups {
        println!("{count:>9}  {destination}  {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Which records `replay` sends again.
pub struct Selection {
    pub destination: String,
    /// Only records whose reason contains this text.
    pub reason: Option<String>,
    /// Only records written at or after this time.
    pub since: Option<jiff::Timestamp>,
}

impl Selection {
    fn takes(&self, record: &Stored) -> bool {
        let since = |time: &str| match (self.since, time.parse::<jiff::Timestamp>()) {
            (None, _) => true,
            (Some(since), Ok(time)) => time >= since,
            (Some(_), Err(_)) => false,
        };
        matches!(record.stage.as_str(), "deliver" | "shutdown")
            && record.destination.as_deref() == Some(self.destination.as_str())
            && record.event.is_some()
            && self
                .reason
                .as_deref()
                .is_none_or(|text| record.reason.contains(text))
            && since(&record.time)
    }
}

/// `sluice dlq replay`: sends the selected events again through the destination, then
/// removes from the store the records of events that were settled (delivered, or
/// refused again: those have a new record).
pub fn replay(config: &Config, selection: &Selection) -> Result<ExitCode> {
    let index = config
        .destinations
        .iter()
        .position(|d| d.name == selection.destination)
        .with_context(|| {
            format!(
                "{}: no destination is named `{}`",
                config.path.display(),
                selection.destination
            )
        })?;
    let dead_letter = Arc::new(DeadLetter::configured(config));
    // A running sluice appends to the store, and the rewrite below would lose what it
    // appends: the lock keeps the two apart.
    let _lock = dead_letter
        .lock(StoreUse::Rewrite)?
        .context("cannot lock the dead-letter store to rewrite it")?;
    let files = dead_letter::files(dead_letter.path());
    let identities: Vec<Option<u64>> = files.iter().map(|path| inode(path)).collect();
    let chosen: Vec<Found> = read_store(&files)?
        .0
        .into_iter()
        .filter(|found| selection.takes(&found.record))
        .collect();
    if chosen.is_empty() {
        println!("no record to replay");
        return Ok(ExitCode::SUCCESS);
    }
    let counters = Arc::new(Counters::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let settled = runtime.block_on(send_again(
        config,
        index,
        (&files, &chosen),
        dead_letter.clone(),
        counters.clone(),
    ))?;
    remove_settled(&files, &identities, &chosen, &settled)?;
    let [delivered, refused] = [&counters.delivered, &counters.dead_lettered].map(Counters::get);
    let removed = settled.iter().filter(|&&s| s).count();
    println!(
        "replayed {} event(s) to `{}`: {delivered} delivered, {refused} dead-lettered again (with the new reason); {removed} record(s) removed from the store",
        chosen.len(),
        selection.destination
    );
    Ok(if delivered as usize == chosen.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Delivers the chosen records' events through destination `index`; which records
/// were settled.
async fn send_again(
    config: &Config,
    index: usize,
    (files, chosen): (&[PathBuf], &[Found]),
    dead_letter: Arc<DeadLetter>,
    counters: Arc<Counters>,
) -> Result<Vec<bool>> {
    let modules = Runtime::configured(config)?;
    let mut destinations = tokio::task::block_in_place(|| {
        crate::load::load_destinations(config, &modules, &dead_letter, &counters)
    })?;
    let mut destination = destinations.swap_remove(index);
    // Replayed events passed the filters once: not the filter module either (the
    // records of events it dropped would be removed, undelivered).
    Arc::get_mut(&mut destination)
        .context("the destination is not shared before it starts")?
        .filter_stage = None;
    let tasks = crate::tasks::Tasks::new("delivery");
    let queue = destination.spawn(
        &config.destinations[index],
        enrichment(&config.events.tags),
        CancellationToken::new(),
        &tasks,
    )?;
    // Replayed events passed the filters once: they are not filtered again.
    let parser = line_parser(&config.events, Vec::new());
    let settled = Arc::new(Mutex::new(vec![false; chosen.len()]));
    let now_ms = jiff::Timestamp::now().as_millisecond();
    for (group, records) in chosen.chunks(REPLAY_CHUNK).enumerate() {
        let mut chunk = ChunkBuilder::default();
        let mut members = Vec::new();
        for (offset, found) in records.iter().enumerate() {
            let record = &found.record;
            let event = record.event.as_ref().expect("selected with an event");
            match parser.parse(event.get().as_bytes(), 0, now_ms, &mut chunk) {
                Parsed::Event { .. } => {
                    let id = record.event_id.as_deref().map(str::parse::<IdText>);
                    if let (Some(Ok(IdText(id))), Some(meta)) = (id, chunk.events.last_mut()) {
                        meta.id = id;
                    }
                    members.push(group * REPLAY_CHUNK + offset);
                }
                Parsed::Blank
                | Parsed::Rejected(..)
                | Parsed::Filtered { .. }
                | Parsed::Unfit { .. } => eprintln!(
                    "sluice: warning: {}:{}: the event is no longer taken by [events]; left in the store",
                    files[found.file].display(),
                    found.line + 1
                ),
            }
        }
        let marks = settled.clone();
        let ack = Ack::new(move || {
            let mut marks = marks.lock().expect("not poisoned");
            members.iter().for_each(|&i| marks[i] = true);
        })
        .into_template();
        let ChunkBuilder { data, events } = chunk;
        if queue
            .push(&Arc::new(EventChunk { data, events }), &ack)
            .await
            .is_err()
        {
            break;
        }
    }
    drop(queue);
    let failed = tasks.wait().await;
    anyhow::ensure!(failed == 0, "{failed} delivery tasks failed (see the log)");
    let settled = settled.lock().expect("not poisoned").clone();
    Ok(settled)
}

/// Rewrites each file without the lines of settled records (lines added meanwhile, such
/// as records of events refused again, stay).
/// A file that is not the one read (the store rotated it while events refused again
/// were written) is left as it is, with a warning: its lines are not those counted.
fn remove_settled(
    files: &[PathBuf],
    identities: &[Option<u64>],
    chosen: &[Found],
    settled: &[bool],
) -> Result<()> {
    let mut gone: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (found, _) in chosen.iter().zip(settled).filter(|(_, s)| **s) {
        gone.entry(found.file).or_default().push(found.line);
    }
    for (file, lines) in gone {
        let path = &files[file];
        if inode(path) != identities[file] {
            eprintln!(
                "sluice: warning: {} was rotated during the replay; its {} replayed record(s) stay in the rotated file",
                path.display(),
                lines.len()
            );
            continue;
        }
        rewrite_without(path, &lines)?;
    }
    Ok(())
}

/// The file's inode, to see it replaced.
fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|meta| meta.ino())
}

fn rewrite_without(path: &Path, lines: &[usize]) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let gone: std::collections::HashSet<usize> = lines.iter().copied().collect();
    let kept: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    if kept.is_empty() {
        std::fs::remove_file(path)?;
    } else {
        crate::persist::write_atomically(path, kept.as_bytes(), true)?;
    }
    Ok(())
}

//! Each destination's position in the spool, kept as it moves: a line is appended to a
//! journal (`positions.journal`) whenever a destination settles the next record, so a
//! restart after a crash sends again only the records that were in flight, not all
//! those delivered since the last `checkpoint_interval`. Every commit compacts it: the
//! positions go to `positions.json` (replaced whole), then the journal is emptied.
//!
//! A position is a [`Place`]: a record, and the events at its start settled too (a
//! record is delivered in many batches). A line is
//! `{"d":"<destination>","p":<record>,"e":<events>}` (`e` left out when 0); a torn last
//! line (a crash mid-write) is skipped. Positions only move forward, so a line lost
//! costs a few batches sent again, never an event skipped. The journal is forced to
//! disk with the spool. In `positions.json` a place is the record's number, or
//! `{"record": R, "events": E}` inside a record.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::place::Place;
use crate::persist::disk;

const POSITIONS: &str = "positions.json";
const JOURNAL: &str = "positions.journal";

#[derive(Debug)]
pub struct Positions {
    dir: PathBuf,
    /// The journal, opened to append at the first line (none when it cannot be: the
    /// positions are then written by commits alone, as said once at WARN).
    journal: Mutex<Journal>,
    /// `positions.json` as last written, so that a commit with nothing new writes
    /// nothing.
    written: Mutex<Vec<u8>>,
    /// The destinations whose journal lines found at start could not be forced to
    /// disk, with their place in `positions.json`: all a power cut is sure to keep.
    unforced: HashMap<String, Place>,
}

#[derive(Debug, Default)]
struct Journal {
    file: Option<File>,
    /// Lines appended since the last sync.
    unsynced: bool,
    failed: bool,
    /// Each destination's place as last journaled.
    journaled: HashMap<String, Place>,
    /// Each destination's place as last forced to disk (journal or `positions.json`):
    /// what a power cut keeps, so what the spool may remove records by.
    durable: HashMap<String, Place>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line<'a> {
    d: std::borrow::Cow<'a, str>,
    p: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    e: u32,
}

fn is_zero(events: &u32) -> bool {
    *events == 0
}

/// A place as `positions.json` keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Saved {
    Record(u64),
    Within { record: u64, events: u32 },
}

impl From<Place> for Saved {
    fn from(place: Place) -> Saved {
        match place.events {
            0 => Saved::Record(place.record),
            events => Saved::Within {
                record: place.record,
                events,
            },
        }
    }
}

impl From<Saved> for Place {
    fn from(saved: Saved) -> Place {
        match saved {
            Saved::Record(record) => Place::at(record),
            Saved::Within { record, events } => Place { record, events },
        }
    }
}

impl Positions {
    /// The positions kept in `dir`: `positions.json`, moved on by the journal.
    pub fn load(dir: &Path) -> (Positions, HashMap<String, Place>) {
        let mut saved = read_saved(&dir.join(POSITIONS));
        let mut journaled: HashMap<String, Place> = HashMap::new();
        if let Ok(text) = std::fs::read(dir.join(JOURNAL)) {
            for line in text.split(|&b| b == b'\n') {
                if let Ok(Line { d, p, e }) = serde_json::from_slice::<Line<'_>>(line) {
                    let at = journaled.entry(d.into_owned()).or_default();
                    *at = (*at).max(Place {
                        record: p,
                        events: e,
                    });
                }
            }
        }
        // Forced first: a run killed before its sync left the lines in the page cache
        // only, and the spool removes records by what these say. A journal that cannot
        // be forced is forced by the next sync; until then its destinations' records
        // are removed by `positions.json` alone.
        let mut journal = Journal::default();
        let mut unforced = HashMap::new();
        if !journaled.is_empty() {
            let forced = crate::private_fs::options()
                .append(true)
                .open(dir.join(JOURNAL))
                .map(|file| {
                    let synced = disk::sync_data(&file);
                    (file, synced)
                });
            let failed = match forced {
                Ok((_, Ok(()))) => None,
                Ok((file, Err(error))) => {
                    journal.file = Some(file);
                    journal.unsynced = true;
                    journal.journaled = journaled.clone();
                    Some(error)
                }
                Err(error) => Some(error),
            };
            if let Some(error) = failed {
                tracing::warn!(dir = %dir.display(), %error, "cannot force the spool's position journal to disk");
                unforced = journaled
                    .keys()
                    .map(|name| (name.clone(), saved.get(name).copied().unwrap_or_default()))
                    .collect();
            }
        }
        for (name, place) in journaled {
            let at = saved.entry(name).or_default();
            *at = (*at).max(place);
        }
        let positions = Positions {
            dir: dir.to_path_buf(),
            journal: Mutex::new(journal),
            written: Mutex::default(),
            unforced,
        };
        (positions, saved)
    }

    /// `destination` starts at `place`, on disk already (or needing nothing before it)
    /// unless its journal lines could not be forced at start.
    pub fn start(&self, destination: &str, place: Place) {
        let durable = match self.unforced.get(destination) {
            Some(&on_disk) => on_disk.min(place),
            None => place,
        };
        self.journal()
            .durable
            .entry(destination.to_owned())
            .or_insert(durable);
    }

    /// Where `destination` is, as far as the disk knows.
    pub fn durable(&self, destination: &str) -> Option<Place> {
        self.journal().durable.get(destination).copied()
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().expect("not poisoned")
    }

    /// `destination` has settled everything before `place`.
    pub fn moved(&self, destination: &str, place: Place) {
        let mut line = serde_json::to_vec(&Line {
            d: destination.into(),
            p: place.record,
            e: place.events,
        })
        .expect("a name and a number");
        line.push(b'\n');
        let mut journal = self.journal();
        if journal.failed {
            return;
        }
        let appended = match &mut journal.file {
            Some(file) => disk::write_all(file, &line),
            None => crate::private_fs::options()
                .create(true)
                .append(true)
                .open(self.dir.join(JOURNAL))
                .and_then(|mut file| {
                    disk::write_all(&mut file, &line)?;
                    Ok(file)
                })
                .map(|file| journal.file = Some(file)),
        };
        match appended {
            Ok(()) => {
                journal.unsynced = true;
                journal.journaled.insert(destination.to_owned(), place);
            }
            Err(error) => {
                // Until the next commit, which writes the positions whole and tries again.
                journal.failed = true;
                journal.file = None;
                tracing::warn!(dir = %self.dir.display(), %error, "cannot append to the spool's position journal; positions are saved at each commit only");
            }
        }
    }

    /// Forces the journal's lines to disk.
    pub fn sync(&self) -> Result<()> {
        let (file, forcing) = {
            let mut journal = self.journal();
            if !std::mem::take(&mut journal.unsynced) {
                return Ok(());
            }
            let file = journal.file.as_ref().map(File::try_clone).transpose();
            (file, journal.journaled.clone())
        };
        let forced =
            file.context("opening the position journal again")
                .and_then(|file| match file {
                    Some(file) => {
                        disk::sync_data(&file).context("forcing the position journal to disk")
                    }
                    None => Ok(()),
                });
        let mut journal = self.journal();
        match &forced {
            Ok(()) => {
                for (name, place) in forcing {
                    let durable = journal.durable.entry(name).or_default();
                    *durable = (*durable).max(place);
                }
            }
            // Forced again by the next sync.
            Err(_) => journal.unsynced = true,
        }
        forced
    }

    /// Writes `positions` whole and empties the journal (held meanwhile, so no line is
    /// lost between the two).
    pub fn save(&self, positions: &BTreeMap<&str, Place>, sync: bool) -> Result<()> {
        let saved: BTreeMap<&str, Saved> = positions
            .iter()
            .map(|(&name, &place)| (name, place.into()))
            .collect();
        let text = serde_json::to_vec_pretty(&saved).expect("a map of numbers");
        let mut journal = self.journal();
        let mut written = self.written.lock().expect("not poisoned");
        if *written != text {
            super::super::write_atomically(&self.dir.join(POSITIONS), &text, sync)?;
            *written = text;
        }
        // As on disk now (forced if `sync`: without, nothing ever is).
        journal.durable = positions
            .iter()
            .map(|(&name, &place)| (name.to_owned(), place))
            .collect();
        match &journal.file {
            Some(file) => file.set_len(0).context("emptying the position journal")?,
            // One that failed may end in a torn line, which would tear the next.
            None => match std::fs::remove_file(self.dir.join(JOURNAL)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(error).context("removing the position journal");
                }
                _ => {}
            },
        }
        journal.failed = false;
        journal.unsynced = false;
        journal.journaled.clear();
        Ok(())
    }
}

fn read_saved(path: &Path) -> HashMap<String, Place> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<HashMap<String, Saved>>(&bytes)
            .map(|saved| saved.into_iter().map(|(name, place)| (name, place.into())).collect())
            .unwrap_or_else(|error| {
            tracing::warn!(file = %path.display(), %error, "spool positions unreadable; every destination resumes at the oldest record (or where its journal says)");
            Default::default()
        }),
        Err(_) => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn within(record: u64, events: u32) -> Place {
        Place { record, events }
    }

    #[test]
    fn the_journal_moves_the_saved_positions_on_and_a_save_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let (positions, loaded) = Positions::load(dir.path());
        assert!(loaded.is_empty());
        positions
            .save(
                &BTreeMap::from([("a", Place::at(3)), ("b", within(1, 40))]),
                false,
            )
            .unwrap();
        positions.moved("a", within(4, 100));
        positions.moved("a", Place::at(5));
        positions.moved("b", within(2, 7));
        // A torn last line, as a crash mid-write leaves it.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL))
            .unwrap()
            .write_all(b"{\"d\":\"a\",\"p\":9")
            .unwrap();
        let (_, loaded) = Positions::load(dir.path());
        assert_eq!(
            loaded,
            HashMap::from([("a".into(), Place::at(5)), ("b".into(), within(2, 7))])
        );

        positions
            .save(
                &BTreeMap::from([("a", Place::at(5)), ("b", within(2, 7))]),
                false,
            )
            .unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len(),
            0
        );
        let (_, loaded) = Positions::load(dir.path());
        assert_eq!(
            loaded,
            HashMap::from([("a".into(), Place::at(5)), ("b".into(), within(2, 7))]),
            "read back from positions.json"
        );
        positions.moved("b", Place::at(7));
        let (_, loaded) = Positions::load(dir.path());
        assert_eq!(
            loaded,
            HashMap::from([("a".into(), Place::at(5)), ("b".into(), Place::at(7))])
        );
    }
}

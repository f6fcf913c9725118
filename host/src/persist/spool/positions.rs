//! Each destination's position in the spool, kept as it moves: a line is appended to a
//! journal (`positions.journal`) whenever a destination settles the next record, so a
//! restart after a crash sends again only the records that were in flight, not all
//! those delivered since the last `checkpoint_interval`. Every commit compacts it: the
//! positions go to `positions.json` (replaced whole), then the journal is emptied.
//!
//! A position is a [`Place`]: a record, and the events at its start settled too (a
//! record is delivered in many batches), with the batches settled past it ([`Ahead`]:
//! one finished while an earlier one was still in flight). A line is
//! `{"d":"<destination>","p":<record>,"e":<events>}` (`e` left out when 0) when the
//! place moves, `{"d":"<destination>","r":<record>,"s":[<from>,<to>]}` for events
//! settled past it; a torn last line (a crash mid-write) is skipped. Positions only move
//! forward, so a line lost costs a few batches sent again, never an event skipped. The
//! journal is forced to disk with the spool. In `positions.json` a place is the
//! record's number, or `{"record": R, "events": E, "ahead": [[R, from, to], ...]}`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::place::{Ahead, Place};
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

/// A line names a place or a run of events, never both: one with the members of both (or
/// any other) is not read.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Line<'a> {
    /// `d` settled every record before `p`, and the first `e` events of `p`.
    Moved {
        d: std::borrow::Cow<'a, str>,
        p: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        e: u32,
    },
    /// `d` settled events `s` of record `r`, past its place.
    Ahead {
        d: std::borrow::Cow<'a, str>,
        r: u64,
        s: [u32; 2],
    },
}

/// A destination's place, and the events it settled past it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Standing {
    pub place: Place,
    pub ahead: Vec<Ahead>,
}

fn is_zero(events: &u32) -> bool {
    *events == 0
}

/// A standing as `positions.json` keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Saved {
    Record(u64),
    Within {
        record: u64,
        #[serde(default)]
        events: u32,
        /// `[record, from, to]` for each run of events settled past the place.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ahead: Vec<[u64; 3]>,
    },
}

impl From<&Standing> for Saved {
    fn from(standing: &Standing) -> Saved {
        let Standing { place, ahead } = standing;
        match (place.events, ahead.is_empty()) {
            (0, true) => Saved::Record(place.record),
            _ => Saved::Within {
                record: place.record,
                events: place.events,
                ahead: ahead
                    .iter()
                    .map(|a| [a.record, a.events.start.into(), a.events.end.into()])
                    .collect(),
            },
        }
    }
}

impl From<Saved> for Standing {
    fn from(saved: Saved) -> Standing {
        match saved {
            Saved::Record(record) => Standing {
                place: Place::at(record),
                ahead: Vec::new(),
            },
            Saved::Within {
                record,
                events,
                ahead,
            } => Standing {
                place: Place { record, events },
                // A run that is not one (an edited file) is dropped: its events may be
                // sent again, none is skipped.
                ahead: ahead
                    .into_iter()
                    .filter_map(|[record, from, to]| {
                        let events = u32::try_from(from).ok()?..u32::try_from(to).ok()?;
                        (!events.is_empty()).then_some(Ahead { record, events })
                    })
                    .collect(),
            },
        }
    }
}

impl Positions {
    /// The positions kept in `dir`: `positions.json`, moved on by the journal.
    pub fn load(dir: &Path) -> (Positions, HashMap<String, Standing>) {
        let mut saved = read_saved(&dir.join(POSITIONS));
        let mut journaled: HashMap<String, Place> = HashMap::new();
        let mut ahead: HashMap<String, Vec<Ahead>> = HashMap::new();
        if let Ok(text) = std::fs::read(dir.join(JOURNAL)) {
            // The last line, if it has no line feed, is torn (a crash mid-write): skipped
            // without a word; any other line that is not one is said.
            let whole = text.len() - text.iter().rev().take_while(|&&b| b != b'\n').count();
            let mut unreadable = 0;
            for line in text[..whole]
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
            {
                match serde_json::from_slice::<Line<'_>>(line) {
                    Ok(Line::Moved { d, p, e }) => {
                        let at = journaled.entry(d.into_owned()).or_default();
                        *at = (*at).max(Place {
                            record: p,
                            events: e,
                        });
                    }
                    Ok(Line::Ahead {
                        d,
                        r,
                        s: [from, to],
                    }) if from < to => {
                        ahead.entry(d.into_owned()).or_default().push(Ahead {
                            record: r,
                            events: from..to,
                        });
                    }
                    Ok(Line::Ahead { .. }) | Err(_) => unreadable += 1,
                }
            }
            if unreadable > 0 {
                tracing::warn!(file = %dir.join(JOURNAL).display(), lines = unreadable, "lines of the spool's position journal are not positions (an edited or damaged file?): ignored, so the events they would say were delivered may be sent again");
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
                    .map(|name| {
                        (
                            name.clone(),
                            saved.get(name).map(|s| s.place).unwrap_or_default(),
                        )
                    })
                    .collect();
            }
        }
        for (name, place) in journaled {
            let at = &mut saved.entry(name).or_default().place;
            *at = (*at).max(place);
        }
        // Only beside a place: a destination known by its runs alone (its place never
        // saved, or `positions.json` unreadable) has no place to stand on, and starting
        // at record 0 would make the records before the oldest look lost. Its runs are
        // sent again.
        for (name, runs) in ahead {
            if let Some(standing) = saved.get_mut(&name) {
                standing.ahead.extend(runs);
            }
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
        let line = Line::Moved {
            d: destination.into(),
            p: place.record,
            e: place.events,
        };
        if let Some(mut journal) = self.append(&line) {
            journal.journaled.insert(destination.to_owned(), place);
        }
    }

    /// `destination` has settled `ahead`, past its place.
    pub fn settled_ahead(&self, destination: &str, ahead: &Ahead) {
        self.append(&Line::Ahead {
            d: destination.into(),
            r: ahead.record,
            s: [ahead.events.start, ahead.events.end],
        });
    }

    /// Appends `line` to the journal; the journal, locked, if it took it.
    fn append(&self, line: &Line<'_>) -> Option<std::sync::MutexGuard<'_, Journal>> {
        let mut line = serde_json::to_vec(line).expect("a name and numbers");
        line.push(b'\n');
        let mut journal = self.journal();
        if journal.failed {
            return None;
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
                Some(journal)
            }
            Err(error) => {
                // Until the next commit, which writes the positions whole and tries again.
                journal.failed = true;
                journal.file = None;
                tracing::warn!(dir = %self.dir.display(), %error, "cannot append to the spool's position journal; positions are saved at each commit only");
                None
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
    pub fn save(&self, positions: &BTreeMap<&str, Standing>, sync: bool) -> Result<()> {
        let saved: BTreeMap<&str, Saved> = positions
            .iter()
            .map(|(&name, standing)| (name, standing.into()))
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
            .map(|(&name, standing)| (name.to_owned(), standing.place))
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

fn read_saved(path: &Path) -> HashMap<String, Standing> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<HashMap<String, Saved>>(&bytes)
            .map(|saved| saved.into_iter().map(|(name, standing)| (name, standing.into())).collect())
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

    fn at(record: u64, events: u32) -> Standing {
        Standing {
            place: Place { record, events },
            ahead: Vec::new(),
        }
    }

    fn loaded(dir: &Path) -> BTreeMap<String, Standing> {
        Positions::load(dir).1.into_iter().collect()
    }

    #[test]
    fn the_journal_moves_the_saved_positions_on_and_a_save_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let (positions, first) = Positions::load(dir.path());
        assert!(first.is_empty());
        positions
            .save(&BTreeMap::from([("a", at(3, 0)), ("b", at(1, 40))]), false)
            .unwrap();
        positions.moved(
            "a",
            Place {
                record: 4,
                events: 100,
            },
        );
        positions.moved("a", Place::at(5));
        positions.moved(
            "b",
            Place {
                record: 2,
                events: 7,
            },
        );
        let batch = Ahead {
            record: 2,
            events: 20..30,
        };
        positions.settled_ahead("b", &batch);
        // A torn last line, as a crash mid-write leaves it.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL))
            .unwrap()
            .write_all(b"{\"d\":\"a\",\"p\":9")
            .unwrap();
        let b_now = Standing {
            place: Place {
                record: 2,
                events: 7,
            },
            ahead: vec![batch],
        };
        let expected = BTreeMap::from([("a".into(), at(5, 0)), ("b".into(), b_now.clone())]);
        assert_eq!(loaded(dir.path()), expected);

        positions
            .save(&BTreeMap::from([("a", at(5, 0)), ("b", b_now)]), false)
            .unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len(),
            0
        );
        assert_eq!(
            loaded(dir.path()),
            expected,
            "read back from positions.json"
        );
        positions.moved("b", Place::at(7));
        let b_later = loaded(dir.path()).remove("b").unwrap();
        assert_eq!(b_later.place, Place::at(7));
    }

    #[test]
    fn a_line_that_is_not_one_place_or_one_run_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(JOURNAL),
            concat!(
                "{\"d\":\"a\",\"p\":0}\n",
                "{\"d\":\"b\",\"r\":3,\"s\":[0,10]}\n",
                "{\"d\":\"a\",\"p\":2,\"r\":0,\"s\":[0,10]}\n",
                "{\"d\":\"a\",\"r\":0,\"s\":[500,100]}\n",
                "not json\n",
                "{\"d\":\"a\",\"r\":1,\"s\":[0,10]}\n",
            ),
        )
        .unwrap();
        let mut loaded = loaded(dir.path());
        assert!(
            !loaded.contains_key("b"),
            "runs without a place do not make one at record 0"
        );
        let standing = loaded.remove("a").unwrap();
        assert_eq!(
            standing.place,
            Place::at(0),
            "no place from a line with a run"
        );
        assert_eq!(
            standing.ahead,
            [Ahead {
                record: 1,
                events: 0..10
            }]
        );
    }
}

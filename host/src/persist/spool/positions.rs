//! Each destination's position in the spool, kept as it moves: a line is appended to a
//! journal (`positions.journal`) whenever a destination settles the next record, so a
//! restart after a crash sends again only the records that were in flight, not all
//! those delivered since the last `checkpoint_interval`. Every commit compacts it: the
//! positions go to `positions.json` (replaced whole), then the journal is emptied.
//!
//! A line is `{"d":"<destination>","p":<record>}`; a torn last line (a crash mid-write)
//! is skipped. Positions only move forward, so a line lost costs a few records sent
//! again, never a record skipped. The journal is forced to disk with the spool.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

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
}

#[derive(Debug, Default)]
struct Journal {
    file: Option<File>,
    /// Lines appended since the last sync.
    unsynced: bool,
    failed: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line<'a> {
    d: std::borrow::Cow<'a, str>,
    p: u64,
}

impl Positions {
    /// The positions kept in `dir`: `positions.json`, moved on by the journal.
    pub fn load(dir: &Path) -> (Positions, HashMap<String, u64>) {
        let mut saved = read_saved(&dir.join(POSITIONS));
        if let Ok(text) = std::fs::read(dir.join(JOURNAL)) {
            for line in text.split(|&b| b == b'\n') {
                if let Ok(Line { d, p }) = serde_json::from_slice::<Line<'_>>(line) {
                    let at = saved.entry(d.into_owned()).or_default();
                    *at = (*at).max(p);
                }
            }
        }
        let positions = Positions {
            dir: dir.to_path_buf(),
            journal: Mutex::default(),
            written: Mutex::default(),
        };
        (positions, saved)
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().expect("not poisoned")
    }

    /// `destination` has settled every record before `position`.
    pub fn moved(&self, destination: &str, position: u64) {
        let mut line = serde_json::to_vec(&Line {
            d: destination.into(),
            p: position,
        })
        .expect("a name and a number");
        line.push(b'\n');
        let mut journal = self.journal();
        if journal.failed {
            return;
        }
        let appended = match &mut journal.file {
            Some(file) => file.write_all(&line),
            None => crate::private_fs::options()
                .create(true)
                .append(true)
                .open(self.dir.join(JOURNAL))
                .and_then(|mut file| {
                    file.write_all(&line)?;
                    Ok(file)
                })
                .map(|file| journal.file = Some(file)),
        };
        match appended {
            Ok(()) => journal.unsynced = true,
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
        let file = {
            let mut journal = self.journal();
            if !std::mem::take(&mut journal.unsynced) {
                return Ok(());
            }
            journal.file.as_ref().map(File::try_clone).transpose()
        };
        match file.context("opening the position journal again")? {
            Some(file) => file
                .sync_data()
                .context("forcing the position journal to disk"),
            None => Ok(()),
        }
    }

    /// Writes `positions` whole and empties the journal (held meanwhile, so no line is
    /// lost between the two).
    pub fn save(&self, positions: &BTreeMap<&str, u64>, sync: bool) -> Result<()> {
        let text = serde_json::to_vec_pretty(positions).expect("a map of numbers");
        let mut journal = self.journal();
        let mut written = self.written.lock().expect("not poisoned");
        if *written != text {
            super::super::write_atomically(&self.dir.join(POSITIONS), &text, sync)?;
            *written = text;
        }
        if let Some(file) = &journal.file {
            file.set_len(0).context("emptying the position journal")?;
        }
        journal.failed = false;
        journal.unsynced = false;
        Ok(())
    }
}

fn read_saved(path: &Path) -> HashMap<String, u64> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            tracing::warn!(file = %path.display(), %error, "spool positions unreadable; every destination resumes at the oldest record (or where its journal says)");
            Default::default()
        }),
        Err(_) => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_moves_the_saved_positions_on_and_a_save_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let (positions, loaded) = Positions::load(dir.path());
        assert!(loaded.is_empty());
        positions
            .save(&BTreeMap::from([("a", 3), ("b", 1)]), false)
            .unwrap();
        positions.moved("a", 4);
        positions.moved("a", 5);
        positions.moved("b", 2);
        // A torn last line, as a crash mid-write leaves it.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL))
            .unwrap()
            .write_all(b"{\"d\":\"a\",\"p\":9")
            .unwrap();
        let (_, loaded) = Positions::load(dir.path());
        assert_eq!(loaded, HashMap::from([("a".into(), 5), ("b".into(), 2)]));

        positions
            .save(&BTreeMap::from([("a", 5), ("b", 2)]), false)
            .unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len(),
            0
        );
        positions.moved("b", 7);
        let (_, loaded) = Positions::load(dir.path());
        assert_eq!(loaded, HashMap::from([("a".into(), 5), ("b".into(), 7)]));
    }
}

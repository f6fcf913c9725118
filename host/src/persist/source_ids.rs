//! Stable ids of the sources: what the spool's records and the routes know a source by.
//! A source keeps its id (by its key: its name, else what it reads) across config
//! reloads and restarts, so a record written before a change of `[[sources]]` still
//! names the source that read it. Kept in `data_dir/sources.json`; without a data
//! directory, for the run only.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(Debug, Default)]
pub struct SourceIds {
    /// Where they are kept, if anywhere.
    file: Option<PathBuf>,
    ids: BTreeMap<String, usize>,
}

impl SourceIds {
    /// The ids kept in `file`. None kept yet (a new data directory, or one from before
    /// ids were kept): ids are given from 0 in the order sources are asked about, the
    /// configuration's, which is how a spool written then numbered its sources.
    pub fn load(file: Option<PathBuf>) -> Result<Self> {
        let ids = match &file {
            Some(path) if path.exists() => {
                let text =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_slice(&text)
                    .with_context(|| format!("{} is not a map of source ids", path.display()))?
            }
            _ => BTreeMap::new(),
        };
        Ok(SourceIds { file, ids })
    }

    /// The id of the source `key`: its own, or the next one (then kept).
    pub fn id(&mut self, key: &str) -> Result<usize> {
        if let Some(id) = self.ids.get(key) {
            return Ok(*id);
        }
        let id = self.ids.values().max().map_or(0, |max| max + 1);
        self.ids.insert(key.to_owned(), id);
        if let Some(path) = &self.file {
            let text = serde_json::to_vec_pretty(&self.ids).expect("a map of numbers");
            super::write_atomically(path, &text, true)?;
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_stays_with_its_source_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sources.json");
        let mut ids = SourceIds::load(Some(file.clone())).unwrap();
        assert_eq!(ids.id("name:a").unwrap(), 0);
        assert_eq!(ids.id("paths:x").unwrap(), 1);
        let mut again = SourceIds::load(Some(file)).unwrap();
        assert_eq!(again.id("stdin").unwrap(), 2);
        assert_eq!(again.id("paths:x").unwrap(), 1);
        assert_eq!(again.id("name:a").unwrap(), 0);
    }
}

//! Stable ids of the sources: what the spool's records and the routes know a source by.
//! A source keeps its id (by its key: its name, else what it reads) across config
//! reloads and restarts, so a record written before a change of `[[sources]]` still
//! names the source that read it. Kept in `data_dir/sources.json`; without a data
//! directory, for the run only.
//!
//! The destinations that take each id are kept too (`routes.json`, by destination
//! name): records of a source the configuration no longer has (renamed, or removed by a
//! reload before its last chunk was delivered) still go to the destinations that took
//! them, never nowhere.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(Debug, Default)]
pub struct SourceIds {
    /// Where they are kept, if anywhere.
    file: Option<PathBuf>,
    ids: BTreeMap<String, usize>,
    /// The destinations, by name, each id's events went to when it was last configured.
    routes: BTreeMap<usize, Vec<String>>,
}

/// The ids of a configuration's sources, in its order, and the destinations that took
/// the ids it no longer has.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub ids: Vec<usize>,
    pub retired: BTreeMap<usize, Vec<String>>,
}

impl SourceIds {
    /// The ids kept in `file`. None kept yet (a new data directory, or one from before
    /// ids were kept): ids are given from 0 in the order sources are asked about, the
    /// configuration's, which is how a spool written then numbered its sources.
    pub fn load(file: Option<PathBuf>) -> Result<Self> {
        let ids = read_map(file.as_ref(), "a map of source ids")?;
        let routes = read_map(routes_file(file.as_ref()).as_ref(), "a map of routes")?;
        Ok(SourceIds { file, ids, routes })
    }

    /// The ids of `config`'s sources, and the destinations (of those it has) that took
    /// the ids it no longer has; the routes of its own sources are kept from now on.
    pub fn map(&mut self, config: &crate::config::Config) -> Result<SourceMap> {
        let ids: Vec<usize> = config
            .sources
            .iter()
            .map(|source| self.id(&source.key()))
            .collect::<Result<_>>()?;
        let mut routes = self.routes.clone();
        for (&id, to) in ids.iter().zip(config.routes()) {
            let names = to.iter().map(|&d| config.destinations[d].name.clone());
            routes.insert(id, names.collect());
        }
        if routes != self.routes {
            if let Some(path) = routes_file(self.file.as_ref()) {
                let text = serde_json::to_vec_pretty(&routes).expect("a map of names");
                super::write_atomically(&path, &text, true)?;
            }
            self.routes = routes;
        }
        let retired = self
            .routes
            .iter()
            .filter(|(id, _)| !ids.contains(id))
            .map(|(&id, names)| {
                let kept: Vec<String> = names
                    .iter()
                    .filter(|name| config.destinations.iter().any(|d| d.name == **name))
                    .cloned()
                    .collect();
                (id, kept)
            })
            .collect();
        Ok(SourceMap { ids, retired })
    }

    /// The id of the source `key`: its own, or the next one (then kept).
    fn id(&mut self, key: &str) -> Result<usize> {
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

/// `routes.json` beside `sources.json`.
fn routes_file(sources: Option<&PathBuf>) -> Option<PathBuf> {
    sources.map(|path| path.with_file_name("routes.json"))
}

fn read_map<K: Ord + serde::de::DeserializeOwned, V: serde::de::DeserializeOwned>(
    file: Option<&PathBuf>,
    what: &str,
) -> Result<BTreeMap<K, V>> {
    match file {
        Some(path) if path.exists() => {
            let text =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_slice(&text)
                .with_context(|| format!("{} is not {what}", path.display()))
        }
        _ => Ok(BTreeMap::new()),
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

//! The reload tests' broken version of `misbehave`: it takes the same settings, and
//! traps on every batch, the host's trial batch at reload first.

use sluice_guest::{
    Batch, Enrichment, FormatError, Formatted, Formatter, Info, SettingDoc, Settings,
};

pub struct Trapper;

impl Formatter for Trapper {
    fn info() -> Info {
        Info {
            settings: vec![SettingDoc::new("mode", "taken, and ignored", Some("ok"))],
            ..Info::http("misbehave", "3.0.0-broken")
        }
    }

    fn new(_settings: &Settings, _enrichment: &Enrichment) -> Result<Self, FormatError> {
        Ok(Trapper)
    }

    fn format(&self, _batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        panic!("trapper: every batch traps")
    }
}

sluice_guest::export_formatter!(Trapper);

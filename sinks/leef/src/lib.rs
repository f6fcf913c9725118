//! QRadar LEEF: each event as one LEEF line ([`sluice_guest::leef`]), sent over
//! `tcp://`, `tls://` or `udp://` without a syslog header (inside syslog, use the
//! `syslog` module with `payload = "leef"`), or written to a file with `capture:`.

use sluice_guest::leef::Leef;
use sluice_guest::siem::LineSettings;
use sluice_guest::{Batch, Enrichment, FormatError, Formatted, Formatter, Info, Settings};

/// The LEEF formatter of one destination.
pub struct LeefLines {
    leef: Leef,
}

impl Formatter for LeefLines {
    fn info() -> Info {
        Info {
            settings: [LineSettings::docs(), Leef::docs()].concat(),
            ..Info::messages("leef", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let stamp = sluice_guest::enrich::Stamp::from_settings(settings, enrichment)?;
        Ok(LeefLines {
            leef: Leef::from_settings(settings)?.stamped(stamp),
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(Formatted::lines(batch, |event| self.leef.line(event)))
    }
}

sluice_guest::export_formatter!(LeefLines);

//! ArcSight CEF: each event as one CEF line ([`sluice_guest::cef`]), sent over
//! `tcp://`, `tls://` or `udp://` without a syslog header (inside syslog, use the
//! `syslog` module with `payload = "cef"`), or written to a file with `capture:`.

use sluice_guest::cef::Cef;
use sluice_guest::siem::LineSettings;
use sluice_guest::{Batch, Enrichment, FormatError, Formatted, Formatter, Info, Settings};

/// The CEF formatter of one destination.
pub struct CefLines {
    cef: Cef,
}

impl Formatter for CefLines {
    fn info() -> Info {
        Info {
            settings: [LineSettings::docs(), Cef::docs()].concat(),
            ..Info::messages("cef", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        Ok(CefLines {
            cef: Cef::new(
                LineSettings::from_settings(settings)?.stamped(
                    sluice_guest::enrich::Stamp::from_settings(settings, enrichment)?,
                ),
                settings,
                &enrichment.host_name,
            )?,
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(Formatted::lines(batch, |event| self.cef.line(event)))
    }
}

sluice_guest::export_formatter!(CefLines);

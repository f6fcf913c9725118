//! Syslog: each event as one RFC 5424 message (or RFC 3164, for old receivers), its
//! JSON as the MSG. The host sends the messages over `udp://`, `tcp://` or `tls://`,
//! framing them for a stream as the destination's `framing` says.
//!
//! Split as every Sluice sink is: [`config`] reads the settings, [`encoder`] writes the
//! messages (pure, unit-tested natively against RFC 5424's examples), [`header`]
//! keeps header fields within RFC 5424's alphabet and lengths.

pub mod config;
pub mod encoder;
pub mod header;

use sluice_guest::{Batch, Enrichment, FormatError, Formatted, Formatter, Info, Settings};

/// The syslog formatter of one destination.
pub struct Syslog {
    encoder: encoder::SyslogEncoder,
}

impl Formatter for Syslog {
    fn info() -> Info {
        Info {
            settings: config::SyslogConfig::docs(),
            ..Info::messages("syslog", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let config = config::SyslogConfig::from_settings(settings, enrichment)?;
        Ok(Syslog {
            encoder: encoder::SyslogEncoder::new(config, enrichment),
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(self.encoder.encode(batch))
    }
}

sluice_guest::export_formatter!(Syslog);

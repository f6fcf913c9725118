//! Splunk HTTP Event Collector: the reference Sluice module.
//!
//! Each batch becomes one or more `POST /services/collector/event` requests of stacked
//! JSON envelopes, each request under `max_request_bytes` (uncompressed). Answers are
//! read with every HEC status code (`protocols.md`, section 1), including the
//! `invalid-event-number` partial failures.
//!
//! The module is split the way every Sluice sink is: [`config`] reads the settings,
//! [`encoder`] builds bodies (pure, unit-tested natively), [`retry`] classifies answers.

pub mod config;
pub mod encoder;
pub mod retry;

use sluice_guest::{
    AuthHeader, Batch, BatchLimits, FormatError, Formatted, Formatter, HttpResponse, Info,
    SentRequest, Verdict,
};

/// The Splunk HEC formatter.
pub struct SplunkHec;

impl Formatter for SplunkHec {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 800_000,
            },
            auth: Some(AuthHeader {
                name: "Authorization".into(),
                prefix: "Splunk ".into(),
            }),
            settings: config::SplunkHecConfig::docs(),
            ..Info::http("splunk-hec", env!("CARGO_PKG_VERSION"))
        }
    }

    fn format(batch: &Batch, settings: &sluice_guest::Settings) -> Result<Formatted, FormatError> {
        let config = config::SplunkHecConfig::from_settings(settings)?;
        Ok(encoder::HecEncoder::new(&config, batch.enrichment()).encode(batch))
    }

    fn classify(response: &HttpResponse, request: &SentRequest) -> Verdict {
        retry::classify(response, request)
    }
}

sluice_guest::export_formatter!(SplunkHec);

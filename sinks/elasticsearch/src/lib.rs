//! Elasticsearch (and OpenSearch) `_bulk`: the reference Sluice module for search-based
//! SIEMs.
//!
//! Each batch becomes one or more `POST /<index>/_bulk` requests of NDJSON, an action
//! line and the event for each event, every line ending in a newline (the last one
//! too), each request under `max_request_bytes`. The document `_id` is the event id by
//! default, so a resend never indexes a document twice: with `create`, ES answers 409
//! for the copy, which counts as delivered. Answers are read item by item
//! (Elastic's `_bulk` API documentation).
//!
//! The module is split the way every Sluice sink is: [`config`] reads the settings,
//! [`encoder`] builds bodies (pure, unit-tested natively), [`retry`] classifies answers.

pub mod config;
pub mod encoder;
pub mod retry;

use sluice_guest::{
    AuthHeader, Batch, BatchLimits, ConnectionCheck, Enrichment, FormatError, Formatted, Formatter,
    HttpResponse, Info, SentRequest, Settings, Verdict,
};

/// The Elasticsearch formatter of one destination.
pub struct Elasticsearch {
    encoder: encoder::BulkEncoder,
}

impl Formatter for Elasticsearch {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 5_000_000,
            },
            // An API key (`token`, the `encoded` value ES gives); a destination's
            // `basic_auth` sends `Basic` credentials in the same header instead.
            auth: Some(AuthHeader::header("Authorization", "ApiKey ")),
            settings: config::ElasticsearchConfig::docs(),
            ..Info::http("elasticsearch", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let config = config::ElasticsearchConfig::from_settings(settings)?;
        let stamp = sluice_guest::enrich::Stamp::from_settings(settings, enrichment)?;
        Ok(Elasticsearch {
            encoder: encoder::BulkEncoder::new(config).stamped(stamp),
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(self.encoder.encode(batch))
    }

    fn classify(&self, response: &HttpResponse, request: &SentRequest) -> Verdict {
        retry::classify(response, request, self.encoder.action())
    }

    fn connection_check(&self) -> Option<ConnectionCheck> {
        Some(self.encoder.connection_check())
    }
}

sluice_guest::export_formatter!(Elasticsearch);

//! Splunk HTTP Event Collector: the reference Sluice module.
//!
//! Each batch becomes one or more `POST /services/collector/event` requests of stacked
//! JSON envelopes, each request under `max_request_bytes` (uncompressed). Answers are
//! read with every HEC status code (Splunk's HEC documentation), including the
//! `invalid-event-number` partial failures.
//!
//! The module is split the way every Sluice sink is: [`config`] reads the settings,
//! [`encoder`] builds bodies (pure, unit-tested natively), [`retry`] classifies answers,
//! [`ack`] polls indexer acknowledgements.

pub mod ack;
pub mod config;
pub mod encoder;
pub mod retry;

use sluice_guest::{
    AckState, AuthHeader, Batch, BatchLimits, ConnectionCheck, Enrichment, FormatError, Formatted,
    Formatter, HttpResponse, Info, Query, SentRequest, Settings, Verdict,
};

/// The Splunk HEC formatter of one destination.
pub struct SplunkHec {
    encoder: encoder::HecEncoder,
    /// Indexer acknowledgement is on: answers carry an `ackId` to poll.
    ack: bool,
}

impl Formatter for SplunkHec {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 800_000,
            },
            auth: Some(AuthHeader::header("Authorization", "Splunk ")),
            settings: config::SplunkHecConfig::docs(),
            ..Info::http("splunk-hec", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let mut config = config::SplunkHecConfig::from_settings(settings, enrichment)?;
        if config.ack && config.channel.is_none() {
            config.channel = Some(ack::derived_channel(&config, enrichment));
        }
        Ok(SplunkHec {
            ack: config.ack,
            encoder: encoder::HecEncoder::new(config, enrichment),
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(self.encoder.encode(batch))
    }

    fn classify(&self, response: &HttpResponse, request: &SentRequest) -> Verdict {
        retry::classify(response, request, self.ack)
    }

    fn connection_check(&self) -> Option<ConnectionCheck> {
        Some(self.encoder.connection_check())
    }

    fn ack_query(&self, tickets: &[String]) -> Option<Query> {
        self.ack
            .then(|| ack::query(tickets, self.encoder.headers()))
    }

    fn read_acks(
        &self,
        response: &HttpResponse,
        tickets: &[String],
    ) -> Result<Vec<AckState>, String> {
        ack::read(response, tickets)
    }
}

sluice_guest::export_formatter!(SplunkHec);

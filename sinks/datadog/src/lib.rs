//! Datadog Logs API v2: the reference Sluice module for Datadog.
//!
//! Each batch becomes one or more `POST /api/v2/logs` requests of a JSON array of log
//! items, within the intake's limits (Datadog's Logs API documentation): at most 1000 items and
//! 5 MB uncompressed per request, and no item over 1 MB (such an event is refused with
//! the reason rather than stored cut). The event is the item's `message`, as a JSON
//! string; `status` comes from the SDK's one severity mapping. No partial failures: a
//! request is accepted (202) or not, by status.
//!
//! A destination names its Datadog site (`site = "datadoghq.eu"`) or writes an
//! `endpoint`; the sites' intake URLs are listed here, in the module's description of
//! itself, so the host sends to one of them and nowhere else a setting could name.

pub mod config;
pub mod encoder;

use sluice_guest::{
    AuthHeader, Batch, BatchLimits, ConnectionCheck, EndpointChoice, Enrichment, FormatError,
    Formatted, Formatter, HttpResponse, Info, SentRequest, Settings, Verdict,
};

/// The Datadog formatter of one destination.
pub struct Datadog {
    encoder: encoder::LogsEncoder,
}

impl Formatter for Datadog {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 4_000_000,
            },
            auth: Some(AuthHeader::header("DD-API-KEY", "")),
            endpoint_choice: Some(EndpointChoice::new(config::SITE, &config::SITES)),
            settings: config::DatadogConfig::docs(),
            ..Info::http("datadog", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let config = config::DatadogConfig::from_settings(settings, enrichment)?;
        Ok(Datadog {
            encoder: encoder::LogsEncoder::new(config),
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(self.encoder.encode(batch))
    }

    /// 202 delivered; 408, 429 and 5xx retried (with `Retry-After`); 413 split; 400,
    /// 401, 403 refused (the Datadog Agent retries none of those either).
    fn classify(&self, response: &HttpResponse, _request: &SentRequest) -> Verdict {
        match Verdict::from_json_api_status(response) {
            Verdict::Refused(_) => Verdict::Refused(format!(
                "Datadog HTTP {}: {}",
                response.status,
                response.body_text().chars().take(200).collect::<String>()
            )),
            verdict => verdict,
        }
    }

    fn connection_check(&self) -> Option<ConnectionCheck> {
        Some(self.encoder.connection_check())
    }
}

sluice_guest::export_formatter!(Datadog);

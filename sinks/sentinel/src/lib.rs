//! Microsoft Sentinel, through the Azure Monitor Logs Ingestion API (as Microsoft
//! documents it): each batch becomes one or more POSTs of a JSON array to a data
//! collection rule's stream, each under 1 MB, every event with `TimeGenerated` (the
//! event time) ahead of its own fields. The host obtains and refreshes the OAuth2 token
//! (`oauth2` in the destination), and sends a request once more with a new token when
//! the API answers 401; the module never sees it.

pub mod config;
pub mod encoder;

use sluice_guest::{
    AuthHeader, Batch, BatchLimits, ConnectionCheck, Enrichment, FormatError, Formatted, Formatter,
    HttpResponse, Info, SentRequest, Settings, Verdict,
};

/// The Sentinel formatter of one destination.
pub struct Sentinel {
    encoder: encoder::IngestionEncoder,
}

impl Formatter for Sentinel {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 900_000,
            },
            auth: Some(AuthHeader::header("Authorization", "Bearer ")),
            settings: config::SentinelConfig::docs(),
            ..Info::http("sentinel", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let config = config::SentinelConfig::from_settings(settings)?;
        let stamp = sluice_guest::enrich::Stamp::from_settings(settings, enrichment)?;
        if !stamp.is_off() && config.time_field == sluice_guest::enrich::MEMBER {
            return Err(FormatError::setting(
                "time_field",
                "`sluice` is the column the enrichment adds to each row: name another, or set enrichment = \"none\"",
            ));
        }
        Ok(Sentinel {
            encoder: encoder::IngestionEncoder::new(config).stamped(stamp),
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(self.encoder.encode(batch))
    }

    /// 204 (any 2xx) delivered; 408, 429 and 5xx retried with `Retry-After`; 413 split;
    /// 400 (the stream's schema), 401/403 (after the host's one new token: a role not
    /// assigned yet) and 404 (a wrong rule or stream) refused with Azure's words. (Only
    /// 204 and 429 are confirmed by Microsoft's documentation; the rest is Azure's usual
    /// behaviour, UNCONFIRMED.)
    fn classify(&self, response: &HttpResponse, _request: &SentRequest) -> Verdict {
        match Verdict::from_json_api_status(response) {
            Verdict::Refused(_) => Verdict::Refused(format!(
                "Azure Monitor HTTP {}: {}",
                response.status,
                response.body_text().chars().take(300).collect::<String>()
            )),
            verdict => verdict,
        }
    }

    fn connection_check(&self) -> Option<ConnectionCheck> {
        Some(self.encoder.connection_check())
    }
}

sluice_guest::export_formatter!(Sentinel);

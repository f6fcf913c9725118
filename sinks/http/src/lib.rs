//! A generic webhook: the reference Sluice module for receivers that take JSON over
//! HTTP and nothing more specific.
//!
//! Each batch becomes one or more POSTs of a JSON array (or NDJSON) of the events,
//! byte-exact, under `max_request_bytes`; static headers from the settings; with a
//! `signing_key`, an HMAC-SHA256 signature over `timestamp.body`, computed by the host
//! (the module never sees the key), and the timestamp in its own header so the receiver
//! can refuse a replay. Answers are read by status: 2xx delivered; 408, 429 and 5xx
//! retried (with `Retry-After`); 413 split; any other status refused with the start of
//! the body as the reason.

pub mod config;
pub mod encoder;

use sluice_guest::{
    AuthHeader, Batch, BatchLimits, ConnectionCheck, Enrichment, FormatError, Formatted, Formatter,
    HttpResponse, Info, SentRequest, Settings, Verdict,
};

/// The webhook formatter of one destination.
pub struct Webhook {
    encoder: encoder::WebhookEncoder,
}

impl Formatter for Webhook {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 500,
                max_bytes: 1_000_000,
            },
            // A bearer token when the destination gives `token` (or `basic_auth`,
            // `oauth2`); a receiver that takes anyone's needs none.
            auth: Some(AuthHeader::bearer().optional()),
            settings: config::WebhookConfig::docs(),
            ..Info::http("http", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let config = config::WebhookConfig::from_settings(settings)?;
        // A key that is not there is a setting to fix, found at `check`, not a failure
        // of every batch.
        if let Some(key) = &config.signing_key {
            sluice_guest::sign::hmac_sha256(key, b"")
                .map_err(|problem| FormatError::setting("signing_key", problem))?;
        }
        Ok(Webhook {
            encoder: encoder::WebhookEncoder::new(config).stamped(
                sluice_guest::enrich::Stamp::from_settings(settings, enrichment)?,
            ),
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        self.encoder.encode(batch, encoder::unix_seconds())
    }

    fn classify(&self, response: &HttpResponse, _request: &SentRequest) -> Verdict {
        match Verdict::from_status(response) {
            // The start of the body says why; a receiver's whole error page does not.
            Verdict::Refused(_) => Verdict::Refused(format!(
                "HTTP {}: {}",
                response.status,
                response.body_text().chars().take(200).collect::<String>()
            )),
            verdict => verdict,
        }
    }

    fn connection_check(&self) -> Option<ConnectionCheck> {
        // The key was found at `new`: signing fails only with a broken host.
        self.encoder
            .connection_check(encoder::unix_seconds())
            .ok()
            .flatten()
    }
}

sluice_guest::export_formatter!(Webhook);

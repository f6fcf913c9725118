//! A module built for contract 0.3.0 (the frozen `wit/previous/0.3.0`), with
//! wit-bindgen and no SDK, as a module author built it before 0.4.0: it posts each batch
//! as newline-delimited JSON. The host must go on serving it next to the latest version.

#![allow(unsafe_code, reason = "wit-bindgen's generated exports")]

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/previous/0.3.0",
        world: "formatter",
    });
}

use bindings::exports::sluice::module::formatting::Guest;
use bindings::sluice::module::types::{
    Batch, BatchLimits, Compression, ConnectionCheck, Enrichment, EventText, FormatError,
    Formatted, HttpRequest, HttpResponse, Info, Payload, Request, RetryAdvice, SentRequest,
    Transport, Verdict,
};

struct LegacyNdjson;

impl Guest for LegacyNdjson {
    fn describe() -> Info {
        Info {
            name: "legacy-ndjson".into(),
            version: "0.3.0".into(),
            transport: Transport::Http,
            batch: BatchLimits {
                max_events: 100,
                max_bytes: 100_000,
            },
            auth: None,
            settings: Vec::new(),
        }
    }

    fn configure(
        _settings: Vec<(String, String)>,
        _enrichment: Enrichment,
    ) -> Result<(), FormatError> {
        Ok(())
    }

    fn format(batch: Batch, _text: &EventText) -> Result<Formatted, FormatError> {
        // Each event by its range, then a newline: the one byte of the payload's text,
        // which comes after the events' text.
        let newline = u64::from(batch.ends.last().copied().unwrap_or(0));
        let mut pieces = Vec::with_capacity(batch.ends.len() * 2);
        let mut start = 0u64;
        for &end in &batch.ends {
            pieces.push(start << 32 | u64::from(end));
            pieces.push(newline << 32 | (newline + 1));
            start = u64::from(end);
        }
        let request = HttpRequest {
            method: "POST".into(),
            path: "/legacy".into(),
            headers: vec![("Content-Type".into(), "application/x-ndjson".into())],
            body: Payload {
                text: b"\n".to_vec(),
                pieces,
            },
            compression: Compression::None,
            events: (0..batch.ends.len() as u32).collect(),
        };
        Ok(Formatted {
            requests: vec![Request::Http(request)],
            refused: Vec::new(),
        })
    }

    fn classify(response: HttpResponse, _request: SentRequest) -> Verdict {
        match response.status {
            200..=299 => Verdict::Delivered,
            status => Verdict::Retry(RetryAdvice {
                reason: format!("HTTP {status}"),
                after_ms: None,
            }),
        }
    }

    fn check_connection() -> Option<ConnectionCheck> {
        None
    }
}

bindings::export!(LegacyNdjson with_types_in bindings);

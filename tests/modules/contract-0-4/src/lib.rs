//! A module built for contract 0.4.0 (the frozen `wit/previous/0.4.0`), with
//! wit-bindgen and no SDK, as a module author built it before 0.5.0; with the
//! `contract-0-5` feature (the package of that name), the same module built for 0.5.0,
//! whose types this module uses alike. It is both a formatter (each batch posted as
//! newline-delimited JSON) and a filter (it keeps the events without `"drop": true`),
//! so one module shows the host serving both interfaces of an older contract next to
//! the latest.

#![allow(unsafe_code, reason = "wit-bindgen's generated exports")]

/// The contract version the module is built for, and its own version.
#[cfg(not(feature = "contract-0-5"))]
const VERSION: &str = "0.4.0";
#[cfg(feature = "contract-0-5")]
const VERSION: &str = "0.5.0";

#[cfg(feature = "contract-0-5")]
mod bindings {
    wit_bindgen::generate!({
        inline: "
            package sluice:legacy-test;
            world both {
                import sluice:module/host@0.5.0;
                export sluice:module/formatting@0.5.0;
                export sluice:module/filtering@0.5.0;
            }
        ",
        path: "../../../wit/previous/0.5.0",
        world: "sluice:legacy-test/both",
        generate_all,
    });
}

#[cfg(not(feature = "contract-0-5"))]
mod bindings {
    wit_bindgen::generate!({
        inline: "
            package sluice:legacy-test;
            world both {
                import sluice:module/host@0.4.0;
                export sluice:module/formatting@0.4.0;
                export sluice:module/filtering@0.4.0;
            }
        ",
        path: "../../../wit/previous/0.4.0",
        world: "sluice:legacy-test/both",
        generate_all,
    });
}

use bindings::exports::sluice::module::filtering::{self, FilterInfo};
use bindings::exports::sluice::module::formatting;
use bindings::sluice::module::types::{
    AckState, Batch, BatchLimits, Compression, ConnectionCheck, Enrichment, EventText, FormatError,
    Formatted, HttpRequest, HttpResponse, Info, Payload, Query, Request, RetryAdvice, SentRequest,
    Transport, Verdict,
};

struct Legacy;

impl formatting::Guest for Legacy {
    fn describe() -> Info {
        Info {
            name: "legacy-ndjson".into(),
            version: VERSION.into(),
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
        // Each event by its range, then the newline that follows the events' text.
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

    fn ack_query(_tickets: Vec<String>) -> Option<Query> {
        None
    }

    fn read_acks(_response: HttpResponse, _tickets: Vec<String>) -> Result<Vec<AckState>, String> {
        Err("no acknowledgements".into())
    }
}

impl filtering::Guest for Legacy {
    fn describe() -> FilterInfo {
        FilterInfo {
            name: "legacy-filter".into(),
            version: VERSION.into(),
            settings: Vec::new(),
        }
    }

    fn configure(_settings: Vec<(String, String)>) -> Result<(), FormatError> {
        Ok(())
    }

    fn keep(batch: Batch, text: &EventText) -> Vec<bool> {
        let text = text.read();
        let mut start = 0;
        batch
            .ends
            .iter()
            .map(|&end| {
                let event = &text[start..end as usize];
                start = end as usize;
                !event.contains("\"drop\":true")
            })
            .collect()
    }
}

bindings::export!(Legacy with_types_in bindings);

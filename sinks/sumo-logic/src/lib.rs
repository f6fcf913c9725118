//! Sumo Logic: the reference Sluice module for an HTTP Logs & Metrics source.
//!
//! The collector URL is the credential (its last segment is the source's code), so the
//! destination names it as a secret, `endpoint = { env = "SUMO_URL" }`, which the host
//! reads, sends to and never shows; the module posts to the endpoint as it is (path
//! `/`). Each batch becomes bodies of one event per line (JSON Lines), each at most 1 MB
//! before compression as Sumo Logic asks, gzipped by default; `category`, `source_name`
//! and `source_host` override the source's metadata through Sumo's `X-Sumo-*` headers.
//!
//! Answers: 200 delivered; 401 (the URL's code is wrong or the source was deleted)
//! refused; 408 (taken but not processed in time: resending may duplicate), 429 and 5xx
//! retried; 413 split.

use sluice_guest::enrich::Stamp;
use sluice_guest::split::{self, BodyLimit};
use sluice_guest::{
    Batch, BatchLimits, Compression, Enrichment, FormatError, Formatted, HttpRequest, HttpResponse,
    Info, PayloadBuilder, Request, SentRequest, SettingDoc, Settings, Verdict,
};

/// Sumo Logic's bound on one request, before compression.
const MAX_REQUEST_BYTES: usize = 1_000_000;

/// The Sumo Logic formatter of one destination.
pub struct SumoLogic {
    headers: Vec<(String, String)>,
    gzip: bool,
    stamp: Stamp,
}

/// The settings that become `X-Sumo-*` headers.
const METADATA: [(&str, &str); 3] = [
    ("category", "X-Sumo-Category"),
    ("source_name", "X-Sumo-Name"),
    ("source_host", "X-Sumo-Host"),
];

impl sluice_guest::Formatter for SumoLogic {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 900_000,
            },
            settings: vec![
                Stamp::doc(),
                SettingDoc {
                    name: "category",
                    description: "the source category of these events (X-Sumo-Category), instead of the source's",
                    default: None,
                },
                SettingDoc {
                    name: "source_name",
                    description: "the source name (X-Sumo-Name), instead of the source's",
                    default: None,
                },
                SettingDoc {
                    name: "source_host",
                    description: "the source host (X-Sumo-Host), instead of the source's",
                    default: None,
                },
                SettingDoc {
                    name: "gzip",
                    description: "compress request bodies",
                    default: Some("true"),
                },
            ],
            ..Info::http("sumo-logic", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        for (key, header) in METADATA {
            if let Some(value) = settings.text(key) {
                if value.is_empty() || value.chars().any(|c| c.is_control()) {
                    return Err(FormatError::setting(key, "one line of text, not empty"));
                }
                headers.push((header.to_owned(), value));
            }
        }
        Ok(SumoLogic {
            headers,
            gzip: settings.flag("gzip")?,
            stamp: Stamp::from_settings(settings, enrichment)?,
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(split::fill(
            batch,
            BodyLimit {
                max_bytes: MAX_REQUEST_BYTES,
                closing: 0,
            },
            || Lines(PayloadBuilder::with_capacity(batch, 64, 2 * batch.len())),
            |Lines(body), event, _first| {
                self.stamp.push_event(body, event);
                body.push(b"\n");
            },
            |Lines(body), events| {
                Request::Http(HttpRequest {
                    method: "POST".into(),
                    path: "/".into(),
                    headers: self.headers.clone(),
                    body: body.finish(),
                    compression: if self.gzip {
                        Compression::Gzip
                    } else {
                        Compression::None
                    },
                    events,
                })
            },
            |size| format!("the event is {size} bytes, over Sumo Logic's 1 MB per request"),
        ))
    }

    fn classify(&self, response: &HttpResponse, _request: &SentRequest) -> Verdict {
        match response.status {
            401 => Verdict::Refused(
                "Sumo Logic refused the collector URL (401): its code is wrong, or the source was deleted".into(),
            ),
            status => match Verdict::from_status(response) {
                Verdict::Refused(_) => Verdict::Refused(format!(
                    "Sumo Logic HTTP {status}: {}",
                    response.body_start()
                )),
                verdict => verdict,
            },
        }
    }
}

/// A body of one event per line.
struct Lines(PayloadBuilder);

impl split::Body for Lines {
    fn payload(&mut self) -> &mut PayloadBuilder {
        &mut self.0
    }
}

sluice_guest::export_formatter!(SumoLogic);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::Formatter;

    #[test]
    fn events_are_lines_and_the_settings_become_headers() {
        let settings = Settings::new(
            vec![
                ("category".into(), "prod/audit".into()),
                ("enrichment".into(), "none".into()),
            ],
            SumoLogic::info().settings,
        );
        let sumo = SumoLogic::new(&settings, &sluice_guest::testing::enrichment()).unwrap();
        let events = sluice_sink_cases::edge_case_events();
        let batch = sluice_sink_cases::batch_of(&events);
        let formatted = sumo.format(&batch).unwrap();
        assert!(formatted.refused.is_empty());
        let Request::Http(http) = &formatted.requests[0] else {
            panic!("HTTP")
        };
        assert!(
            http.headers
                .contains(&("X-Sumo-Category".into(), "prod/audit".into()))
        );
        assert_eq!(http.compression, Compression::Gzip);
        let body = String::from_utf8(http.body.assemble(&batch)).unwrap();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines, events.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn a_refused_url_is_said_without_the_url() {
        let response = HttpResponse {
            status: 401,
            headers: Vec::new(),
            body: Vec::new(),
            truncated: false,
        };
        let sumo = SumoLogic {
            headers: Vec::new(),
            gzip: false,
            stamp: Stamp::off(),
        };
        let request = SentRequest {
            path: "/".into(),
            event_count: 1,
        };
        assert!(matches!(
            sumo.classify(&response, &request),
            Verdict::Refused(_)
        ));
    }
}

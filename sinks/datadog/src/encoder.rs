//! Log items: `{"ddsource":..,"ddtags":..,"hostname":..,"service":..,"status":..,
//! "timestamp":<ms>,"sluice_event_id":"..","message":"<the event, as a JSON string>"}`
//! in a JSON array. The parts the same for every item are written once per body.
//!
//! The event goes in `message` as a string (the API's `message` is a string); Datadog
//! parses a JSON message into attributes (its JSON preprocessing; for the HTTP intake
//! this is not documented by Datadog, so the whole event is kept searchable as
//! text either way). `timestamp` is epoch milliseconds, the event time.

use sluice_guest::json::write_str;
use sluice_guest::{
    Batch, Compression, ConnectionCheck, Formatted, HttpRequest, PayloadBuilder, Piece, Query,
    Refusal, Request,
};

use crate::config::{DatadogConfig, MAX_ITEM_BYTES, MAX_ITEMS};

const PATH: &str = "/api/v2/logs";

/// Builds Logs API requests for the batches of one destination.
#[derive(Debug)]
pub struct LogsEncoder {
    config: DatadogConfig,
    /// `{"ddsource":..,"ddtags":..,"hostname":..,"service":..,"status":"`
    item_start: Vec<u8>,
}

impl LogsEncoder {
    pub fn new(config: DatadogConfig) -> Self {
        let mut item_start = b"{".to_vec();
        for (key, value) in [
            ("ddsource", &config.ddsource),
            ("ddtags", &config.ddtags),
            ("hostname", &config.hostname),
            ("service", &config.service),
        ] {
            if !value.is_empty() {
                write_str(&mut item_start, key);
                item_start.push(b':');
                write_str(&mut item_start, value);
                item_start.push(b',');
            }
        }
        item_start.extend_from_slice(b"\"status\":\"");
        LogsEncoder { config, item_start }
    }

    /// Encodes every event of `batch` into requests within the intake's limits; an
    /// event whose item exceeds 1 MB is refused (Datadog would store it cut).
    pub fn encode(&self, batch: &Batch<'_>) -> Formatted {
        let limit = self.config.max_request_bytes;
        let mut formatted = Formatted::default();
        let mut body: Option<Body> = None;
        for (index, event) in batch.events().enumerate() {
            let mut item = Vec::with_capacity(event.json_len() + 64);
            item.extend_from_slice(self.config.severity.of(&event).datadog().as_bytes());
            item.extend_from_slice(b"\",\"timestamp\":");
            item.extend_from_slice(event.time_ms().to_string().as_bytes());
            item.extend_from_slice(b",\"sluice_event_id\":\"");
            event.id().write_hex(&mut item);
            item.extend_from_slice(b"\",");
            if !self.config.stamp.is_off() {
                self.config.stamp.write_member(&event, &mut item);
                item.push(b',');
            }
            item.extend_from_slice(b"\"message\":");
            match self.config.schema.map(&event) {
                Some(document) => write_str(
                    &mut item,
                    std::str::from_utf8(&document).expect("JSON text"),
                ),
                None => write_str(&mut item, event.json()),
            }
            item.push(b'}');
            let size = self.item_start.len() + item.len();
            if size > MAX_ITEM_BYTES || size + 2 > limit {
                formatted.refused.push(Refusal {
                    event: index as u32,
                    reason: format!(
                        "the log item is {size} bytes; Datadog cuts a log over {MAX_ITEM_BYTES} bytes (and a request over max_request_bytes, {limit})"
                    ),
                });
                continue;
            }
            let full = body.as_ref().is_some_and(|body| {
                body.events.len() == MAX_ITEMS || body.payload.len() + 1 + size + 1 > limit
            });
            if full {
                let full = body.take().expect("checked above");
                formatted.requests.push(self.request(full));
            }
            let body = body.get_or_insert_with(|| Body::new(batch, &self.item_start));
            if !body.events.is_empty() {
                body.payload.push(b",");
            }
            body.payload.push_pieces([body.item_start]);
            body.payload.push(&item);
            body.events.push(index as u32);
        }
        if let Some(body) = body {
            formatted.requests.push(self.request(body));
        }
        formatted
    }

    /// An empty array: the intake checks the key first (403 when refused), then
    /// answers 400 or 202; nothing is stored.
    pub fn connection_check(&self) -> ConnectionCheck {
        ConnectionCheck {
            query: Query {
                method: "POST".into(),
                path: PATH.into(),
                headers: headers(),
                body: b"[]".to_vec(),
            },
            accepted: vec![202, 400],
            unauthorized: vec![401, 403],
        }
    }

    fn request(&self, mut body: Body) -> Request {
        body.payload.push(b"]");
        Request::Http(HttpRequest {
            method: "POST".into(),
            path: PATH.into(),
            headers: headers(),
            body: body.payload.finish(),
            compression: if self.config.gzip {
                Compression::Gzip
            } else {
                Compression::None
            },
            events: body.events,
        })
    }
}

fn headers() -> Vec<(String, String)> {
    vec![("Content-Type".into(), "application/json".into())]
}

/// A request body being written.
struct Body {
    payload: PayloadBuilder,
    item_start: Piece,
    events: Vec<u32>,
}

impl Body {
    fn new(batch: &Batch<'_>, item_start: &[u8]) -> Self {
        let mut payload =
            PayloadBuilder::with_capacity(batch, batch.text_len() * 2 + 1024, batch.len() * 3 + 2);
        let item_start = payload.write(item_start);
        payload.push(b"[");
        Body {
            payload,
            item_start,
            events: Vec::new(),
        }
    }
}

//! `_bulk` NDJSON: for each event an action line, `{"create":{"_index":..,"_id":..}}`,
//! and the event, each ending in a newline (the last line too: ES refuses a body
//! without it). The parts the same for every event are written once per body; per
//! event the encoder writes only the id (and `@timestamp`, for events without one),
//! and places the event's JSON by its range, byte-exact and never copied inside the
//! sandbox. JSON text has no raw newline (the host validated it, and a newline inside a
//! string is the escape `\n`), so an event is always one NDJSON line.

use sluice_guest::enrich::{self, Stamp};
use sluice_guest::json::{Found, MemberProbe, write_str};
use sluice_guest::split::{self, BodyLimit};
use sluice_guest::time::{Rfc3339Clock, rfc3339_utc};
use sluice_guest::{
    Batch, Compression, ConnectionCheck, Event, Formatted, HttpRequest, PayloadBuilder, Piece,
    Query, Request,
};

use crate::config::{Action, ElasticsearchConfig};

/// Every request goes to the bulk endpoint; the index is in each action line.
const BULK_PATH: &str = "/_bulk";
/// Bytes written per event besides the repeated pieces and the event: the id, the end
/// of the action line, and room for an added `@timestamp` and the enrichment's start.
const PER_EVENT_TEXT: usize = 32 + 8 + 48 + 96;
/// Pieces of one event at most: the action's start; the id, the action's end and the
/// document's first members, written as one; the enrichment's fixed part; the event's
/// members; the newline.
const PER_EVENT_PIECES: usize = 5;

/// Builds bulk requests for the batches of one destination.
#[derive(Debug)]
pub struct BulkEncoder {
    config: ElasticsearchConfig,
    /// The action line up to the id (`{"create":{"_index":"i","_id":"`), or whole with
    /// its newline when ids are left to Elasticsearch.
    action_start: Vec<u8>,
    /// After the id: `"` + pipeline and routing + `}}` + newline; written after each
    /// id, so that the id, this and the document's first members are one piece.
    action_end: Vec<u8>,
    /// The host's enrichment, in each document.
    stamp: Stamp,
    /// Finds the members an event may have of its own, in one pass: [`OWN_STAMP`] and
    /// [`OWN_TIMESTAMP`].
    own_members: MemberProbe,
}

/// The probe's keys: the enrichment's member, which an event's own replaces, and
/// `@timestamp`, which the encoder adds to an event without one.
const OWN_STAMP: usize = 0;
const OWN_TIMESTAMP: usize = 1;

impl BulkEncoder {
    pub fn new(config: ElasticsearchConfig) -> Self {
        let mut action_start = format!("{{\"{}\":{{\"_index\":", config.action.name()).into_bytes();
        write_str(&mut action_start, &config.index);
        let mut action_end = Vec::new();
        for (key, value) in [("pipeline", &config.pipeline), ("routing", &config.routing)] {
            if let Some(value) = value {
                action_end.extend_from_slice(format!(",\"{key}\":").as_bytes());
                write_str(&mut action_end, value);
            }
        }
        action_end.extend_from_slice(b"}}\n");
        if config.event_ids {
            action_start.extend_from_slice(b",\"_id\":\"");
            action_end.insert(0, b'"');
        } else {
            action_start.append(&mut action_end);
        }
        BulkEncoder {
            config,
            action_start,
            action_end,
            stamp: Stamp::off(),
            own_members: MemberProbe::of(&[enrich::MEMBER, "@timestamp"]),
        }
    }

    /// The same, the host's enrichment in each document.
    pub fn stamped(self, stamp: Stamp) -> Self {
        BulkEncoder { stamp, ..self }
    }

    /// The action every event gets, which decides what a 409 means.
    pub fn action(&self) -> Action {
        self.config.action
    }

    /// Encodes every event of `batch`; an event whose two lines alone exceed
    /// `max_request_bytes` is refused with the sizes in the reason.
    pub fn encode(&self, batch: &Batch<'_>) -> Formatted {
        let limit = self.config.max_request_bytes;
        split::fill(
            batch,
            BodyLimit {
                max_bytes: limit,
                closing: 0,
            },
            || self.body(batch),
            |body, event, _| body.write_event(event, self),
            |body, events| self.request(body, events),
            |size| {
                format!(
                    "the event's bulk lines are {size} bytes, over the request limit of {limit} bytes (setting max_request_bytes)"
                )
            },
        )
    }

    fn body(&self, batch: &Batch<'_>) -> Body {
        let mut payload = PayloadBuilder::with_capacity(
            batch,
            self.action_start.len() + batch.len() * (self.action_end.len() + PER_EVENT_TEXT),
            batch.len() * PER_EVENT_PIECES,
        );
        Body {
            action_start: payload.write(&self.action_start),
            newline: payload.write(b"\n"),
            payload,
            clock: Rfc3339Clock::default(),
            timestamp: Vec::with_capacity(48),
        }
    }

    /// An empty bulk request: Elasticsearch checks the credential first (401 or 403
    /// when it is refused), then answers 400 "request body is required"; nothing is
    /// indexed.
    pub fn connection_check(&self) -> ConnectionCheck {
        ConnectionCheck {
            query: Query {
                method: "POST".into(),
                path: BULK_PATH.into(),
                headers: headers(),
                body: Vec::new(),
            },
            accepted: vec![200, 400],
            unauthorized: vec![401, 403],
        }
    }

    fn request(&self, body: Body, events: Vec<u32>) -> Request {
        Request::Http(HttpRequest {
            method: "POST".into(),
            path: BULK_PATH.into(),
            headers: headers(),
            body: body.payload.finish(),
            compression: if self.config.gzip {
                Compression::Gzip
            } else {
                Compression::None
            },
            events,
        })
    }
}

fn headers() -> Vec<(String, String)> {
    vec![("Content-Type".into(), "application/x-ndjson".into())]
}

impl split::Body for Body {
    fn payload(&mut self) -> &mut PayloadBuilder {
        &mut self.payload
    }
}

/// A request body being written, with the pieces placed for every event.
struct Body {
    payload: PayloadBuilder,
    action_start: Piece,
    newline: Piece,
    /// The events' `@timestamp` text, a second at a time.
    clock: Rfc3339Clock,
    /// `"@timestamp":"…"` of the event being written, when it gets one.
    timestamp: Vec<u8>,
}

impl Body {
    fn write_event(&mut self, event: &Event<'_>, encoder: &BulkEncoder) {
        let (config, stamp) = (&encoder.config, &encoder.stamp);
        self.payload.push_pieces([self.action_start]);
        if config.event_ids {
            let own = config
                .id_field
                .as_deref()
                .and_then(|path| event.field(path));
            self.payload.push_with(|text| {
                match own {
                    // The field's text, escaped as inside the JSON string it goes in.
                    Some(serde_json::Value::String(own)) if !own.is_empty() => {
                        let mut quoted = Vec::with_capacity(own.len() + 2);
                        write_str(&mut quoted, &own);
                        text.extend_from_slice(&quoted[1..quoted.len() - 1]);
                    }
                    Some(own @ serde_json::Value::Number(_)) => {
                        text.extend_from_slice(own.to_string().as_bytes());
                    }
                    _ => event.id().write_hex(text),
                }
                text.extend_from_slice(&encoder.action_end);
            });
        }
        if let Some(document) = config.schema.map(event) {
            // ECS has `@timestamp`; OCSF has `time`, and a data stream wants both. Asked of
            // the mapping, whatever the place of its `@timestamp`, before the enrichment
            // goes ahead of it (asked after, the answer was always no: two `@timestamp`
            // in every ECS document, which Elasticsearch refuses).
            let add = config.add_timestamp
                && !(encoder.own_members)
                    .find_in_document(&document)
                    .has(OWN_TIMESTAMP);
            let document = stamp.extend_document(event, document);
            self.payload.push_with(|text| {
                if add {
                    text.extend_from_slice(b"{\"@timestamp\":\"");
                    text.extend_from_slice(rfc3339_utc(event.time_ms()).as_bytes());
                    text.extend_from_slice(b"\",");
                    text.extend_from_slice(&document[1..]);
                } else {
                    text.extend_from_slice(&document);
                }
                text.push(b'\n');
            });
            return;
        }
        // `"@timestamp":"..",` and the enrichment ahead of the event's own members.
        let own = if config.add_timestamp || !stamp.is_off() {
            encoder.own_members.find(event.json())
        } else {
            Found::NONE
        };
        self.timestamp.clear();
        if config.add_timestamp && !own.has(OWN_TIMESTAMP) {
            self.timestamp.extend_from_slice(b"\"@timestamp\":\"");
            self.clock.write(&mut self.timestamp, event.time_ms());
            self.timestamp.push(b'"');
        }
        stamp.push_event_after(
            &mut self.payload,
            event,
            &self.timestamp,
            own.has(OWN_STAMP),
        );
        self.payload.push_pieces([self.newline]);
    }
}

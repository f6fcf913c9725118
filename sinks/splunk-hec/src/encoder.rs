//! Stacked HEC envelopes: `{"time":..,"host":..,"source":..,"sourcetype":..,"index":..,
//! "event":{..},"fields":{..}}` back to back, split into requests under the size limit.
//!
//! The parts that are the same for every event are serialized once per instance and
//! written once per request body; per event, the encoder writes only the time and the
//! event's id (the indexed field `sluice_event_id`, by which a redelivered event can be
//! removed: `| dedup sluice_event_id`), and places the event's JSON by its range, as
//! the host validated it, so numbers, key order and non-ASCII text reach Splunk
//! byte-exact, and the event is never copied inside the sandbox.

use sluice_guest::json::write_str;
use sluice_guest::split::{self, BodyLimit};
use sluice_guest::time::EpochSeconds;
use sluice_guest::{
    Batch, Compression, ConnectionCheck, Enrichment, Event, Formatted, HttpRequest, PayloadBuilder,
    Piece, Query, Request, TimeSource,
};

use crate::config::{EventPayload, SplunkHecConfig};

/// Builds HEC requests for the batches of one destination.
#[derive(Debug)]
pub struct HecEncoder {
    config: SplunkHecConfig,
    /// `,"host":..,"source":..,"sourcetype":..,"index":..,"event":`
    metadata: Vec<u8>,
    /// The indexed fields, written around each event's id.
    fields: Option<Fields>,
}

/// `,"fields":{"sluice_event_id":"` + the event's id + the rest of the fields for events
/// whose time came from the event, or for those whose time the host assigned.
#[derive(Debug)]
struct Fields {
    before_id: Vec<u8>,
    after_id_event_time: Vec<u8>,
    after_id_ingest_time: Vec<u8>,
}

/// Bytes of one envelope written per event besides the repeated pieces and the event:
/// `{"time":`, up to 20 characters of time, and the 32 of the id.
const ENVELOPE_TEXT: usize = 60;
/// Pieces of one envelope: the time, the metadata, the event, the fields before the id,
/// the id, the fields after it.
const ENVELOPE_PIECES: usize = 6;

impl HecEncoder {
    pub fn new(config: SplunkHecConfig, enrichment: &Enrichment) -> Self {
        let mut metadata = Vec::with_capacity(128);
        let host = config.host.as_deref().unwrap_or(&enrichment.host_name);
        for (key, value) in [
            ("host", Some(host)),
            ("source", Some(config.source.as_str())),
            ("sourcetype", Some(config.sourcetype.as_str())),
            ("index", config.index.as_deref()),
        ] {
            if let Some(value) = value {
                metadata.extend_from_slice(b",\"");
                metadata.extend_from_slice(key.as_bytes());
                metadata.extend_from_slice(b"\":");
                write_str(&mut metadata, value);
            }
        }
        metadata.extend_from_slice(b",\"event\":");
        HecEncoder {
            fields: config.indexed_fields.then(|| Fields {
                before_id: b",\"fields\":{\"sluice_event_id\":\"".to_vec(),
                after_id_event_time: fields_after_id(enrichment, TimeSource::Event),
                after_id_ingest_time: fields_after_id(enrichment, TimeSource::Ingest),
            }),
            metadata,
            config,
        }
    }

    /// Encodes every event of `batch`; an event whose envelope alone exceeds
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
            |body, event, _| body.write_envelope(event),
            |body, events| self.request(body, events),
            |size| {
                format!(
                    "event envelope is {size} bytes, over the HEC request limit of {limit} bytes (setting max_request_bytes)"
                )
            },
        )
    }

    /// An empty request body with this encoder's repeated pieces written into it.
    fn body(&self, batch: &Batch<'_>) -> Body<'_> {
        let mut payload = PayloadBuilder::with_capacity(
            batch,
            self.metadata.len() + 256 + batch.len() * ENVELOPE_TEXT,
            batch.len() * ENVELOPE_PIECES,
        );
        Body {
            clock: EpochSeconds::default(),
            metadata: payload.write(&self.metadata),
            fields: self.fields.as_ref().map(|fields| FieldPieces {
                before_id: payload.write(&fields.before_id),
                after_id_event_time: payload.write(&fields.after_id_event_time),
                after_id_ingest_time: payload.write(&fields.after_id_ingest_time),
            }),
            end: payload.write(b"}"),
            event: &self.config.payload,
            payload,
        }
    }

    /// A request with an empty body to the event endpoint: HEC checks the token
    /// first (401 or 403 when it is refused: codes 1-4), then answers 400, code 5, "No
    /// data"; no event is indexed. (The health endpoint needs no token, so it would not
    /// test it.)
    pub fn connection_check(&self) -> ConnectionCheck {
        ConnectionCheck {
            query: Query {
                method: "POST".into(),
                path: self.config.path.clone(),
                headers: self.headers(),
                body: Vec::new(),
            },
            accepted: vec![200, 400],
            unauthorized: vec![401, 403],
        }
    }

    /// The headers of every request: its type, and the channel when there is one.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        if let Some(channel) = &self.config.channel {
            headers.push(("X-Splunk-Request-Channel".to_owned(), channel.clone()));
        }
        headers
    }

    fn request(&self, body: Body, events: Vec<u32>) -> Request {
        Request::Http(HttpRequest {
            method: "POST".into(),
            path: self.config.path.clone(),
            headers: self.headers(),
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

impl split::Body for Body<'_> {
    fn payload(&mut self) -> &mut PayloadBuilder {
        &mut self.payload
    }
}

/// A request body being written, with the pieces placed in every envelope.
struct Body<'a> {
    payload: PayloadBuilder,
    clock: EpochSeconds,
    metadata: Piece,
    fields: Option<FieldPieces>,
    /// `}`, the end of an envelope without fields.
    end: Piece,
    /// What the envelope's `event` is.
    event: &'a EventPayload,
}

/// The pieces of [`Fields`], written once per body.
struct FieldPieces {
    before_id: Piece,
    after_id_event_time: Piece,
    after_id_ingest_time: Piece,
}

impl Body<'_> {
    fn write_envelope(&mut self, event: &Event<'_>) {
        let clock = &mut self.clock;
        let time = self.payload.write_with(|text| {
            text.extend_from_slice(b"{\"time\":");
            clock.write(text, event.time_ms());
        });
        // The event as read, placed by range; or its mapping or CEF line, written.
        let body = match self.event {
            EventPayload::Json(schema) => match schema.map(event) {
                Some(document) => self.payload.write(&document),
                None => Piece::event(event),
            },
            EventPayload::Cef(cef) => {
                let line = cef.line(event);
                self.payload.write_with(|text| write_str(text, &line))
            }
        };
        let Some(fields) = &self.fields else {
            let end = self.end;
            self.payload.push_pieces([time, self.metadata, body, end]);
            return;
        };
        let id = self.payload.write_with(|text| event.id().write_hex(text));
        let after_id = match event.time_source() {
            TimeSource::Event => fields.after_id_event_time,
            TimeSource::Ingest => fields.after_id_ingest_time,
        };
        self.payload
            .push_pieces([time, self.metadata, body, fields.before_id, id, after_id]);
    }
}

/// What follows the id in `fields`: HEC index-time fields must be flat, with string
/// values, so the enrichment goes under `sluice_*` keys and tags keep their names.
fn fields_after_id(enrichment: &Enrichment, time_source: TimeSource) -> Vec<u8> {
    let mut fields: Vec<(&str, &str)> = vec![
        ("sluice_host", &enrichment.host_name),
        ("sluice_machine_id", &enrichment.machine_id),
        ("sluice_version", &enrichment.sluice_version),
    ];
    if time_source == TimeSource::Ingest {
        fields.push(("sluice_time_source", "ingest"));
    }
    fields.extend(
        enrichment
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let mut out = b"\"".to_vec();
    for (key, value) in fields.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(b',');
        write_str(&mut out, key);
        out.push(b':');
        write_str(&mut out, value);
    }
    out.extend_from_slice(b"}}");
    out
}

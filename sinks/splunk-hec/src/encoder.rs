//! Stacked HEC envelopes: `{"time":..,"host":..,"source":..,"sourcetype":..,"index":..,
//! "event":{..},"fields":{..}}` back to back, split into requests under the size limit.
//!
//! The parts that are the same for every event are serialized once per instance and
//! written once per request body; per event, the encoder writes only the time, and
//! places the event's JSON by its range, as the host validated it, so numbers, key order
//! and non-ASCII text reach Splunk byte-exact, and the event is never copied inside the
//! sandbox.

use sluice_guest::json::write_str;
use sluice_guest::time::EpochSeconds;
use sluice_guest::{
    Batch, Compression, Enrichment, Event, Formatted, HttpRequest, PayloadBuilder, Piece, Refusal,
    Request, TimeSource,
};

use crate::config::SplunkHecConfig;

/// Builds HEC requests for the batches of one destination.
#[derive(Debug)]
pub struct HecEncoder {
    config: SplunkHecConfig,
    /// `,"host":..,"source":..,"sourcetype":..,"index":..,"event":`
    metadata: Vec<u8>,
    /// `,"fields":{..}}` for events whose time came from the event.
    fields_event_time: Vec<u8>,
    /// The same, also saying the host assigned the time at ingest.
    fields_ingest_time: Vec<u8>,
}

/// Bytes of one envelope written per event besides the repeated pieces and the event:
/// `{"time":` and up to 20 characters of time.
const ENVELOPE_TEXT: usize = 28;
/// Pieces of one envelope: the time, the metadata, the event, the fields.
const ENVELOPE_PIECES: usize = 4;

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
            fields_event_time: fields_suffix(&config, enrichment, TimeSource::Event),
            fields_ingest_time: fields_suffix(&config, enrichment, TimeSource::Ingest),
            metadata,
            config,
        }
    }

    /// Encodes every event of `batch`; an event whose envelope alone exceeds
    /// `max_request_bytes` is refused with the sizes in the reason.
    pub fn encode(&self, batch: &Batch<'_>) -> Formatted {
        let limit = self.config.max_request_bytes;
        let mut formatted = Formatted::default();
        let mut body = self.body(batch);
        let mut events = Vec::with_capacity(batch.len());
        for (index, event) in batch.events().enumerate() {
            // Envelopes are written straight into the body. The rare one that does not
            // fit is taken out and written again into the next request, or refused when
            // it fits none. (One place writes envelopes, so the compiler inlines it.)
            loop {
                let mark = body.payload.mark();
                let start = body.payload.len();
                body.write_envelope(&event);
                let size = body.payload.len() - start;
                if body.payload.len() <= limit {
                    events.push(index as u32);
                } else if size > limit {
                    body.payload.truncate(mark);
                    formatted.refused.push(Refusal {
                        event: index as u32,
                        reason: format!(
                            "event envelope is {size} bytes, over the HEC request limit of {limit} bytes (setting max_request_bytes)"
                        ),
                    });
                } else {
                    body.payload.truncate(mark);
                    let full = std::mem::replace(&mut body, self.body(batch));
                    formatted
                        .requests
                        .push(self.request(full, std::mem::take(&mut events)));
                    continue;
                }
                break;
            }
        }
        if !events.is_empty() {
            formatted.requests.push(self.request(body, events));
        }
        formatted
    }

    /// An empty request body with this encoder's repeated pieces written into it.
    fn body(&self, batch: &Batch<'_>) -> Body {
        let mut payload = PayloadBuilder::with_capacity(
            batch,
            self.metadata.len()
                + self.fields_event_time.len()
                + self.fields_ingest_time.len()
                + batch.len() * ENVELOPE_TEXT,
            batch.len() * ENVELOPE_PIECES,
        );
        Body {
            clock: EpochSeconds::default(),
            metadata: payload.write(&self.metadata),
            fields_event_time: payload.write(&self.fields_event_time),
            fields_ingest_time: payload.write(&self.fields_ingest_time),
            payload,
        }
    }

    fn request(&self, body: Body, events: Vec<u32>) -> Request {
        let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        if let Some(channel) = &self.config.channel {
            headers.push(("X-Splunk-Request-Channel".to_owned(), channel.clone()));
        }
        Request::Http(HttpRequest {
            method: "POST".into(),
            path: self.config.path.clone(),
            headers,
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

/// A request body being written, with the pieces placed in every envelope.
struct Body {
    payload: PayloadBuilder,
    clock: EpochSeconds,
    metadata: Piece,
    fields_event_time: Piece,
    fields_ingest_time: Piece,
}

impl Body {
    fn write_envelope(&mut self, event: &Event<'_>) {
        let clock = &mut self.clock;
        let time = self.payload.write_with(|text| {
            text.extend_from_slice(b"{\"time\":");
            clock.write(text, event.time_ms());
        });
        let fields = match event.time_source() {
            TimeSource::Event => self.fields_event_time,
            TimeSource::Ingest => self.fields_ingest_time,
        };
        self.payload
            .push_pieces([time, self.metadata, Piece::event(event), fields]);
    }
}

/// `,"fields":{...}}` (or just `}`): HEC index-time fields must be flat, with string
/// values, so the enrichment goes under `sluice_*` keys and tags keep their names.
fn fields_suffix(
    config: &SplunkHecConfig,
    enrichment: &Enrichment,
    time_source: TimeSource,
) -> Vec<u8> {
    if !config.indexed_fields {
        return b"}".to_vec();
    }
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
    let mut out = b",\"fields\":{".to_vec();
    for (position, (key, value)) in fields.iter().filter(|(_, v)| !v.is_empty()).enumerate() {
        if position > 0 {
            out.push(b',');
        }
        write_str(&mut out, key);
        out.push(b':');
        write_str(&mut out, value);
    }
    out.extend_from_slice(b"}}");
    out
}

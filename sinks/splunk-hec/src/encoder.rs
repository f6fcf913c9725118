//! Stacked HEC envelopes: `{"time":..,"host":..,"source":..,"sourcetype":..,"index":..,
//! "event":{..},"fields":{..}}` back to back, split into requests under the size limit.
//!
//! The parts that are the same for every event of a batch are serialized once; per
//! event, the encoder writes the time and copies the event's JSON as the host validated
//! it, so numbers, key order and non-ASCII text reach Splunk byte-exact.

use sluice_guest::json::write_str;
use sluice_guest::time::write_epoch_seconds;
use sluice_guest::{
    Batch, Compression, Enrichment, Event, Formatted, HttpRequest, Refusal, Request, TimeSource,
};

use crate::config::SplunkHecConfig;

/// Builds HEC requests for batches of one destination.
pub struct HecEncoder<'a> {
    config: &'a SplunkHecConfig,
    /// `,"host":..,"source":..,"sourcetype":..,"index":..,"event":`
    metadata: Vec<u8>,
    /// `,"fields":{..}}` for events whose time came from the event.
    fields_event_time: Vec<u8>,
    /// The same, also saying the host assigned the time at ingest.
    fields_ingest_time: Vec<u8>,
}

impl<'a> HecEncoder<'a> {
    pub fn new(config: &'a SplunkHecConfig, enrichment: &Enrichment) -> Self {
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
            config,
            metadata,
            fields_event_time: fields_suffix(config, enrichment, TimeSource::Event),
            fields_ingest_time: fields_suffix(config, enrichment, TimeSource::Ingest),
        }
    }

    /// Encodes every event of `batch`; an event whose envelope alone exceeds
    /// `max_request_bytes` is refused with the sizes in the reason.
    pub fn encode(&self, batch: &Batch) -> Formatted {
        let limit = self.config.max_request_bytes;
        let mut formatted = Formatted::default();
        // Sized for the whole batch up front (time digits at most 20 bytes), so the body
        // never grows by copying.
        let per_event =
            b"{\"time\":".len() + 20 + self.metadata.len() + self.fields_ingest_time.len();
        let mut body = Vec::with_capacity(limit.min(batch.data_len() + batch.len() * per_event));
        let mut events = Vec::with_capacity(batch.len());
        for (index, event) in batch.events().enumerate() {
            // Envelopes are written straight into the body; the rare one that does not
            // fit is moved to the next request, or refused when it fits none.
            let start = body.len();
            self.write_envelope(&mut body, &event);
            let size = body.len() - start;
            if size > limit {
                body.truncate(start);
                formatted.refused.push(Refusal {
                    event: index as u32,
                    reason: format!(
                        "event envelope is {size} bytes, over the HEC request limit of {limit} bytes (setting max_request_bytes)"
                    ),
                });
                continue;
            }
            if body.len() > limit {
                let envelope = body.split_off(start);
                formatted.requests.push(self.request(
                    std::mem::replace(&mut body, envelope),
                    std::mem::take(&mut events),
                ));
            }
            events.push(index as u32);
        }
        if !events.is_empty() {
            formatted.requests.push(self.request(body, events));
        }
        formatted
    }

    fn write_envelope(&self, out: &mut Vec<u8>, event: &Event<'_>) {
        out.extend_from_slice(b"{\"time\":");
        write_epoch_seconds(out, event.time_ms());
        out.extend_from_slice(&self.metadata);
        out.extend_from_slice(event.json_bytes());
        match event.time_source() {
            TimeSource::Event => out.extend_from_slice(&self.fields_event_time),
            TimeSource::Ingest => out.extend_from_slice(&self.fields_ingest_time),
        }
    }

    fn request(&self, body: Vec<u8>, events: Vec<u32>) -> Request {
        let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        if let Some(channel) = &self.config.channel {
            headers.push(("X-Splunk-Request-Channel".to_owned(), channel.clone()));
        }
        Request::Http(HttpRequest {
            method: "POST".into(),
            path: self.config.path.clone(),
            headers,
            body,
            compression: if self.config.gzip {
                Compression::Gzip
            } else {
                Compression::None
            },
            events,
        })
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

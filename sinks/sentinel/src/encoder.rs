//! Logs Ingestion bodies: a JSON array of the events, each with the time field (the
//! event time, RFC 3339 with milliseconds) written ahead of its own fields, unless the
//! event has a field of that name; the event's own bytes are placed by range.

use sluice_guest::json::{MemberProbe, write_str};
use sluice_guest::split::{self, BodyLimit};
use sluice_guest::time::rfc3339_utc;
use sluice_guest::{
    Batch, Compression, ConnectionCheck, Event, Formatted, HttpRequest, PayloadBuilder, Query,
    Request,
};

use sluice_guest::enrich::{self, Stamp};

use crate::config::{Api, SentinelConfig};

/// The probe's keys: the enrichment's member, which an event's own replaces, and the
/// time column, which the encoder adds to an event without one.
const OWN_STAMP: usize = 0;
const OWN_TIME: usize = 1;

#[derive(Debug)]
pub struct IngestionEncoder {
    config: SentinelConfig,
    path: String,
    /// `"TimeGenerated"`, as it appears in JSON text.
    time_key: String,
    /// Finds, in one pass, the members an event may have of its own: [`OWN_STAMP`]
    /// and [`OWN_TIME`].
    own_members: MemberProbe,
    /// The host's enrichment, a `sluice` column of each row.
    stamp: Stamp,
}

impl IngestionEncoder {
    /// The same, the host's enrichment in each row.
    pub fn stamped(self, stamp: Stamp) -> Self {
        IngestionEncoder { stamp, ..self }
    }

    pub fn new(config: SentinelConfig) -> Self {
        let path = match &config.api {
            Api::LogsIngestion {
                dcr_immutable_id,
                stream,
            } => format!(
                "/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version={}",
                config.api_version
            ),
            Api::DataCollector { .. } => {
                format!("/api/logs?api-version={}", config.api_version)
            }
        };
        let mut key = Vec::new();
        write_str(&mut key, &config.time_field);
        IngestionEncoder {
            path,
            time_key: String::from_utf8(key).expect("JSON text"),
            own_members: MemberProbe::of(&[enrich::MEMBER, &config.time_field]),
            config,
            stamp: Stamp::off(),
        }
    }

    /// Encodes every event of `batch` in calls under the size limit; an event too big
    /// for a call alone is refused with its size.
    pub fn encode(&self, batch: &Batch<'_>) -> Formatted {
        let limit = self.config.max_request_bytes;
        split::fill(
            batch,
            BodyLimit {
                max_bytes: limit,
                closing: 1,
            },
            || {
                let mut payload =
                    PayloadBuilder::with_capacity(batch, 64 * batch.len(), 3 * batch.len() + 2);
                payload.push(b"[");
                Body(payload)
            },
            |Body(payload), event, first| {
                if !first {
                    payload.push(b",");
                }
                self.write_event(payload, event);
            },
            |body, events| self.request(body, events),
            |size| {
                format!(
                    "the event is {size} bytes in JSON, over the call limit of {limit} bytes (setting max_request_bytes; the API takes 1 MB)"
                )
            },
        )
    }

    fn write_event(&self, payload: &mut PayloadBuilder, event: &Event<'_>) {
        // A schema's row: the time column ahead of the document's own members, unless
        // the document has that column.
        if let Some(document) = self.config.schema.map(event) {
            let document = self.stamp.extend_document(event, document);
            let has_time = self.own_members.find_in_document(&document).has(OWN_TIME);
            payload.push_with(|text| {
                if has_time {
                    text.extend_from_slice(&document);
                    return;
                }
                text.push(b'{');
                text.extend_from_slice(self.time_key.as_bytes());
                text.extend_from_slice(b":\"");
                text.extend_from_slice(rfc3339_utc(event.time_ms()).as_bytes());
                text.extend_from_slice(b"\",");
                text.extend_from_slice(&document[1..]);
            });
            return;
        }
        // The time column and the enrichment ahead of the event's own members.
        let own = self.own_members.find(event.json());
        let time = match own.has(OWN_TIME) {
            true => String::new(),
            false => format!("{}:\"{}\"", self.time_key, rfc3339_utc(event.time_ms())),
        };
        self.stamp
            .push_event_after(payload, event, time.as_bytes(), own.has(OWN_STAMP));
    }

    fn request(&self, Body(mut payload): Body, events: Vec<u32>) -> Request {
        payload.push(b"]");
        Request::Http(HttpRequest {
            method: "POST".into(),
            path: self.path.clone(),
            headers: self.headers(),
            body: payload.finish(),
            compression: if self.config.gzip {
                Compression::Gzip
            } else {
                Compression::None
            },
            events,
        })
    }
}

impl IngestionEncoder {
    /// What `sluice check --connect` sends: a call of no rows (`[]`) to the same path,
    /// with the credential (the host obtains the OAuth2 token first, or signs the call).
    /// The Logs Ingestion API answers an accepted call 204; a 400 to an empty call comes
    /// after the token was taken (how Azure answers an empty array is not documented:
    /// UNCONFIRMED, so both mean "reached, credential taken"). 401 and 403 are a token
    /// or signature refused, or a role not assigned on the rule; 404 a wrong rule or
    /// stream, said as an unexpected answer.
    pub fn connection_check(&self) -> ConnectionCheck {
        let accepted = match self.config.api {
            Api::LogsIngestion { .. } => vec![200, 204, 400],
            Api::DataCollector { .. } => vec![200],
        };
        ConnectionCheck {
            query: Query {
                method: "POST".into(),
                path: self.path.clone(),
                headers: self.headers(),
                body: b"[]".to_vec(),
            },
            accepted,
            unauthorized: vec![401, 403],
        }
    }

    /// The Data Collector API also takes the log type and the field that holds the time.
    fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("Content-Type".into(), "application/json".into())];
        if let Api::DataCollector { log_type } = &self.config.api {
            headers.push(("Log-Type".into(), log_type.clone()));
            headers.push((
                "time-generated-field".into(),
                self.config.time_field.clone(),
            ));
        }
        headers
    }
}

/// A call's body: a JSON array being written.
struct Body(PayloadBuilder);

impl split::Body for Body {
    fn payload(&mut self) -> &mut PayloadBuilder {
        &mut self.0
    }
}

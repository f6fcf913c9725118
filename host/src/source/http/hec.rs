//! Splunk HEC's side of the HTTP source: its envelopes made events, its answers (HTTP
//! status and `{"text", "code"}`) as Splunk gives them, so that a client written for
//! HEC sends to Sluice by changing a URL.
//!
//! An envelope's `event` is the event when it is a JSON object; HEC's metadata
//! (`host`, `source`, `sourcetype`, `index`, `fields`, `time`) is added to it as a
//! `hec` member, and `time` also as the event's own `time` when it has none (so that
//! the event's time is the one the producer gave). An `event` that is not an object,
//! or an object with a `hec` member of its own, becomes `{"event": ..., "hec": ...}`:
//! nothing the producer sent is replaced.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::super::compact_json as compact;

/// A HEC answer: the HTTP status and HEC's code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub code: u16,
    pub text: &'static str,
}

pub const SUCCESS: Answer = answer(StatusCode::OK, 0, "Success");
pub const TOKEN_REQUIRED: Answer = answer(StatusCode::UNAUTHORIZED, 2, "Token is required");
pub const INVALID_AUTHORIZATION: Answer =
    answer(StatusCode::UNAUTHORIZED, 3, "Invalid authorization");
pub const INVALID_TOKEN: Answer = answer(StatusCode::FORBIDDEN, 4, "Invalid token");
pub const NO_DATA: Answer = answer(StatusCode::BAD_REQUEST, 5, "No data");
pub const INVALID_DATA_FORMAT: Answer = answer(StatusCode::BAD_REQUEST, 6, "Invalid data format");
pub const SERVER_BUSY: Answer = answer(StatusCode::SERVICE_UNAVAILABLE, 9, "Server is busy");
pub const EVENT_REQUIRED: Answer = answer(StatusCode::BAD_REQUEST, 12, "Event field is required");
pub const EVENT_BLANK: Answer = answer(StatusCode::BAD_REQUEST, 13, "Event field cannot be blank");
pub const ACK_DISABLED: Answer = answer(StatusCode::BAD_REQUEST, 14, "ACK is disabled");
pub const BAD_FIELDS: Answer = answer(
    StatusCode::BAD_REQUEST,
    15,
    "Error in handling indexed fields",
);
pub const HEALTHY: Answer = answer(StatusCode::OK, 17, "HEC is healthy");
pub const UNHEALTHY: Answer = answer(
    StatusCode::SERVICE_UNAVAILABLE,
    18,
    "HEC is unhealthy, queues are full",
);
pub const TOO_LARGE: Answer = answer(StatusCode::PAYLOAD_TOO_LARGE, 413, "Content too large");
pub const UNSUPPORTED_ENCODING: Answer = answer(
    StatusCode::UNSUPPORTED_MEDIA_TYPE,
    415,
    "Unsupported content encoding",
);

const fn answer(status: StatusCode, code: u16, text: &'static str) -> Answer {
    Answer { status, code, text }
}

impl Answer {
    /// The answer, with `invalid-event-number` when an envelope was refused.
    pub fn respond(self, invalid_event: Option<usize>) -> Response {
        let mut body = serde_json::json!({ "text": self.text, "code": self.code });
        if let Some(number) = invalid_event {
            body["invalid-event-number"] = number.into();
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, super::RETRY_AFTER.into());
        }
        response
    }
}

/// One `/event` envelope as sent: its event and HEC's metadata (or a `/raw`
/// request's metadata, from its query), kept as sent.
#[derive(Debug, Default, Deserialize)]
pub struct Metadata<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
    #[serde(borrow)]
    host: Option<&'a RawValue>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    sourcetype: Option<&'a RawValue>,
    #[serde(borrow)]
    index: Option<&'a RawValue>,
    #[serde(borrow)]
    fields: Option<&'a RawValue>,
}

/// A member that is there, `null` included (HEC refuses a `null` event as invalid,
/// one without an event as missing).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Whether an event object has members the metadata would be written over.
#[derive(Deserialize)]
struct Members {
    time: Option<IgnoredAny>,
    hec: Option<IgnoredAny>,
}

/// The first envelope of a body that HEC would refuse.
#[derive(Debug)]
pub struct Refused<'a> {
    pub answer: Answer,
    /// 0-based, as HEC's `invalid-event-number`.
    pub number: usize,
    /// The envelope as sent (the rest of the body when it is not JSON), at most
    /// [`KEPT_BYTES`].
    pub text: &'a [u8],
}

/// Bytes of a refused envelope kept for the dead-letter store.
const KEPT_BYTES: usize = 64 * 1024;

/// The events of a `/event` body, one JSON text each, in order; at the first envelope
/// HEC would refuse, why, with the events before it.
pub fn envelopes(body: &[u8]) -> (Vec<String>, Option<Refused<'_>>) {
    let mut events = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<&RawValue>();
    for number in 0.. {
        let start = stream.byte_offset();
        let Some(envelope) = stream.next() else {
            break;
        };
        let made = match envelope {
            Ok(envelope) => {
                event(envelope.get()).map_err(|answer| (answer, envelope.get().as_bytes()))
            }
            Err(_) => Err((INVALID_DATA_FORMAT, &body[start..])),
        };
        match made {
            Ok(event) => events.push(event),
            Err((answer, text)) => {
                let text = &text[..text.len().min(KEPT_BYTES)];
                return (
                    events,
                    Some(Refused {
                        answer,
                        number,
                        text,
                    }),
                );
            }
        }
    }
    (events, None)
}

/// The event one envelope makes, or why HEC refuses it.
fn event(envelope: &str) -> Result<String, Answer> {
    let envelope: Metadata<'_> = serde_json::from_str(envelope).map_err(|_| INVALID_DATA_FORMAT)?;
    let event = envelope.event.ok_or(EVENT_REQUIRED)?;
    match event.get() {
        "null" | "false" => return Err(INVALID_DATA_FORMAT),
        text if text.starts_with('"') => {
            let string: String = serde_json::from_str(text).map_err(|_| INVALID_DATA_FORMAT)?;
            if string.trim().is_empty() {
                return Err(EVENT_BLANK);
            }
        }
        _ => {}
    }
    if let Some(fields) = envelope.fields
        && !flat_fields(fields)
    {
        return Err(BAD_FIELDS);
    }
    Ok(with_metadata(event.get(), &envelope))
}

/// HEC's indexed fields: an object of strings or arrays of strings.
fn flat_fields(fields: &RawValue) -> bool {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Field {
        One(#[allow(dead_code)] String),
        Many(#[allow(dead_code)] Vec<String>),
    }
    serde_json::from_str::<std::collections::HashMap<String, Field>>(fields.get()).is_ok()
}

/// `event` (a JSON text) with `metadata` added, on one line.
pub fn with_metadata(event: &str, metadata: &Metadata<'_>) -> String {
    let event = match event.contains(['\n', '\r']) {
        true => compact(event),
        false => event.to_owned(),
    };
    let mut hec = Vec::new();
    let named = [
        ("time", metadata.time),
        ("host", metadata.host),
        ("source", metadata.source),
        ("sourcetype", metadata.sourcetype),
        ("index", metadata.index),
        ("fields", metadata.fields),
    ];
    for (name, value) in named {
        if let Some(value) = value {
            hec.push(format!("\"{name}\":{}", compact(value.get())));
        }
    }
    let members = event
        .starts_with('{')
        .then(|| serde_json::from_str::<Members>(&event).ok())
        .flatten();
    if hec.is_empty() {
        // An object is the event as it is; anything else is wrapped, to be one.
        return match members {
            Some(_) => event,
            None => format!("{{\"event\":{event}}}"),
        };
    }
    let hec = format!("\"hec\":{{{}}}", hec.join(","));
    match members {
        Some(members) if members.hec.is_none() => {
            let time = match (metadata.time, members.time) {
                (Some(time), None) => format!("\"time\":{},", compact(time.get())),
                _ => String::new(),
            };
            let inner = event[1..event.len() - 1].trim();
            let separator = if inner.is_empty() { "" } else { "," };
            format!("{{{inner}{separator}{time}{hec}}}")
        }
        _ => {
            let time = match metadata.time {
                Some(time) => format!("\"time\":{},", compact(time.get())),
                None => String::new(),
            };
            format!("{{\"event\":{event},{time}{hec}}}")
        }
    }
}

/// The metadata of a `/raw` request, from its query string (`host`, `source`,
/// `sourcetype`, `index`, `time`), as JSON texts.
pub fn query_metadata(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| matches!(&**key, "host" | "source" | "sourcetype" | "index" | "time"))
        .map(|(key, value)| {
            let json = serde_json::to_string(&*value).expect("a string");
            (key.into_owned(), json)
        })
        .collect()
}

/// The event one line of a `/raw` body makes: a JSON object as it is, anything else as
/// `{"message": line}`; with the query's metadata added.
pub fn raw_event(line: &str, query: &[(String, String)]) -> String {
    let line = line.trim_end_matches('\r');
    let is_object =
        line.trim_start().starts_with('{') && serde_json::from_str::<IgnoredAny>(line).is_ok();
    let event = match is_object {
        true => line.to_owned(),
        false => format!(
            "{{\"message\":{}}}",
            serde_json::to_string(line).expect("a string")
        ),
    };
    let raw: Vec<(&str, Box<RawValue>)> = query
        .iter()
        .filter_map(|(key, json)| Some((key.as_str(), RawValue::from_string(json.clone()).ok()?)))
        .collect();
    let get = |name: &str| {
        raw.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| &**value)
    };
    let metadata = Metadata {
        event: None,
        time: get("time"),
        host: get("host"),
        source: get("source"),
        sourcetype: get("sourcetype"),
        index: get("index"),
        fields: None,
    };
    with_metadata(&event, &metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_become_events_with_their_metadata() {
        let body = br#"{"time":1714566896.789,"host":"h1","index":"audit","event":{"action":"login","user":"bob"}}
{"event":"plain string event","fields":{"env":"prod","team":["a","b"]}}{"event":{"hec":1}}"#;
        let (events, refused) = envelopes(body);
        assert!(refused.is_none());
        assert_eq!(
            events,
            [
                r#"{"action":"login","user":"bob","time":1714566896.789,"hec":{"time":1714566896.789,"host":"h1","index":"audit"}}"#,
                r#"{"event":"plain string event","hec":{"fields":{"env":"prod","team":["a","b"]}}}"#,
                r#"{"hec":1}"#,
            ]
        );
    }

    #[test]
    fn an_event_that_is_not_an_object_is_wrapped_to_be_one() {
        let (events, _) = envelopes(br#"{"event":"hello"}{"event":1}{"event":[1]}"#);
        assert_eq!(
            events,
            [r#"{"event":"hello"}"#, r#"{"event":1}"#, r#"{"event":[1]}"#]
        );
    }

    #[test]
    fn an_event_with_its_own_time_or_hec_member_keeps_them() {
        let (events, _) =
            envelopes(br#"{"time":5,"event":{"time":"t"}}{"host":"h","event":{"hec":"mine"}}"#);
        assert_eq!(
            events,
            [
                r#"{"time":"t","hec":{"time":5}}"#,
                r#"{"event":{"hec":"mine"},"hec":{"host":"h"}}"#
            ]
        );
    }

    #[test]
    fn the_first_envelope_hec_refuses_ends_the_body_with_its_code_and_number() {
        let cases: [(&[u8], Answer); 6] = [
            (br#"{"event":{"a":1}}{"host":"h"}"#, EVENT_REQUIRED),
            (br#"{"event":{"a":1}}{"event":"  "}"#, EVENT_BLANK),
            (br#"{"event":{"a":1}}{"event":null}"#, INVALID_DATA_FORMAT),
            (
                br#"{"event":{"a":1}}{"event":"x","fields":{"n":{"x":1}}}"#,
                BAD_FIELDS,
            ),
            (br#"{"event":{"a":1}}{"event":"x""#, INVALID_DATA_FORMAT),
            (br#"{"event":{"a":1}}[1]"#, INVALID_DATA_FORMAT),
        ];
        for (body, expected) in cases {
            let (events, refused) = envelopes(body);
            assert_eq!(events, [r#"{"a":1}"#], "{}", String::from_utf8_lossy(body));
            let refused = refused.map(|r| (r.answer, r.number));
            assert_eq!(
                refused,
                Some((expected, 1)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn raw_lines_are_objects_or_messages_with_the_query_metadata() {
        let query = query_metadata("sourcetype=app%20log&channel=x&host=h");
        assert_eq!(
            raw_event("{\"a\":1}", &query),
            r#"{"a":1,"hec":{"host":"h","sourcetype":"app log"}}"#
        );
        assert_eq!(
            raw_event("a \"quoted\" line\r", &[]),
            r#"{"message":"a \"quoted\" line"}"#
        );
    }
}

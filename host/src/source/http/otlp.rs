//! OTLP/HTTP logs (`POST /v1/logs`, protobuf or JSON, as OpenTelemetry's exporters
//! send them): each log record made an event, the answer an `ExportLogsServiceResponse`
//! in the request's encoding, with a partial success naming the records not taken.
//!
//! A record's event: `time` (RFC 3339, from `timeUnixNano`, else the observed time),
//! `observed_time`, `severity_text`, `severity_number`, `body` (OTLP's `AnyValue` as
//! plain JSON: a map is an object, bytes are base64), `attributes`, `resource` (the
//! resource's attributes), `scope` (`name`, `version`, `attributes`), `trace_id` and
//! `span_id` (hex), `flags`, `event_name`; each only when the record has it.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;
use serde_json::{Map, Value};

/// How a request's body and its answer are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding `headers` say, if OTLP has it.
    pub fn of(headers: &HeaderMap) -> Option<Encoding> {
        let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let media = content_type.split(';').next()?.trim();
        match media.to_ascii_lowercase().as_str() {
            "application/x-protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The events of a request's log records, in order, each one line of JSON.
pub fn events(body: &[u8], encoding: Encoding) -> Result<Vec<String>, String> {
    let request = match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body)
            .map_err(|e| format!("not an OTLP ExportLogsServiceRequest in protobuf: {e}"))?,
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|e| format!("not an OTLP ExportLogsServiceRequest in JSON: {e}"))?,
    };
    let mut events = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs
            .resource
            .as_ref()
            .map(|resource| attributes(&resource.attributes));
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_logs.scope.as_ref().and_then(|scope| {
                let mut object = Map::new();
                put(&mut object, "name", text(&scope.name));
                put(&mut object, "version", text(&scope.version));
                put(
                    &mut object,
                    "attributes",
                    non_empty(attributes(&scope.attributes)),
                );
                (!object.is_empty()).then_some(Value::Object(object))
            });
            for record in &scope_logs.log_records {
                events.push(event(record, resource.clone(), scope.clone()));
            }
        }
    }
    Ok(events)
}

/// One record's event.
fn event(record: &LogRecord, resource: Option<Value>, scope: Option<Value>) -> String {
    let mut event = Map::new();
    let time = match record.time_unix_nano {
        0 => record.observed_time_unix_nano,
        time => time,
    };
    put(&mut event, "time", rfc3339(time));
    put(
        &mut event,
        "observed_time",
        rfc3339(record.observed_time_unix_nano),
    );
    put(&mut event, "severity_text", text(&record.severity_text));
    put(
        &mut event,
        "severity_number",
        (record.severity_number != 0).then(|| record.severity_number.into()),
    );
    put(&mut event, "body", record.body.as_ref().map(json));
    put(
        &mut event,
        "attributes",
        non_empty(attributes(&record.attributes)),
    );
    put(&mut event, "resource", resource.and_then(non_empty));
    put(&mut event, "scope", scope);
    put(&mut event, "trace_id", hex(&record.trace_id));
    put(&mut event, "span_id", hex(&record.span_id));
    put(
        &mut event,
        "flags",
        (record.flags != 0).then(|| record.flags.into()),
    );
    put(&mut event, "event_name", text(&record.event_name));
    Value::Object(event).to_string()
}

fn put(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value);
    }
}

fn text(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| text.into())
}

fn non_empty(value: Value) -> Option<Value> {
    match &value {
        Value::Object(object) if object.is_empty() => None,
        _ => Some(value),
    }
}

fn hex(bytes: &[u8]) -> Option<Value> {
    (!bytes.is_empty()).then(|| {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into()
    })
}

fn rfc3339(nanos: u64) -> Option<Value> {
    if nanos == 0 {
        return None;
    }
    let time = jiff::Timestamp::from_nanosecond(i128::from(nanos)).ok()?;
    Some(time.to_string().into())
}

fn attributes(attributes: &[KeyValue]) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, json)))
            .collect(),
    )
}

/// OTLP's `AnyValue` as plain JSON.
fn json(value: &AnyValue) -> Value {
    use any_value::Value as Any;
    match &value.value {
        None => Value::Null,
        Some(Any::StringValue(text)) => text.as_str().into(),
        Some(Any::BoolValue(flag)) => (*flag).into(),
        Some(Any::IntValue(number)) => (*number).into(),
        Some(Any::DoubleValue(number)) => {
            serde_json::Number::from_f64(*number).map_or(Value::Null, Value::Number)
        }
        Some(Any::ArrayValue(array)) => Value::Array(array.values.iter().map(json).collect()),
        Some(Any::KvlistValue(list)) => attributes(&list.values),
        Some(Any::BytesValue(bytes)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into()
        }
        // A reference into a dictionary this request format does not carry.
        Some(Any::StringValueStrindex(index)) => (*index).into(),
    }
}

/// 200 with the response, naming `rejected` records (and why) as a partial success.
pub fn answer(encoding: Encoding, rejected: usize, why: &str) -> Response {
    let response = ExportLogsServiceResponse {
        partial_success: (rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejected as i64,
            error_message: why.to_owned(),
        }),
    };
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        // `{}` for a full success: the field left out, as OTLP's JSON writes it.
        Encoding::Json => match &response.partial_success {
            Some(_) => serde_json::to_vec(&response).expect("a response serializes"),
            None => b"{}".to_vec(),
        },
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

/// `google.rpc.Status`, the body of an OTLP error.
#[derive(Clone, PartialEq, Message, serde::Serialize)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An error answer: `status`, and a `Status` saying why in the request's encoding.
pub fn error(encoding: Encoding, status: StatusCode, why: &str) -> Response {
    let body = Status {
        // gRPC's codes: INVALID_ARGUMENT, UNAVAILABLE, UNAUTHENTICATED, else UNKNOWN.
        code: match status.as_u16() {
            400 | 413 | 415 => 3,
            503 => 14,
            401 => 16,
            _ => 2,
        },
        message: why.to_owned(),
    };
    let bytes = match encoding {
        Encoding::Protobuf => body.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&body).expect("a status serializes"),
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, encoding.content_type())],
        bytes,
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, super::RETRY_AFTER.into());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_request_s_records_become_events() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"vault"}}]},
          "scopeLogs":[{"scope":{"name":"audit"},"logRecords":[
            {"timeUnixNano":"1765015200000000000","severityNumber":9,"severityText":"INFO",
             "body":{"kvlistValue":{"values":[{"key":"action","value":{"stringValue":"secret.read"}},{"key":"n","value":{"intValue":"7"}}]}},
             "attributes":[{"key":"user","value":{"stringValue":"bob"}}],
             "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"},
            {"observedTimeUnixNano":"1765015201000000000","body":{"stringValue":"plain"}}]}]}]}"#;
        let events: Vec<Value> = events(body, Encoding::Json)
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        assert_eq!(
            events[0],
            serde_json::json!({
                "time": "2025-12-06T10:00:00Z",
                "severity_text": "INFO",
                "severity_number": 9,
                "body": {"action": "secret.read", "n": 7},
                "attributes": {"user": "bob"},
                "resource": {"service.name": "vault"},
                "scope": {"name": "audit"},
                "trace_id": "5b8efff798038103d269b633813fc60c",
                "span_id": "eee19b7ec3c1b174",
            })
        );
        assert_eq!(events[1]["time"], "2025-12-06T10:00:01Z");
        assert_eq!(events[1]["body"], "plain");
    }

    #[test]
    fn a_protobuf_request_reads_as_its_json_twin() {
        let request: ExportLogsServiceRequest = serde_json::from_str(
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1765015200000000000","body":{"stringValue":"x"}}]}]}]}"#,
        )
        .unwrap();
        let protobuf = events(&request.encode_to_vec(), Encoding::Protobuf).unwrap();
        assert_eq!(protobuf, [r#"{"body":"x","time":"2025-12-06T10:00:00Z"}"#]);
        assert!(events(b"\x0a\xff", Encoding::Protobuf).is_err());
    }
}

//! A strict Elasticsearch `_bulk` endpoint, as Elastic documents it:
//! API key or Basic auth (401 `security_exception` otherwise), the NDJSON content type,
//! gzip, `http.max_content_length` (413), the final newline (400
//! `illegal_argument_exception`), action lines of one known action, a source line after
//! each, documents that are objects without a field named twice (Elasticsearch's JSON
//! parser detects duplicates strictly since 6.0), data streams (`logs-*`) that take only `create`
//! and need `@timestamp`, `create` on an existing `_id` (409
//! `version_conflict_engine_exception`), and answers item by item in request order.
//!
//! Tests can make it reject the next N writes of some documents with 429
//! (`es_rejected_execution_exception`) and refuse documents marked `"poison": true`
//! (400 `mapper_parsing_exception`).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What the endpoint accepts as credentials: the value after `ApiKey ` or `Basic `.
#[derive(Debug, Clone)]
pub enum EsAuth {
    ApiKey(String),
    Basic(String),
}

#[derive(Debug, Default)]
struct Recorded {
    /// Documents by (index, _id), with how many times each was written.
    documents: HashMap<(String, String), (Value, usize)>,
    requests: usize,
    /// Documents (by their `n`) whose next writes are rejected with 429, and how many.
    throttled: HashMap<u64, usize>,
    next_auto_id: u64,
}

#[derive(Clone)]
struct Shared {
    auth: Arc<EsAuth>,
    max_content_length: usize,
    recorded: Arc<Mutex<Recorded>>,
}

pub struct EsReceiver {
    endpoint: String,
    shared: Shared,
}

impl EsReceiver {
    pub async fn start(auth: EsAuth) -> Self {
        let shared = Shared {
            auth: Arc::new(auth),
            max_content_length: 100 << 20,
            recorded: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/_bulk", axum::routing::post(bulk_default))
            .route("/{target}/_bulk", axum::routing::post(bulk_target))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        EsReceiver {
            endpoint: format!("http://{addr}"),
            shared,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Rejects the next `times` writes of the document whose `n` is `n` with 429.
    pub fn throttle(&self, n: u64, times: usize) {
        self.shared
            .recorded
            .lock()
            .unwrap()
            .throttled
            .insert(n, times);
    }

    /// The documents stored in `index`, each with how many times it was written.
    pub fn documents(&self, index: &str) -> Vec<(String, Value, usize)> {
        let recorded = self.shared.recorded.lock().unwrap();
        recorded
            .documents
            .iter()
            .filter(|((i, _), _)| i == index)
            .map(|((_, id), (doc, writes))| (id.clone(), doc.clone(), *writes))
            .collect()
    }

    pub fn requests(&self) -> usize {
        self.shared.recorded.lock().unwrap().requests
    }
}

/// A top-level field of the JSON object `source` that appears twice, keys compared
/// decoded.
fn field_named_twice(source: &[u8]) -> Option<String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut twice = None;
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                if !seen.insert(key.clone()) {
                    twice.get_or_insert(key);
                }
            }
            Ok(twice)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(source);
    serde::Deserializer::deserialize_map(&mut deserializer, Keys).ok()?
}

fn error(status: StatusCode, kind: &str, reason: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"type": kind, "reason": reason}, "status": status.as_u16()})),
    )
        .into_response()
}

async fn bulk_default(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    bulk(shared, None, headers, body)
}

async fn bulk_target(
    State(shared): State<Shared>,
    Path(target): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(shared, Some(target), headers, body)
}

fn bulk(shared: Shared, target: Option<String>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    shared.recorded.lock().unwrap().requests += 1;
    let authorized = match (&*shared.auth, header("authorization")) {
        (EsAuth::ApiKey(key), Some(value)) => value.strip_prefix("ApiKey ") == Some(key),
        (EsAuth::Basic(pair), Some(value)) => value.strip_prefix("Basic ") == Some(pair),
        (_, None) => false,
    };
    if !authorized {
        return error(
            StatusCode::UNAUTHORIZED,
            "security_exception",
            "unable to authenticate with provided credentials",
        );
    }
    let content_type = header("content-type").unwrap_or("");
    if !content_type.starts_with("application/x-ndjson")
        && !content_type.starts_with("application/json")
    {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            "media_type_header_exception",
            &format!("Content-Type header [{content_type}] is not supported"),
        );
    }
    let body = match header("content-encoding") {
        None => body.to_vec(),
        Some("gzip") => {
            let mut plain = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .is_err()
            {
                return error(StatusCode::BAD_REQUEST, "parse_exception", "bad gzip");
            }
            plain
        }
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("unsupported Content-Encoding {other}"),
            );
        }
    };
    if body.len() > shared.max_content_length {
        return (StatusCode::PAYLOAD_TOO_LARGE, "").into_response();
    }
    if body.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        );
    }
    if !body.ends_with(b"\n") {
        return error(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
        );
    }
    let lines: Vec<&[u8]> = body[..body.len() - 1].split(|&b| b == b'\n').collect();
    let mut actions = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let action: Value = match serde_json::from_slice(lines[at]) {
            Ok(Value::Object(map)) if map.len() == 1 => Value::Object(map),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "illegal_argument_exception",
                    &format!("Malformed action/metadata line [{}]", at + 1),
                );
            }
        };
        let (name, meta) = action.as_object().unwrap().iter().next().unwrap();
        if !["create", "index"].contains(&name.as_str()) {
            return error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("Unknown action [{name}] (this receiver takes create and index)"),
            );
        }
        let Some(source) = lines.get(at + 1) else {
            return error(
                StatusCode::BAD_REQUEST,
                "action_request_validation_exception",
                "Validation Failed: source is missing",
            );
        };
        actions.push((name.clone(), meta.clone(), source.to_vec()));
        at += 2;
    }
    let mut recorded = shared.recorded.lock().unwrap();
    let mut items = Vec::new();
    let mut errors = false;
    for (name, meta, source) in actions {
        let index = meta["_index"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| target.clone());
        let item = write(&mut recorded, &name, index, &meta, &source);
        errors |= item["status"].as_u64().unwrap() >= 300;
        items.push(json!({ name: item }));
    }
    axum::Json(json!({"took": 1, "errors": errors, "items": items})).into_response()
}

/// One document written, as Elasticsearch answers for it.
fn write(
    recorded: &mut Recorded,
    action: &str,
    index: Option<String>,
    meta: &Value,
    source: &[u8],
) -> Value {
    let item_error = |status: u16, kind: &str, reason: &str| json!({"status": status, "error": {"type": kind, "reason": reason}});
    let Some(index) = index else {
        return item_error(
            400,
            "action_request_validation_exception",
            "index is missing",
        );
    };
    let document: Value = match serde_json::from_slice(source) {
        Ok(document @ Value::Object(_)) => document,
        _ => {
            return item_error(
                400,
                "document_parsing_exception",
                "failed to parse: the source is not a JSON object",
            );
        }
    };
    if let Some(field) = field_named_twice(source) {
        return item_error(
            400,
            "document_parsing_exception",
            &format!("failed to parse: Duplicate field '{field}'"),
        );
    }
    let data_stream = index.starts_with("logs-");
    if data_stream && action != "create" {
        return item_error(
            400,
            "illegal_argument_exception",
            &format!(
                "only write ops with an op_type of create are allowed in data streams [{index}]"
            ),
        );
    }
    if data_stream && !document["@timestamp"].is_string() {
        return item_error(
            400,
            "document_parsing_exception",
            "data stream timestamp field [@timestamp] is missing",
        );
    }
    if let Some(n) = document["n"].as_u64()
        && let Some(left) = recorded.throttled.get_mut(&n)
        && *left > 0
    {
        *left -= 1;
        return item_error(
            429,
            "es_rejected_execution_exception",
            "rejected execution of coordinating operation",
        );
    }
    if document["poison"] == Value::Bool(true) {
        return item_error(
            400,
            "mapper_parsing_exception",
            "failed to parse field [poison] of type [long]",
        );
    }
    let id = match meta["_id"].as_str() {
        Some(id) if id.len() > 512 => {
            return item_error(400, "illegal_argument_exception", "id is too long");
        }
        Some(id) => id.to_owned(),
        None => {
            recorded.next_auto_id += 1;
            format!("auto-{}", recorded.next_auto_id)
        }
    };
    let key = (index.clone(), id.clone());
    match recorded.documents.get_mut(&key) {
        Some(_) if action == "create" => item_error(
            409,
            "version_conflict_engine_exception",
            &format!("[{id}]: version conflict, document already exists"),
        ),
        Some(existing) => {
            *existing = (document, existing.1 + 1);
            json!({"_index": index, "_id": id, "status": 200, "result": "updated"})
        }
        None => {
            recorded.documents.insert(key, (document, 1));
            json!({"_index": index, "_id": id, "status": 201, "result": "created"})
        }
    }
}

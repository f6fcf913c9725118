//! A Loki push endpoint (`POST /loki/api/v1/push`, the JSON form) that checks what Loki
//! checks: a bearer token (401), the JSON content type, gzip if declared, and the body's
//! shape: `streams`, each with a `stream` of string labels (none empty) and `values` of
//! `[nanoseconds as a string of digits, line]` pairs (400 with Loki's wording otherwise).
//! It answers 204, or 429 to the next N requests.

use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One log line as Loki stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub labels: Value,
    pub nanoseconds: i128,
    pub line: String,
    pub tenant: Option<String>,
}

#[derive(Default)]
struct Recorded {
    entries: Vec<Entry>,
    requests: usize,
    busy_for: usize,
}

#[derive(Clone)]
struct Shared {
    token: Arc<str>,
    recorded: Arc<Mutex<Recorded>>,
}

pub struct LokiReceiver {
    endpoint: String,
    shared: Shared,
}

impl LokiReceiver {
    pub async fn start(token: &str) -> Self {
        let shared = Shared {
            token: token.into(),
            recorded: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/loki/api/v1/push", axum::routing::post(push))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        LokiReceiver {
            endpoint: format!("http://{addr}"),
            shared,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.shared.recorded.lock().unwrap().entries.clone()
    }

    pub fn requests(&self) -> usize {
        self.shared.recorded.lock().unwrap().requests
    }

    /// Answers the next `n` requests with 429.
    pub fn make_busy(&self, n: usize) {
        self.shared.recorded.lock().unwrap().busy_for = n;
    }
}

async fn push(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.requests += 1;
    if header("authorization") != Some(&format!("Bearer {}", shared.token)) {
        return (StatusCode::UNAUTHORIZED, "no org id\n".into());
    }
    if recorded.busy_for > 0 {
        recorded.busy_for -= 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "Ingestion rate limit exceeded\n".into(),
        );
    }
    if header("content-type") != Some("application/json") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported Content-Type\n".into(),
        );
    }
    let mut plain = Vec::new();
    match header("content-encoding") {
        None => plain = body.to_vec(),
        Some("gzip") => {
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .is_err()
            {
                return (StatusCode::BAD_REQUEST, "gzip: invalid header\n".into());
            }
        }
        Some(other) => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding {other}\n"),
            );
        }
    }
    let tenant = header("x-scope-orgid").map(str::to_owned);
    match entries(&plain, tenant) {
        Ok(entries) => {
            recorded.entries.extend(entries);
            (StatusCode::NO_CONTENT, String::new())
        }
        Err(problem) => (StatusCode::BAD_REQUEST, format!("{problem}\n")),
    }
}

/// The entries of a push body, or why Loki would refuse it.
fn entries(body: &[u8], tenant: Option<String>) -> Result<Vec<Entry>, String> {
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("loghttp: {e}"))?;
    let streams = body["streams"].as_array().ok_or("streams: not an array")?;
    let mut entries = Vec::new();
    for stream in streams {
        let labels = stream["stream"]
            .as_object()
            .ok_or("stream: not an object")?;
        if labels.is_empty()
            || labels
                .values()
                .any(|v| v.as_str().is_none_or(str::is_empty))
        {
            return Err("error parsing labels: empty or not a string".into());
        }
        for value in stream["values"].as_array().ok_or("values: not an array")? {
            let pair = value.as_array().filter(|pair| pair.len() == 2);
            let pair = pair.ok_or("a value is not a [timestamp, line] pair")?;
            let nanoseconds = pair[0]
                .as_str()
                .filter(|ts| !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|ts| ts.parse().ok())
                .ok_or("timestamp: not a string of nanoseconds")?;
            let line = pair[1].as_str().ok_or("line: not a string")?;
            entries.push(Entry {
                labels: Value::Object(labels.clone()),
                nanoseconds,
                line: line.to_owned(),
                tenant: tenant.clone(),
            });
        }
    }
    Ok(entries)
}

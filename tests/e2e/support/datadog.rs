//! A strict Datadog Logs API v2 intake, as Datadog documents it: the
//! `DD-API-KEY` header (401 without, 403 wrong), JSON arrays of items with a string
//! `message`, gzip or deflate, and its limits: 5 MB uncompressed (413), 1000 items, 1 MB
//! per item. Datadog itself stores an item over 1 MB cut, with a 2xx: this intake also
//! records every limit exceeded, so that a test fails on it. It can answer the next N
//! requests with 429 and `Retry-After`.

use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

const MAX_BODY: usize = 5_000_000;
const MAX_ITEMS: usize = 1000;
const MAX_ITEM: usize = 1_000_000;

#[derive(Default)]
struct Recorded {
    items: Vec<Value>,
    requests: usize,
    /// Every limit a request exceeded, said in words.
    violations: Vec<String>,
    busy_for: usize,
}

#[derive(Clone)]
struct Shared {
    key: Arc<str>,
    recorded: Arc<Mutex<Recorded>>,
}

pub struct DatadogIntake {
    endpoint: String,
    shared: Shared,
}

impl DatadogIntake {
    pub async fn start(key: &str) -> Self {
        let shared = Shared {
            key: key.into(),
            recorded: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/api/v2/logs", axum::routing::post(intake))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        DatadogIntake {
            endpoint: format!("http://{addr}"),
            shared,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn items(&self) -> Vec<Value> {
        self.shared.recorded.lock().unwrap().items.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.shared.recorded.lock().unwrap().violations.clone()
    }

    pub fn requests(&self) -> usize {
        self.shared.recorded.lock().unwrap().requests
    }

    /// Answers the next `n` requests with 429 and `Retry-After: 1`.
    pub fn make_busy(&self, n: usize) {
        self.shared.recorded.lock().unwrap().busy_for = n;
    }
}

type Answer = (StatusCode, [(&'static str, &'static str); 1], &'static str);

fn answer(status: StatusCode, body: &'static str) -> Answer {
    (status, [("retry-after", "1")], body)
}

async fn intake(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.requests += 1;
    match header("dd-api-key") {
        None => return answer(StatusCode::UNAUTHORIZED, r#"{"errors":["Unauthorized"]}"#),
        Some(key) if key != &*shared.key => {
            return answer(StatusCode::FORBIDDEN, r#"{"errors":["Forbidden"]}"#);
        }
        Some(_) => {}
    }
    if recorded.busy_for > 0 {
        recorded.busy_for -= 1;
        return answer(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"errors":["Too many requests"]}"#,
        );
    }
    if header("content-type") != Some("application/json") {
        return answer(
            StatusCode::BAD_REQUEST,
            r#"{"errors":["Bad content type"]}"#,
        );
    }
    let mut plain = Vec::new();
    let decoded = match header("content-encoding") {
        None | Some("identity") => {
            plain = body.to_vec();
            Ok(0)
        }
        Some("gzip") => flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain),
        Some("deflate") => flate2::read::ZlibDecoder::new(&body[..]).read_to_end(&mut plain),
        Some(_) => return answer(StatusCode::BAD_REQUEST, r#"{"errors":["Bad encoding"]}"#),
    };
    if decoded.is_err() {
        return answer(StatusCode::BAD_REQUEST, r#"{"errors":["Bad compression"]}"#);
    }
    if plain.len() > MAX_BODY {
        recorded
            .violations
            .push(format!("a request of {} bytes uncompressed", plain.len()));
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"errors":["Payload too large"]}"#,
        );
    }
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&plain) else {
        return answer(StatusCode::BAD_REQUEST, r#"{"errors":["Bad payload"]}"#);
    };
    if items.len() > MAX_ITEMS {
        recorded
            .violations
            .push(format!("a request of {} items", items.len()));
    }
    for item in &items {
        if !item["message"].is_string() {
            return answer(
                StatusCode::BAD_REQUEST,
                r#"{"errors":["message is required"]}"#,
            );
        }
        let size = item.to_string().len();
        if size > MAX_ITEM {
            recorded
                .violations
                .push(format!("an item of {size} bytes (stored cut)"));
        }
    }
    recorded.items.extend(items);
    answer(StatusCode::ACCEPTED, "{}")
}

//! A strict Splunk HTTP Event Collector, as `protocols.md` section 1 describes it: header
//! auth with HEC's own codes, stacked-envelope framing, `event` required and non-blank,
//! flat `fields`, allowed indexes, a request size limit (413), gzip (and 415 for other
//! encodings), and in-order validation where the objects before a bad one are indexed
//! and the rest are not (400 with `invalid-event-number`).
//!
//! Tests can also make it busy (503, code 9) for the next N requests, or have a load
//! balancer in front of it answer them (503, `"code": 503`).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct HecConfig {
    pub token: String,
    pub max_content_length: usize,
    pub allowed_indexes: Vec<String>,
}

impl Default for HecConfig {
    fn default() -> Self {
        HecConfig {
            token: "11111111-2222-3333-4444-555555555555".into(),
            max_content_length: 1_000_000,
            allowed_indexes: vec!["audit".into(), "main".into()],
        }
    }
}

#[derive(Debug, Default)]
struct Recorded {
    /// Envelopes indexed, in order.
    indexed: Vec<Value>,
    /// Raw (decompressed) bodies of every request that reached validation.
    bodies: Vec<Vec<u8>>,
    requests: usize,
    busy_for: usize,
    /// Requests a load balancer in front of HEC answers itself (503, `"code": 503`).
    proxy_busy_for: usize,
    /// A value of `event.poison` that makes an object invalid (code 6), for partial-failure tests.
    poison: bool,
}

#[derive(Clone)]
struct Shared {
    config: Arc<HecConfig>,
    recorded: Arc<Mutex<Recorded>>,
}

/// A running receiver on a loopback port; it stops with the test's runtime.
pub struct HecReceiver {
    pub addr: SocketAddr,
    scheme: &'static str,
    shared: Shared,
}

impl HecReceiver {
    pub async fn start(config: HecConfig) -> Self {
        Self::start_with(config, None).await
    }

    /// The same receiver behind HTTPS, with `tls`'s certificate.
    pub async fn start_tls(
        config: HecConfig,
        tls: Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> Self {
        Self::start_with(config, Some(tls)).await
    }

    async fn start_with(
        config: HecConfig,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> Self {
        let shared = Shared {
            config: Arc::new(config),
            recorded: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/services/collector/event", axum::routing::post(collect))
            .route("/services/collector", axum::routing::post(collect))
            .route(
                "/services/collector/event/1.0",
                axum::routing::post(collect),
            )
            .fallback(not_found)
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = match tls {
            Some(tls) => {
                super::tls::serve_tls(listener, app, tls);
                "https"
            }
            None => {
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
                "http"
            }
        };
        HecReceiver {
            addr,
            scheme,
            shared,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// Answers the next `n` requests with 503, code 9.
    pub fn make_busy(&self, n: usize) {
        self.shared.recorded.lock().unwrap().busy_for = n;
    }

    /// Has the next `n` requests answered by a load balancer in front of HEC: 503 with
    /// its status echoed as `"code": 503`, which is not a HEC code.
    pub fn make_proxy_busy(&self, n: usize) {
        self.shared.recorded.lock().unwrap().proxy_busy_for = n;
    }

    /// Objects whose event has `"poison": true` are invalid (code 6).
    pub fn reject_poison(&self) {
        self.shared.recorded.lock().unwrap().poison = true;
    }

    pub fn indexed(&self) -> Vec<Value> {
        self.shared.recorded.lock().unwrap().indexed.clone()
    }

    pub fn requests(&self) -> usize {
        self.shared.recorded.lock().unwrap().requests
    }

    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.shared.recorded.lock().unwrap().bodies.clone()
    }
}

fn reply(status: StatusCode, code: u32, text: &str, extra: Option<(&str, Value)>) -> Response {
    let mut body = json!({ "text": text, "code": code });
    if let Some((key, value)) = extra {
        body[key] = value;
    }
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"text": "The requested URL was not found on this server.", "code": 404})),
    )
        .into_response()
}

async fn collect(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.requests += 1;
    if recorded.proxy_busy_for > 0 {
        recorded.proxy_busy_for -= 1;
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            503,
            "Service Unavailable",
            None,
        );
    }
    match headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => return reply(StatusCode::UNAUTHORIZED, 2, "Token is required", None),
        Some(value) => match value.strip_prefix("Splunk ") {
            None => return reply(StatusCode::UNAUTHORIZED, 3, "Invalid authorization", None),
            Some(token) if token != shared.config.token => {
                return reply(StatusCode::FORBIDDEN, 4, "Invalid token", None);
            }
            Some(_) => {}
        },
    }
    if recorded.busy_for > 0 {
        recorded.busy_for -= 1;
        return reply(StatusCode::SERVICE_UNAVAILABLE, 9, "Server is busy", None);
    }
    let body = match headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None | Some("identity") => body.to_vec(),
        Some("gzip") => {
            let mut plain = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .is_err()
            {
                return reply(StatusCode::BAD_REQUEST, 6, "Invalid data format", None);
            }
            plain
        }
        Some(_) => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "<html>Unsupported Media Type</html>",
            )
                .into_response();
        }
    };
    // The limit applies to what HEC must parse: the decompressed body.
    if body.len() > shared.config.max_content_length {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Content-Length exceeds max_content_length",
        )
            .into_response();
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return reply(StatusCode::BAD_REQUEST, 5, "No data", None);
    }
    recorded.bodies.push(body.clone());
    let mut stream = serde_json::Deserializer::from_slice(&body).into_iter::<Value>();
    let mut index = 0u64;
    loop {
        let object = match stream.next() {
            None => break,
            Some(Err(_)) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    6,
                    "Invalid data format",
                    Some(("invalid-event-number", json!(index))),
                );
            }
            Some(Ok(object)) => object,
        };
        if let Some((status, code, text)) = validate(&object, &shared.config, recorded.poison) {
            return reply(
                status,
                code,
                text,
                Some(("invalid-event-number", json!(index))),
            );
        }
        recorded.indexed.push(object);
        index += 1;
    }
    reply(StatusCode::OK, 0, "Success", None)
}

/// What HEC says of one envelope, if it refuses it.
fn validate(
    object: &Value,
    config: &HecConfig,
    poison: bool,
) -> Option<(StatusCode, u32, &'static str)> {
    let bad = |code, text| Some((StatusCode::BAD_REQUEST, code, text));
    let Some(envelope) = object.as_object() else {
        return bad(6, "Invalid data format");
    };
    match envelope.get("event") {
        None => return bad(12, "Event field is required"),
        Some(Value::Null | Value::Bool(false)) => return bad(6, "Invalid data format"),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return bad(13, "Event field cannot be blank");
        }
        Some(event) if poison && event.get("poison") == Some(&Value::Bool(true)) => {
            return bad(6, "Invalid data format");
        }
        Some(_) => {}
    }
    if let Some(time) = envelope.get("time") {
        let numeric = time.is_number() || time.as_str().is_some_and(|s| s.parse::<f64>().is_ok());
        if !numeric {
            return bad(6, "Invalid data format");
        }
    }
    for key in ["host", "source", "sourcetype", "index"] {
        if envelope.get(key).is_some_and(|v| !v.is_string()) {
            return bad(6, "Invalid data format");
        }
    }
    if let Some(index) = envelope.get("index").and_then(Value::as_str)
        && !config
            .allowed_indexes
            .iter()
            .any(|allowed| allowed == index)
    {
        return bad(7, "Incorrect index");
    }
    if let Some(fields) = envelope.get("fields") {
        let flat = fields.as_object().is_some_and(|map| {
            map.values().all(|v| {
                v.is_string()
                    || v.as_array()
                        .is_some_and(|items| items.iter().all(Value::is_string))
            })
        });
        if !flat {
            return bad(15, "Error in handling indexed fields");
        }
    }
    None
}

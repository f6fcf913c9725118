//! A strict Splunk HTTP Event Collector, as Splunk documents it: header
//! auth with HEC's own codes, stacked-envelope framing, `event` required and non-blank,
//! flat `fields`, allowed indexes, a request size limit (413), gzip (and 415 for other
//! encodings), and in-order validation where the objects before a bad one are indexed
//! and the rest are not (400 with `invalid-event-number`).
//!
//! Tests can also make it busy (503, code 9) for the next N requests, or have a load
//! balancer in front of it answer them (503, `"code": 503`).
//!
//! With `ack` (the token's `useACK`), every request must name a GUID channel (code 10
//! without, 11 for another value), answers carry the channel's next `ackId` (from 0),
//! and `/services/collector/ack` answers `{"acks":{"id":bool}}`: true once, then the id
//! is forgotten. Tests can have the acks of some requests never come (their events are
//! lost before indexing), and have HEC forget every channel (idle cleanup): pending ids
//! answer false for good, and a channel's ids start from 0 again.

use std::collections::HashMap;
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
    /// The token uses indexer acknowledgement.
    pub ack: bool,
}

impl Default for HecConfig {
    fn default() -> Self {
        HecConfig {
            token: "11111111-2222-3333-4444-555555555555".into(),
            max_content_length: 1_000_000,
            allowed_indexes: vec!["audit".into(), "main".into()],
            ack: false,
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
    /// Per channel: the next ackId, and the ids not yet confirmed by a poll.
    channels: HashMap<String, Channel>,
    /// Successful requests (counted from 1) whose events are lost and whose ack never comes.
    lost_requests: Vec<usize>,
    /// The successful request (counted from 1) before which every channel is forgotten.
    forget_before: Option<usize>,
    successes: usize,
    /// Ack polls answered.
    polls: usize,
}

#[derive(Debug, Default)]
struct Channel {
    next_id: u64,
    /// Ids whose events were indexed: a poll confirms them once.
    indexed: std::collections::HashSet<u64>,
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
            .route("/services/collector/ack", axum::routing::post(acks))
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

    /// The successful requests numbered here (from 1) lose their events, and their
    /// acks never come.
    pub fn lose_requests(&self, numbers: &[usize]) {
        self.shared.recorded.lock().unwrap().lost_requests = numbers.to_vec();
    }

    /// HEC forgets every channel just before successful request `number` (from 1).
    pub fn forget_channels_before(&self, number: usize) {
        self.shared.recorded.lock().unwrap().forget_before = Some(number);
    }

    pub fn polls(&self) -> usize {
        self.shared.recorded.lock().unwrap().polls
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

/// HEC's answer to a request whose token it refuses, if it does.
fn authorize(headers: &HeaderMap, config: &HecConfig) -> Option<Response> {
    match headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Some(reply(
            StatusCode::UNAUTHORIZED,
            2,
            "Token is required",
            None,
        )),
        Some(value) => match value.strip_prefix("Splunk ") {
            None => Some(reply(
                StatusCode::UNAUTHORIZED,
                3,
                "Invalid authorization",
                None,
            )),
            Some(token) if token != config.token => {
                Some(reply(StatusCode::FORBIDDEN, 4, "Invalid token", None))
            }
            Some(_) => None,
        },
    }
}

/// The request's channel, which a token with acknowledgement requires (a GUID); HEC's
/// code and text when it refuses it.
fn channel(headers: &HeaderMap, config: &HecConfig) -> Result<Option<String>, (u32, &'static str)> {
    let given = headers
        .get("x-splunk-request-channel")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    match given {
        None if config.ack => Err((10, "Data channel is missing")),
        Some(channel) if uuid_shaped(&channel) => Ok(Some(channel)),
        Some(_) => Err((11, "Invalid data channel")),
        None => Ok(None),
    }
}

fn uuid_shaped(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `POST /services/collector/ack`: `{"acks":[ids]}` on the request's channel.
async fn acks(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let config = &shared.config;
    if let Some(refused) = authorize(&headers, config) {
        return refused;
    }
    if !config.ack {
        return reply(StatusCode::BAD_REQUEST, 14, "ACK is disabled", None);
    }
    let channel = match channel(&headers, config) {
        Ok(channel) => channel.expect("required with ack"),
        Err((code, text)) => return reply(StatusCode::BAD_REQUEST, code, text, None),
    };
    let ids: Option<Vec<u64>> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|query| serde_json::from_value(query.get("acks")?.clone()).ok());
    let Some(ids) = ids else {
        return reply(StatusCode::BAD_REQUEST, 6, "Invalid data format", None);
    };
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.polls += 1;
    let pending = recorded.channels.entry(channel).or_default();
    let answer: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| (id.to_string(), Value::Bool(pending.indexed.remove(id))))
        .collect();
    (StatusCode::OK, axum::Json(json!({ "acks": answer }))).into_response()
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
    if let Some(refused) = authorize(&headers, &shared.config) {
        return refused;
    }
    let channel = match channel(&headers, &shared.config) {
        Ok(channel) => channel,
        Err((code, text)) => return reply(StatusCode::BAD_REQUEST, code, text, None),
    };
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
    // Indexed once the request is read (a lost request indexes nothing); with an
    // invalid object, those before it are.
    let mut objects = Vec::new();
    loop {
        let object = match stream.next() {
            None => break,
            Some(Err(_)) => {
                // The objects before the bad one are indexed.
                recorded.indexed.extend(objects);
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
            recorded.indexed.extend(objects);
            return reply(
                status,
                code,
                text,
                Some(("invalid-event-number", json!(index))),
            );
        }
        objects.push(object);
        index += 1;
    }
    recorded.successes += 1;
    let number = recorded.successes;
    let lost = recorded.lost_requests.contains(&number);
    if !lost {
        recorded.indexed.extend(objects);
    }
    let Some(channel) = channel.filter(|_| shared.config.ack) else {
        return reply(StatusCode::OK, 0, "Success", None);
    };
    if recorded.forget_before == Some(number) {
        recorded.channels.clear();
    }
    let pending = recorded.channels.entry(channel).or_default();
    let id = pending.next_id;
    pending.next_id += 1;
    if !lost {
        pending.indexed.insert(id);
    }
    reply(StatusCode::OK, 0, "Success", Some(("ackId", json!(id))))
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

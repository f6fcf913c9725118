//! Microsoft Entra ID's token endpoint and the Azure Monitor Logs Ingestion API, as
//! Microsoft documents them: client credentials for the
//! `https://monitor.azure.com//.default` scope (the double slash included), tokens that
//! expire, `Bearer` tokens checked on every call (401 when missing, expired or revoked),
//! the rule's stream in the path with its `api-version`, JSON arrays of objects with
//! `TimeGenerated`, 1 MB per call (413), and 204 on success. And the deprecated HTTP
//! Data Collector API: `POST /api/logs?api-version=2016-04-01`, `Log-Type` (letters,
//! digits, `_`, at most 100), `x-ms-date` within 15 minutes, `Authorization: SharedKey
//! <workspace>:<signature>` recomputed here over the documented string to sign with the
//! workspace key (403 `InvalidAuthorization` when it differs), a JSON array of objects,
//! and 200 on success.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

pub const TENANT: &str = "00000000-1111-2222-3333-444444444444";
pub const CLIENT_ID: &str = "55555555-6666-7777-8888-999999999999";
pub const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";
pub const STREAM: &str = "Custom-SluiceAudit_CL";
const SCOPE: &str = "https://monitor.azure.com//.default";
pub const WORKSPACE: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// The workspace's key, base64 as the portal shows it.
pub const SHARED_KEY: &str = "c2x1aWNlLXRlc3Qtd29ya3NwYWNlLWtleS0zMi1ieXRlcyE=";
const MAX_CALL: usize = 1_000_000;

#[derive(Default)]
struct Recorded {
    /// Tokens issued, and when each expires.
    tokens: HashMap<String, Instant>,
    revoked: Vec<String>,
    issued: usize,
    refused_tokens: usize,
    rows: Vec<Value>,
    /// Data Collector calls refused for their signature.
    refused_signatures: usize,
    /// Each Data Collector row with its `Log-Type` and `time-generated-field`.
    collected: Vec<(String, String, Value)>,
}

#[derive(Clone)]
struct Shared {
    secret: Arc<str>,
    lifetime: Duration,
    recorded: Arc<Mutex<Recorded>>,
}

pub struct Azure {
    endpoint: String,
    shared: Shared,
}

impl Azure {
    /// Both services on one loopback port; tokens live `lifetime`.
    pub async fn start(client_secret: &str, lifetime: Duration) -> Self {
        let shared = Shared {
            secret: client_secret.into(),
            lifetime,
            recorded: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/{tenant}/oauth2/v2.0/token", axum::routing::post(token))
            .route(
                "/dataCollectionRules/{dcr}/streams/{stream}",
                axum::routing::post(ingest),
            )
            .route("/api/logs", axum::routing::post(collect))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Azure {
            endpoint: format!("http://{addr}"),
            shared,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn token_url(&self) -> String {
        format!("{}/{TENANT}/oauth2/v2.0/token", self.endpoint)
    }

    pub fn rows(&self) -> Vec<Value> {
        self.shared.recorded.lock().unwrap().rows.clone()
    }

    /// The Data Collector API's rows: log type, time field, row.
    pub fn collected(&self) -> Vec<(String, String, Value)> {
        self.shared.recorded.lock().unwrap().collected.clone()
    }

    /// Data Collector calls refused for their signature (403).
    pub fn signatures_refused(&self) -> usize {
        self.shared.recorded.lock().unwrap().refused_signatures
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        self.shared.recorded.lock().unwrap().issued
    }

    /// Calls refused for their token (401).
    pub fn tokens_refused(&self) -> usize {
        self.shared.recorded.lock().unwrap().refused_tokens
    }

    /// Every token issued so far stops working, as after a key rotation.
    pub fn revoke_all(&self) {
        let mut recorded = self.shared.recorded.lock().unwrap();
        let issued: Vec<String> = recorded.tokens.keys().cloned().collect();
        recorded.revoked.extend(issued);
    }
}

async fn token(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, axum::Json<Value>) {
    let field = |name: &str| form.get(name).map(String::as_str);
    if tenant != TENANT {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request"})),
        );
    }
    if field("grant_type") != Some("client_credentials") || field("scope") != Some(SCOPE) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_scope"})),
        );
    }
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(&*shared.secret) {
        // Careless, as some identity providers are: the refusal quotes what it was sent.
        let given = field("client_secret").unwrap_or_default();
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": "invalid_client", "error_description": format!("AADSTS7000215: Invalid client secret provided: {given}.")}),
            ),
        );
    }
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.issued += 1;
    let token = format!("access-token-{:04}", recorded.issued);
    recorded
        .tokens
        .insert(token.clone(), Instant::now() + shared.lifetime);
    (
        StatusCode::OK,
        axum::Json(json!({
            "token_type": "Bearer",
            "expires_in": shared.lifetime.as_secs(),
            "access_token": token
        })),
    )
}

async fn ingest(
    State(shared): State<Shared>,
    Path((dcr, stream)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut recorded = shared.recorded.lock().unwrap();
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer.is_some_and(|token| {
        recorded
            .tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
            && !recorded.revoked.iter().any(|r| r == token)
    });
    if !valid {
        recorded.refused_tokens += 1;
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":{"code":"InvalidToken","message":"The token is expired or not valid."}}"#
                .into(),
        );
    }
    if dcr != DCR || stream != STREAM {
        // Quoting the request's token, as a careless proxy in front of it might.
        return (
            StatusCode::NOT_FOUND,
            format!(
                r#"{{"error":{{"code":"NotFound","message":"no stream for {}"}}}}"#,
                header("authorization").unwrap_or_default()
            ),
        );
    }
    if query.get("api-version").map(String::as_str) != Some("2023-01-01") {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"MissingApiVersion"}}"#.into(),
        );
    }
    if header("content-type") != Some("application/json") {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, String::new());
    }
    let mut plain = Vec::new();
    match header("content-encoding") {
        None => plain = body.to_vec(),
        Some("gzip") => {
            let _ = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain);
        }
        Some(_) => return (StatusCode::BAD_REQUEST, "bad encoding".into()),
    }
    if body.len() > MAX_CALL || plain.len() > MAX_CALL {
        return (StatusCode::PAYLOAD_TOO_LARGE, String::new());
    }
    let Ok(Value::Array(rows)) = serde_json::from_slice::<Value>(&plain) else {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"InvalidJson"}}"#.into(),
        );
    };
    if !rows.iter().all(|row| row["TimeGenerated"].is_string()) {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"InvalidStream","message":"TimeGenerated is required"}}"#.into(),
        );
    }
    recorded.rows.extend(rows);
    (StatusCode::NO_CONTENT, String::new())
}

/// The Data Collector API, as Microsoft documents it.
async fn collect(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    use base64::Engine;
    use hmac::Mac;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let error = |status: StatusCode, code: &str| {
        (
            status,
            format!(r#"{{"Error":"{code}","Message":"{code}"}}"#),
        )
    };
    match query.get("api-version").map(String::as_str) {
        None => return error(StatusCode::BAD_REQUEST, "MissingApiVersion"),
        Some("2016-04-01") => {}
        Some(_) => return error(StatusCode::BAD_REQUEST, "InvalidApiVersion"),
    }
    if header("content-type") != Some("application/json") {
        return error(StatusCode::BAD_REQUEST, "UnsupportedContentType");
    }
    let Some(log_type) = header("log-type") else {
        return error(StatusCode::BAD_REQUEST, "MissingLogType");
    };
    if log_type.len() > 100
        || !log_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return error(StatusCode::BAD_REQUEST, "InvalidLogType");
    }
    let date = header("x-ms-date").unwrap_or_default();
    let fresh = jiff::fmt::rfc2822::parse(date).map(|sent| {
        jiff::Timestamp::now()
            .duration_since(sent.timestamp())
            .abs()
            < jiff::SignedDuration::from_mins(15)
    });
    let key = base64::engine::general_purpose::STANDARD
        .decode(SHARED_KEY)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "POST\n{}\napplication/json\nx-ms-date:{date}\n/api/logs",
            body.len()
        )
        .as_bytes(),
    );
    let expected = format!(
        "SharedKey {WORKSPACE}:{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let mut recorded = shared.recorded.lock().unwrap();
    if !matches!(fresh, Ok(true)) || header("authorization") != Some(expected.as_str()) {
        recorded.refused_signatures += 1;
        return error(StatusCode::FORBIDDEN, "InvalidAuthorization");
    }
    let Ok(Value::Array(rows)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "InvalidDataFormat");
    };
    if !rows.iter().all(Value::is_object) {
        return error(StatusCode::BAD_REQUEST, "InvalidDataFormat");
    }
    let time_field = header("time-generated-field")
        .unwrap_or_default()
        .to_owned();
    recorded.collected.extend(
        rows.into_iter()
            .map(|row| (log_type.to_owned(), time_field.clone(), row)),
    );
    (StatusCode::OK, String::new())
}

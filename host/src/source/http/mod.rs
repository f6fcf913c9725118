//! `type = "http"`: producers POST events, and hear back once they are safe.
//!
//! `POST /v1/events` takes NDJSON or a JSON array (gzip or not) and answers
//! `200 {"accepted": N, "rejected": [...]}` once every accepted event is safe: in the
//! spool (with `data_dir`), else delivered or dead-lettered by every destination that
//! takes the source. Splunk HEC's endpoints (`/services/collector/event`, `/raw`,
//! `/health`) answer as HEC does ([`hec`]), and `/v1/logs` as an OTLP/HTTP collector
//! ([`otlp`]). A request whose events are not safe within
//! `ack_timeout`, or that finds the spool or a queue full for [`BUSY_WAIT`], or comes
//! while Sluice stops, is answered `503` with `Retry-After`: the producer keeps its
//! events and sends them again.
//!
//! Event ids: the line's place in the body, seeded with the request's key (its
//! `X-Request-Id`, or on HEC's endpoints its channel; OTLP exporters send none, so
//! there the body alone) and the body's bytes, so that a resend of the same body with
//! the same key makes the same ids; a request without a key gets ids of its own.

pub(super) mod body;
mod hec;
mod otlp;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sluice_reader::Line;
use tokio_util::sync::CancellationToken;

use crate::config::{HttpSourceConfig, Secret};
use crate::metrics::SourceFigures;
use crate::pipeline::{Ingest, Mark, Origin, Router};
use body::{Piece, Refusal};

/// How long a request waits for room in a full spool or queue before it is answered
/// `503`.
const BUSY_WAIT: Duration = Duration::from_secs(1);
/// Seconds a producer is told to wait before it sends a refused request again.
const RETRY_AFTER: u64 = 1;
/// Rejected lines listed in an answer; past them, only counted.
const LISTED_REJECTIONS: usize = 100;

/// Producers are services that keep connections open and send many requests.
const BOUNDS: crate::serve::Bounds = crate::serve::Bounds {
    header_timeout: Duration::from_secs(10),
    max_buf_bytes: 64 * 1024,
    max_connection_life: Duration::from_secs(600),
};

/// The ingests of one source, one per request under way: each collects a request's
/// events into its chunk.
struct IngestPool {
    router: Arc<Router>,
    source: (usize, Arc<SourceFigures>),
    stop: CancellationToken,
    idle: Mutex<Vec<Ingest>>,
}

impl IngestPool {
    fn take(&self) -> Ingest {
        let idle = self.idle.lock().expect("not poisoned").pop();
        idle.unwrap_or_else(|| {
            Ingest::new(self.router.clone(), self.source.clone(), self.stop.clone())
        })
    }

    fn put(&self, ingest: Ingest) {
        self.idle.lock().expect("not poisoned").push(ingest);
    }

    /// At the source's end, once no request is under way: each ingest's stream ends,
    /// and its digest goes out.
    async fn seal_all(&self) {
        let ingests = std::mem::take(&mut *self.idle.lock().expect("not poisoned"));
        for mut ingest in ingests {
            ingest.seal_chain(0);
            let _ = ingest.flush(None).await;
        }
    }
}

/// What every request of one source shares.
struct Http {
    label: String,
    tokens: Vec<Secret>,
    /// Bounds the bodies, alone and together.
    budget: body::Budget,
    ack_timeout: Duration,
    pool: IngestPool,
    stop: CancellationToken,
    /// Seeds the ids of this source's events, so that two sources' differ.
    seed: u64,
    /// Requests answered 503 are warned about at most once per throttle period.
    refusals: crate::metrics::Throttle,
    /// So are requests refused for their token.
    unauthorized: crate::metrics::Throttle,
}

impl Drop for Http {
    /// The source has stopped: the refusals no warning has counted yet are said.
    fn drop(&mut self) {
        let requests = self.refusals.rest();
        if requests > 0 {
            tracing::warn!(source = %self.label, requests, "requests answered 503 since the last such warning; their producers keep the events and send them again");
        }
        let requests = self.unauthorized.rest();
        if requests > 0 {
            tracing::warn!(source = %self.label, requests, "requests refused for their token since the last such warning");
        }
    }
}

/// Serves `config` until `stop`, then answers the requests under way.
pub async fn run(
    config: HttpSourceConfig,
    router: Arc<Router>,
    source: (usize, Arc<SourceFigures>),
    stop: CancellationToken,
) -> Result<()> {
    let at = format!("source `{}`", source.1.label);
    let tokens = config.resolve_tokens(&at)?;
    let tls = config
        .tls
        .as_ref()
        .map(|tls| crate::serve::tls_acceptor(tls, &at))
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("{at}: cannot listen on {}", config.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(source = %source.1.label, address = %listener.local_addr()?, scheme, "http source: POST /v1/events, OTLP/HTTP logs at /v1/logs, and Splunk HEC's /services/collector/event and /raw");
    let http = Arc::new(Http {
        label: source.1.label.clone(),
        seed: xxhash_rust::xxh3::xxh3_64(source.1.label.as_bytes()),
        tokens,
        budget: body::Budget::new(config.max_body_bytes, BUSY_WAIT),
        ack_timeout: config.ack_timeout,
        pool: IngestPool {
            router,
            source: source.clone(),
            stop: stop.clone(),
            idle: Mutex::new(Vec::new()),
        },
        stop: stop.clone(),
        refusals: crate::metrics::Throttle::default(),
        unauthorized: crate::metrics::Throttle::default(),
    });
    let figures = source.1;
    let app = axum::Router::new()
        .route("/v1/events", post(events))
        .route("/v1/logs", post(otlp_logs))
        .route("/services/collector", post(hec_events))
        .route("/services/collector/event", post(hec_events))
        .route("/services/collector/event/1.0", post(hec_events))
        .route("/services/collector/raw", post(hec_raw))
        .route("/services/collector/raw/1.0", post(hec_raw))
        .route("/services/collector/ack", post(hec_ack))
        .route("/services/collector/health", get(hec_health))
        .route("/services/collector/health/1.0", get(hec_health))
        .with_state(http.clone());
    let serving = (tls, BOUNDS, config.connections);
    let who = crate::serve::Listening {
        name: format!("http source `{}`", figures.label),
        figures: Some(figures),
    };
    crate::serve::serve(listener, app, serving, who, stop).await;
    http.pool.seal_all().await;
    Ok(())
}

/// What a request's `Authorization` proves.
#[derive(Debug, PartialEq)]
enum Authorized {
    Yes,
    Missing,
    /// Not `Bearer`, `Splunk` or `Basic` credentials.
    Malformed,
    /// A token none of the source's is.
    Wrong,
}

impl Http {
    /// Whether the request carries one of the tokens (as `Bearer`, HEC's `Splunk`, or a
    /// `Basic` password), each compared in a time that does not depend on where it
    /// differs. A refusal is counted and said, once in a while (a producer whose token
    /// was changed is losing its events, or someone is guessing).
    fn authorized(&self, headers: &HeaderMap) -> Authorized {
        let authorized = self.check_token(headers);
        if authorized != Authorized::Yes
            && let Some(requests) = self.unauthorized.due(1)
        {
            tracing::warn!(source = %self.label, requests, last = ?authorized, "requests refused for their token (`requests`: since the last such warning)");
        }
        authorized
    }

    fn check_token(&self, headers: &HeaderMap) -> Authorized {
        if self.tokens.is_empty() {
            return Authorized::Yes;
        }
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Authorized::Missing;
        };
        let Some(given) = value.to_str().ok().and_then(credentials) else {
            return Authorized::Malformed;
        };
        let matched = self.tokens.iter().fold(false, |found, token| {
            found | same(&given, token.expose().as_bytes())
        });
        match matched {
            true => Authorized::Yes,
            false => Authorized::Wrong,
        }
    }

    /// Parses `pieces` (each told whether it was taken: an event, or a blank or filtered
    /// line, not a rejected one) into events of a chunk, hands it on, and waits until the events
    /// are safe.
    async fn take(
        &self,
        request: &Keyed<'_>,
        pieces: impl FnOnce(&mut dyn FnMut(Piece<'_>) -> bool),
    ) -> Taken {
        let taken = self.take_unsaid(request, pieces).await;
        if let Taken::Refused(why) = &taken {
            self.refused(why);
        }
        taken
    }

    /// Counts and says (throttled) a request answered 503 for `why`.
    fn refused(&self, why: &str) {
        let figures = &self.pool.source.1;
        figures
            .refused_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(requests) = self.refusals.due(1) {
            tracing::warn!(source = %self.label, requests, why, "requests answered 503 (`requests`: since the last such warning, this one included; `why` of this one); their producers keep the events and send them again");
        }
    }

    async fn take_unsaid(
        &self,
        request: &Keyed<'_>,
        pieces: impl FnOnce(&mut dyn FnMut(Piece<'_>) -> bool),
    ) -> Taken {
        if self.stop.is_cancelled() {
            return Taken::Refused("Sluice is stopping");
        }
        let mut ingest = self.pool.take();
        ingest.read_bytes(request.body.len());
        let name = format!("{} request {}", self.label, request.name());
        let stream = request.stream_seed(self.seed);
        pieces(&mut |piece: Piece<'_>| {
            let origin = Origin {
                name: &name,
                stream,
                line: piece.number,
                offset: piece.offset,
            };
            let rejected_before = ingest.rejected_count();
            match (piece.refused, piece.line) {
                (Some(reason), Line::Complete(text) | Line::TooLong { start: text, .. }) => {
                    ingest.refuse(origin, reason, text)
                }
                (None, line) => ingest.line(origin, line),
            }
            ingest.rejected_count() == rejected_before
        });
        let accepted = ingest.pending_events();
        let rejected: Vec<(u64, String)> = ingest
            .pending_rejections()
            .map(|(line, reason)| (line, reason.to_owned()))
            .collect();
        let (safe, answered) = tokio::sync::oneshot::channel();
        let busy = self.stop.child_token();
        ingest.busy_after(Some(busy.clone()));
        let flushed = {
            let flush = ingest.flush(Some(Mark::call(move || {
                let _ = safe.send(());
            })));
            tokio::pin!(flush);
            tokio::select! {
                flushed = &mut flush => flushed,
                () = tokio::time::sleep(BUSY_WAIT) => {
                    busy.cancel();
                    flush.await
                }
            }
        };
        ingest.busy_after(None);
        self.pool.put(ingest);
        if flushed.is_err() {
            return Taken::Refused(match self.stop.is_cancelled() {
                true => "Sluice is stopping",
                false => "the spool or a destination's queue is full",
            });
        }
        match tokio::time::timeout(self.ack_timeout, answered).await {
            Ok(Ok(())) => Taken::Safe { accepted, rejected },
            Ok(Err(_)) => Taken::Refused(
                "the events could not be made safe (a destination stopped taking events, or the dead-letter store could not be written)",
            ),
            Err(_) => Taken::Refused(
                "the events were not delivered within ack_timeout; they may still be (a resend with the same X-Request-Id makes the same event ids)",
            ),
        }
    }
}

/// The credentials of a `Bearer` or `Splunk` authorization, or a `Basic` one's password.
fn credentials(value: &str) -> Option<Vec<u8>> {
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim_start_matches(' ');
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("splunk") {
        return Some(credentials.as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let pair = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let colon = pair.iter().position(|b| *b == b':')?;
        return Some(pair[colon + 1..].to_vec());
    }
    None
}

/// Equal bytes, compared in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A request's body and the key that makes its event ids.
struct Keyed<'a> {
    body: &'a [u8],
    key: Option<String>,
}

impl Keyed<'_> {
    /// How the request is named in dead-letter records.
    fn name(&self) -> String {
        match &self.key {
            Some(key) => format!("`{}`", key.escape_debug()),
            None => "without X-Request-Id".to_owned(),
        }
    }

    /// The stream seed of the request's events: its key and body, or chance.
    fn stream_seed(&self, source: u64) -> u64 {
        match &self.key {
            Some(key) => {
                let key = xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), source);
                xxhash_rust::xxh3::xxh3_64_with_seed(self.body, key)
            }
            None => super::random_seed(),
        }
    }
}

/// What became of a request's events.
enum Taken {
    Safe {
        accepted: usize,
        rejected: Vec<(u64, String)>,
    },
    /// Not taken, or not made safe in time: the producer should send them again.
    Refused(&'static str),
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
}

/// `POST /v1/events`.
async fn events(State(http): State<Arc<Http>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match http.authorized(&parts.headers) {
        Authorized::Yes => {}
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(json!({ "error": "a token is needed: `Authorization: Bearer <token>`, one of the source's tokens" })),
            )
                .into_response();
        }
    }
    let held = match body::read(&parts.headers, body, &http.budget, &http.stop).await {
        Ok(held) => held,
        Err(refusal) => return refused_body(&http, &refusal),
    };
    let body = held.bytes;
    let keyed = Keyed {
        body: &body,
        key: header_text(&parts.headers, "x-request-id").map(str::to_owned),
    };
    let max_line_bytes = http.pool.router.max_line_bytes;
    let mut unreadable = None;
    let taken = http
        .take(&keyed, |each| {
            if let Err(why) = body::pieces(&body, max_line_bytes, |piece| {
                each(piece);
            }) {
                unreadable = Some(why);
            }
        })
        .await;
    if let Some(why) = unreadable {
        return error(StatusCode::BAD_REQUEST, &why);
    }
    match taken {
        Taken::Safe { accepted, rejected } => {
            let listed: Vec<_> = rejected
                .iter()
                .take(LISTED_REJECTIONS)
                .map(|(line, reason)| json!({ "line": line, "reason": reason }))
                .collect();
            let mut answer = json!({ "accepted": accepted, "rejected": listed });
            if rejected.len() > LISTED_REJECTIONS {
                answer["rejected_count"] = rejected.len().into();
            }
            let status = match accepted == 0 {
                // Said in the answer, and kept in the dead-letter store.
                true => {
                    answer["error"] = "no line of the body is an event".into();
                    StatusCode::BAD_REQUEST
                }
                false => StatusCode::OK,
            };
            (status, axum::Json(answer)).into_response()
        }
        Taken::Refused(why) => unavailable(why),
    }
}

fn error(status: StatusCode, why: &str) -> Response {
    (status, axum::Json(json!({ "error": why }))).into_response()
}

fn unavailable(why: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, RETRY_AFTER.to_string())],
        axum::Json(json!({ "error": why })),
    )
        .into_response()
}

fn refused_body(http: &Http, refusal: &Refusal) -> Response {
    let status = match refusal {
        Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Refusal::Unreadable(_) => StatusCode::BAD_REQUEST,
        Refusal::Busy | Refusal::Stopping => {
            http.refused(&refusal.to_string());
            return unavailable(&refusal.to_string());
        }
    };
    error(status, &refusal.to_string())
}

/// HEC's answer to a request without a valid token, if it has none.
fn hec_refusal(http: &Http, headers: &HeaderMap) -> Option<hec::Answer> {
    let answer = match http.authorized(headers) {
        Authorized::Yes => return None,
        Authorized::Missing => hec::TOKEN_REQUIRED,
        Authorized::Malformed => hec::INVALID_AUTHORIZATION,
        Authorized::Wrong => hec::INVALID_TOKEN,
    };
    Some(answer)
}

/// A HEC request with a valid token: its head, its body, and the key of its events'
/// ids; or HEC's answer why not.
async fn hec_request(http: &Http, request: Request) -> Result<HecRequest, hec::Answer> {
    let (parts, body) = request.into_parts();
    if let Some(refusal) = hec_refusal(http, &parts.headers) {
        return Err(refusal);
    }
    let refused = match body::read(&parts.headers, body, &http.budget, &http.stop).await {
        Ok(held) if held.bytes.iter().all(u8::is_ascii_whitespace) => hec::NO_DATA,
        Ok(body) => {
            let key = hec_channel(&parts.headers, parts.uri.query());
            return Ok(HecRequest { parts, body, key });
        }
        Err(Refusal::TooLarge(_)) => hec::TOO_LARGE,
        Err(Refusal::Encoding(_)) => hec::UNSUPPORTED_ENCODING,
        Err(Refusal::Unreadable(_)) => hec::INVALID_DATA_FORMAT,
        Err(refusal @ (Refusal::Busy | Refusal::Stopping)) => {
            http.refused(&refusal.to_string());
            hec::SERVER_BUSY
        }
    };
    Err(refused)
}

struct HecRequest {
    parts: axum::http::request::Parts,
    body: body::Body,
    key: Option<String>,
}

impl HecRequest {
    fn keyed(&self) -> Keyed<'_> {
        Keyed {
            body: &self.body.bytes,
            key: self.key.clone(),
        }
    }
}

/// HEC's channel: the `X-Splunk-Request-Channel` header, else the `channel` parameter.
fn hec_channel(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    header_text(headers, "x-splunk-request-channel")
        .map(str::to_owned)
        .or_else(|| {
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .find(|(key, _)| key == "channel")
                .map(|(_, value)| value.into_owned())
        })
        .or_else(|| header_text(headers, "x-request-id").map(str::to_owned))
}

/// `POST /services/collector/event`: envelopes, back to back. Those before the first
/// HEC would refuse are taken (HEC indexes them too); the refused one is kept in the
/// dead-letter store and its number answered, as HEC does.
async fn hec_events(State(http): State<Arc<Http>>, request: Request) -> Response {
    let request = match hec_request(&http, request).await {
        Ok(request) => request,
        Err(answer) => return answer.respond(None),
    };
    let (events, refused) = hec::envelopes(&request.body.bytes);
    let keyed = request.keyed();
    let max_line_bytes = http.pool.router.max_line_bytes;
    // The first event the parser refused (not JSON it can take, too long, too deep):
    // HEC's answer names it, and those after it are not taken.
    let mut unparsed = None;
    let taken = http
        .take(&keyed, |each| {
            for (index, piece) in body::made(&events, max_line_bytes).enumerate() {
                if !each(piece) {
                    unparsed = Some(index);
                    return;
                }
            }
            if let Some(refused) = &refused {
                let reason = format!(
                    "Splunk HEC envelope {} (0-based) refused: {} (code {}); the producer was told, and the envelopes after it were not read",
                    refused.number, refused.answer.text, refused.answer.code
                );
                each(Piece {
                    number: refused.number as u64 + 1,
                    offset: events.iter().map(|event| event.len() as u64 + 1).sum(),
                    line: Line::Complete(refused.text),
                    refused: Some(&reason),
                });
            }
        })
        .await;
    let refusal = unparsed
        .map(|index| (hec::INVALID_DATA_FORMAT, index))
        .or(refused.map(|refused| (refused.answer, refused.number)));
    hec_answer(taken, refusal)
}

/// HEC's answer once a request's events were taken up to `refusal` (its code and the
/// number of the first event not taken), if any.
fn hec_answer(taken: Taken, refusal: Option<(hec::Answer, usize)>) -> Response {
    match (taken, refusal) {
        (Taken::Refused(_), _) => hec::SERVER_BUSY.respond(None),
        (Taken::Safe { .. }, Some((answer, number))) => answer.respond(Some(number)),
        (Taken::Safe { .. }, None) => hec::SUCCESS.respond(None),
    }
}

/// `POST /services/collector/raw`: each line an event (a JSON object as it is, other
/// text as `{"message": ...}`), with the query's metadata.
async fn hec_raw(State(http): State<Arc<Http>>, request: Request) -> Response {
    let request = match hec_request(&http, request).await {
        Ok(request) => request,
        Err(answer) => return answer.respond(None),
    };
    let metadata = hec::query_metadata(request.parts.uri.query().unwrap_or_default());
    let keyed = request.keyed();
    let body = &request.body.bytes;
    let max_line_bytes = http.pool.router.max_line_bytes;
    // As on `/event`: the first line the parser refused ends what is taken.
    let mut unparsed = None;
    let taken = http
        .take(&keyed, |each| {
            let mut index = 0;
            body::lines(body, max_line_bytes, |piece| {
                if unparsed.is_some() {
                    return;
                }
                let taken = match piece.line {
                    Line::Complete(bytes) => match std::str::from_utf8(bytes) {
                        Ok(text) => {
                            let event = hec::raw_event(text, &metadata);
                            let line = body::line(event.as_bytes(), max_line_bytes);
                            each(Piece { line, ..piece })
                        }
                        Err(_) => each(piece),
                    },
                    Line::TooLong { .. } => each(piece),
                };
                if !taken {
                    unparsed = Some(index);
                }
                index += 1;
            });
        })
        .await;
    hec_answer(
        taken,
        unparsed.map(|index| (hec::INVALID_DATA_FORMAT, index)),
    )
}

/// `POST /v1/logs`: OTLP/HTTP logs. Records the parser refuses (too long, too deep)
/// are kept in the dead-letter store and answered as a partial success; the others are
/// taken. Without an `X-Request-Id` (OpenTelemetry's exporters send none) the body is
/// the key of its events' ids: an exporter's retry of the same body makes the same ids.
async fn otlp_logs(State(http): State<Arc<Http>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(encoding) = otlp::Encoding::of(&parts.headers) else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "OTLP/HTTP bodies are application/x-protobuf or application/json",
        );
    };
    if http.authorized(&parts.headers) != Authorized::Yes {
        let why = "a token is needed: `Authorization: Bearer <token>`, one of the source's tokens";
        return otlp::error(encoding, StatusCode::UNAUTHORIZED, why);
    }
    let held = match body::read(&parts.headers, body, &http.budget, &http.stop).await {
        Ok(held) => held,
        Err(refusal) => {
            let status = match refusal {
                Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                Refusal::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Refusal::Unreadable(_) => StatusCode::BAD_REQUEST,
                Refusal::Busy | Refusal::Stopping => {
                    http.refused(&refusal.to_string());
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            return otlp::error(encoding, status, &refusal.to_string());
        }
    };
    let body = held.bytes;
    let events = match otlp::events(&body, encoding) {
        Ok(events) => events,
        Err(why) => return otlp::error(encoding, StatusCode::BAD_REQUEST, &why),
    };
    let keyed = Keyed {
        body: &body,
        key: Some(
            header_text(&parts.headers, "x-request-id")
                .unwrap_or("otlp")
                .to_owned(),
        ),
    };
    let max_line_bytes = http.pool.router.max_line_bytes;
    let mut rejected = 0;
    let taken = http
        .take(&keyed, |each| {
            for piece in body::made(&events, max_line_bytes) {
                rejected += usize::from(!each(piece));
            }
        })
        .await;
    match taken {
        Taken::Safe { .. } => otlp::answer(
            encoding,
            rejected,
            "log records that could not be read as events are in Sluice's dead-letter store",
        ),
        Taken::Refused(why) => otlp::error(encoding, StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

/// `POST /services/collector/ack`: answered only once events are safe, Sluice has no
/// acknowledgements to poll, and says so as HEC does when they are off.
async fn hec_ack(State(http): State<Arc<Http>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = hec_refusal(&http, &headers) {
        return refusal.respond(None);
    }
    hec::ACK_DISABLED.respond(None)
}

/// `GET /services/collector/health`: no token, as HEC.
async fn hec_health(State(http): State<Arc<Http>>) -> Response {
    match http.stop.is_cancelled() {
        false => hec::HEALTHY.respond(None),
        true => hec::UNHEALTHY.respond(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_bearer_splunk_or_a_basic_password() {
        assert_eq!(credentials("Bearer t1").as_deref(), Some(&b"t1"[..]));
        assert_eq!(credentials("splunk  t2").as_deref(), Some(&b"t2"[..]));
        // base64("x:t3")
        assert_eq!(credentials("Basic eDp0Mw==").as_deref(), Some(&b"t3"[..]));
        assert_eq!(credentials("Digest t"), None);
        assert_eq!(credentials("t"), None);
    }

    #[test]
    fn a_key_and_body_make_the_same_seed_and_no_key_a_new_one() {
        let keyed = |key: Option<&str>, body: &'static [u8]| Keyed {
            body,
            key: key.map(str::to_owned),
        };
        let seed = |k: &Keyed<'_>| k.stream_seed(7);
        assert_eq!(
            seed(&keyed(Some("r1"), b"x")),
            seed(&keyed(Some("r1"), b"x"))
        );
        assert_ne!(
            seed(&keyed(Some("r1"), b"x")),
            seed(&keyed(Some("r2"), b"x"))
        );
        assert_ne!(
            seed(&keyed(Some("r1"), b"x")),
            seed(&keyed(Some("r1"), b"y"))
        );
        assert_ne!(seed(&keyed(None, b"x")), seed(&keyed(None, b"x")));
    }
}

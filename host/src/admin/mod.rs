//! The admin listener (`[admin]`): what an operator's tools read while Sluice runs.
//! `/` is a page for a browser that reads `/status`; `/health` says the process serves;
//! `/ready` whether every source reads and every destination keeps up (503 naming the
//! dead-letter store while it cannot be written, a source that cannot open a file or
//! stopped on an error, a destination failing longer than `failure_alert_after` or
//! paused); `/status` the figures of the progress lines as JSON; `/metrics` the same and
//! more for Prometheus. With `admin.token`, every request but the page's must carry it as
//! a bearer token. Connections are bounded in number, time and head size, so clients
//! cannot take what the pipeline needs.

mod observed;
mod process;
mod prometheus;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use observed::Observed;

use crate::config::{AdminConfig, Secret};
use crate::metrics::Counters;

struct Admin {
    observed: Arc<Observed>,
    registry: ::prometheus_client::registry::Registry,
    token: Option<Secret>,
}

/// How long requests under way may finish once the run is over: a client that keeps a
/// connection open (or never ends its request) must not keep the host from exiting.
const CLOSING_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The listener, serving until [`Listener::close`].
pub struct Listener {
    stop: CancellationToken,
    serving: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Stops taking requests, lets those under way finish within [`CLOSING_GRACE`],
    /// then drops the connections still open.
    pub async fn close(mut self) {
        self.stop.cancel();
        if tokio::time::timeout(CLOSING_GRACE, &mut self.serving)
            .await
            .is_err()
        {
            self.serving.abort();
        }
    }
}

/// Binds the listener `config` names and serves it until it is closed; a port that
/// cannot be bound is an error that names it, before anything is read.
pub async fn start(config: &AdminConfig, observed: Arc<Observed>) -> Result<Listener> {
    let token = config.resolve_token()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("admin.listen: cannot listen on {}", config.listen))?;
    let address: SocketAddr = listener.local_addr()?;
    let admin = Arc::new(Admin {
        registry: prometheus::registry(observed.clone()),
        observed,
        token,
    });
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(
            admin.clone(),
            authorized,
        ))
        // The page holds no figure (it asks /status, with the token, for them): no token.
        .route("/", get(page))
        .with_state(admin);
    tracing::info!(%address, "admin listener: / (a page), /metrics, /health, /ready, /status");
    let stop = CancellationToken::new();
    // A scraper turned away is said (throttled) and tries again: nothing to count.
    let who = crate::serve::Listening {
        name: "admin".into(),
        figures: None,
    };
    let serving = tokio::spawn(crate::serve::serve(
        listener,
        app,
        (None, BOUNDS, LIMITS),
        who,
        stop.clone(),
    ));
    Ok(Listener { stop, serving })
}

/// Clients of the admin listener are scrapers and a browser: a few connections, short
/// requests.
const BOUNDS: crate::serve::Bounds = crate::serve::Bounds {
    header_timeout: Duration::from_secs(5),
    max_buf_bytes: 16 * 1024,
    max_connection_life: Duration::from_secs(300),
};

/// Not shared out per client: the admin listener serves the operator's own tools.
const LIMITS: crate::config::ConnectionLimits = crate::config::ConnectionLimits {
    max: 64,
    per_client: 64,
    evict_idle_after: Duration::from_secs(60),
};

/// The page an operator opens in a browser: one file, no external asset, which reads
/// `/status` every second. Its own script and styles only.
async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("page.html"),
    )
        .into_response()
}

/// Refuses a request without the token, when there is one.
async fn authorized(State(admin): State<Arc<Admin>>, request: Request, next: Next) -> Response {
    if let Some(token) = &admin.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer);
        if !given.is_some_and(|given| same(given.as_bytes(), token.expose().as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "the admin listener needs `Authorization: Bearer <admin.token>`\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// The credentials of a `Bearer` authorization (the scheme's name is case-insensitive,
/// RFC 9110 section 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim_start_matches(' '))
}

/// Equal bytes, compared in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// 200 while every source reads and every destination keeps up; 503 naming the
/// dead-letter store while its writes fail, each source that cannot open a file or has
/// stopped on an error, and each destination that has failed longer than
/// `failure_alert_after` or is paused, and why.
async fn ready(State(admin): State<Arc<Admin>>) -> Response {
    let sources = admin.observed.sources().into_iter().filter_map(|source| {
        let why = source.problem()?;
        Some(json!({ "source": source.label, "why": why }))
    });
    let destinations = admin.observed.destinations().into_iter().filter_map(|f| {
        let why = if f.paused {
            "paused: its module file is gone".to_owned()
        } else if f.failing_too_long() {
            let failing = f.failing_for.unwrap_or_default().as_secs();
            format!("failing for {failing}s: {}", f.last_error)
        } else {
            return None;
        };
        Some(json!({ "destination": f.name, "why": why }))
    });
    // Whoever has something to write there waits while it fails: not keeping up.
    let store =
        admin.observed.dead_letter.failing().map(
            |why| json!({ "dead_letter_store": admin.observed.dead_letter.path(), "why": why }),
        );
    let not_ready: Vec<_> = store
        .into_iter()
        .chain(sources)
        .chain(destinations)
        .collect();
    let code = match not_ready.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = json!({ "ready": not_ready.is_empty(), "not_ready": not_ready });
    (code, axum::Json(body)).into_response()
}

/// The figures of the progress lines, for the run and per destination.
async fn status(State(admin): State<Arc<Admin>>) -> Response {
    let observed = &admin.observed;
    let c = &observed.counters;
    let body = json!({
        "version": crate::build_info::VERSION,
        "commit": crate::build_info::COMMIT,
        "uptime_seconds": observed.uptime().as_secs_f64(),
        "bytes_read": Counters::get(&c.bytes_read),
        "events_read": Counters::get(&c.events_in),
        "lines_rejected": Counters::get(&c.lines_rejected),
        "filtered": Counters::get(&c.filtered),
        "read_errors": Counters::get(&c.read_errors),
        "spool_bytes": observed.spool_bytes(),
        "dead_letter_bytes": observed.dead_letter.bytes(),
        "sources": observed.sources(),
        "destinations": observed.destinations(),
    });
    axum::Json(body).into_response()
}

/// Whether an `Accept` header lists OpenMetrics (media types are case-insensitive) with
/// a weight above zero, as Prometheus asks when it wants it.
fn asks_for_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let refused = parts.any(|parameter| {
            parameter
                .strip_prefix("q=")
                .and_then(|weight| weight.parse::<f32>().ok())
                .is_some_and(|weight| weight <= 0.0)
        });
        media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
    })
}

/// The Prometheus text format, or OpenMetrics when the scraper asks for it.
async fn metrics(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(asks_for_openmetrics);
    let mut text = String::new();
    let (encoded, content_type) = match openmetrics {
        true => (
            ::prometheus_client::encoding::text::encode(&mut text, &admin.registry),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        false => (
            ::prometheus_client::encoding::prometheus_text::encode(&mut text, &admin.registry),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
    };
    match encoded {
        Ok(()) => ([(header::CONTENT_TYPE, content_type)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer t", "bearer t", "BEARER t", "Bearer  t"] {
            assert_eq!(bearer(value), Some("t"), "{value}");
        }
        assert_eq!(bearer("Basic t"), None);
        assert_eq!(bearer("Bearert"), None);
    }

    #[test]
    fn openmetrics_is_served_when_asked_with_a_weight() {
        assert!(asks_for_openmetrics(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        ));
        assert!(asks_for_openmetrics("APPLICATION/OPENMETRICS-TEXT"));
        assert!(!asks_for_openmetrics(
            "application/openmetrics-text;q=0, text/plain"
        ));
        assert!(!asks_for_openmetrics("text/plain"));
    }
}

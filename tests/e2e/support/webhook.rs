//! A webhook receiver that checks what a careful one checks: the credential it was given
//! (a header and its exact value; 401 before anything else when it is missing or wrong),
//! the JSON content type and body, and, when it has a key, the HMAC-SHA256 signature over
//! `<timestamp>.<body>` and a timestamp within five minutes of its clock (a replayed
//! request is refused). An empty array is a valid body that records nothing. It can
//! answer the next N requests with 429 and `Retry-After`.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;

/// How far a signature's timestamp may be from the receiver's clock.
const REPLAY_WINDOW_SECONDS: i64 = 300;

#[derive(Default)]
struct Recorded {
    events: Vec<Value>,
    requests: usize,
    busy_for: usize,
}

#[derive(Clone)]
struct Shared {
    key: Option<Arc<Vec<u8>>>,
    /// The header every request must carry, and its value.
    credential: Option<Arc<(String, String)>>,
    recorded: Arc<Mutex<Recorded>>,
}

pub struct WebhookReceiver {
    endpoint: String,
    shared: Shared,
}

impl WebhookReceiver {
    /// A receiver at `/hook`, checking signatures made with `key` if it has one.
    pub async fn start(key: Option<&[u8]>) -> Self {
        Self::start_with(key, None).await
    }

    /// A receiver that also wants header `credential.0` with value `credential.1` on
    /// every request (`Authorization`, `Bearer abc`).
    pub async fn start_with(key: Option<&[u8]>, credential: Option<(&str, &str)>) -> Self {
        let shared = Shared {
            key: key.map(|k| Arc::new(k.to_vec())),
            credential: credential
                .map(|(name, value)| Arc::new((name.to_owned(), value.to_owned()))),
            recorded: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        WebhookReceiver {
            endpoint: format!("http://{addr}"),
            shared,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn events(&self) -> Vec<Value> {
        self.shared.recorded.lock().unwrap().events.clone()
    }

    pub fn requests(&self) -> usize {
        self.shared.recorded.lock().unwrap().requests
    }

    /// Answers the next `n` requests with 429 and `Retry-After: 1`.
    pub fn make_busy(&self, n: usize) {
        self.shared.recorded.lock().unwrap().busy_for = n;
    }
}

async fn receive(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.requests += 1;
    let refuse = |status: StatusCode, why: &str| (status, [("retry-after", "1")], why.to_owned());
    if let Some(credential) = &shared.credential
        && header(&credential.0) != Some(credential.1.as_str())
    {
        // Careless, as some receivers are: the refusal quotes what it was sent, after
        // enough text that the quote straddles the 200 characters a reason keeps.
        let given = header(&credential.0).unwrap_or_default();
        return refuse(
            StatusCode::UNAUTHORIZED,
            &format!("missing or wrong credential: {}{given}", "A".repeat(157)),
        );
    }
    if recorded.busy_for > 0 {
        recorded.busy_for -= 1;
        return refuse(StatusCode::TOO_MANY_REQUESTS, "slow down");
    }
    if header("content-type") != Some("application/json") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/json",
        );
    }
    if let Some(key) = &shared.key {
        let Some(timestamp) = header("x-sluice-timestamp").and_then(|t| t.parse::<i64>().ok())
        else {
            return refuse(StatusCode::UNAUTHORIZED, "no timestamp");
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        if (now - timestamp).abs() > REPLAY_WINDOW_SECONDS {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "timestamp outside the replay window",
            );
        }
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(&body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        if header("x-sluice-signature") != Some(expected.as_str()) {
            return refuse(StatusCode::UNAUTHORIZED, "signature mismatch");
        }
    }
    match serde_json::from_slice::<Vec<Value>>(&body) {
        Ok(events) => {
            recorded.events.extend(events);
            (StatusCode::OK, [("retry-after", "0")], "ok".into())
        }
        Err(error) => refuse(
            StatusCode::BAD_REQUEST,
            &format!("not a JSON array: {error}"),
        ),
    }
}

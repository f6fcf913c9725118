//! A Sumo Logic HTTP Logs source, as Sumo documents it: `POST
//! /receiver/v1/http/<code>` where the code is the credential (401 for any other),
//! `Content-Encoding` gzip, deflate or none, at most 1 MB before compression (413
//! beyond, where Sumo says only "do not exceed"), one message per line, the
//! `X-Sumo-Category`, `X-Sumo-Name` and `X-Sumo-Host` headers kept with each, 200.

use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

const MAX_REQUEST: usize = 1_000_000;

/// A message and the category it came with.
pub type Message = (String, Option<String>);

#[derive(Clone)]
struct Shared {
    code: Arc<str>,
    messages: Arc<Mutex<Vec<Message>>>,
}

pub struct SumoSource {
    /// Where the collector listens (without the receiver path).
    base: String,
    shared: Shared,
}

impl SumoSource {
    pub async fn start(code: &str) -> Self {
        let shared = Shared {
            code: code.into(),
            messages: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/receiver/v1/http/{code}", axum::routing::post(receive))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        SumoSource { base, shared }
    }

    /// The collector URL of the source whose code is `code`.
    pub fn url(&self, code: &str) -> String {
        format!("{}/receiver/v1/http/{code}", self.base)
    }

    pub fn messages(&self) -> Vec<Message> {
        self.shared.messages.lock().unwrap().clone()
    }
}

async fn receive(
    State(shared): State<Shared>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if code != *shared.code {
        return StatusCode::UNAUTHORIZED;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut plain = Vec::new();
    let read = match header("content-encoding") {
        None => {
            plain = body.to_vec();
            Ok(0)
        }
        Some("gzip") => flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain),
        Some("deflate") => flate2::read::ZlibDecoder::new(&body[..]).read_to_end(&mut plain),
        Some(_) => return StatusCode::BAD_REQUEST,
    };
    if read.is_err() {
        return StatusCode::BAD_REQUEST;
    }
    if plain.len() > MAX_REQUEST {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    let Ok(text) = String::from_utf8(plain) else {
        return StatusCode::BAD_REQUEST;
    };
    let category = header("x-sumo-category").map(str::to_owned);
    shared.messages.lock().unwrap().extend(
        text.lines()
            .filter(|line| !line.is_empty())
            .map(|line| (line.to_owned(), category.clone())),
    );
    StatusCode::OK
}

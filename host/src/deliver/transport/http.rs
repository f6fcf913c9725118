//! HTTP and HTTPS with reqwest and rustls: certificates verified (the system's roots
//! plus a destination's `ca_file`), redirects not followed, response bodies bounded.

use anyhow::{Context, Result};
use bytes::Bytes;

use super::{SecretHeaders, Sent, headers};
use crate::config::{DestinationConfig, Secret};
use sluice_contract::types::{HttpRequest, HttpResponse};

/// Most characters of a redirect's target said in a message.
const MAX_SHOWN_LOCATION: usize = 200;

#[derive(Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    /// The configured endpoint; a module's paths are appended to it.
    base: reqwest::Url,
    /// Most bytes of a response body kept for `classify`.
    max_response_bytes: usize,
    /// How messages name the endpoint when its URL is a secret (Sumo Logic's holds the
    /// credential): its host and where the URL comes from, never the URL.
    secret_name: Option<String>,
    /// Sent after the module's headers and the credential.
    secret_headers: SecretHeaders,
}

impl HttpTransport {
    pub fn new(base: reqwest::Url, config: &DestinationConfig) -> Result<Self> {
        let secret_name = match &config.endpoint {
            Some(crate::config::EndpointSetting::Secret(secret)) => Some(format!(
                "{}://{}{} (the URL in {secret})",
                base.scheme(),
                base.host_str().unwrap_or_default(),
                base.port()
                    .map(|port| format!(":{port}"))
                    .unwrap_or_default()
            )),
            Some(crate::config::EndpointSetting::Text(_)) | None => None,
        };
        Ok(HttpTransport {
            client: client(config)?,
            base,
            max_response_bytes: config.max_response_bytes,
            secret_name,
            secret_headers: SecretHeaders::new(config)?,
        })
    }

    /// The headers whose values are secrets, added to every request.
    pub fn secret_headers(&self) -> &SecretHeaders {
        &self.secret_headers
    }

    /// The destination's client, for what the host asks of other servers on its
    /// behalf (an OAuth2 token endpoint): the same CA and timeout.
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// Where a request with `path` goes: the endpoint, then the path; `/` is the
    /// endpoint as written when it has a path of its own (a collector URL whose last
    /// segment is its code takes no `/` after it).
    pub fn url(&self, path: &str) -> Result<url::Url, String> {
        let has_path = !matches!(self.base.path(), "" | "/");
        let url = match path == "/" && has_path {
            true => self.base.as_str().to_owned(),
            false => format!("{}{path}", self.base.as_str().trim_end_matches('/')),
        };
        url::Url::parse(&url).map_err(|e| format!("{url}: {e}"))
    }

    /// Sends `request` to `url` with `body`, its headers and then `credential` (the
    /// headers that carry it); reads the answer, its body up to a bound. An `Err` is a
    /// failure of the exchange (connection, TLS, timeout), worth a retry.
    pub async fn send(
        &self,
        request: &HttpRequest,
        url: &url::Url,
        body: Bytes,
        credential: Vec<(String, Secret)>,
    ) -> Result<Sent, String> {
        let shown = self.secret_name.as_deref().unwrap_or(url.as_str());
        let url = url.as_str();
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            format!(
                "the module asked for an invalid HTTP method `{}`",
                request.method
            )
        })?;
        let mut builder = self.client.request(method, url).body(body);
        for (name, value) in headers(request) {
            if !self.secret_headers.has(name) {
                builder = builder.header(name, value);
            }
        }
        for (name, value) in credential {
            builder = builder.header(name, value.expose());
        }
        for (name, value) in self.secret_headers.sent() {
            builder = builder.header(name, value);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| self.describe_error(shown, e))?;
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map_or("(no Location)".into(), |value| {
                    self.shown_location(&String::from_utf8_lossy(value.as_bytes()))
                });
            return Ok(Sent::Redirected(format!(
                "{shown} answered HTTP {} to {location}; redirects are not followed: set the destination's endpoint to where events should go",
                response.status().as_u16()
            )));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        // What is past the limit is not read: the module is told the body was cut.
        let (body, truncated) = read_bounded(response, self.max_response_bytes)
            .await
            .map_err(|e| self.describe_error(shown, e))?;
        Ok(Sent::Response(HttpResponse {
            status,
            headers,
            body,
            truncated,
        }))
    }
}

impl HttpTransport {
    /// Where a redirect pointed, as a message may say it: without its query (a signed
    /// URL carries its credential there), and only its scheme and host for a destination
    /// whose URL is a secret (a collector's next URL holds the same code).
    fn shown_location(&self, location: &str) -> String {
        let Ok(url) = self.base.join(location) else {
            return "(a Location that is not a URL)".to_owned();
        };
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let shown = match self.secret_name {
            Some(_) => format!("{}://{host}/...", url.scheme()),
            None => format!("{}://{host}{}", url.scheme(), url.path()),
        };
        // A receiver's text, bounded as the answers' are.
        match shown.char_indices().nth(MAX_SHOWN_LOCATION) {
            Some((cut, _)) => format!("{}...", &shown[..cut]),
            None => shown,
        }
    }

    /// An exchange's failure, naming the endpoint as `shown`: reqwest's own text holds
    /// the URL, which a secret endpoint's must not.
    fn describe_error(&self, shown: &str, error: reqwest::Error) -> String {
        let error = match self.secret_name {
            Some(_) => error.without_url(),
            None => error,
        };
        describe_reqwest_error(shown, &error)
    }
}

/// A client with the destination's settings: certificates verified against the
/// system's roots and its `ca_file`, its request timeout, no redirects.
fn client(config: &DestinationConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")));
    if let Some(ca_file) = &config.ca_file {
        let pem = std::fs::read(ca_file)
            .with_context(|| format!("cannot read ca_file {}", ca_file.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("ca_file {} is not PEM certificates", ca_file.display()))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.build()?)
}

/// The first `limit` bytes of `response`'s body, and whether there was more (not read).
pub(super) async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(piece) = response.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&piece[..piece.len().min(room)]);
        if piece.len() > room {
            return Ok((body, true));
        }
    }
    Ok((body, false))
}

/// reqwest's Display hides the cause (refused, TLS, timeout); show the whole chain.
fn describe_reqwest_error(url: &str, error: &reqwest::Error) -> String {
    let mut text = format!("{url}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    super::tls_advice::explained(text)
}

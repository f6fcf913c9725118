//! How a module's requests travel: one file per kind of transport, behind [`Transport`].
//! Today `http` (reqwest and rustls, certificates verified) and `capture` (each request
//! written to a file, for trying a module out); `stream` (TCP, TLS) and `datagram`
//! (UDP) come next, each a new file and a variant here.
//!
//! The host adds the credential here, after the module returned: a module never sees
//! it, and a header of the same name set by the module is replaced.

mod capture;
mod http;
mod oauth2;

use std::io::Write;

use anyhow::Result;
use bytes::Bytes;
use flate2::Compression as GzipLevel;
use flate2::write::GzEncoder;

pub use oauth2::TokenSource;

use crate::config::{DestinationConfig, Endpoint, Secret};
use sluice_contract::types::{
    self, AuthHeader, Compression, HttpRequest, HttpResponse, Payload, Query,
};

/// The secret header of a destination.
#[derive(Debug, Clone)]
pub struct Credential {
    pub header: AuthHeader,
    pub value: CredentialValue,
}

/// Where the secret after the header's prefix comes from.
#[derive(Debug, Clone)]
pub enum CredentialValue {
    /// Read from the configuration at start.
    Fixed(Secret),
    /// Obtained from an OAuth2 token endpoint, and again when refused.
    OAuth2(std::sync::Arc<TokenSource>),
}

impl Credential {
    /// The header's value now: a token is obtained if none is kept.
    async fn resolve(&self) -> Result<Secret, String> {
        match &self.value {
            CredentialValue::Fixed(secret) => Ok(secret.clone()),
            CredentialValue::OAuth2(source) => source.token().await,
        }
    }
}

/// What became of a request.
#[derive(Debug)]
pub enum Sent {
    Response(HttpResponse),
    /// The endpoint answered with a redirect, which is not followed: events would be
    /// counted as delivered to a host the configuration never named. The text says
    /// where it pointed.
    Redirected(String),
    /// Written to the capture directory; counts as delivered.
    Captured,
}

#[derive(Debug)]
pub enum Transport {
    Http(http::HttpTransport),
    Capture(capture::CaptureTransport),
}

impl Transport {
    /// The transport of `endpoint`, with the destination's client settings.
    pub fn new(endpoint: Endpoint, config: &DestinationConfig) -> Result<Self> {
        Ok(match endpoint {
            Endpoint::Http(base) => Transport::Http(http::HttpTransport::new(base, config)?),
            Endpoint::Capture(dir) => Transport::Capture(capture::CaptureTransport::new(dir)?),
        })
    }

    /// Whether `endpoint` can carry what a module that needs `transport` sends; the
    /// error says what would.
    pub fn check_serves(endpoint: &Endpoint, transport: types::Transport) -> Result<(), String> {
        match (endpoint, transport) {
            (Endpoint::Http(_) | Endpoint::Capture(_), types::Transport::Http) => Ok(()),
            // Captured messages are written as the module framed them.
            (Endpoint::Capture(_), _) => Ok(()),
            (Endpoint::Http(url), types::Transport::Stream | types::Transport::Datagram) => {
                Err(format!(
                    "sends messages over a {}, not HTTP requests: an `{}://` endpoint cannot carry them (this host serves stream and datagram transports only to capture: so far)",
                    if transport == types::Transport::Stream {
                        "stream (TCP, TLS)"
                    } else {
                        "datagram (UDP)"
                    },
                    url.scheme()
                ))
            }
        }
    }

    /// A client for what the host asks of other servers for this destination (an
    /// OAuth2 token endpoint), with its CA and timeout.
    pub fn client(&self) -> reqwest::Client {
        match self {
            Transport::Http(http) => http.client(),
            // Nothing is sent from a capture destination: no token is ever asked for.
            Transport::Capture(_) => reqwest::Client::new(),
        }
    }

    /// The directory requests are written to, for a capture endpoint.
    pub fn capture_dir(&self) -> Option<&std::path::Path> {
        match self {
            Transport::Capture(capture) => Some(capture.dir()),
            Transport::Http(_) => None,
        }
    }

    /// Sends a module's query (a connection check, an acknowledgement poll) as an
    /// uncompressed request that carries no event.
    pub async fn query(
        &self,
        query: &Query,
        credential: Option<&Credential>,
    ) -> Result<Sent, String> {
        let request = HttpRequest {
            method: query.method.clone(),
            path: query.path.clone(),
            headers: query.headers.clone(),
            body: Payload::default(),
            compression: Compression::None,
            events: Vec::new(),
        };
        self.send(&request, &Bytes::from(query.body.clone()), credential)
            .await
    }

    /// Sends `request` with `body`, as `encode_body` made it. An `Err` is a
    /// transport failure (connection, timeout), worth a retry.
    /// A 401 to a request with an OAuth2 token is answered by sending it once more
    /// with a new token (the old one may have been revoked, or the clocks differ).
    pub async fn send(
        &self,
        request: &HttpRequest,
        body: &Bytes,
        credential: Option<&Credential>,
    ) -> Result<Sent, String> {
        let http = match self {
            Transport::Http(http) => http,
            Transport::Capture(capture) => return capture.write(request, body, credential).await,
        };
        let sent = http
            .send(request, body.clone(), resolved(credential).await?)
            .await?;
        match (&sent, credential.map(|c| &c.value)) {
            (Sent::Response(response), Some(CredentialValue::OAuth2(source)))
                if response.status == 401 =>
            {
                tracing::info!(
                    "the destination refused its OAuth2 token (401); sending once more with a new one"
                );
                source.forget().await;
                http.send(request, body.clone(), resolved(credential).await?)
                    .await
            }
            _ => Ok(sent),
        }
    }
}

/// The credential's header and its value now.
async fn resolved(
    credential: Option<&Credential>,
) -> Result<Option<(&AuthHeader, Secret)>, String> {
    match credential {
        Some(credential) => Ok(Some((&credential.header, credential.resolve().await?))),
        None => Ok(None),
    }
}

/// The body as it goes on the wire, made once per request from the module's checked
/// payload and the batch's text: retries resend it (a cheap `Bytes` clone) rather than
/// assembling or compressing it again. Compressed bodies are never assembled
/// uncompressed: the pieces go straight into the encoder.
pub fn encode_body(
    body: &Payload,
    event_text: &[u8],
    compression: Compression,
) -> std::io::Result<Bytes> {
    match compression {
        Compression::None => Ok(Bytes::from(body.view().assemble(event_text))),
        Compression::Gzip => {
            let mut encoder = GzEncoder::new(Vec::new(), GzipLevel::fast());
            body.view()
                .try_for_each_piece(event_text, |piece| encoder.write_all(piece))?;
            Ok(Bytes::from(encoder.finish()?))
        }
    }
}

/// The headers the host sends: the module's, then `Content-Encoding`, then the credential.
fn headers<'a>(
    request: &'a HttpRequest,
    credential: Option<(&'a AuthHeader, Secret)>,
) -> Vec<(&'a str, String)> {
    // A module header of the credential's name failed the module's call already.
    let mut headers: Vec<(&str, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    if request.compression == Compression::Gzip {
        headers.push(("Content-Encoding", "gzip".to_owned()));
    }
    if let Some((header, secret)) = credential {
        headers.push((
            &header.name,
            format!("{}{}", header.prefix, secret.expose()),
        ));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_endpoint_carries_only_what_an_http_module_sends() {
        let https = Endpoint::Http("https://siem.example:6514".parse().unwrap());
        let capture = Endpoint::Capture("captured".into());
        assert_eq!(
            Transport::check_serves(&https, types::Transport::Http),
            Ok(())
        );
        let refused = Transport::check_serves(&https, types::Transport::Stream).unwrap_err();
        assert!(
            refused.contains("stream (TCP, TLS)") && refused.contains("`https://`"),
            "{refused}"
        );
        assert!(Transport::check_serves(&https, types::Transport::Datagram).is_err());
        for transport in [
            types::Transport::Http,
            types::Transport::Stream,
            types::Transport::Datagram,
        ] {
            assert_eq!(Transport::check_serves(&capture, transport), Ok(()));
        }
    }
}

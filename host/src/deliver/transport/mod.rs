//! How a module's requests travel: one file per kind of transport, behind [`Transport`]:
//! `http` (reqwest and rustls, certificates verified), `stream` (framed messages on TCP
//! or TLS connections, or RELP sessions: `relp`), `datagram` (one message per UDP
//! datagram), `nats` (messages published to NATS JetStream), `object` (each request one
//! object in S3, GCS, Azure Blob or a directory) and `capture` (each request written to
//! a file, for trying a module out).
//!
//! The host adds the credential here, after the module returned: a module never sees
//! it, and a header of the same name set by the module is replaced.

mod capture;
mod datagram;
mod http;
mod local_dir;
pub mod nats;
mod oauth2;
mod object;
mod relp;
mod secret_headers;
mod shared_key;
mod sigv4;
mod stream;
mod tls_advice;

use std::io::Write;

use anyhow::Result;
use bytes::Bytes;
use flate2::Compression as GzipLevel;
use flate2::write::GzEncoder;

pub use oauth2::TokenSource;
pub use object::ObjectWrite;
pub use secret_headers::SecretHeaders;
pub use shared_key::SharedKeySigner;
pub use sigv4::AwsSigner;

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
    /// Not a value but a signature of each request (AWS Signature V4), in the header and
    /// in the `x-amz-*` headers signing adds.
    Aws(std::sync::Arc<AwsSigner>),
    /// The Data Collector API's SharedKey signature of each request.
    AzureSharedKey(std::sync::Arc<SharedKeySigner>),
}

impl Credential {
    /// The headers that carry the credential on `request`, sent to `url` with `body`: the
    /// header with its value now (a token is obtained if none is kept), or the
    /// request's signature.
    async fn headers(
        &self,
        request: &HttpRequest,
        url: &url::Url,
        body: &[u8],
    ) -> Result<Vec<(String, Secret)>, String> {
        let value = match &self.value {
            CredentialValue::Fixed(secret) => secret.clone(),
            CredentialValue::OAuth2(source) => source.token().await?,
            CredentialValue::Aws(signer) => {
                let unsigned = sigv4::Unsigned {
                    method: &request.method,
                    url,
                    headers: &headers(request),
                    body,
                };
                return Ok(signer.sign(&unsigned, &sigv4::amz_date_now()));
            }
            CredentialValue::AzureSharedKey(signer) => {
                let content_type = request
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                    .map_or("", |(_, value)| value.as_str());
                let signed = shared_key::Signed {
                    method: &request.method,
                    content_length: body.len(),
                    content_type,
                    resource: url.path(),
                };
                return Ok(signer.sign(&signed, &shared_key::date_now()));
            }
        };
        Ok(vec![(
            self.header.name.clone(),
            Secret::obtained(format!("{}{}", self.header.prefix, value.expose())),
        )])
    }

    /// The secrets this credential sends, for [`super::redact::Redactor`]: what a
    /// destination's answer may quote back.
    pub fn secrets(&self) -> Vec<Secret> {
        match &self.value {
            CredentialValue::Fixed(secret) => vec![secret.clone()],
            CredentialValue::OAuth2(_) => Vec::new(),
            CredentialValue::Aws(signer) => signer.secrets(),
            CredentialValue::AzureSharedKey(signer) => signer.secrets(),
        }
    }

    /// The headers as a capture shows them: the credential's value masked (after its
    /// prefix: `Splunk ****`).
    fn masked(&self) -> Vec<(String, Secret)> {
        let (name, prefix) = match &self.value {
            CredentialValue::Aws(_) | CredentialValue::AzureSharedKey(_) => ("Authorization", ""),
            CredentialValue::Fixed(_) | CredentialValue::OAuth2(_) => {
                (self.header.name.as_str(), self.header.prefix.as_str())
            }
        };
        vec![(name.to_owned(), Secret::obtained(format!("{prefix}****")))]
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
    /// Messages written to a stream or datagrams sent, but those at these positions
    /// (over a datagram's size), refused with why.
    Written(Vec<types::Refusal>),
    /// Messages published: what the broker did not acknowledge.
    Published(nats::Published),
    /// Written as the object of this name, which the store confirmed.
    Stored(String),
}

#[derive(Debug)]
pub enum Transport {
    Http(http::HttpTransport),
    Stream(stream::StreamTransport),
    Datagram(datagram::DatagramTransport),
    /// Boxed: its options (a TLS configuration) are far larger than the others.
    Nats(Box<nats::NatsTransport>),
    Object(Box<object::ObjectTransport>),
    Capture(capture::CaptureTransport),
}

impl Transport {
    /// The transport of `endpoint` for a module whose requests travel by `transport`,
    /// with the destination's client settings.
    pub fn new(
        endpoint: Endpoint,
        config: &DestinationConfig,
        transport: types::Transport,
    ) -> Result<Self> {
        let nats = |socket: &crate::config::SocketEndpoint| -> Result<Transport> {
            let options = nats::NatsOptions::new(socket, config)?;
            Ok(Transport::Nats(Box::new(nats::NatsTransport::new(options))))
        };
        Ok(match endpoint {
            Endpoint::Nats(socket) => nats(&socket)?,
            // `tls://` is a NATS server with TLS for a module that publishes.
            Endpoint::Stream(socket) if transport == types::Transport::Publish => nats(&socket)?,
            Endpoint::Http(base) => Transport::Http(http::HttpTransport::new(base, config)?),
            Endpoint::Object(url) => {
                Transport::Object(Box::new(object::ObjectTransport::new(&url, config)?))
            }
            Endpoint::Capture(dir) => {
                Transport::Capture(capture::CaptureTransport::new(dir, config)?)
            }
            Endpoint::Stream(socket) => {
                Transport::Stream(stream::StreamTransport::new(socket, config)?)
            }
            Endpoint::Datagram(socket) => {
                Transport::Datagram(datagram::DatagramTransport::new(socket, config))
            }
        })
    }

    /// Whether `endpoint` can carry what a module that needs `transport` sends; the
    /// error says what would.
    pub fn check_serves(endpoint: &Endpoint, transport: types::Transport) -> Result<(), String> {
        // A module of messages says which transport it is made for, but its messages
        // are whole (the host frames them for a stream): any socket carries them.
        use types::Transport::{Datagram, Http, Publish, Stream};
        let serves = match endpoint {
            Endpoint::Capture(_) => true,
            // Each request's body is an object.
            Endpoint::Http(_) | Endpoint::Object(_) => transport == Http,
            Endpoint::Nats(_) => transport == Publish,
            Endpoint::Stream(socket) if transport == Publish => socket.tls && !socket.relp,
            Endpoint::Stream(_) | Endpoint::Datagram(_) => matches!(transport, Stream | Datagram),
        };
        match (serves, transport) {
            (true, _) => Ok(()),
            (false, Http) => Err(
                "sends HTTP requests: give it an https:// endpoint, an object store (s3://, gs://, az://, file://) or capture:DIR"
                    .into(),
            ),
            (false, Publish) => Err(
                "publishes to NATS JetStream: give it a nats:// or tls:// endpoint (or capture:DIR)"
                    .into(),
            ),
            (false, _) => Err(
                "sends messages (syslog, CEF, LEEF lines): give it a tcp://, tls:// or udp:// endpoint (or capture:DIR)"
                    .into(),
            ),
        }
    }

    /// A client for what the host asks of other servers for this destination (an
    /// OAuth2 token endpoint), with its CA and timeout.
    pub fn client(&self) -> reqwest::Client {
        match self {
            Transport::Http(http) => http.client(),
            // Nothing these send carries a token: none is ever asked for.
            Transport::Capture(_)
            | Transport::Stream(_)
            | Transport::Datagram(_)
            | Transport::Nats(_)
            | Transport::Object(_) => reqwest::Client::new(),
        }
    }

    /// The directory requests are written to, for a capture endpoint.
    pub fn capture_dir(&self) -> Option<&std::path::Path> {
        match self {
            Transport::Capture(capture) => Some(capture.dir()),
            _ => None,
        }
    }

    /// Sends framed messages, assembled in `bytes` (message i ends at `ends[i]`).
    pub async fn send_messages(&self, bytes: &[u8], ends: &[u32]) -> Result<Sent, String> {
        match self {
            Transport::Stream(stream) => stream.write(bytes, ends).await.map(Sent::Written),
            Transport::Datagram(datagram) => datagram.send(bytes, ends).await.map(Sent::Written),
            Transport::Capture(capture) => capture.write_messages(bytes, ends).await,
            Transport::Http(_) | Transport::Nats(_) | Transport::Object(_) => {
                Err("unpublished messages to an HTTP, NATS or object store endpoint".into())
            }
        }
    }

    /// Publishes messages, assembled in `bytes` (message i ends at `ends[i]`, goes to
    /// `subjects[i]` and is de-duplicated by `ids[i]`); a capture directory keeps them
    /// as messages.
    pub async fn publish(
        &self,
        bytes: &Bytes,
        ends: &[u32],
        subjects: &[&str],
        ids: &[String],
    ) -> Result<Sent, String> {
        match self {
            Transport::Nats(nats) => nats
                .publish(bytes, ends, subjects, ids)
                .await
                .map(Sent::Published),
            Transport::Capture(capture) => capture.write_messages(bytes, ends).await,
            Transport::Http(_)
            | Transport::Stream(_)
            | Transport::Datagram(_)
            | Transport::Object(_) => {
                Err("published messages to an endpoint that is not NATS".into())
            }
        }
    }

    /// For `sluice check --connect` of a destination whose module makes no query:
    /// opens a stream (TLS verifies the certificate), resolves a datagram receiver, or
    /// asks an object store about an object.
    pub async fn probe(&self) -> Option<Result<String, String>> {
        match self {
            Transport::Stream(stream) => Some(stream.probe().await),
            Transport::Datagram(datagram) => Some(datagram.probe().await),
            Transport::Object(object) => Some(object.probe().await),
            Transport::Http(_) | Transport::Capture(_) | Transport::Nats(_) => None,
        }
    }

    /// The object store, for an object store endpoint.
    pub fn object_store(&self) -> Option<&object::ObjectTransport> {
        match self {
            Transport::Object(object) => Some(object),
            _ => None,
        }
    }

    /// Writes `body` as `object`, for an object store endpoint.
    pub async fn put_object(&self, object: &ObjectWrite, body: &Bytes) -> Result<Sent, String> {
        match self {
            Transport::Object(store) => store.put(object, body).await,
            _ => Err("an object to an endpoint that is not an object store".into()),
        }
    }

    /// Secrets the transport holds itself (an object store's keys), which its errors
    /// must not show.
    pub fn secrets(&self) -> Vec<Secret> {
        match self {
            Transport::Object(object) => object.secrets(),
            Transport::Http(http) => http.secret_headers().secrets(),
            _ => Vec::new(),
        }
    }

    /// Sends a module's query (a connection check, an acknowledgement poll) as an
    /// uncompressed request that carries no event; an `Err` when nothing answered it.
    pub async fn query(
        &self,
        query: &Query,
        credential: Option<&Credential>,
    ) -> Result<HttpResponse, String> {
        let request = HttpRequest {
            method: query.method.clone(),
            path: query.path.clone(),
            headers: query.headers.clone(),
            body: Payload::default(),
            compression: Compression::None,
            events: Vec::new(),
        };
        match self
            .send(&request, &Bytes::from(query.body.clone()), credential)
            .await?
        {
            Sent::Response(response) => Ok(response),
            Sent::Redirected(reason) => Err(reason),
            Sent::Captured | Sent::Written(_) | Sent::Published(_) | Sent::Stored(_) => {
                Err("only an HTTP endpoint answers a query".into())
            }
        }
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
            Transport::Stream(_)
            | Transport::Datagram(_)
            | Transport::Nats(_)
            | Transport::Object(_) => {
                return Err(
                    "an HTTP request to a stream, datagram, NATS or object store endpoint".into(),
                );
            }
        };
        let url = http.url(&request.path)?;
        // The answer reaches the module, and through it logs and dead-letter records:
        // whatever secret it echoes back is masked first.
        let send_once = || async {
            let credential_headers = match credential {
                Some(credential) => credential.headers(request, &url, body).await?,
                None => Vec::new(),
            };
            let sent_secrets = super::redact::Redactor::of(
                credential_headers
                    .iter()
                    .flat_map(|(_, value)| header_secrets(value))
                    .chain(http.secret_headers().secrets()),
            );
            let sent = http
                .send(request, &url, body.clone(), credential_headers)
                .await?;
            Ok::<_, String>(match sent {
                Sent::Response(mut response) => {
                    sent_secrets.redact_bytes(&mut response.body);
                    Sent::Response(response)
                }
                other => other,
            })
        };
        let sent = send_once().await?;
        match (&sent, credential.map(|c| &c.value)) {
            (Sent::Response(response), Some(CredentialValue::OAuth2(source)))
                if response.status == 401 =>
            {
                tracing::info!(
                    "the destination refused its OAuth2 token (401); sending once more with a new one"
                );
                source.forget().await;
                send_once().await
            }
            _ => Ok(sent),
        }
    }
}

/// The secrets a credential header's value holds: the value, and the secret after its
/// scheme (`Bearer <token>`: the token alone may be echoed too).
fn header_secrets(value: &Secret) -> Vec<Secret> {
    let value = value.expose();
    let mut secrets = vec![Secret::obtained(value.to_owned())];
    if let Some((_, after)) = value.split_once(' ') {
        secrets.push(Secret::obtained(after.to_owned()));
    }
    secrets
}

/// The body as it goes on the wire, made once per request from the module's checked
/// payload and the batch's text: retries resend it (a cheap `Bytes` clone) rather than
/// assembling or compressing it again. A compressed body is assembled first and
/// compressed in one call: the encoder's cost per call made piece by piece (four or so
/// per event) 1.4x slower end to end (`SLUICE_BENCH_GZIP=1`, README).
pub fn encode_body(
    body: &Payload,
    event_text: &[u8],
    compression: Compression,
) -> std::io::Result<Bytes> {
    match compression {
        Compression::None => Ok(Bytes::from(body.view().assemble(event_text))),
        Compression::Gzip => {
            let plain = body.view().assemble(event_text);
            let mut encoder =
                GzEncoder::new(Vec::with_capacity(plain.len() / 4), GzipLevel::fast());
            encoder.write_all(&plain)?;
            Ok(Bytes::from(encoder.finish()?))
        }
    }
}

/// The headers the host sends before the credential's: the module's, then
/// `Content-Encoding`. A module header of the credential's name failed the module's call
/// already.
fn headers(request: &HttpRequest) -> Vec<(&str, String)> {
    let mut headers: Vec<(&str, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    if request.compression == Compression::Gzip {
        headers.push(("Content-Encoding", "gzip".to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each secret sent is masked in the answer, wherever and however often it
    /// appears, the longest first; the token of a `Bearer` header alone too.
    #[test]
    fn the_secrets_sent_are_masked_in_the_answer() {
        let secrets = super::super::redact::Redactor::of(
            header_secrets(&Secret::obtained("Bearer token-abcdef".into()))
                .into_iter()
                .chain([
                    Secret::obtained("key-12345678".into()),
                    Secret::obtained("short".into()),
                ]),
        );
        let mut body =
            b"got Bearer token-abcdef; token-abcdef again, key-12345678 and short".to_vec();
        secrets.redact_bytes(&mut body);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "got ****; **** again, **** and short"
        );
    }

    #[test]
    fn an_endpoint_carries_requests_or_messages_as_its_module_sends() {
        let https = Endpoint::Http("https://siem.example:6514".parse().unwrap());
        let socket = crate::config::SocketEndpoint {
            host: "siem.example".into(),
            port: 6514,
            tls: true,
            relp: false,
        };
        let tls = Endpoint::Stream(socket.clone());
        let udp = Endpoint::Datagram(socket);
        let capture = Endpoint::Capture("captured".into());
        assert_eq!(
            Transport::check_serves(&https, types::Transport::Http),
            Ok(())
        );
        assert_eq!(
            Transport::check_serves(&tls, types::Transport::Stream),
            Ok(())
        );
        assert_eq!(
            Transport::check_serves(&udp, types::Transport::Datagram),
            Ok(())
        );
        // Whole messages travel on any socket: the host frames them for a stream.
        assert_eq!(
            Transport::check_serves(&udp, types::Transport::Stream),
            Ok(())
        );
        let refused = Transport::check_serves(&https, types::Transport::Stream).unwrap_err();
        assert!(refused.contains("tcp://, tls:// or udp://"), "{refused}");
        let refused = Transport::check_serves(&tls, types::Transport::Http).unwrap_err();
        assert!(refused.contains("https://"), "{refused}");
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

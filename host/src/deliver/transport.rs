//! Carrying a module's HTTP requests: to the configured endpoint over reqwest and
//! rustls (certificates verified), or into a capture directory.
//!
//! The host adds the credential here, after the module returned: a module never sees
//! it, and a header of the same name set by the module is replaced.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use bytes::Bytes;
use flate2::Compression as GzipLevel;
use flate2::write::GzEncoder;

use crate::config::{DestinationConfig, Endpoint, Secret};
use crate::module::types::{AuthHeader, Compression, HttpRequest, HttpResponse, Payload};

/// Most bytes of a response body kept for `classify`.
const MAX_RESPONSE_BODY: usize = 1 << 20;

/// The secret header of a destination.
#[derive(Debug, Clone)]
pub struct Credential {
    pub header: AuthHeader,
    pub secret: Secret,
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
    Http {
        client: reqwest::Client,
        base: reqwest::Url,
    },
    Capture {
        dir: PathBuf,
        next: AtomicU64,
    },
}

impl Transport {
    pub fn new(config: &DestinationConfig) -> Result<Self> {
        match config.endpoint()? {
            Endpoint::Http(base) => {
                let mut builder = reqwest::Client::builder()
                    .timeout(config.request_timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")));
                if let Some(ca_file) = &config.ca_file {
                    let pem = std::fs::read(ca_file)
                        .with_context(|| format!("reading ca_file {}", ca_file.display()))?;
                    for certificate in
                        reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
                            format!("ca_file {} is not PEM certificates", ca_file.display())
                        })?
                    {
                        builder = builder.add_root_certificate(certificate);
                    }
                }
                Ok(Transport::Http {
                    client: builder.build()?,
                    base,
                })
            }
            Endpoint::Capture(dir) => {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating capture directory {}", dir.display()))?;
                // After the highest number there, not the count of files (which a
                // deleted file makes smaller than the highest number).
                let highest = std::fs::read_dir(&dir)?
                    .filter_map(|entry| {
                        let name = entry.ok()?.file_name();
                        name.to_str()?.strip_suffix(".http")?.parse::<u64>().ok()
                    })
                    .max()
                    .unwrap_or(0);
                Ok(Transport::Capture {
                    dir,
                    next: AtomicU64::new(highest + 1),
                })
            }
        }
    }

    /// Sends `request` with `body`, as `encode_body` made it. An `Err` is a
    /// transport failure (connection, timeout), worth a retry.
    pub async fn send(
        &self,
        request: &HttpRequest,
        body: &Bytes,
        credential: Option<&Credential>,
    ) -> Result<Sent, String> {
        match self {
            Transport::Http { client, base } => {
                send_http(client, base, request, body.clone(), credential).await
            }
            Transport::Capture { dir, next } => {
                let text = capture_text(request, body, credential);
                write_capture(dir, next, &text).await?;
                Ok(Sent::Captured)
            }
        }
    }
}

/// Writes a captured request to the next free `NNNNNN.http` of `dir`. A file is never
/// overwritten: numbers taken (by an earlier run, or another destination writing to
/// the same directory) are skipped, whatever gaps deleted files left.
async fn write_capture(dir: &std::path::Path, next: &AtomicU64, text: &[u8]) -> Result<(), String> {
    loop {
        let path = dir.join(format!("{:06}.http", next.fetch_add(1, Ordering::Relaxed)));
        let created = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await;
        let mut file = match created {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(format!("creating {}: {error}", path.display())),
        };
        // A tokio file writes in the background: flushed, the bytes are in the file
        // before the request counts as delivered.
        let written = async {
            tokio::io::AsyncWriteExt::write_all(&mut file, text).await?;
            tokio::io::AsyncWriteExt::flush(&mut file).await
        };
        return written
            .await
            .map_err(|e| format!("writing {}: {e}", path.display()));
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
    credential: Option<&'a Credential>,
) -> Vec<(&'a str, String)> {
    let mut headers: Vec<(&str, String)> = request
        .headers
        .iter()
        .filter(|(name, _)| credential.is_none_or(|c| !name.eq_ignore_ascii_case(&c.header.name)))
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    if request.compression == Compression::Gzip {
        headers.push(("Content-Encoding", "gzip".to_owned()));
    }
    if let Some(credential) = credential {
        headers.push((
            &credential.header.name,
            format!("{}{}", credential.header.prefix, credential.secret.expose()),
        ));
    }
    headers
}

async fn send_http(
    client: &reqwest::Client,
    base: &reqwest::Url,
    request: &HttpRequest,
    body: Bytes,
    credential: Option<&Credential>,
) -> Result<Sent, String> {
    let url = format!("{}{}", base.as_str().trim_end_matches('/'), request.path);
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
        format!(
            "the module asked for an invalid HTTP method `{}`",
            request.method
        )
    })?;
    let mut builder = client.request(method, &url).body(body);
    for (name, value) in headers(request, credential) {
        builder = builder.header(name, value);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| describe_reqwest_error(&url, &e))?;
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map_or("(no Location)".into(), |value| {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            });
        return Ok(Sent::Redirected(format!(
            "{url} answered HTTP {} to {location}; redirects are not followed: set the destination's endpoint to where events should go",
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
    let mut body = Vec::new();
    let mut response = response;
    while let Some(piece) = response
        .chunk()
        .await
        .map_err(|e| describe_reqwest_error(&url, &e))?
    {
        body.extend_from_slice(&piece[..piece.len().min(MAX_RESPONSE_BODY - body.len())]);
        if body.len() >= MAX_RESPONSE_BODY {
            break;
        }
    }
    Ok(Sent::Response(HttpResponse {
        status,
        headers,
        body,
    }))
}

/// reqwest's Display hides the cause (refused, TLS, timeout); show the whole chain.
fn describe_reqwest_error(url: &str, error: &reqwest::Error) -> String {
    let mut text = format!("{url}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The request as an HTTP/1.1 message, the credential masked.
fn capture_text(request: &HttpRequest, body: &[u8], credential: Option<&Credential>) -> Vec<u8> {
    let mut text = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (name, value) in headers(request, credential) {
        let masked = match credential {
            Some(c) if name == c.header.name => format!("{}****", c.header.prefix),
            _ => value,
        };
        text.push_str(&format!("{name}: {masked}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

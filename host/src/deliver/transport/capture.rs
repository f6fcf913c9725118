//! `capture:DIR`: each request written to a file of `DIR` instead of being sent, so a
//! module can be tried without its SIEM: an HTTP request as an HTTP/1.1 message (the
//! credential masked, `NNNNNN.http`), messages for a stream or datagram as the framed
//! bytes (`NNNNNN.messages`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

use super::{Credential, SecretHeaders, Sent, headers};
use crate::config::{DestinationConfig, Framing};
use sluice_contract::types::HttpRequest;

#[derive(Debug)]
pub struct CaptureTransport {
    dir: PathBuf,
    /// How messages are framed in a file, as on a stream.
    framing: Framing,
    /// The number the next file tries.
    next: AtomicU64,
    /// Shown masked in each request.
    secret_headers: SecretHeaders,
}

impl CaptureTransport {
    pub fn new(dir: PathBuf, config: &DestinationConfig) -> Result<Self> {
        crate::private_fs::create_dir_all(&dir)
            .with_context(|| format!("creating capture directory {}", dir.display()))?;
        // After the highest number there, not the count of files (which a deleted file
        // makes smaller than the highest number).
        let highest = std::fs::read_dir(&dir)?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                let name = name.to_str()?;
                let number = name
                    .strip_suffix(".http")
                    .or_else(|| name.strip_suffix(".messages"))?;
                number.parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        Ok(CaptureTransport {
            dir,
            framing: config.framing,
            next: AtomicU64::new(highest + 1),
            secret_headers: SecretHeaders::new(config)?,
        })
    }

    /// Where the requests go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub async fn write(
        &self,
        request: &HttpRequest,
        body: &[u8],
        credential: Option<&Credential>,
    ) -> Result<Sent, String> {
        let text = capture_text(request, body, credential, &self.secret_headers);
        write_new_file(&self.dir, &self.next, "http", &text).await?;
        Ok(Sent::Captured)
    }

    /// Writes messages framed as a stream would carry them, back to back; returns those
    /// the framing cannot carry, not written, with why.
    pub async fn write_messages(&self, messages: &[u8], ends: &[u32]) -> Result<Sent, String> {
        let (frames, refused) = super::stream::frame(self.framing, messages, ends);
        write_new_file(&self.dir, &self.next, "messages", &frames).await?;
        Ok(Sent::Written(refused))
    }
}

/// Writes a captured request to the next free `NNNNNN.<extension>` of `dir`. A file is never
/// overwritten: numbers taken (by an earlier run, or another destination writing to
/// the same directory) are skipped, whatever gaps deleted files left.
async fn write_new_file(
    dir: &Path,
    next: &AtomicU64,
    extension: &str,
    text: &[u8],
) -> Result<(), String> {
    loop {
        let number = next.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{number:06}.{extension}"));
        let created = tokio::fs::OpenOptions::from(crate::private_fs::options())
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

/// The request as an HTTP/1.1 message, the credential and the secret headers masked.
fn capture_text(
    request: &HttpRequest,
    body: &[u8],
    credential: Option<&Credential>,
    secret_headers: &SecretHeaders,
) -> Vec<u8> {
    let mut text = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    let module_headers = headers(request)
        .into_iter()
        .filter(|(name, _)| !secret_headers.has(name))
        .map(|(name, value)| (name.to_owned(), value));
    let masked = credential.map(Credential::masked).unwrap_or_default();
    let masked = masked
        .into_iter()
        .map(|(name, value)| (name, value.expose().to_owned()));
    for (name, value) in module_headers.chain(masked).chain(secret_headers.masked()) {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

//! Webhook bodies: the events, byte-exact, in a JSON array or as NDJSON, split under
//! the size limit; signed when a signing key is configured.
//!
//! Unsigned, a body is placed from pieces (the events by range, never copied in the
//! sandbox). Signed, the module needs the bytes it signs: the body is assembled in the
//! module, signed by the host's `sign` (the key stays in the host), and sent as those
//! bytes.

use sluice_guest::{
    Batch, Compression, ConnectionCheck, FormatError, Formatted, HttpRequest, Payload,
    PayloadBuilder, Query, Refusal, Request,
};

use sluice_guest::enrich::Stamp;

use crate::config::{Framing, Probe, WebhookConfig};

/// Builds webhook requests for the batches of one destination.
#[derive(Debug)]
pub struct WebhookEncoder {
    config: WebhookConfig,
    /// The host's enrichment, in each event.
    stamp: Stamp,
}

/// The time now, in Unix seconds (the sandbox has a clock, and nothing else).
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl WebhookEncoder {
    pub fn new(config: WebhookConfig) -> Self {
        WebhookEncoder {
            config,
            stamp: Stamp::off(),
        }
    }

    /// The same, the host's enrichment in each event.
    pub fn stamped(self, stamp: Stamp) -> Self {
        WebhookEncoder { stamp, ..self }
    }

    /// Encodes every event of `batch`, signing each body at `now` (Unix seconds) when a
    /// signing key is configured; an event larger than a whole request is refused.
    pub fn encode(&self, batch: &Batch<'_>, now: u64) -> Result<Formatted, FormatError> {
        let (open, separator, close): (&[u8], &[u8], &[u8]) = match self.config.framing {
            Framing::JsonArray => (b"[", b",", b"]"),
            Framing::Ndjson => (b"", b"", b""),
        };
        let after_event: &[u8] = match self.config.framing {
            Framing::JsonArray => b"",
            Framing::Ndjson => b"\n",
        };
        // Bytes of a body besides its events: the brackets, and a separator or newline
        // per event.
        let frame = open.len() + close.len();
        let per_event = separator.len().max(after_event.len());
        let limit = self.config.max_request_bytes;
        let mut formatted = Formatted::default();
        let mut body: Option<(PayloadBuilder, Vec<u32>)> = None;
        for (index, event) in batch.events().enumerate() {
            // Mapped to a schema, the event is the module's own text; else placed as read.
            let mapped = self
                .config
                .schema
                .map(&event)
                .map(|document| self.stamp.extend_document(&event, document));
            let len = mapped
                .as_ref()
                .map_or(event.json_len() + self.stamp.added_len(&event), Vec::len);
            let size = len + per_event;
            if frame + size > limit {
                formatted.refused.push(Refusal {
                    event: index as u32,
                    reason: format!(
                        "the event is {len} bytes, over the request limit of {limit} bytes (setting max_request_bytes)"
                    ),
                });
                continue;
            }
            if let Some((payload, _)) = &body
                && payload.len() + size + close.len() > limit
            {
                let (payload, events) = body.take().expect("checked above");
                formatted
                    .requests
                    .push(self.request(batch, payload, close, events, now)?);
            }
            let (payload, events) = body.get_or_insert_with(|| {
                let mut payload = PayloadBuilder::with_capacity(batch, 64, 2 * batch.len() + 2);
                payload.push(open);
                (payload, Vec::new())
            });
            if !events.is_empty() {
                payload.push(separator);
            }
            match &mapped {
                Some(document) => payload.push(document),
                None => self.stamp.push_event(payload, &event),
            }
            payload.push(after_event);
            events.push(index as u32);
        }
        if let Some((payload, events)) = body {
            formatted
                .requests
                .push(self.request(batch, payload, close, events, now)?);
        }
        Ok(formatted)
    }

    fn request(
        &self,
        batch: &Batch<'_>,
        mut payload: PayloadBuilder,
        close: &[u8],
        events: Vec<u32>,
        now: u64,
    ) -> Result<Request, FormatError> {
        payload.push(close);
        let (body, headers) = match &self.config.signing_key {
            None => (payload.finish(), self.headers()),
            Some(_) => {
                let bytes = payload.finish().assemble(batch);
                let headers = self.signed_headers(&bytes, now)?;
                (Payload::from(bytes), headers)
            }
        };
        Ok(Request::Http(HttpRequest {
            method: "POST".into(),
            path: self.config.path.clone(),
            headers,
            body,
            // A signature covers the bytes as sent: not compressed after signing.
            compression: Compression::None,
            events,
        }))
    }
}

impl WebhookEncoder {
    /// The request `sluice check --connect` sends to test the endpoint and the
    /// credential: a batch of no events (`[]`, or an empty NDJSON body), signed as any
    /// body is, or a HEAD of the path; none when the settings say so. A receiver that
    /// checks the credential first and the body after answers 400 or 422 to an empty
    /// batch it does not take: reached, and the credential taken.
    pub fn connection_check(&self, now: u64) -> Result<Option<ConnectionCheck>, FormatError> {
        let (method, body, accepted) = match self.config.connection_check {
            Probe::None => return Ok(None),
            Probe::Head => ("HEAD", Vec::new(), Vec::new()),
            Probe::EmptyPost => {
                let body = match self.config.framing {
                    Framing::JsonArray => b"[]".to_vec(),
                    Framing::Ndjson => Vec::new(),
                };
                ("POST", body, vec![400, 422])
            }
        };
        let headers = match (&self.config.signing_key, method) {
            (Some(_), "POST") => self.signed_headers(&body, now)?,
            _ => self.headers(),
        };
        Ok(Some(ConnectionCheck {
            query: Query {
                method: method.into(),
                path: self.config.path.clone(),
                headers,
                body,
            },
            accepted: [200, 201, 202, 204].into_iter().chain(accepted).collect(),
            unauthorized: vec![401, 403],
        }))
    }

    /// The headers of every request: its content type, then the settings'.
    fn headers(&self) -> Vec<(String, String)> {
        let content_type = match self.config.framing {
            Framing::JsonArray => "application/json",
            Framing::Ndjson => "application/x-ndjson",
        };
        let mut headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
        headers.extend(self.config.headers.iter().cloned());
        headers
    }

    /// The headers of a request whose `body` is signed at `now`: the time and the
    /// HMAC-SHA256 of `<now>.<body>`, computed by the host with the named key.
    fn signed_headers(&self, body: &[u8], now: u64) -> Result<Vec<(String, String)>, FormatError> {
        let mut headers = self.headers();
        if let Some(key) = &self.config.signing_key {
            let mut signed = now.to_string().into_bytes();
            signed.push(b'.');
            signed.extend_from_slice(body);
            let signature =
                sluice_guest::sign::hmac_sha256(key, &signed).map_err(FormatError::Failed)?;
            headers.push((self.config.timestamp_header.clone(), now.to_string()));
            headers.push((
                self.config.signature_header.clone(),
                format!("sha256={}", hex(&signature)),
            ));
        }
        Ok(headers)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

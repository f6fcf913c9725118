//! The settings of a webhook destination.

use sluice_guest::schema::Schema;
use sluice_guest::{FormatError, SettingDoc, Settings};

/// How the events are framed in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `[e1,e2]`, `application/json`.
    JsonArray,
    /// `e1\ne2\n`, `application/x-ndjson`.
    Ndjson,
}

/// What `sluice check --connect` sends to the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A POST of a batch of no events.
    EmptyPost,
    /// A HEAD of the path.
    Head,
    /// Nothing: the host only sees that the endpoint answers.
    None,
}

/// What the encoder needs, read once per module instance.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub path: String,
    pub framing: Framing,
    /// Sent with every request.
    pub headers: Vec<(String, String)>,
    /// The destination's `signing_keys` entry that signs the body, if any.
    pub signing_key: Option<String>,
    pub signature_header: String,
    pub timestamp_header: String,
    pub max_request_bytes: usize,
    /// The events as read, or mapped to ECS or OCSF.
    pub schema: Schema,
    pub connection_check: Probe,
}

/// Headers a setting may not set: the host frames the request, and holds credentials.
const HOST_HEADERS: [&str; 7] = [
    "content-length",
    "transfer-encoding",
    "content-encoding",
    "host",
    "connection",
    "authorization",
    "content-type",
];

impl WebhookConfig {
    pub fn docs() -> Vec<SettingDoc> {
        [
            Schema::docs(),
            vec![
                sluice_guest::enrich::Stamp::doc(),
                SettingDoc {
                    name: "path",
                    description: "the path requests are posted to, after the endpoint",
                    default: Some("/"),
                },
                SettingDoc {
                    name: "format",
                    description: "`json_array` (one JSON array of the events per request) or `ndjson` (one event per line)",
                    default: Some("json_array"),
                },
                SettingDoc {
                    name: "headers",
                    description: "static headers, `Name: value` separated by `;` (not the framing, Content-Type or Authorization headers)",
                    default: None,
                },
                SettingDoc {
                    name: "signing_key",
                    description: "a name in the destination's signing_keys: each request gets an HMAC-SHA256 of `<timestamp>.<body>`, computed by the host",
                    default: None,
                },
                SettingDoc {
                    name: "signature_header",
                    description: "the header of the signature, `sha256=<hex>`",
                    default: Some("X-Sluice-Signature"),
                },
                SettingDoc {
                    name: "timestamp_header",
                    description: "the header of the signing time, Unix seconds, for the receiver's replay window",
                    default: Some("X-Sluice-Timestamp"),
                },
                SettingDoc {
                    name: "connection_check",
                    description: "what `sluice check --connect` sends: `empty_post` (a batch of no events, signed like any other), `head` (a HEAD of the path) or `none`",
                    default: Some("empty_post"),
                },
                SettingDoc {
                    name: "max_request_bytes",
                    description: "upper bound of one request body",
                    default: Some("1000000"),
                },
            ],
        ]
        .concat()
    }

    pub fn from_settings(settings: &Settings) -> Result<Self, FormatError> {
        let path = settings.text("path").unwrap_or_else(|| "/".into());
        if !path.starts_with('/') {
            return Err(FormatError::setting("path", "must start with `/`"));
        }
        let framing = match settings.get("format") {
            Some("json_array") | None => Framing::JsonArray,
            Some("ndjson") => Framing::Ndjson,
            Some(other) => {
                return Err(FormatError::setting(
                    "format",
                    format!("`{other}` is not `json_array` or `ndjson`"),
                ));
            }
        };
        let max_request_bytes: usize = settings.parse("max_request_bytes")?.unwrap_or(1_000_000);
        if max_request_bytes < 1024 {
            return Err(FormatError::setting(
                "max_request_bytes",
                "must be at least 1024",
            ));
        }
        let schema = Schema::from_settings(settings)?;
        let connection_check = match settings.get("connection_check") {
            Some("empty_post") | None => Probe::EmptyPost,
            Some("head") => Probe::Head,
            Some("none") => Probe::None,
            Some(other) => {
                return Err(FormatError::setting(
                    "connection_check",
                    format!("`{other}` is not `empty_post`, `head` or `none`"),
                ));
            }
        };
        Ok(WebhookConfig {
            connection_check,
            schema,
            path,
            framing,
            headers: parse_headers(settings.get("headers").unwrap_or(""))?,
            signing_key: settings.text("signing_key"),
            signature_header: settings
                .text("signature_header")
                .unwrap_or_else(|| "X-Sluice-Signature".into()),
            timestamp_header: settings
                .text("timestamp_header")
                .unwrap_or_else(|| "X-Sluice-Timestamp".into()),
            max_request_bytes,
        })
    }
}

/// `X-A: 1; X-B: two` into pairs, refusing what would break a request.
fn parse_headers(text: &str) -> Result<Vec<(String, String)>, FormatError> {
    let mut headers = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, value) = entry.split_once(':').ok_or_else(|| {
            FormatError::setting("headers", format!("`{entry}` is not `Name: value`"))
        })?;
        let (name, value) = (name.trim(), value.trim());
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(FormatError::setting(
                "headers",
                format!("`{name}` is not a header name"),
            ));
        }
        if HOST_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(FormatError::setting(
                "headers",
                format!("`{name}` is set by the host"),
            ));
        }
        if value.bytes().any(|b| b.is_ascii_control()) {
            return Err(FormatError::setting(
                "headers",
                format!("the value of `{name}` holds a control character"),
            ));
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(headers)
}

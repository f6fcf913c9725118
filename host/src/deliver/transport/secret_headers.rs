//! A destination's `secret_headers`: headers whose values are secrets (a receiver's own
//! `X-Api-Key`), read at start and added by the host to every HTTP request after the
//! module's, so a module never sees them; a module header of the same name gives way.

use anyhow::{Result, bail};

use crate::config::{DestinationConfig, Secret};
use sluice_contract::http::{is_field_value, is_framing_header, is_token};

/// Headers that speak of the connection rather than the request (RFC 9110, 7.6.1):
/// a credential there would be dropped or misread by the first proxy.
const HOP_BY_HOP: [&str; 6] = [
    "te",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "trailer",
    "expect",
];

#[derive(Debug, Clone, Default)]
pub struct SecretHeaders(Vec<(String, Secret)>);

impl SecretHeaders {
    /// The destination's secret headers, read; an error names the header and why it
    /// cannot be sent (never its value).
    pub fn new(config: &DestinationConfig) -> Result<Self> {
        let mut headers = Vec::with_capacity(config.secret_headers.len());
        for (name, secret) in &config.secret_headers {
            if !is_token(name) {
                bail!("secret_headers.{name:?}: not a header name");
            }
            if is_framing_header(name) {
                bail!("secret_headers.{name}: the host sets that header from the request");
            }
            if HOP_BY_HOP.iter().any(|hop| hop.eq_ignore_ascii_case(name)) {
                bail!("secret_headers.{name}: a header of the connection, not of the request");
            }
            if headers
                .iter()
                .any(|(other, _): &(String, Secret)| other.eq_ignore_ascii_case(name))
            {
                bail!("secret_headers.{name}: given twice (header names ignore case)");
            }
            let value = secret
                .resolve()
                .map_err(|e| anyhow::anyhow!("secret_headers.{name}: {e}"))?;
            let trimmed = value.expose().trim();
            if trimmed.is_empty() || !is_field_value(trimmed) {
                bail!(
                    "secret_headers.{name}: {secret} holds no value, or a character (a line break?) no HTTP header can carry"
                );
            }
            headers.push((name.clone(), Secret::obtained(trimmed.to_owned())));
        }
        Ok(SecretHeaders(headers))
    }

    /// Whether `name` is one of them (a module header of that name is not sent).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(own, _)| own.eq_ignore_ascii_case(name))
    }

    /// The headers as they are sent.
    pub fn sent(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose()))
    }

    /// The headers as a capture shows them, the values masked.
    pub fn masked(&self) -> impl Iterator<Item = (String, String)> {
        self.0.iter().map(|(name, _)| (name.clone(), "****".into()))
    }

    /// The values, for [`crate::deliver::redact::Redactor`]: what a destination's answer
    /// may quote back.
    pub fn secrets(&self) -> Vec<Secret> {
        self.0.iter().map(|(_, value)| value.clone()).collect()
    }
}

//! What a destination's answers must not carry into logs, dead-letter records and
//! `/status`: its secrets. A receiver may echo what it was sent (a 404 page that quotes
//! the path, which for a Sumo Logic collector URL is the credential; an AWS signature
//! error that quotes the canonical request, session token included), and a module turns
//! that text into the reason the host keeps. Each secret the host sends this destination
//! is replaced by `****` in every such text.

use crate::config::{DestinationConfig, EndpointSetting, Secret};

/// Shorter values are not looked for: they would mask ordinary words.
const MIN_SECRET_CHARS: usize = 8;

#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Vec<Secret>,
}

impl Redactor {
    /// The secrets of `config`'s endpoint and credentials (those read at start), and
    /// `more` (a signer's keys).
    pub fn new(config: &DestinationConfig, more: impl IntoIterator<Item = Secret>) -> Self {
        let mut secrets: Vec<Secret> = more.into_iter().collect();
        if let Some(endpoint @ EndpointSetting::Secret(_)) = &config.endpoint
            && let Ok(text) = endpoint.text()
        {
            // The whole URL, and each part of its path and query that could be a code.
            if let Ok(url) = url::Url::parse(text.expose()) {
                let parts = url
                    .path_segments()
                    .into_iter()
                    .flatten()
                    .map(str::to_owned)
                    .chain(url.query_pairs().map(|(_, value)| value.into_owned()));
                secrets.extend(parts.map(Secret::obtained));
            }
            secrets.push(text);
        }
        let fixed = [
            config.token.as_ref(),
            config.basic_auth.as_ref().map(|b| &b.password),
            config.oauth2.as_ref().map(|o| &o.client_secret),
        ];
        secrets.extend(fixed.into_iter().flatten().filter_map(|r| r.resolve().ok()));
        Redactor::of(secrets)
    }

    /// A redactor of `secrets` alone (those one request sent).
    pub fn of(secrets: impl IntoIterator<Item = Secret>) -> Self {
        let mut secrets: Vec<Secret> = secrets
            .into_iter()
            .filter(|secret| secret.expose().chars().count() >= MIN_SECRET_CHARS)
            .collect();
        // The longest first, so a secret that holds another is masked whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.expose().len()));
        Redactor { secrets }
    }

    /// `bytes` (an answer's body, not always UTF-8) with every secret masked.
    pub fn redact_bytes(&self, bytes: &mut Vec<u8>) {
        for secret in &self.secrets {
            let secret = secret.expose().as_bytes();
            let Some(first) = memchr::memmem::find(bytes, secret) else {
                continue;
            };
            let mut masked = Vec::with_capacity(bytes.len());
            let mut rest = &bytes[..];
            let mut at = Some(first);
            while let Some(found) = at {
                masked.extend_from_slice(&rest[..found]);
                masked.extend_from_slice(b"****");
                rest = &rest[found + secret.len()..];
                at = memchr::memmem::find(rest, secret);
            }
            masked.extend_from_slice(rest);
            *bytes = masked;
        }
    }

    /// `text` with every secret masked.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.expose()) {
                text = text.replace(secret.expose(), "****");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_secret_and_the_parts_of_a_secret_url_are_masked() {
        let redactor = Redactor {
            secrets: vec![
                Secret::obtained("https://c.example/receiver/v1/http/CODE12345".into()),
                Secret::obtained("CODE12345".into()),
                Secret::obtained("session-token-value".into()),
            ],
        };
        assert_eq!(
            redactor.redact("Cannot POST /receiver/v1/http/CODE12345; token session-token-value"),
            "Cannot POST /receiver/v1/http/****; token ****"
        );
        assert_eq!(redactor.redact("nothing here"), "nothing here");
    }
}

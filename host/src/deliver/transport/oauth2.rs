//! OAuth2 client credentials: the host obtains a token from the destination's token
//! endpoint, keeps it until shortly before it expires, and obtains a new one when the
//! destination answers 401 (the transport then sends the request once more). The module
//! never sees the token, nor the client secret.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::config::{OAuth2, Secret};

/// Most bytes of a token endpoint's answer read: a token and its lifetime, never more
/// (an endpoint that answers without end is refused, not read into memory).
const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;

/// Obtains tokens for one destination.
#[derive(Debug)]
pub struct TokenSource {
    config: OAuth2,
    client_secret: Secret,
    client: reqwest::Client,
    /// The token, and when to obtain the next one.
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

/// The token endpoint's answer (RFC 6749, section 5.1). Entra ID gives `expires_in` as
/// a number; some servers as a string.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<serde_json::Value>,
}

/// Refresh this long before a token expires (or at half its life, if shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// A token without a lifetime is kept this long.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

impl TokenSource {
    pub fn new(config: &OAuth2, client: reqwest::Client) -> Result<Self, String> {
        Ok(TokenSource {
            client_secret: config.client_secret.resolve()?,
            config: config.clone(),
            client,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// A token valid now: the kept one, or a new one.
    pub async fn token(&self) -> Result<Secret, String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, refresh_at)) = &*cached
            && Instant::now() < *refresh_at
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.obtain().await?;
        let keep = lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2);
        *cached = Some((token.clone(), Instant::now() + keep));
        Ok(token)
    }

    /// The destination refused the token (401): the next request gets a new one.
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn obtain(&self) -> Result<(Secret, Duration), String> {
        let url = &self.config.token_url;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", self.config.scope.as_str()),
        ];
        let response = self
            .client
            .post(url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("obtaining an OAuth2 token from {url}: {e}"))?;
        let status = response.status();
        let (body, cut) = super::http::read_bounded(response, MAX_TOKEN_ANSWER_BYTES)
            .await
            .map_err(|e| format!("obtaining an OAuth2 token from {url}: {e}"))?;
        if cut {
            return Err(format!(
                "the OAuth2 token endpoint {url} answered more than {MAX_TOKEN_ANSWER_BYTES} bytes: not a token"
            ));
        }
        if !status.is_success() {
            // The answer names the problem (`invalid_client`...). One that echoes the
            // request would hold the client secret, as sent or form-encoded: masked
            // before it is cut. Escaped: it is the server's text, for a log line.
            let mut text = String::from_utf8_lossy(&body).into_owned();
            let secret = self.client_secret.expose();
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            for form in [secret, encoded.as_str()]
                .into_iter()
                .filter(|form| !form.is_empty())
            {
                text = text.replace(form, "****");
            }
            let text: String = text.chars().take(300).collect();
            let text = crate::module::one_line(&text);
            return Err(format!(
                "the OAuth2 token endpoint {url} answered HTTP {status}: {text}"
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            format!("the OAuth2 token endpoint {url} answered without a token: {e}")
        })?;
        // Sent in a header: one no header can carry would fail every request, unsaid.
        if !sluice_contract::http::is_field_value(&answer.access_token)
            || answer.access_token.trim().is_empty()
        {
            return Err(format!(
                "the OAuth2 token endpoint {url} answered an access_token that is empty or holds a character no HTTP header can carry"
            ));
        }
        let seconds = match answer.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        let lifetime = seconds.map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Ok((Secret::obtained(answer.access_token), lifetime))
    }
}

//! The Log Analytics Data Collector API's SharedKey signature, computed by the host with
//! the workspace key the module never sees: HMAC-SHA256, keyed with the base64-decoded
//! workspace key, over `POST`, the body's length in bytes, its content type, the
//! `x-ms-date` header and the resource path, each on its own line; sent as
//! `Authorization: SharedKey <workspace id>:<base64 signature>` with that `x-ms-date`.

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{AzureSharedKey, Secret};

#[derive(Debug, Clone)]
pub struct SharedKeySigner {
    workspace_id: String,
    /// The key as configured (base64), checked to decode.
    key: Secret,
}

/// What the signature covers of a request.
pub struct Signed<'a> {
    pub method: &'a str,
    pub content_length: usize,
    pub content_type: &'a str,
    /// The URL's path (`/api/logs`).
    pub resource: &'a str,
}

impl SharedKeySigner {
    pub fn new(config: &AzureSharedKey) -> Result<Self> {
        let key = config
            .key
            .resolve()
            .map_err(|e| anyhow::anyhow!("azure_shared_key.key: {e}"))?;
        if BASE64.decode(key.expose().trim()).is_err() {
            anyhow::bail!(
                "azure_shared_key.key: {} is not base64 (copy the workspace's primary key as the portal shows it)",
                config.key
            );
        }
        Ok(SharedKeySigner {
            workspace_id: config.workspace_id.clone(),
            key,
        })
    }

    /// The workspace key.
    pub fn secrets(&self) -> Vec<Secret> {
        vec![self.key.clone()]
    }

    /// `x-ms-date` (`date`, RFC 1123) and `Authorization` for `request`.
    pub fn sign(&self, request: &Signed<'_>, date: &str) -> Vec<(String, Secret)> {
        let key = BASE64
            .decode(self.key.expose().trim())
            .expect("checked when made");
        let to_sign = format!(
            "{}\n{}\n{}\nx-ms-date:{date}\n{}",
            request.method, request.content_length, request.content_type, request.resource
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());
        vec![
            ("x-ms-date".to_owned(), Secret::obtained(date.to_owned())),
            (
                "Authorization".to_owned(),
                Secret::obtained(format!("SharedKey {}:{signature}", self.workspace_id)),
            ),
        ]
    }
}

/// The date and time now, as `x-ms-date` writes them (RFC 1123, GMT).
pub fn date_now() -> String {
    jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_string_to_sign_signs_as_computed_by_hand() {
        let signer = SharedKeySigner {
            workspace_id: "ws".into(),
            key: Secret::obtained("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
        };
        let body = br#"[{"User":"bob","Action":"login"}]"#;
        let headers = signer.sign(
            &Signed {
                method: "POST",
                content_length: body.len(),
                content_type: "application/json",
                resource: "/api/logs",
            },
            "Mon, 04 Apr 2016 08:00:00 GMT",
        );
        assert_eq!(headers[0].1.expose(), "Mon, 04 Apr 2016 08:00:00 GMT");
        assert_eq!(
            headers[1].1.expose(),
            "SharedKey ws:ux/A6f0vNSKA1Z0lUYepcHYNn8LsiElQk549KNEWU2c="
        );
    }

    #[test]
    fn the_date_is_rfc_1123_in_gmt() {
        let date = date_now();
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    }
}

//! `[integrity]`: a hash chain over the events of each stream, so that a copy of them
//! (a SIEM's, an export) can be shown unaltered, and signed digests that pin its end.
//! Off unless the table is there.

use std::time::Duration;

use anyhow::{Result, bail};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{Secret, SecretRef};

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrityConfig {
    /// `sha256`: anyone can check the chain (and, without signed digests, anyone could
    /// make a new one); `hmac-sha256`: only holders of `key` can.
    pub chain: ChainKind,
    /// The HMAC key, for `chain = "hmac-sha256"`.
    pub key: Option<SecretRef>,
    /// An Ed25519 private key (PKCS#8 PEM, as `sluice keygen` or
    /// `openssl genpkey -algorithm ed25519` writes it): digests are signed with it.
    pub signing_key: Option<SecretRef>,
    /// How often a signed digest of each stream's new events is made.
    #[schemars(with = "String")]
    #[serde(default = "default_digest_interval", with = "humantime_serde")]
    pub digest_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChainKind {
    Sha256,
    HmacSha256,
}

fn default_digest_interval() -> Duration {
    Duration::from_secs(3600)
}

/// An HMAC-SHA-256 key as long as the hash's output: a shorter one is weaker than the
/// hash (RFC 2104, section 3).
pub const MIN_HMAC_KEY_BYTES: usize = 32;

impl IntegrityConfig {
    pub fn validate(&self) -> Result<()> {
        match (self.chain, &self.key) {
            (ChainKind::HmacSha256, None) => {
                bail!(
                    "integrity.key: `chain = \"hmac-sha256\"` needs a key, {{ env = \"...\" }} or {{ file = \"...\" }}"
                )
            }
            (ChainKind::Sha256, Some(_)) => {
                bail!(
                    "integrity.key: a key is for `chain = \"hmac-sha256\"`; a sha256 chain has none"
                )
            }
            _ => {}
        }
        if self.digest_interval < Duration::from_secs(1) {
            bail!("integrity.digest_interval: at least 1s");
        }
        Ok(())
    }

    /// The HMAC key's value (`None` for a sha256 chain); the error names the key, never
    /// a value. A key shorter than [`MIN_HMAC_KEY_BYTES`] is said at WARN.
    pub fn resolve_key(&self) -> Result<Option<Secret>> {
        let key = self
            .key
            .as_ref()
            .map(|key| {
                key.resolve()
                    .map_err(|e| anyhow::anyhow!("integrity.key: {e}"))
            })
            .transpose()?;
        if let Some(bytes) = key.as_ref().map(|k| k.expose().len())
            && bytes < MIN_HMAC_KEY_BYTES
        {
            tracing::warn!(
                bytes,
                "integrity.key is shorter than {MIN_HMAC_KEY_BYTES} bytes: a short HMAC key can be guessed; use 32 random bytes or more (e.g. `openssl rand -base64 32`)"
            );
        }
        Ok(key)
    }

    /// The signing key's PEM text, when digests are signed.
    pub fn resolve_signing_key(&self) -> Result<Option<Secret>> {
        self.signing_key
            .as_ref()
            .map(|key| {
                key.resolve()
                    .map_err(|e| anyhow::anyhow!("integrity.signing_key: {e}"))
            })
            .transpose()
    }
}

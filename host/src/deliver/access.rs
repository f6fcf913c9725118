//! Where a destination's requests go and what proves who sends them: its endpoint
//! (written, or chosen by a setting among those its module names) and its credential
//! (from `token`, `basic_auth`, `oauth2`, `aws` or `azure_shared_key`, in the header
//! the module names), each checked against what the module declares.

use std::sync::Arc;

use anyhow::{Context, Result};

use super::transport::{
    AwsSigner, Credential, CredentialValue, SharedKeySigner, TokenSource, Transport,
};
use crate::config::{DestinationConfig, Endpoint};
use sluice_contract::types::{AuthHeader, Info};

/// The credential the host adds to the destination's requests, from its `token`,
/// `basic_auth` or `oauth2`, in the header the module names; checked against what the
/// module wants.
pub(super) fn credential(
    config: &DestinationConfig,
    info: &Info,
    endpoint: &Endpoint,
    transport: &Transport,
) -> Result<Option<Credential>> {
    let with_prefix = |header: &AuthHeader, prefix: &str| AuthHeader {
        prefix: prefix.into(),
        ..header.clone()
    };
    let given = (
        &config.token,
        &config.basic_auth,
        &config.oauth2,
        &config.aws,
        &config.azure_shared_key,
    );
    // A NATS connection and an object store carry their own credential (read by the
    // transport).
    if matches!(transport, Transport::Nats(_) | Transport::Object(_)) {
        return Ok(None);
    }
    let Some(header) = &info.auth else {
        if !matches!(given, (None, None, None, None, None)) {
            anyhow::bail!(
                "token: module `{}` sends no credential, remove the token, basic_auth, oauth2, aws or azure_shared_key",
                info.name
            );
        }
        return Ok(None);
    };
    let credential = match given {
        (Some(token), ..) => Credential {
            header: header.clone(),
            value: CredentialValue::Fixed(
                token.resolve().map_err(|e| anyhow::anyhow!("token: {e}"))?,
            ),
        },
        (None, Some(basic), ..) => Credential {
            header: with_prefix(header, "Basic "),
            value: CredentialValue::Fixed(
                basic
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("basic_auth: {e}"))?,
            ),
        },
        (None, None, Some(oauth2), ..) => Credential {
            header: with_prefix(header, "Bearer "),
            value: CredentialValue::OAuth2(Arc::new(
                TokenSource::new(oauth2, transport.client())
                    .map_err(|e| anyhow::anyhow!("oauth2.client_secret: {e}"))?,
            )),
        },
        (None, None, None, Some(aws), _) => Credential {
            header: header.clone(),
            value: CredentialValue::Aws(Arc::new(AwsSigner::new(aws)?)),
        },
        (None, None, None, None, Some(shared)) => Credential {
            header: header.clone(),
            value: CredentialValue::AzureSharedKey(Arc::new(SharedKeySigner::new(shared)?)),
        },
        // A capture directory needs no credential; a real endpoint does, unless the
        // module takes requests without one or a secret header carries it.
        (None, None, None, None, None)
            if matches!(endpoint, Endpoint::Capture(_))
                || header.optional
                || config
                    .secret_headers
                    .keys()
                    .any(|name| name.eq_ignore_ascii_case(&header.name)) =>
        {
            return Ok(None);
        }
        (None, None, None, None, None) => anyhow::bail!(
            "token: module `{}` authenticates with the `{}` header: add token = {{ env = \"NAME\" }} or {{ file = \"PATH\" }}",
            info.name,
            header.name
        ),
    };
    if let Some(name) = config
        .secret_headers
        .keys()
        .find(|name| name.eq_ignore_ascii_case(&credential.header.name))
    {
        anyhow::bail!(
            "secret_headers.{name}: the destination's credential is sent in that header already"
        );
    }
    warn_if_in_clear(config, endpoint);
    Ok(Some(credential))
}

/// An endpoint chosen by a setting, and how `check` says so.
pub(super) struct Chosen {
    pub endpoint: Endpoint,
    /// `endpoint https://... (site = datadoghq.eu)`, when a setting chose it.
    pub shown: Option<String>,
}

/// Where the destination's requests go: its `endpoint`, or the URL its module names for
/// the value of the setting that chooses among its endpoints (Datadog's `site`).
pub(super) fn endpoint(
    config: &DestinationConfig,
    info: &Info,
    settings: &[(String, String)],
) -> Result<Chosen> {
    let written = || -> Result<Chosen> {
        Ok(Chosen {
            endpoint: config.endpoint().context("endpoint")?,
            shown: None,
        })
    };
    let Some(choice) = &info.endpoint_choice else {
        return written();
    };
    let key = &choice.setting;
    let given = settings
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str());
    match (&config.endpoint, given) {
        (Some(_), Some(_)) => {
            anyhow::bail!("endpoint: give `endpoint` or `settings.{key}`, not both")
        }
        (Some(_), None) => return written(),
        (None, _) => {}
    }
    let (url, shown) = chosen_endpoint(info, given)?;
    Ok(Chosen {
        shown: Some(shown),
        endpoint: Endpoint::Http(url),
    })
}

/// The URL a module's endpoint choice names for the value `given` of its setting (its
/// default when not given), and how to say it (`endpoint https://... (site = ...)`); an
/// error names a value not listed. For a module without a choice: the error that an
/// endpoint is missing.
pub fn chosen_endpoint(info: &Info, given: Option<&str>) -> Result<(url::Url, String)> {
    let Some(choice) = &info.endpoint_choice else {
        anyhow::bail!("endpoint: missing: give the URL the destination's requests go to")
    };
    let key = &choice.setting;
    let values = || {
        choice
            .endpoints
            .iter()
            .map(|(value, _)| format!("`{value}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let default = info
        .settings
        .iter()
        .find(|doc| &doc.name == key)
        .and_then(|doc| doc.default_value.as_deref());
    let Some(value) = given.or(default) else {
        anyhow::bail!(
            "endpoint: missing: give the URL, or `settings.{key}`, one of {}",
            values()
        )
    };
    let Some((_, url)) = choice.endpoints.iter().find(|(name, _)| name == value) else {
        anyhow::bail!(
            "settings.{key}: `{}` is not one of {}",
            value.escape_debug(),
            values()
        )
    };
    match url::Url::parse(url) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some() => {
            let shown = format!("endpoint {url} ({key} = {value})");
            Ok((url, shown))
        }
        _ => anyhow::bail!(
            "module `{}` names {url:?} for {key} = `{value}`, which is not an https:// URL",
            info.name
        ),
    }
}

/// Warns that the credential goes over plain HTTP: to this machine (where another local
/// user may listen on the port), or elsewhere as `allow_plaintext_credentials` allows.
/// Anywhere else without that setting, the configuration was refused.
fn warn_if_in_clear(config: &DestinationConfig, endpoint: &Endpoint) {
    let urls = [
        match endpoint {
            Endpoint::Http(url) => Some(url),
            _ => None,
        },
        config.oauth2.as_ref().map(|oauth2| &oauth2.token_url),
    ];
    for url in urls.into_iter().flatten() {
        if url.scheme() == "http" {
            tracing::warn!(destination = %config.name, host = url.host_str().unwrap_or_default(), "a credential is sent without encryption (http://)");
        }
    }
}

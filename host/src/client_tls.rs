//! The TLS configuration of the host's clients (stream and NATS destinations, the
//! JetStream source): certificates verified against the system's roots and a configured
//! CA file, never switched off; a client certificate for mutual TLS when configured.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_rustls::rustls::{self, pki_types};

use crate::config::{DestinationConfig, SecretRef};

/// A destination's: its `ca_file`, `client_cert` and `client_key`.
pub fn config(config: &DestinationConfig) -> Result<rustls::ClientConfig> {
    config_with(
        config.ca_file.as_deref(),
        config
            .client_cert
            .as_deref()
            .zip(config.client_key.as_ref()),
    )
}

/// Certificates verified against the system's roots and `ca_file`; the client
/// certificate (its chain's file and its key) when one is given.
pub fn config_with(
    ca_file: Option<&std::path::Path>,
    client: Option<(&std::path::Path, &SecretRef)>,
) -> Result<rustls::ClientConfig> {
    use pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(ca_file) = ca_file {
        let pem = std::fs::read(ca_file)
            .with_context(|| format!("cannot read ca_file {}", ca_file.display()))?;
        let certificates: Vec<_> = pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .with_context(|| format!("ca_file {} is not PEM certificates", ca_file.display()))?;
        for certificate in certificates {
            roots.add(certificate).with_context(|| {
                format!(
                    "ca_file {}: a certificate rustls refuses",
                    ca_file.display()
                )
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots);
    let Some((cert_file, key)) = client else {
        return Ok(builder.with_no_client_auth());
    };
    let chain: Vec<_> = pki_types::CertificateDer::pem_file_iter(cert_file)
        .and_then(|certificates| certificates.collect::<Result<_, _>>())
        .with_context(|| {
            format!(
                "client_cert {} is not PEM certificates",
                cert_file.display()
            )
        })?;
    let key = key
        .resolve()
        .map_err(|e| anyhow::anyhow!("client_key: {e}"))?;
    let key = pki_types::PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
        .map_err(|_| anyhow::anyhow!("client_key is not a PEM private key"))?;
    builder
        .with_client_auth_cert(chain, key)
        .context("client_cert and client_key do not make a TLS identity")
}

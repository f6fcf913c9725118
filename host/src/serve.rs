//! Serving HTTP under bounds, for the admin listener and the HTTP ingest source: the
//! number of connections, the time a request's head may take and its size, and a
//! connection's life are bounded, so that clients cannot take the file descriptors and
//! memory the pipeline needs; optionally over TLS (rustls), the handshake bounded too.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

/// What one listener allows.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Who is serving, for the log.
    pub name: &'static str,
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// A request's headers (and a TLS handshake) must have arrived within this.
    pub header_timeout: Duration,
    /// Bytes buffered for one connection's reads (a longer head: `431`).
    pub max_buf_bytes: usize,
    /// A connection is closed after this long, whatever it does (clients reconnect).
    pub max_connection_life: Duration,
}

/// Accepts connections until `stop`, each served under `bounds` (over TLS with `tls`);
/// then lets those under way finish their request: the caller bounds how long it
/// waits, and aborting the task drops every connection.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    bounds: Bounds,
    stop: CancellationToken,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(bounds.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let refused = crate::metrics::Throttle::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, most likely: wait rather than spin.
                tracing::warn!(%error, listener = bounds.name, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            if let Some(count) = refused.due(1) {
                tracing::warn!(
                    listener = bounds.name,
                    connections = count,
                    "{} connections open already; more are closed at once",
                    bounds.max_connections
                );
            }
            continue;
        };
        let app = app.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(stream, app, bounds, stop).await,
                Some(tls) => {
                    match tokio::time::timeout(bounds.header_timeout, tls.accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, app, bounds, stop).await,
                        // A client that cannot agree on TLS learns it from its own
                        // library; the server has nothing to add per connection.
                        Ok(Err(error)) => {
                            tracing::debug!(%error, listener = bounds.name, "TLS handshake failed")
                        }
                        Err(_) => {}
                    }
                }
            }
        });
    }
    while connections.join_next().await.is_some() {}
}

/// Serves one connection until it ends, or until `stop` or the end of its life, after
/// the request under way.
async fn connection<S>(stream: S, app: axum::Router, bounds: Bounds, stop: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(bounds.header_timeout)
        .max_buf_size(bounds.max_buf_bytes)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = stop.cancelled() => {}
        () = tokio::time::sleep(bounds.max_connection_life) => {}
    }
    // The request under way is answered (a producer's must not be cut between its
    // events being taken and the answer), and the connection closes.
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// A TLS acceptor with `cert_file`'s chain and `key` (PEM); clients must present a
/// certificate `client_ca` (PEM) signed, when given.
pub fn tls_acceptor(
    cert_file: &std::path::Path,
    key: &str,
    client_ca: Option<&std::path::Path>,
) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let chain: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(cert_file)
        .and_then(|certificates| certificates.collect::<Result<_, _>>())
        .with_context(|| format!("tls.cert {} is not PEM certificates", cert_file.display()))?;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|_| anyhow::anyhow!("tls.key is not a PEM private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS versions")?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_file) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in rustls_pki_types::CertificateDer::pem_file_iter(ca_file)
                .with_context(|| format!("cannot read tls.client_ca {}", ca_file.display()))?
            {
                let certificate = certificate.with_context(|| {
                    format!(
                        "tls.client_ca {} is not PEM certificates",
                        ca_file.display()
                    )
                })?;
                roots.add(certificate).with_context(|| {
                    format!(
                        "tls.client_ca {}: a certificate rustls refuses",
                        ca_file.display()
                    )
                })?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .context("tls.client_ca")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .context("tls.cert and tls.key do not make a TLS identity")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

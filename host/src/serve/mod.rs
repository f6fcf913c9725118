//! Serving HTTP under bounds, for the admin listener and the HTTP ingest source: the
//! number of connections (in all and per client), the time a request's head may take
//! and its size, and a connection's life are bounded, so that clients cannot take the
//! file descriptors and memory the pipeline needs; optionally over TLS (rustls), the
//! handshake bounded too.

mod connections;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::config::ConnectionLimits;
use connections::Full;
pub use connections::{LEAVING_GRACE, LEAVING_LIMIT};

/// What one listener allows.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// A request's headers (and a TLS handshake) must have arrived within this.
    pub header_timeout: Duration,
    /// Bytes buffered for one connection's reads (a longer head: `431`).
    pub max_buf_bytes: usize,
    /// A connection is closed after this long, whatever it does (clients reconnect).
    pub max_connection_life: Duration,
}

/// A connection as accepted: TCP, or TLS over TCP.
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for S {}

/// Who listens: named in the log (a source by its label), and the figures a source
/// keeps of its connections (none for the admin listener).
pub struct Listening {
    pub name: String,
    pub figures: Option<Arc<crate::metrics::SourceFigures>>,
}

impl Listening {
    fn count(&self, figure: fn(&crate::metrics::SourceFigures) -> &std::sync::atomic::AtomicU64) {
        if let Some(figures) = &self.figures {
            crate::metrics::Counters::add(figure(figures), 1);
        }
    }
}

/// Accepts connections until `stop` under `limits`, each handed to `handle` on a task
/// of its own after its TLS handshake (within `handshake_timeout`) when `tls`, with a
/// token cancelled when it must close to make room (read on until it is quiet for
/// [`LEAVING_GRACE`]); then waits for the connections to end: the caller bounds how
/// long, and aborting its task drops them. A connection past a bound that finds none
/// idle enough to replace is closed as soon as it is accepted: what it sent is never
/// read. Both are counted in the source's figures and said once per throttle period,
/// and what no warning said yet is said at the end.
pub async fn accept<F>(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    (limits, handshake_timeout): (ConnectionLimits, Duration),
    who: Listening,
    stop: CancellationToken,
    handle: impl Fn(Box<dyn Stream>, std::net::SocketAddr, CancellationToken) -> F
    + Clone
    + Send
    + 'static,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let open = connections::Open::new(limits);
    let mut connections = tokio::task::JoinSet::new();
    let refused = crate::metrics::Throttle::default();
    let evicted = crate::metrics::Throttle::default();
    let handshakes_failed = Arc::new(crate::metrics::Throttle::default());
    let name: Arc<str> = who.name.as_str().into();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: wait rather than spin.
                tracing::warn!(%error, listener = %name, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let admitted = match open.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(full) => {
                who.count(|f| &f.refused_connections);
                if let Some(count) = refused.due(1) {
                    let bound = match full {
                        Full::Listener => format!("{} connections are open", limits.max),
                        Full::Client => format!(
                            "{} connections from {} are open",
                            limits.per_client,
                            peer.ip()
                        ),
                    };
                    tracing::warn!(
                        listener = %name,
                        connections = count,
                        "{bound}, none of them waiting for bytes for {:?}: more are closed at once, unread (`connections`: since the last such warning)",
                        limits.evict_idle_after
                    );
                }
                continue;
            }
        };
        if let Some(idle_peer) = admitted.evicted {
            who.count(|f| &f.evicted_connections);
            if let Some(count) = evicted.due(1) {
                tracing::warn!(listener = %name, %idle_peer, connections = count, "a bound of connections reached: the one idle longest (waiting for bytes for {:?} or more) is closed to make room (`connections`: since the last such warning; `idle_peer`: the last one's)", limits.evict_idle_after);
            }
        }
        let place = admitted.place;
        let stream = place.heard(stream);
        let (tls, handle) = (tls.clone(), handle.clone());
        let (failed, name) = (handshakes_failed.clone(), name.clone());
        connections.spawn(async move {
            let leave = place.leave();
            let _place = place;
            let Some(tls) = tls else {
                return handle(Box::new(stream), peer, leave).await;
            };
            let error = match tokio::time::timeout(handshake_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => return handle(Box::new(stream), peer, leave).await,
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no handshake within {handshake_timeout:?}"),
            };
            // A sender whose certificate is refused sends nothing: said, once in a while.
            if let Some(count) = failed.due(1) {
                tracing::warn!(%peer, error, listener = %name, connections = count, "TLS handshakes failed (`connections`: since the last such warning; `peer` and `error` of the last)");
            }
        });
    }
    while connections.join_next().await.is_some() {}
    let (refused, evicted) = (refused.rest(), evicted.rest());
    if refused + evicted > 0 {
        tracing::warn!(listener = %name, refused, evicted, "connections closed unread at a bound (`refused`) and closed to make room (`evicted`) since the last such warnings");
    }
}

/// Serves HTTP under `bounds` and `limits` until `stop` (over TLS with `tls`), each
/// connection's request under way answered before it closes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    (tls, bounds, limits): (Option<tokio_rustls::TlsAcceptor>, Bounds, ConnectionLimits),
    who: Listening,
    stop: CancellationToken,
) {
    let serving = stop.clone();
    accept(
        listener,
        tls,
        (limits, bounds.header_timeout),
        who,
        stop,
        move |stream, _, leave| {
            let (app, stop) = (app.clone(), serving.clone());
            connection(stream, app, bounds, (stop, leave))
        },
    )
    .await;
}

/// Serves one connection until it ends, or until `stop`, `leave` or the end of its life,
/// after the request under way.
async fn connection<S>(
    stream: S,
    app: axum::Router,
    bounds: Bounds,
    (stop, leave): (CancellationToken, CancellationToken),
) where
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
        () = leave.cancelled() => {}
        () = tokio::time::sleep(bounds.max_connection_life) => {}
    }
    // The request under way is answered (a producer's must not be cut between its
    // events being taken and the answer), and the connection closes.
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// A TLS acceptor for a listener's `tls` table (named `at` in errors): its certificate
/// chain and key (PEM; the key a secret, read here); clients must present a certificate
/// `client_ca` (PEM) signed, when given.
pub fn tls_acceptor(tls: &crate::config::ServerTls, at: &str) -> Result<tokio_rustls::TlsAcceptor> {
    let key = tls
        .key
        .resolve()
        .map_err(|e| anyhow::anyhow!("{at}.tls.key: {e}"))?;
    let acceptor = acceptor_of(&tls.cert, key.expose(), tls.client_ca.as_deref());
    acceptor.with_context(|| format!("{at}.tls"))
}

fn acceptor_of(
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

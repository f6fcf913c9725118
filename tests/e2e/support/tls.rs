//! Real TLS for the receivers: a CA and a `localhost`/`127.0.0.1` server certificate
//! generated per test with rcgen, never written anywhere but the test's directory.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio_rustls::rustls;

pub struct TestPki {
    /// The CA certificate, PEM, for `ca_file`.
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
    /// The server's certificate and key, PEM, for a server that reads files (rsyslog).
    pub server_cert_pem: String,
    pub server_key_pem: String,
    /// A client certificate of the same CA and its key, PEM, for mutual TLS.
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

pub fn test_pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Sluice test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["sluice-client".to_owned()]).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "sluice-client");
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();

    let server_cert_pem = server_cert.pem();
    let server_key_pem = server_key.serialize_pem();
    let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone()], key)
    .unwrap();
    TestPki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
        server_cert_pem,
        server_key_pem,
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

impl TestPki {
    /// Writes the server's certificate and key and the CA under `harness`'s `tls/`; the
    /// `tls` table of a listening source that asks its clients for a certificate of the CA.
    pub fn listener_tls(&self, harness: &super::Harness) -> &'static str {
        harness.write("tls/server.pem", &self.server_cert_pem);
        harness.write("tls/server.key", &self.server_key_pem);
        harness.write("tls/ca.pem", &self.ca_pem);
        r#"tls = { cert = "tls/server.pem", key = { file = "tls/server.key" }, client_ca = "tls/ca.pem" }"#
    }
}

/// Serves `app` over TLS on `listener` until the test's runtime stops.
pub fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: Arc<rustls::ServerConfig>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                // A client that refuses our certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
}

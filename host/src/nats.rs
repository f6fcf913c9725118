//! A connection to a NATS server (async-nats), for the `nats` destination and the
//! `jetstream` source: where, with which credential, and TLS verified as every client
//! of the host verifies it.

use std::time::Duration;

use anyhow::Result;

use crate::config::{BasicAuth, Secret, SecretRef, SocketEndpoint};

/// How the host proves who it is to the server.
#[derive(Debug, Clone)]
pub enum NatsAuth {
    None,
    Token(Secret),
    UserPassword(String, Secret),
    /// An NKey seed (`SU...`), which signs the server's nonce.
    Nkey(Secret),
    /// A `.creds` file's text: a user JWT and its NKey seed.
    Credentials(Secret),
}

/// The credentials a configuration may give a NATS connection, at most one of them
/// (`check` refuses more).
#[derive(Debug, Clone, Copy)]
pub struct NatsCredentials<'a> {
    pub token: Option<&'a SecretRef>,
    pub basic_auth: Option<&'a BasicAuth>,
    pub nkey: Option<&'a SecretRef>,
    pub nats_credentials: Option<&'a SecretRef>,
}

impl NatsAuth {
    /// Reads the one credential `given` names.
    pub fn read(given: NatsCredentials<'_>) -> Result<NatsAuth> {
        let read = |secret: &SecretRef, key: &str| {
            secret.resolve().map_err(|e| anyhow::anyhow!("{key}: {e}"))
        };
        Ok(match given {
            NatsCredentials {
                token: Some(token), ..
            } => NatsAuth::Token(read(token, "token")?),
            NatsCredentials {
                basic_auth: Some(basic),
                ..
            } => NatsAuth::UserPassword(
                basic.user.clone(),
                read(&basic.password, "basic_auth.password")?,
            ),
            NatsCredentials {
                nkey: Some(seed), ..
            } => NatsAuth::Nkey(read(seed, "nkey")?),
            NatsCredentials {
                nats_credentials: Some(creds),
                ..
            } => NatsAuth::Credentials(read(creds, "nats_credentials")?),
            _ => NatsAuth::None,
        })
    }
}

/// Where and how to connect, kept to connect again after a failed attempt.
#[derive(Debug, Clone)]
pub struct NatsConnection {
    /// `nats://host:port` or `tls://host:port`, as async-nats reads it.
    pub url: String,
    tls_config: Option<tokio_rustls::rustls::ClientConfig>,
    auth: NatsAuth,
    timeout: Duration,
    /// The connection's name, as the server's monitoring shows it.
    name: String,
}

impl NatsConnection {
    /// A connection to `socket` (TLS when it says so, with `tls_config`).
    pub fn new(
        socket: &SocketEndpoint,
        auth: NatsAuth,
        tls_config: Option<tokio_rustls::rustls::ClientConfig>,
        timeout: Duration,
        name: String,
    ) -> Self {
        let host = match socket.host.contains(':') {
            true => format!("[{}]", socket.host),
            false => socket.host.clone(),
        };
        let scheme = if socket.tls { "tls" } else { "nats" };
        NatsConnection {
            url: format!("{scheme}://{host}:{}", socket.port),
            tls_config: tls_config.filter(|_| socket.tls),
            auth,
            timeout,
            name,
        }
    }

    /// Connects once (async-nats reconnects by itself after that).
    pub async fn connect(&self) -> Result<async_nats::Client, String> {
        let mut options = async_nats::ConnectOptions::new()
            .name(&self.name)
            .connection_timeout(self.timeout)
            .require_tls(self.tls_config.is_some());
        options = match &self.auth {
            NatsAuth::None => options,
            NatsAuth::Token(token) => options.token(token.expose().to_owned()),
            NatsAuth::UserPassword(user, password) => {
                options.user_and_password(user.clone(), password.expose().to_owned())
            }
            NatsAuth::Nkey(seed) => options.nkey(seed.expose().trim().to_owned()),
            NatsAuth::Credentials(creds) => options
                .credentials(creds.expose())
                .map_err(|e| format!("nats_credentials: {e}"))?,
        };
        if let Some(tls_config) = &self.tls_config {
            options = options.tls_client_config(tls_config.clone());
        }
        options
            .connect(self.url.as_str())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.url))
    }
}

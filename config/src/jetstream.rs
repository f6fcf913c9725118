//! `type = "jetstream"`: events read from a NATS JetStream stream through a durable pull
//! consumer that any number of Sluice hosts share.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::{BasicAuth, SecretRef, SocketEndpoint};

/// A JetStream source.
#[derive(Debug, Clone, PartialEq)]
pub struct JetStreamSourceConfig {
    /// What destinations' `sources` call it.
    pub name: Option<String>,
    /// The server: `nats://host:4222`, or `tls://host:4222`.
    pub url: SocketEndpoint,
    /// The stream to read.
    pub stream: String,
    /// The durable pull consumer the hosts share, created if absent.
    pub consumer: String,
    pub token: Option<SecretRef>,
    pub basic_auth: Option<BasicAuth>,
    pub nkey: Option<SecretRef>,
    pub nats_credentials: Option<SecretRef>,
    /// Extra CA certificates for a `tls://` server.
    pub ca_file: Option<PathBuf>,
    /// Messages delivered to the consumer's hosts and not yet acknowledged, at most
    /// (the server holds back the rest): the bound of what one failure makes arrive
    /// twice. Below the hosts' number times a destination's `batch.max_events`, batches
    /// cannot fill and wait for `batch.max_wait` each (measured: 1,000 events/s with
    /// three hosts at 1,000, 50,000 at 10,000).
    pub max_ack_pending: usize,
    /// How long the server waits for a message's acknowledgement before it delivers it
    /// again (to any host).
    pub ack_wait: Duration,
    /// How long the server waits before delivering again a message this host could not
    /// make safe.
    pub nak_delay: Duration,
}

pub(crate) fn default_max_ack_pending() -> usize {
    10_000
}

pub(crate) fn default_ack_wait() -> Duration {
    Duration::from_secs(60)
}

pub(crate) fn default_nak_delay() -> Duration {
    Duration::from_secs(5)
}

/// `nats://host[:port]` or `tls://host[:port]` (4222 by default).
pub(crate) fn parse_url(text: &str) -> Result<SocketEndpoint, String> {
    let wrong = || format!("`{text}` is not nats://HOST:PORT or tls://HOST:PORT");
    let url = url::Url::parse(text).map_err(|_| wrong())?;
    let tls = match url.scheme() {
        "nats" => false,
        "tls" => true,
        _ => return Err(wrong()),
    };
    let host = match url.host() {
        Some(url::Host::Ipv6(address)) => address.to_string(),
        Some(host) => host.to_string(),
        None => return Err(wrong()),
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{text}`: a host and a port, nothing else (credentials go in token, basic_auth, nkey or nats_credentials)"
        ));
    }
    Ok(SocketEndpoint {
        host,
        port: url.port().unwrap_or(4222),
        tls,
        relp: false,
    })
}

impl JetStreamSourceConfig {
    /// One credential at most, over TLS or to this machine; bounds that can work.
    pub fn validate(&self, at: &str) -> Result<()> {
        /// The longest stream or consumer name nats-server takes (its `JSMaxNameLen`).
        const MAX_NAME_BYTES: usize = 255;
        let credentials = [
            self.token.is_some(),
            self.basic_auth.is_some(),
            self.nkey.is_some(),
            self.nats_credentials.is_some(),
        ];
        let given = credentials.iter().filter(|&&given| given).count();
        if given > 1 {
            bail!("{at}: give one of `token`, `basic_auth`, `nkey` and `nats_credentials`");
        }
        if given == 1 && !self.url.tls && !crate::is_loopback_host(&self.url.host) {
            bail!(
                "{at}.url: its credential would cross the network unencrypted to {}: use tls://",
                self.url.host
            );
        }
        for (key, name) in [("stream", &self.stream), ("consumer", &self.consumer)] {
            // JetStream's own rule for stream and durable names, and its length bound.
            if name.is_empty()
                || name.len() > MAX_NAME_BYTES
                || name.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
                })
            {
                bail!(
                    "{at}.{key}: `{name}` is not a JetStream name (1 to {MAX_NAME_BYTES} bytes; no spaces, `.`, `*`, `>`, `/` or `\\`)"
                );
            }
        }
        if self.max_ack_pending == 0 {
            bail!("{at}.max_ack_pending: must be at least 1");
        }
        if self.ack_wait < Duration::from_secs(1) {
            bail!("{at}.ack_wait: must be at least 1s");
        }
        Ok(())
    }

    /// Reads its credential and its CA file, so one missing is said before anything
    /// starts.
    pub(crate) fn resolve_secrets(&self, at: &str) -> Result<()> {
        if let Some(ca_file) = &self.ca_file {
            std::fs::read(ca_file).map_err(|e| {
                anyhow::anyhow!("{at}.ca_file: cannot read {}: {e}", ca_file.display())
            })?;
        }
        let secrets = [
            ("token", self.token.as_ref()),
            (
                "basic_auth.password",
                self.basic_auth.as_ref().map(|b| &b.password),
            ),
            ("nkey", self.nkey.as_ref()),
            ("nats_credentials", self.nats_credentials.as_ref()),
        ];
        for (key, secret) in secrets {
            if let Some(secret) = secret {
                secret
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("{at}.{key}: {e}"))?;
            }
        }
        Ok(())
    }

    pub(crate) fn resolve_relative_paths(&mut self, fix: impl Fn(&mut PathBuf)) {
        self.ca_file.iter_mut().for_each(&fix);
        let secrets = [
            self.token.as_mut(),
            self.basic_auth.as_mut().map(|b| &mut b.password),
            self.nkey.as_mut(),
            self.nats_credentials.as_mut(),
        ];
        for secret in secrets.into_iter().flatten() {
            if let SecretRef::File(path) = secret {
                fix(path);
            }
        }
    }
}

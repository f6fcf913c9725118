//! The sources that listen: `type = "http"` (producers POST events to Sluice, its own
//! NDJSON endpoint or Splunk HEC's, and hear back once the events are safe) and
//! `type = "syslog"` (syslog messages over UDP, TCP or TLS).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{Secret, SecretRef};

/// An HTTP ingest source.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSourceConfig {
    /// What destinations' `sources` call it.
    pub name: Option<String>,
    /// Address and port, such as `127.0.0.1:8088`.
    pub listen: SocketAddr,
    /// The tokens a request may carry (`Authorization: Bearer`, or HEC's `Splunk`);
    /// none: requests need no token (only on a loopback address, or with client
    /// certificates).
    pub tokens: Vec<SecretRef>,
    /// Serve HTTPS with this certificate (and ask clients for theirs).
    pub tls: Option<ServerTls>,
    /// The largest request body, as sent and once decompressed: more is `413`.
    pub max_body_bytes: usize,
    /// How long a request waits for its events to be safe before it is answered `503`
    /// (they may still be delivered: a producer's resend carries the same ids).
    pub ack_timeout: Duration,
    pub connections: ConnectionLimits,
}

/// How many connections a listening source reads at once, in all and from one client,
/// and when one that sends nothing gives its place to a new one: so that one client
/// cannot keep the others out by opening connections and leaving them idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `max_connections`: open at once.
    pub max: usize,
    /// `max_connections_per_client`: open at once from one address (an IPv6 /64 is one
    /// address, as one machine gets a whole /64).
    pub per_client: usize,
    /// `evict_idle_after`: when a new connection finds a bound reached, the connection
    /// under that bound whose reader has waited for bytes longest is closed for it, once
    /// it has waited this long; otherwise the new one is closed at once. A reader held
    /// back by a full pipeline is not waiting: its sender's bytes wait in the socket.
    pub evict_idle_after: Duration,
}

impl ConnectionLimits {
    /// Producers keep a connection or a small pool each. A keep-alive connection is
    /// closed after 10 s without a request anyway: one that waited half of that may go.
    pub const HTTP: ConnectionLimits = ConnectionLimits {
        max: 512,
        per_client: 128,
        evict_idle_after: Duration::from_secs(5),
    };

    /// A syslog sender (or relay) keeps one connection per forwarding rule, open
    /// between messages; closed, it opens another.
    pub const SYSLOG: ConnectionLimits = ConnectionLimits {
        max: 1024,
        per_client: 256,
        evict_idle_after: Duration::from_secs(10),
    };

    /// The keys as written over `defaults`.
    pub(crate) fn written(
        defaults: ConnectionLimits,
        (max, per_client, evict_idle_after): (Option<usize>, Option<usize>, Option<Duration>),
    ) -> ConnectionLimits {
        let max = max.unwrap_or(defaults.max);
        ConnectionLimits {
            max,
            // A smaller `max_connections` alone brings the share down with it.
            per_client: per_client.unwrap_or(defaults.per_client.min(max)),
            evict_idle_after: evict_idle_after.unwrap_or(defaults.evict_idle_after),
        }
    }

    fn validate(&self, at: &str) -> Result<()> {
        if self.max == 0 || self.max > 65_536 {
            bail!("{at}.max_connections: must be from 1 to 65536");
        }
        if self.per_client == 0 || self.per_client > self.max {
            bail!(
                "{at}.max_connections_per_client: must be from 1 to max_connections ({})",
                self.max
            );
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&self.evict_idle_after)
        {
            bail!("{at}.evict_idle_after: must be from 1s to 24h");
        }
        Ok(())
    }
}

/// `tls = { cert = "server.pem", key = { file = "server.key" }, client_ca = "ca.pem" }`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// The server's certificate chain, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM: a secret.
    pub key: SecretRef,
    /// When set, clients must present a certificate this CA (PEM) signed.
    pub client_ca: Option<PathBuf>,
}

impl ServerTls {
    pub(crate) fn resolve_relative_paths(&mut self, fix: impl Fn(&mut PathBuf)) {
        fix(&mut self.cert);
        self.client_ca.iter_mut().for_each(&fix);
        if let SecretRef::File(path) = &mut self.key {
            fix(path);
        }
    }
}

pub(crate) fn default_max_body_bytes() -> usize {
    10 << 20
}

pub(crate) fn default_ack_timeout() -> Duration {
    Duration::from_secs(30)
}

impl HttpSourceConfig {
    /// Refuses a listener other machines can reach that anyone could send to, and
    /// bounds that could not work.
    pub fn validate(&self, at: &str) -> Result<()> {
        let clients_proven = self.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        if !self.listen.ip().is_loopback() && self.tokens.is_empty() && !clients_proven {
            bail!(
                "{at}.listen: {} can be reached from other machines; give `tokens = [{{ env = \"...\" }}]` (or client certificates with tls.client_ca), or listen on 127.0.0.1",
                self.listen
            );
        }
        if self.max_body_bytes < 1024 {
            bail!("{at}.max_body_bytes: must be at least 1024");
        }
        if self.ack_timeout.is_zero() {
            bail!("{at}.ack_timeout: must be more than 0s");
        }
        self.connections.validate(at)
    }

    /// The tokens' values; an error names the key and the variable or file, never a
    /// value.
    pub fn resolve_tokens(&self, at: &str) -> Result<Vec<Secret>> {
        self.tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let value = token
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("{at}.tokens[{i}]: {e}"))?;
                if value
                    .expose()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
                {
                    bail!(
                        "{at}.tokens[{i}]: {token} holds a space or a control character, which no Authorization header can carry"
                    );
                }
                Ok(value)
            })
            .collect()
    }
}

/// A syslog source.
#[derive(Debug, Clone, PartialEq)]
pub struct SyslogSourceConfig {
    /// What destinations' `sources` call it.
    pub name: Option<String>,
    /// `udp://ADDR:PORT`, `tcp://ADDR:PORT` or `tls://ADDR:PORT`.
    pub listen: SyslogListen,
    /// The certificate (and client CA) of a `tls://` listener.
    pub tls: Option<ServerTls>,
    /// Take messages from any machine that reaches a non-loopback address without TLS
    /// client certificates: anyone there can write audit events.
    pub unauthenticated: bool,
    /// Bounds a `tcp://` or `tls://` listener's connections.
    pub connections: ConnectionLimits,
}

/// Where a syslog source listens, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogListen {
    pub transport: SyslogTransport,
    pub address: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    Udp,
    Tcp,
    Tls,
}

impl std::str::FromStr for SyslogListen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || {
            format!("`{text}` is not udp://ADDRESS:PORT, tcp://ADDRESS:PORT or tls://ADDRESS:PORT")
        };
        let (scheme, address) = text.split_once("://").ok_or_else(wrong)?;
        let transport = match scheme {
            "udp" => SyslogTransport::Udp,
            "tcp" => SyslogTransport::Tcp,
            "tls" => SyslogTransport::Tls,
            _ => return Err(wrong()),
        };
        let address = address.parse().map_err(|_| wrong())?;
        Ok(SyslogListen { transport, address })
    }
}

impl std::fmt::Display for SyslogListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            SyslogTransport::Udp => "udp",
            SyslogTransport::Tcp => "tcp",
            SyslogTransport::Tls => "tls",
        };
        write!(f, "{scheme}://{}", self.address)
    }
}

impl SyslogSourceConfig {
    /// TLS where it is asked for, and only there; a listener others can reach only
    /// when said.
    pub fn validate(&self, at: &str) -> Result<()> {
        let tls = self.listen.transport == SyslogTransport::Tls;
        if tls != self.tls.is_some() {
            bail!("{at}.tls: give `tls = {{ cert, key }}` with a tls:// listener, and only then");
        }
        let clients_proven = self.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        if !self.listen.address.ip().is_loopback() && !clients_proven && !self.unauthenticated {
            bail!(
                "{at}.listen: {} can be reached from other machines, and syslog has no credentials: anyone there could write audit events. Ask for client certificates (tls://, tls.client_ca), listen on 127.0.0.1, or set unauthenticated = true",
                self.listen
            );
        }
        self.connections.validate(at)
    }
}

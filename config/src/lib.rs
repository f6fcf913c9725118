//! The TOML configuration: what to read, how to shape events, where to send them.
//! Every field is documented here and in README; unknown keys are errors. A crate of
//! its own, without the runtime, so that it is tested and fuzzed alone.

mod admin;
mod delivery;
mod ingest;
mod integrity;
mod interpolate;
mod jetstream;
pub mod object_name;
mod secret;
mod spool;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use schemars::JsonSchema;
use serde::Deserialize;

pub use admin::AdminConfig;
pub use delivery::{
    AcknowledgementConfig, BufferConfig, CircuitBreakerConfig, RateLimitConfig, RetryConfig,
    WhenFull,
};
pub use ingest::{
    ConnectionLimits, HttpSourceConfig, ServerTls, SyslogListen, SyslogSourceConfig,
    SyslogTransport,
};
pub use integrity::{ChainKind, IntegrityConfig};
pub use jetstream::JetStreamSourceConfig;
pub use secret::{AwsConfig, AzureSharedKey, BasicAuth, OAuth2, Secret, SecretRef};
pub use sluice_filter::Policy;
pub use spool::{Fsync, SpoolConfig};

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file it was read from, named in every error about it.
    #[serde(skip)]
    pub path: PathBuf,
    /// Where events that can never be delivered are written, as JSON Lines.
    #[serde(default = "default_dead_letter_dir")]
    pub dead_letter_dir: PathBuf,
    /// Size at which the dead-letter file is rotated.
    #[serde(default = "default_dead_letter_max_file_bytes")]
    pub dead_letter_max_file_bytes: u64,
    /// Most bytes of dead-letter files kept: past it, the oldest rotated files are
    /// removed (logged, and their records counted).
    #[serde(default = "default_dead_letter_max_bytes")]
    pub dead_letter_max_bytes: u64,
    /// Records older than this are removed (a file at a time: once the newest record of
    /// a file is older), logged and counted; unset, records stay (within
    /// `dead_letter_max_bytes`).
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    pub dead_letter_max_age: Option<Duration>,
    /// Directories of `.wasm` modules; a module there overrides a built-in of the same name.
    #[serde(default)]
    pub modules_dirs: Vec<PathBuf>,
    /// What to do with a module file, or the directory it is in, that a user other
    /// than the one running sluice (or root) owns or could write: refuse it (the
    /// default), or load it with a warning.
    #[serde(default)]
    pub insecure_module_paths: InsecureModulePaths,
    /// Where compiled modules are cached; `$XDG_CACHE_HOME/sluice` (or `~/.cache/sluice`) by default.
    pub cache_dir: Option<PathBuf>,
    /// A destination failing for this long is reported at ERROR, once per such interval.
    #[schemars(with = "String")]
    #[serde(default = "default_failure_alert_after", with = "humantime_serde")]
    pub failure_alert_after: Duration,
    /// How often a running host logs a progress line per destination; 0s for never.
    #[schemars(with = "String")]
    #[serde(default = "default_progress_interval", with = "humantime_serde")]
    pub progress_interval: Duration,
    /// `text` (the default) or `json`: one JSON object per log line, for a collector.
    /// `SLUICE_LOG_FORMAT` overrides it.
    #[serde(default)]
    pub log_format: LogFormat,
    /// How long a graceful shutdown may take to flush every queue.
    #[schemars(with = "String")]
    #[serde(default = "default_shutdown_timeout", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Where sluice keeps its state across restarts: file checkpoints and the spool.
    /// Unset, a restart reads every file from its start again.
    pub data_dir: Option<PathBuf>,
    /// How often file checkpoints (and the spool's delivery positions) are written.
    #[schemars(with = "String")]
    #[serde(default = "default_checkpoint_interval", with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    /// `[spool]`: events on disk until delivered (needs `data_dir`).
    #[serde(default)]
    pub spool: SpoolConfig,
    /// `[events]`: how lines become events.
    #[serde(default)]
    pub events: EventsConfig,
    /// `[limits]`: what one call into a module may use.
    #[serde(default)]
    pub limits: ModuleLimitsConfig,
    /// `[[sources]]` as written, those with `enabled = false` included.
    #[serde(default, rename = "sources")]
    declared_sources: Vec<Switchable<SourceConfig>>,
    /// The sources that are enabled: where events are read; at least one.
    #[serde(skip)]
    pub sources: Vec<SourceConfig>,
    /// Where each of `sources` is among the `[[sources]]` tables, for messages.
    #[serde(skip)]
    source_positions: Vec<usize>,
    /// `[[destinations]]`: where events are delivered, each through its module; at least one.
    #[serde(default)]
    pub destinations: Vec<DestinationConfig>,
    /// The names of the destinations left out with `enabled = false`.
    #[serde(skip)]
    pub disabled_destinations: Vec<String>,
    /// `[[filters]]`: policies every event must pass, in order, before any destination.
    #[serde(default)]
    pub filters: Vec<FilterConfig>,
    /// The admin listener (metrics, health, readiness, status); none without `[admin]`.
    pub admin: Option<AdminConfig>,
    /// `[integrity]`: a hash chain over each stream's events and signed digests of it
    /// (needs `data_dir`); none without the table.
    pub integrity: Option<IntegrityConfig>,
}

/// The largest policy file read.
const MAX_POLICY_BYTES: u64 = 1 << 20;

/// A filter policy (`sluice_filter`), in a TOML file of its own.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Names the filter in logs and counts.
    pub name: String,
    /// The policy file, relative to the configuration file.
    pub policy: PathBuf,
}

impl FilterConfig {
    /// Reads and compiles the policy; the error names the filter, the file and where
    /// in it.
    pub fn load(&self) -> Result<sluice_filter::Policy> {
        self.compile(&self.read()?)
    }

    /// The policy file's text.
    pub fn read(&self) -> Result<String> {
        use std::io::Read;
        let mut text = String::new();
        // Bounded: a policy path may name anything (`/dev/zero`).
        std::fs::File::open(&self.policy)
            .and_then(|file| file.take(MAX_POLICY_BYTES + 1).read_to_string(&mut text))
            .with_context(|| {
                format!(
                    "filter `{}`: cannot read {}",
                    self.name,
                    self.policy.display()
                )
            })?;
        anyhow::ensure!(
            text.len() as u64 <= MAX_POLICY_BYTES,
            "filter `{}`: {} is over {} KiB, more than a policy needs",
            self.name,
            self.policy.display(),
            MAX_POLICY_BYTES / 1024
        );
        Ok(text)
    }

    /// Compiles `text`, read from the policy file.
    pub fn compile(&self, text: &str) -> Result<sluice_filter::Policy> {
        sluice_filter::Policy::parse(text).map_err(|problem| {
            anyhow::anyhow!(
                "filter `{}` ({}): {problem}",
                self.name,
                self.policy.display()
            )
        })
    }
}

/// How the host reads and enriches every event.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// Top-level fields that may hold the event time, tried in order: RFC 3339 strings,
    /// or numbers of epoch seconds, milliseconds, microseconds or nanoseconds.
    #[serde(default = "default_time_fields")]
    pub time_fields: Vec<String>,
    /// Tags added to every event (as `key = "value"`).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Longest line read as an event; a longer one is dead-lettered with its start.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// How deep objects and arrays may nest in an event; a deeper one is dead-lettered.
    #[serde(default = "default_max_depth")]
    pub max_depth: u32,
    /// The earliest time an event may have (RFC 3339); an earlier one is not taken.
    #[serde(default = "default_earliest_time")]
    #[schemars(with = "String")]
    pub earliest_time: jiff::Timestamp,
    /// How far after its ingest an event's time may lie; a later one is not taken.
    #[schemars(with = "String")]
    #[serde(default = "default_max_future", with = "humantime_serde")]
    pub max_future: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            time_fields: default_time_fields(),
            tags: BTreeMap::new(),
            max_line_bytes: default_max_line_bytes(),
            max_depth: default_max_depth(),
            earliest_time: default_earliest_time(),
            max_future: default_max_future(),
        }
    }
}

/// Limits for every call into a module.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleLimitsConfig {
    /// Linear memory one module instance may use, in bytes.
    #[serde(default = "default_module_memory")]
    pub module_memory_bytes: usize,
    /// Longest a single call may run.
    #[schemars(with = "String")]
    #[serde(default = "default_module_call_timeout", with = "humantime_serde")]
    pub module_call_timeout: Duration,
    /// Most bytes of requests one `format` call may return.
    #[serde(default = "default_module_output")]
    pub module_output_bytes: usize,
}

impl Default for ModuleLimitsConfig {
    fn default() -> Self {
        ModuleLimitsConfig {
            module_memory_bytes: default_module_memory(),
            module_call_timeout: default_module_call_timeout(),
            module_output_bytes: default_module_output(),
        }
    }
}

/// A `[[sources]]` table, by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceConfig {
    /// JSON Lines files.
    File {
        /// What destinations' `sources` call it.
        name: Option<String>,
        /// Paths or glob patterns.
        paths: Vec<String>,
        /// Keep reading as the files grow (a live tail) instead of reading them once.
        follow: bool,
        /// How often a followed file is checked for new lines.
        poll_interval: Duration,
        /// How long a followed file that was rotated away (renamed, or its name now
        /// another file's) is still read, for what its writer appends late: until it
        /// has been quiet this long, or is deleted.
        rotate_wait: Duration,
    },
    /// JSON Lines on standard input, until it closes.
    Stdin {
        /// What destinations' `sources` call it.
        name: Option<String>,
    },
    /// Events POSTed by producers, answered once they are safe.
    Http(HttpSourceConfig),
    /// Syslog messages over UDP, TCP or TLS.
    Syslog(SyslogSourceConfig),
    /// Messages of a NATS JetStream stream, through a durable consumer hosts share.
    JetStream(JetStreamSourceConfig),
}

impl SourceConfig {
    /// What identifies it across reloads and restarts: its name, else what it reads.
    pub fn key(&self) -> String {
        match (self.name(), self) {
            (Some(name), _) => format!("name:{name}"),
            (None, SourceConfig::File { paths, .. }) => format!("paths:{}", paths.join("\n")),
            (None, SourceConfig::Stdin { .. }) => "stdin".to_owned(),
            (None, SourceConfig::Http(http)) => format!("listen:{}", http.listen),
            (None, SourceConfig::Syslog(syslog)) => format!("listen:{}", syslog.listen),
            (None, SourceConfig::JetStream(jetstream)) => {
                format!("jetstream:{}/{}", jetstream.stream, jetstream.consumer)
            }
        }
    }

    /// How the operator knows it: its name, else what it reads.
    pub fn label(&self) -> String {
        match (self.name(), self) {
            (Some(name), _) => name.to_owned(),
            (None, SourceConfig::File { paths, .. }) => paths.join(","),
            (None, SourceConfig::Stdin { .. }) => "stdin".to_owned(),
            (None, SourceConfig::Http(http)) => format!("http {}", http.listen),
            (None, SourceConfig::Syslog(syslog)) => format!("syslog {}", syslog.listen),
            (None, SourceConfig::JetStream(jetstream)) => {
                format!("jetstream {}/{}", jetstream.stream, jetstream.consumer)
            }
        }
    }

    /// The name destinations route by, if it has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            SourceConfig::File { name, .. } | SourceConfig::Stdin { name } => name.as_deref(),
            SourceConfig::Http(http) => http.name.as_deref(),
            SourceConfig::Syslog(syslog) => syslog.name.as_deref(),
            SourceConfig::JetStream(jetstream) => jetstream.name.as_deref(),
        }
    }
}

/// A table that `enabled = false` leaves out of the run while it stays in the file
/// (the operators of the seeds turn an exporter off without deleting it).
#[derive(Debug, Clone, PartialEq)]
struct Switchable<T> {
    enabled: bool,
    value: T,
}

impl<'de> Deserialize<'de> for Switchable<SourceConfig> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let table = SourceTable::deserialize(deserializer)?;
        let enabled = table.enabled.unwrap_or(true);
        let value = SourceConfig::try_from(table).map_err(serde::de::Error::custom)?;
        Ok(Switchable { enabled, value })
    }
}

/// The schema of a `[[sources]]` table is that of the table as written.
impl JsonSchema for Switchable<SourceConfig> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        SourceTable::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SourceTable::json_schema(generator)
    }
}

/// A `[[sources]]` table as written: one struct for every type, so that an unknown
/// key is reported at the key (an internally tagged enum would point at the table).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SourceTable {
    #[serde(rename = "type")]
    kind: SourceKind,
    enabled: Option<bool>,
    name: Option<String>,
    paths: Option<Vec<String>>,
    follow: Option<bool>,
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    poll_interval: Option<Duration>,
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    rotate_wait: Option<Duration>,
    /// An address (http) or a URL (syslog): checked by the type.
    listen: Option<String>,
    unauthenticated: Option<bool>,
    tokens: Option<Vec<SecretRef>>,
    tls: Option<ServerTls>,
    max_body_bytes: Option<usize>,
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    ack_timeout: Option<Duration>,
    max_connections: Option<usize>,
    max_connections_per_client: Option<usize>,
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    evict_idle_after: Option<Duration>,
    /// A NATS server (jetstream): `nats://` or `tls://`.
    url: Option<String>,
    stream: Option<String>,
    consumer: Option<String>,
    token: Option<SecretRef>,
    basic_auth: Option<BasicAuth>,
    nkey: Option<SecretRef>,
    nats_credentials: Option<SecretRef>,
    ca_file: Option<PathBuf>,
    max_ack_pending: Option<usize>,
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    ack_wait: Option<Duration>,
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    nak_delay: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum SourceKind {
    File,
    Stdin,
    Http,
    /// The same source as `http` (every HTTP source answers OTLP/HTTP at `/v1/logs`),
    /// under the name OpenTelemetry users look for.
    Otlp,
    Syslog,
    Jetstream,
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Stdin => "stdin",
            SourceKind::Http => "http",
            SourceKind::Otlp => "otlp",
            SourceKind::Syslog => "syslog",
            SourceKind::Jetstream => "jetstream",
        }
    }
}

impl SourceTable {
    /// A syslog source's `listen`; connections are bounded only where there are any.
    fn syslog_listen(&self) -> Result<SyslogListen, String> {
        let listen: SyslogListen = self
            .listen
            .as_deref()
            .ok_or("a syslog source needs `listen`, such as \"udp://127.0.0.1:5514\"")?
            .parse()
            .map_err(|e| format!("listen: {e}"))?;
        let (max, per_client, evict) = self.connection_keys();
        if listen.transport == SyslogTransport::Udp
            && (max.is_some() || per_client.is_some() || evict.is_some())
        {
            return Err(
                "max_connections, max_connections_per_client and evict_idle_after are for tcp:// and tls:// listeners; UDP has no connections".into(),
            );
        }
        Ok(listen)
    }

    fn connection_keys(&self) -> (Option<usize>, Option<usize>, Option<Duration>) {
        (
            self.max_connections,
            self.max_connections_per_client,
            self.evict_idle_after,
        )
    }

    /// The first key set that is for sources of another type than this one's, and the
    /// types it is for.
    fn foreign_key(&self) -> Option<(&'static str, &'static str)> {
        let keys = [
            ("paths", self.paths.is_some(), SourceKind::File),
            ("follow", self.follow.is_some(), SourceKind::File),
            (
                "poll_interval",
                self.poll_interval.is_some(),
                SourceKind::File,
            ),
            ("rotate_wait", self.rotate_wait.is_some(), SourceKind::File),
            ("tokens", self.tokens.is_some(), SourceKind::Http),
            (
                "unauthenticated",
                self.unauthenticated.is_some(),
                SourceKind::Syslog,
            ),
            (
                "max_body_bytes",
                self.max_body_bytes.is_some(),
                SourceKind::Http,
            ),
            ("ack_timeout", self.ack_timeout.is_some(), SourceKind::Http),
            ("url", self.url.is_some(), SourceKind::Jetstream),
            ("stream", self.stream.is_some(), SourceKind::Jetstream),
            ("consumer", self.consumer.is_some(), SourceKind::Jetstream),
            ("token", self.token.is_some(), SourceKind::Jetstream),
            (
                "basic_auth",
                self.basic_auth.is_some(),
                SourceKind::Jetstream,
            ),
            ("nkey", self.nkey.is_some(), SourceKind::Jetstream),
            (
                "nats_credentials",
                self.nats_credentials.is_some(),
                SourceKind::Jetstream,
            ),
            ("ca_file", self.ca_file.is_some(), SourceKind::Jetstream),
            (
                "max_ack_pending",
                self.max_ack_pending.is_some(),
                SourceKind::Jetstream,
            ),
            ("ack_wait", self.ack_wait.is_some(), SourceKind::Jetstream),
            ("nak_delay", self.nak_delay.is_some(), SourceKind::Jetstream),
        ];
        let listening = matches!(
            self.kind,
            SourceKind::Http | SourceKind::Otlp | SourceKind::Syslog
        );
        let kind = match self.kind {
            SourceKind::Otlp => SourceKind::Http,
            kind => kind,
        };
        let shared = [
            ("listen", self.listen.is_some()),
            ("tls", self.tls.is_some()),
            ("max_connections", self.max_connections.is_some()),
            (
                "max_connections_per_client",
                self.max_connections_per_client.is_some(),
            ),
            ("evict_idle_after", self.evict_idle_after.is_some()),
        ];
        if let Some((key, _)) = shared.into_iter().find(|(_, set)| *set && !listening) {
            return Some((key, "http and syslog"));
        }
        keys.into_iter()
            .find(|(_, set, of)| *set && *of != kind)
            .map(|(key, _, kind)| (key, kind.name()))
    }
}

impl TryFrom<SourceTable> for SourceConfig {
    type Error = String;

    fn try_from(table: SourceTable) -> Result<Self, String> {
        if let Some((key, kind)) = table.foreign_key() {
            return Err(format!(
                "`{key}` is for {kind} sources, not {}",
                table.kind.name()
            ));
        }
        match table.kind {
            SourceKind::File => Ok(SourceConfig::File {
                name: table.name,
                paths: table
                    .paths
                    .ok_or("a file source needs `paths`: the files or globs to read")?,
                follow: table.follow.unwrap_or(false),
                poll_interval: table.poll_interval.unwrap_or_else(default_poll_interval),
                rotate_wait: table.rotate_wait.unwrap_or_else(default_rotate_wait),
            }),
            SourceKind::Stdin => Ok(SourceConfig::Stdin { name: table.name }),
            SourceKind::Http | SourceKind::Otlp => Ok(SourceConfig::Http(HttpSourceConfig {
                connections: ConnectionLimits::written(ConnectionLimits::HTTP, table.connection_keys()),
                name: table.name,
                listen: table
                    .listen
                    .ok_or(
                        "an http source needs `listen`: the address and port to serve, such as \"127.0.0.1:8088\"",
                    )?
                    .parse()
                    .map_err(|_| "listen: an http source listens on ADDRESS:PORT, such as \"127.0.0.1:8088\"")?,
                tokens: table.tokens.unwrap_or_default(),
                tls: table.tls,
                max_body_bytes: table
                    .max_body_bytes
                    .unwrap_or_else(ingest::default_max_body_bytes),
                ack_timeout: table
                    .ack_timeout
                    .unwrap_or_else(ingest::default_ack_timeout),
            })),
            SourceKind::Syslog => Ok(SourceConfig::Syslog(SyslogSourceConfig {
                listen: table.syslog_listen()?,
                connections: ConnectionLimits::written(ConnectionLimits::SYSLOG, table.connection_keys()),
                name: table.name,
                tls: table.tls,
                unauthenticated: table.unauthenticated.unwrap_or(false),
            })),
            SourceKind::Jetstream => Ok(SourceConfig::JetStream(JetStreamSourceConfig {
                name: table.name,
                url: jetstream::parse_url(
                    &table
                        .url
                        .ok_or("a jetstream source needs `url`, such as \"nats://127.0.0.1:4222\"")?,
                )
                .map_err(|e| format!("url: {e}"))?,
                stream: table.stream.ok_or("a jetstream source needs `stream`: the stream to read")?,
                consumer: table.consumer.ok_or(
                    "a jetstream source needs `consumer`: the durable consumer the hosts share (created if absent)",
                )?,
                token: table.token,
                basic_auth: table.basic_auth,
                nkey: table.nkey,
                nats_credentials: table.nats_credentials,
                ca_file: table.ca_file,
                max_ack_pending: table
                    .max_ack_pending
                    .unwrap_or_else(jetstream::default_max_ack_pending),
                ack_wait: table.ack_wait.unwrap_or_else(jetstream::default_ack_wait),
                nak_delay: table.nak_delay.unwrap_or_else(jetstream::default_nak_delay),
            })),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// Unique name, used in logs and dead-letter records.
    pub name: String,
    /// `false` leaves it out of the run (its secrets are not read), kept in the file.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Where it is among the `[[destinations]]` tables of the file, for messages.
    #[serde(skip)]
    pub position: usize,
    /// A filter policy file of this destination's own: only the events it keeps are
    /// sent here (no `[[route]]` tables: routes are global).
    pub filter: Option<PathBuf>,
    /// A filter module (a built-in name, a name in `modules_dirs`, or a `.wasm` path),
    /// for a rule a policy cannot say: it decides which events of each batch are sent.
    pub filter_module: Option<String>,
    /// The filter module's settings.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub filter_settings: toml::Table,
    /// The SHA-256 the filter module's bytes must have, as `module_sha256`.
    pub filter_module_sha256: Option<String>,
    /// The names of the sources whose events this destination takes; all when empty.
    #[serde(default)]
    pub sources: Vec<String>,
    /// A built-in module name (`splunk-hec`), a name found in `modules_dirs`, or a path to a `.wasm`.
    pub module: String,
    /// The SHA-256 the module's bytes must have (64 hex digits): a module file that
    /// differs is refused, at start and at reload (the pinned version keeps running).
    pub module_sha256: Option<String>,
    /// `https://host:port` the module's paths are relative to, or `capture:DIR` to write
    /// each request to a file in DIR instead of sending it; or `{ env = "..." }` /
    /// `{ file = "..." }` for a URL that is itself the credential (Sumo Logic's). Absent
    /// when the module lets a setting choose among the endpoints it names (Datadog's
    /// `site`).
    pub endpoint: Option<EndpointSetting>,
    /// The credential the host adds to every request, as the module's info says.
    pub token: Option<SecretRef>,
    /// HTTP Basic credentials instead of `token`, sent in the module's credential header
    /// (`Authorization: Basic ...`), encoded by the host.
    pub basic_auth: Option<BasicAuth>,
    /// An OAuth2 client-credentials token instead of `token`, obtained and refreshed by
    /// the host, sent as `Bearer` in the module's credential header.
    pub oauth2: Option<OAuth2>,
    /// Secrets a module may sign with (by name) without reading them.
    #[serde(default)]
    pub signing_keys: BTreeMap<String, SecretRef>,
    /// Headers the host adds to every HTTP request, each value a secret
    /// (`{ "X-Api-Key" = { env = "ACME_KEY" } }`): for a receiver that authenticates by
    /// a header of its own. The module never sees them.
    #[serde(default)]
    pub secret_headers: BTreeMap<String, SecretRef>,
    /// Send `token`, `basic_auth` or the OAuth2 client secret over plain `http://` to a
    /// host other than this machine: refused unless set, since anyone on the path reads
    /// them.
    #[serde(default)]
    pub allow_plaintext_credentials: bool,
    /// The module's settings (strings, numbers or booleans).
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub settings: toml::Table,
    /// When batches close.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Events waiting for this destination.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// When to try again.
    #[serde(default)]
    pub retry: RetryConfig,
    /// When to stop trying for a while.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    /// How much it may be sent.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Polling of the confirmations a module waits for (`pending` verdicts).
    #[serde(default)]
    pub acknowledgement: AcknowledgementConfig,
    /// Batches in flight at once, each with its own module instance.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Time limit of one HTTP request.
    #[schemars(with = "String")]
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Most bytes of a response body the module reads (it is told when a body is cut).
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// A PEM file of extra CA certificates to trust (TLS verification stays on).
    pub ca_file: Option<PathBuf>,
    /// A PEM certificate chain the host presents to a `tls://` destination that asks
    /// for one (mutual TLS), with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of `client_cert`, a secret (`{ file = ... }`).
    pub client_key: Option<SecretRef>,
    /// AWS Signature V4 by the host instead of a credential header's value (the module
    /// names `Authorization` as its header).
    pub aws: Option<AwsConfig>,
    /// The Data Collector API's SharedKey signature by the host instead of a credential
    /// header's value.
    pub azure_shared_key: Option<AzureSharedKey>,
    /// A NATS destination's NKey seed (`SU...`), instead of `token` or `basic_auth`.
    pub nkey: Option<SecretRef>,
    /// A NATS `.creds` file (a user JWT and its NKey seed), instead of `token`,
    /// `basic_auth` or `nkey`.
    pub nats_credentials: Option<SecretRef>,
    /// How an object store endpoint names its objects, after the endpoint's prefix:
    /// `%Y`, `%m`, `%d`, `%H`, `%M`, `%S` of the write (UTC), `{host}`, `{start}` (the
    /// run's start) and `{seq}` (required); the module's suffix (`.jsonl.gz`) follows.
    pub object_name: Option<String>,
    /// An S3-compatible server to use instead of AWS's (MinIO, Ceph, a local test
    /// server): `https://host:port`, or `http://` on this machine only.
    #[schemars(with = "Option<String>")]
    pub s3_endpoint: Option<url::Url>,
    /// Longest message sent in one datagram (`udp://`); a longer one is refused to the
    /// dead-letter store.
    #[serde(default = "default_max_datagram_bytes")]
    pub max_datagram_bytes: usize,
    /// How messages are delimited on a `tcp://` or `tls://` stream.
    #[serde(default)]
    pub framing: Framing,
}

/// `insecure_module_paths`: whoever can write a module file or its directory can run
/// code in the host's sandbox, with the destination's signing keys at hand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InsecureModulePaths {
    /// Such a module is not loaded (at start: an error; at a reload: the running one goes on).
    #[default]
    Refuse,
    /// Such a module is loaded, with a warning each time.
    Warn,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// For a person: a time, a level, the message, then its fields as `key=value`.
    #[default]
    Text,
    /// One JSON object per line, with the same fields.
    Json,
}

impl LogFormat {
    /// The `log_format` of the configuration file at `path`, read before the rest of it
    /// (the log is set up first, so that the errors of the rest go to it); the default
    /// when the file does not say, or cannot be read (its full load reports why).
    pub fn of_file(path: &Path) -> LogFormat {
        #[derive(Deserialize)]
        struct Only {
            #[serde(default)]
            log_format: LogFormat,
        }
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| toml::from_str::<Only>(&text).ok())
            .map_or_else(LogFormat::default, |only| only.log_format)
    }
}

/// How a stream delimits messages (RFC 6587).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// `LEN SP MESSAGE`: any byte may be in a message. RFC 5425 requires it over TLS.
    #[default]
    OctetCounting,
    /// `MESSAGE LF`: what old receivers and CEF collectors read; a message with a line
    /// feed in it is refused to the dead-letter store.
    Lf,
}

impl DestinationConfig {
    /// Its own filter policy, named after it.
    pub fn filter_config(&self) -> Option<FilterConfig> {
        self.filter.as_ref().map(|policy| FilterConfig {
            name: self.name.clone(),
            policy: policy.clone(),
        })
    }

    /// Where the destination is in its file, for errors: ``destinations[0] (`splunk`)``.
    pub fn location(&self) -> String {
        format!("destinations[{}] (`{}`)", self.position, self.name)
    }
}

/// When a batch closes: whichever limit is reached first. Unset limits come from the module.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most events in a batch.
    pub max_events: Option<u32>,
    /// Most bytes of event JSON in a batch (a single larger event makes a batch alone).
    pub max_bytes: Option<u32>,
    /// Longest a batch waits for more events after its first; 1 s when unset (5 minutes
    /// for an object store, where a batch is an object).
    #[schemars(with = "Option<String>")]
    #[serde(default, with = "humantime_serde")]
    pub max_wait: Option<Duration>,
}

fn default_dead_letter_dir() -> PathBuf {
    PathBuf::from("sluice-dead-letter")
}
/// 256 MiB: a file a person can still open.
fn default_dead_letter_max_file_bytes() -> u64 {
    256 << 20
}
fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(1)
}
/// 4 GiB: millions of records, a bound a disk can keep.
fn default_dead_letter_max_bytes() -> u64 {
    4 << 30
}
fn default_failure_alert_after() -> Duration {
    Duration::from_secs(60)
}
fn default_progress_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_time_fields() -> Vec<String> {
    [
        "timestamp",
        "@timestamp",
        "time",
        "ts",
        "occurred_at",
        "occurred_at_ms",
        "event_time",
        "created_at",
    ]
    .map(String::from)
    .to_vec()
}
/// serde_json's own limit, and twice what real audit events nest.
fn default_max_depth() -> u32 {
    128
}
/// Deeper would risk the stack of the thread that reads.
const MAX_DEPTH_LIMIT: u32 = 512;
fn default_earliest_time() -> jiff::Timestamp {
    jiff::Timestamp::UNIX_EPOCH
}
fn default_max_future() -> Duration {
    Duration::from_secs(86_400)
}
/// 1 MiB: an event longer than a Splunk Cloud request could not be sent anyway.
fn default_max_line_bytes() -> usize {
    1 << 20
}
/// 64 MiB of linear memory: ten times what the reference modules use on 1 MB batches.
fn default_module_memory() -> usize {
    64 << 20
}
fn default_module_call_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_module_output() -> usize {
    32 << 20
}
fn default_poll_interval() -> Duration {
    Duration::from_millis(250)
}
/// As Fluent Bit's `rotate_wait`.
fn default_rotate_wait() -> Duration {
    Duration::from_secs(5)
}
/// Polling more often than this costs CPU while idle for no gain.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// What RFC 5424 says every receiver should accept.
fn default_max_datagram_bytes() -> usize {
    2048
}
fn default_concurrency() -> usize {
    2
}
/// 4 MiB: an Elasticsearch bulk answer with an error for each of 10,000 items.
fn default_max_response_bytes() -> usize {
    4 << 20
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Where a destination's requests go.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Http(url::Url),
    Capture(PathBuf),
    /// `tcp://host:port` or, with `tls`, `tls://host:port`: framed messages on a stream;
    /// `relp://host:port` (`relp+tls://`): RELP sessions, each message acknowledged.
    Stream(SocketEndpoint),
    /// `udp://host:port`: one message per datagram.
    Datagram(SocketEndpoint),
    /// `nats://host:port`: a NATS server, for a module that publishes (a `tls://`
    /// endpoint is one too, with TLS, when the module publishes).
    Nats(SocketEndpoint),
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` or
    /// `file:///dir`: an object store, where each request's body is one object.
    Object(url::Url),
}

/// A TOML error as `FILE:LINE:COLUMN: message`. Not toml's own text, which quotes the
/// line it is on: that line may hold a secret (a literal `token = "..."`, refused for
/// that very reason), and this message reaches a terminal or, at a reload, the log.
fn toml_error(text: &str, path: &Path, error: &toml::de::Error) -> String {
    let Some(span) = error.span() else {
        return format!("{}: {}", path.display(), error.message());
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
    format!(
        "{}:{line}:{column}: {}",
        path.display(),
        error.message().trim_end()
    )
}

/// A host and port to open a socket to, and whether the stream is TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEndpoint {
    /// A name or an address (IPv6 without brackets); also the name TLS verifies.
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// RELP on the stream: the receiver acknowledges each message.
    pub relp: bool,
}

impl Config {
    /// Reads and validates `path`. Errors name the file, the key and the problem.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text, path)
    }

    /// Reads and validates `path` but leaves its secrets unread: for the commands that
    /// only look (`modules`, `dlq list`), which need no credential.
    pub fn load_unresolved(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse_with(&text, path, false)
    }

    /// Reads and validates `text`, the contents of the file at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        Config::parse_with(text, path, true)
    }

    fn parse_with(text: &str, path: &Path, resolve_secrets: bool) -> Result<Config> {
        let text = &interpolate::expand(text, &|name| std::env::var(name).ok())
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
        let mut config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", toml_error(text, path, &e)))?;
        config.path = path.to_owned();
        config.leave_out_disabled();
        config.resolve_relative_paths(path.parent().unwrap_or(Path::new(".")));
        let validated = match resolve_secrets {
            true => config.validate().and_then(|()| config.resolve_secrets()),
            false => config.validate(),
        };
        validated.map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
        Ok(config)
    }

    /// Keeps the sources and destinations that are enabled, each knowing where it is in
    /// the file (a disabled one's secrets are never read: its variables may be gone).
    fn leave_out_disabled(&mut self) {
        (self.sources, self.source_positions) = self
            .declared_sources
            .iter()
            .enumerate()
            .filter(|(_, source)| source.enabled)
            .map(|(position, source)| (source.value.clone(), position))
            .unzip();
        for (position, destination) in self.destinations.iter_mut().enumerate() {
            destination.position = position;
        }
        let (enabled, disabled): (Vec<_>, Vec<_>) = std::mem::take(&mut self.destinations)
            .into_iter()
            .partition(|destination| destination.enabled);
        self.destinations = enabled;
        self.disabled_destinations = disabled.into_iter().map(|d| d.name).collect();
    }

    /// The JSON Schema of a configuration file (as TOML maps onto JSON), from the types
    /// the file is read into: for editors and for checking files before they ship.
    pub fn schema() -> String {
        let schema = schemars::schema_for!(Config);
        serde_json::to_string_pretty(&schema).expect("a schema serializes")
    }

    /// This configuration with `new`'s sources, destinations and filters: what a reload
    /// changes while the rest waits for a restart.
    pub fn with_live_parts_of(&self, new: &Config) -> Config {
        Config {
            declared_sources: new.declared_sources.clone(),
            sources: new.sources.clone(),
            source_positions: new.source_positions.clone(),
            destinations: new.destinations.clone(),
            disabled_destinations: new.disabled_destinations.clone(),
            filters: new.filters.clone(),
            ..self.clone()
        }
    }

    /// `sources[N]`, N its place among the `[[sources]]` tables of the file, for the
    /// enabled source at `index`.
    pub fn source_location(&self, index: usize) -> String {
        format!("sources[{}]", self.source_positions[index])
    }

    /// Reads every secret the destinations name, so that one missing or unusable is
    /// said before anything starts; the error names the key and the variable or file,
    /// never a value.
    fn resolve_secrets(&self) -> Result<()> {
        if let Some(admin) = &self.admin {
            admin.resolve_token()?;
        }
        for (i, source) in self.sources.iter().enumerate() {
            if let SourceConfig::Http(http) = source {
                let at = self.source_location(i);
                http.resolve_tokens(&at)?;
            }
            if let SourceConfig::JetStream(jetstream) = source {
                jetstream.resolve_secrets(&self.source_location(i))?;
            }
            let tls = match source {
                SourceConfig::Http(http) => http.tls.as_ref(),
                SourceConfig::Syslog(syslog) => syslog.tls.as_ref(),
                SourceConfig::File { .. } | SourceConfig::Stdin { .. } => None,
                SourceConfig::JetStream(_) => None,
            };
            if let Some(tls) = tls {
                tls.key
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("{}.tls.key: {e}", self.source_location(i)))?;
            }
        }
        for destination in &self.destinations {
            let at = destination.location();
            let aws = destination.aws.as_ref();
            if destination.endpoint_is_secret() {
                destination
                    .endpoint()
                    .with_context(|| format!("{at}.endpoint"))?;
            }
            for (name, secret) in [
                ("client_key", &destination.client_key),
                ("nkey", &destination.nkey),
                ("nats_credentials", &destination.nats_credentials),
                (
                    "aws.access_key_id",
                    &aws.and_then(|aws| aws.access_key_id.clone()),
                ),
                (
                    "aws.secret_access_key",
                    &aws.and_then(|aws| aws.secret_access_key.clone()),
                ),
                (
                    "aws.session_token",
                    &aws.and_then(|aws| aws.session_token.clone()),
                ),
                (
                    "azure_shared_key.key",
                    &destination
                        .azure_shared_key
                        .as_ref()
                        .map(|shared| shared.key.clone()),
                ),
            ] {
                if let Some(secret) = secret {
                    secret
                        .resolve()
                        .map_err(|e| anyhow::anyhow!("{at}.{name}: {e}"))?;
                }
            }
            if let Some(aws) = &destination.aws {
                // Both are in the scope every signature covers: a region or service
                // written wrong signs requests AWS refuses, or an unreadable header.
                for (key, value) in [("region", &aws.region), ("service", &aws.service)] {
                    if value.is_empty()
                        || !value
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    {
                        bail!(
                            "{at}.aws.{key}: `{}` is not an AWS {key} (lowercase letters, digits and `-`, such as eu-west-1 or logs)",
                            value.escape_debug()
                        );
                    }
                }
            }
            if let Some(oauth2) = &destination.oauth2 {
                oauth2
                    .client_secret
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("{at}.oauth2.client_secret: {e}"))?;
            }
            if let Some(basic) = &destination.basic_auth {
                basic
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("{at}.basic_auth: {e}"))?;
            }
            if let Some(token) = &destination.token {
                let value = token
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("{at}.token: {e}"))?;
                // Sent in an HTTP header, where it could never go (every request would
                // fail, after `check` said ok).
                if value.expose().chars().any(|c| c.is_control() && c != '\t') {
                    bail!(
                        "{at}.token: {token} holds a control character (a line break?), which no HTTP header can carry"
                    );
                }
            }
            for (name, key) in &destination.signing_keys {
                key.resolve()
                    .map_err(|e| anyhow::anyhow!("{at}.signing_keys.{name}: {e}"))?;
            }
            for (name, value) in &destination.secret_headers {
                value
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("{at}.secret_headers.{name}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Relative paths in a config file are relative to the file, so a config works from
    /// any working directory.
    fn resolve_relative_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.dead_letter_dir);
        for filter in &mut self.filters {
            fix(&mut filter.policy);
        }
        self.modules_dirs.iter_mut().for_each(fix);
        if let Some(dir) = &mut self.cache_dir {
            fix(dir);
        }
        if let Some(dir) = &mut self.data_dir {
            fix(dir);
        }
        for source in &mut self.sources {
            match source {
                SourceConfig::File { paths, .. } => {
                    for pattern in paths.iter_mut() {
                        if Path::new(pattern.as_str()).is_relative() {
                            *pattern = base.join(&*pattern).to_string_lossy().into_owned();
                        }
                    }
                }
                SourceConfig::Http(http) => {
                    for token in &mut http.tokens {
                        if let SecretRef::File(path) = token {
                            fix(path);
                        }
                    }
                    if let Some(tls) = &mut http.tls {
                        tls.resolve_relative_paths(fix);
                    }
                }
                SourceConfig::Syslog(syslog) => {
                    if let Some(tls) = &mut syslog.tls {
                        tls.resolve_relative_paths(fix);
                    }
                }
                SourceConfig::JetStream(jetstream) => jetstream.resolve_relative_paths(fix),
                SourceConfig::Stdin { .. } => {}
            }
        }
        if let Some(SecretRef::File(path)) =
            self.admin.as_mut().and_then(|admin| admin.token.as_mut())
        {
            fix(path);
        }
        for destination in &mut self.destinations {
            for file in [
                &mut destination.ca_file,
                &mut destination.client_cert,
                &mut destination.filter,
            ]
            .into_iter()
            .flatten()
            {
                fix(file);
            }
            let secrets = destination
                .token
                .iter_mut()
                .chain(destination.client_key.iter_mut())
                .chain(destination.nkey.iter_mut())
                .chain(destination.nats_credentials.iter_mut())
                .chain(
                    destination
                        .azure_shared_key
                        .iter_mut()
                        .map(|shared| &mut shared.key),
                )
                .chain(destination.aws.iter_mut().flat_map(|aws| {
                    [
                        aws.access_key_id.as_mut(),
                        aws.secret_access_key.as_mut(),
                        aws.session_token.as_mut(),
                    ]
                    .into_iter()
                    .flatten()
                }))
                .chain(destination.basic_auth.iter_mut().map(|b| &mut b.password))
                .chain(destination.oauth2.iter_mut().map(|o| &mut o.client_secret))
                .chain(destination.signing_keys.values_mut())
                .chain(destination.secret_headers.values_mut());
            for secret in secrets {
                if let SecretRef::File(path) = secret {
                    fix(path);
                }
            }
            match &mut destination.endpoint {
                None => {}
                Some(EndpointSetting::Text(text)) => {
                    if let Some(dir) = text.strip_prefix("capture:")
                        && Path::new(dir).is_relative()
                    {
                        *text = format!("capture:{}", base.join(dir).display());
                    }
                }
                Some(EndpointSetting::Secret(SecretRef::File(path))) => fix(path),
                Some(EndpointSetting::Secret(_)) => {}
            }
            for module in
                std::iter::once(&mut destination.module).chain(&mut destination.filter_module)
            {
                if module.ends_with(".wasm") && Path::new(module.as_str()).is_relative() {
                    *module = base.join(module.as_str()).to_string_lossy().into_owned();
                }
            }
        }
    }

    fn validate(&self) -> Result<()> {
        self.validate_main()?;
        self.validate_filters()
    }

    /// Every global filter compiles, and routes only to destinations that exist.
    fn validate_filters(&self) -> Result<()> {
        for (index, filter) in self.filters.iter().enumerate() {
            if self.filters[..index].iter().any(|f| f.name == filter.name) {
                bail!("filters[{index}]: the name `{}` is taken", filter.name);
            }
            let policy = filter
                .load()
                .map_err(|e| anyhow::anyhow!("filters[{index}]: {e:#}"))?;
            if let Some(unknown) = policy
                .route_targets()
                .into_iter()
                .find(|target| !self.destinations.iter().any(|d| d.name == *target))
            {
                let why = match self.disabled_destinations.iter().any(|d| d == unknown) {
                    true => "which is disabled (`enabled = false`)",
                    false => "but no destination has that name",
                };
                bail!(
                    "filters[{index}] ({}): a [[route]] sends events to `{unknown}`, {why}",
                    filter.policy.display()
                );
            }
            // A routed event goes to its destination only, so one of a source that
            // destination does not take would go nowhere.
            let routes = self.routes();
            for target in policy.route_targets() {
                let d = self.destinations.iter().position(|d| d.name == target);
                let d = d.expect("checked above");
                if let Some(source) = routes.iter().position(|takers| !takers.contains(&d)) {
                    bail!(
                        "filters[{index}] ({}): a [[route]] sends events to `{target}`, which does not take the events of {} (its `sources` leave it out), so they would go nowhere: add that source to `{target}`'s `sources`, or remove that list",
                        filter.policy.display(),
                        self.source_location(source)
                    );
                }
            }
        }
        Ok(())
    }

    fn validate_main(&self) -> Result<()> {
        if self.sources.is_empty() {
            match self.declared_sources.is_empty() {
                true => bail!("sources: at least one [[sources]] is needed"),
                false => bail!("sources: every [[sources]] is disabled (enabled = false)"),
            }
        }
        if let Some(admin) = &self.admin {
            admin.validate()?;
        }
        if let Some(integrity) = &self.integrity {
            integrity.validate()?;
            if self.data_dir.is_none() {
                bail!(
                    "integrity: the chains' digests are kept in `data_dir`; set data_dir = \"PATH\""
                );
            }
        }
        if self.spool.enabled == Some(true) && self.data_dir.is_none() {
            bail!("spool.enabled: the spool lives in `data_dir`; set data_dir = \"PATH\"");
        }
        if self.spool.segment_bytes < 4096 || self.spool.max_bytes < 2 * self.spool.segment_bytes {
            bail!(
                "spool: segment_bytes must be at least 4096, and max_bytes at least twice segment_bytes"
            );
        }
        if self.dead_letter_max_bytes < self.dead_letter_max_file_bytes {
            bail!("dead_letter_max_bytes: must be at least dead_letter_max_file_bytes");
        }
        if self.checkpoint_interval < MIN_POLL_INTERVAL {
            bail!("checkpoint_interval: use at least {MIN_POLL_INTERVAL:?}");
        }
        if self.destinations.is_empty() {
            match self.disabled_destinations.is_empty() {
                true => bail!("destinations: at least one [[destinations]] is needed"),
                false => {
                    bail!("destinations: every [[destinations]] is disabled (enabled = false)")
                }
            }
        }
        if self.events.max_line_bytes < 1024 {
            bail!("events.max_line_bytes: must be at least 1024");
        }
        if !(1..=MAX_DEPTH_LIMIT).contains(&self.events.max_depth) {
            bail!("events.max_depth: must be between 1 and {MAX_DEPTH_LIMIT}");
        }
        for (i, source) in self.sources.iter().enumerate() {
            match source {
                SourceConfig::Http(http) => http.validate(&self.source_location(i))?,
                SourceConfig::Syslog(syslog) => syslog.validate(&self.source_location(i))?,
                SourceConfig::JetStream(jetstream) => {
                    jetstream.validate(&self.source_location(i))?
                }
                SourceConfig::File { .. } | SourceConfig::Stdin { .. } => {}
            }
            if let SourceConfig::File {
                paths,
                poll_interval,
                ..
            } = source
            {
                if *poll_interval < MIN_POLL_INTERVAL {
                    bail!(
                        "{}.poll_interval: {poll_interval:?} would poll without pause; use at least {MIN_POLL_INTERVAL:?}",
                        self.source_location(i)
                    );
                }
                if paths.is_empty() {
                    bail!(
                        "{}.paths: give at least one path or glob",
                        self.source_location(i)
                    );
                }
                for pattern in paths {
                    glob::Pattern::new(pattern).with_context(|| {
                        format!(
                            "{}.paths: `{pattern}` is not a valid glob",
                            self.source_location(i)
                        )
                    })?;
                }
            }
        }
        let mut source_names = std::collections::HashSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            if let Some(name) = source.name()
                && !source_names.insert(name)
            {
                bail!(
                    "{}.name: another source has the name `{name}`",
                    self.source_location(i)
                );
            }
        }
        let mut names = std::collections::HashSet::new();
        for destination in &self.destinations {
            let at = destination.location();
            if !names.insert(destination.name.as_str()) {
                bail!("{at}.name: another destination has this name");
            }
            if let Some(unknown) = destination
                .sources
                .iter()
                .find(|name| !source_names.contains(name.as_str()))
            {
                let disabled = self
                    .declared_sources
                    .iter()
                    .any(|source| !source.enabled && source.value.name() == Some(unknown));
                match disabled {
                    true => bail!(
                        "{at}.sources: the source `{unknown}` is disabled (`enabled = false`)"
                    ),
                    false => bail!(
                        "{at}.sources: no source is named `{unknown}` (give the source `name = \"{unknown}\"`)"
                    ),
                }
            }
            if let Some(filter) = destination.filter_config() {
                let policy = filter.load().with_context(|| format!("{at}.filter"))?;
                if policy.routes() {
                    bail!(
                        "{at}.filter: {} has [[route]] tables; routes belong in a global [[filters]] policy",
                        filter.policy.display()
                    );
                }
                if policy.requires() {
                    bail!(
                        "{at}.filter: {} has a [require] table; it belongs in a global [[filters]] policy, which dead-letters an event without the fields as it is read",
                        filter.policy.display()
                    );
                }
            }
            for (key, pin) in [
                ("module_sha256", &destination.module_sha256),
                ("filter_module_sha256", &destination.filter_module_sha256),
            ] {
                if let Some(pin) = pin
                    && (pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    bail!("{at}.{key}: 64 hex digits, as `sha256sum` prints them");
                }
            }
            if destination.filter_module.is_none() && destination.filter_module_sha256.is_some() {
                bail!("{at}.filter_module_sha256: there is no filter_module to pin");
            }
            // A secret endpoint is read with the other secrets (`check`, `run`), not to
            // preview a module.
            if destination
                .endpoint
                .as_ref()
                .is_some_and(|endpoint| !endpoint.is_secret())
            {
                destination
                    .endpoint()
                    .with_context(|| format!("{at}.endpoint"))?;
            }
            destination
                .settings()
                .with_context(|| format!("{at}.settings"))?;
            destination
                .filter_settings()
                .with_context(|| format!("{at}.filter_settings"))?;
            if destination.filter_module.is_none() && !destination.filter_settings.is_empty() {
                bail!("{at}.filter_settings: there is no filter_module to take them");
            }
            for (key, value) in [
                ("max_events", destination.batch.max_events),
                ("max_bytes", destination.batch.max_bytes),
            ] {
                if value == Some(0) {
                    bail!("{at}.batch.{key}: must be at least 1");
                }
            }
            if destination.buffer.max_bytes == 0 {
                bail!("{at}.buffer.max_bytes: must be at least 1");
            }
            if destination.buffer.max_events == 0 {
                bail!("{at}.buffer.max_events: must be at least 1");
            }
            if destination.concurrency == 0 {
                bail!("{at}.concurrency: must be at least 1");
            }
            let circuit = &destination.circuit_breaker;
            if circuit
                .failure_ratio
                .is_some_and(|ratio| !(ratio > 0.0 && ratio <= 1.0))
            {
                bail!("{at}.circuit_breaker.failure_ratio: must be above 0 and at most 1");
            }
            if circuit.window == 0 {
                bail!("{at}.circuit_breaker.window: must be at least 1");
            }
            let acknowledgement = &destination.acknowledgement;
            if acknowledgement.poll_interval.is_zero() {
                bail!("{at}.acknowledgement.poll_interval: must be above 0s");
            }
            if acknowledgement.timeout < acknowledgement.poll_interval {
                bail!("{at}.acknowledgement.timeout: must be at least poll_interval");
            }
            if acknowledgement.max_pending_events == 0 {
                bail!("{at}.acknowledgement.max_pending_events: must be at least 1");
            }
            if acknowledgement.tickets_per_poll == 0 {
                bail!("{at}.acknowledgement.tickets_per_poll: must be at least 1");
            }
            if !(480..=65_000).contains(&destination.max_datagram_bytes) {
                bail!("{at}.max_datagram_bytes: must be 480 (what every receiver takes) to 65000");
            }
            if destination.framing == Framing::Lf
                && matches!(
                    destination.endpoint(),
                    Ok(Endpoint::Stream(SocketEndpoint { tls: true, .. }))
                )
            {
                bail!("{at}.framing: RFC 5425 requires octet-counting over TLS");
            }
            if !destination.secret_headers.is_empty()
                && matches!(
                    destination.endpoint(),
                    Ok(Endpoint::Stream(_)
                        | Endpoint::Datagram(_)
                        | Endpoint::Nats(_)
                        | Endpoint::Object(_))
                )
            {
                bail!("{at}.secret_headers: only HTTP requests carry headers");
            }
            if destination.client_cert.is_some() != destination.client_key.is_some() {
                bail!("{at}: give `client_cert` and `client_key` together");
            }
            if destination.client_cert.is_some()
                && !matches!(
                    destination.endpoint(),
                    Ok(Endpoint::Stream(SocketEndpoint { tls: true, .. }))
                )
            {
                bail!(
                    "{at}.client_cert: a client certificate is presented on tls:// and relp+tls:// streams only, not to this endpoint"
                );
            }
            if destination.retry.max_attempts == 0 {
                bail!("{at}.retry.max_attempts: must be at least 1");
            }
            let credentials = [
                destination.token.is_some(),
                destination.basic_auth.is_some(),
                destination.oauth2.is_some(),
                destination.nkey.is_some(),
                destination.nats_credentials.is_some(),
                destination.aws.is_some(),
                destination.azure_shared_key.is_some(),
            ];
            if credentials.iter().filter(|&&given| given).count() > 1 {
                bail!(
                    "{at}: give one of `token`, `basic_auth`, `oauth2`, `aws`, `azure_shared_key`, `nkey` and `nats_credentials`"
                );
            }
            destination
                .check_object_store()
                .map_err(|problem| anyhow::anyhow!("{at}.{problem}"))?;
            let is_nats = matches!(destination.endpoint(), Ok(Endpoint::Nats(_)));
            if is_nats
                && (destination.oauth2.is_some()
                    || destination.aws.is_some()
                    || destination.azure_shared_key.is_some())
            {
                bail!(
                    "{at}: a NATS server takes token, basic_auth, nkey or nats_credentials, not oauth2, aws or azure_shared_key"
                );
            }
            if (destination.nkey.is_some() || destination.nats_credentials.is_some())
                && !is_nats
                && !matches!(
                    destination.endpoint(),
                    Ok(Endpoint::Stream(SocketEndpoint {
                        tls: true,
                        relp: false,
                        ..
                    }))
                )
            {
                bail!(
                    "{at}: `nkey` and `nats_credentials` are for NATS endpoints (nats:// or tls://)"
                );
            }
            if let Ok(Endpoint::Nats(socket)) = destination.endpoint()
                && destination.has_credential()
                && !is_loopback_host(&socket.host)
                && !destination.allow_plaintext_credentials
            {
                bail!(
                    "{at}.endpoint: its credential would cross the network unencrypted to {}: use tls:// (or set `allow_plaintext_credentials = true`)",
                    socket.host
                );
            }
            if let Ok(Endpoint::Http(url)) = destination.endpoint()
                && destination.has_credential()
                && destination.sends_in_clear(&url)
            {
                bail!(
                    "{at}.endpoint: its credential would cross the network unencrypted to {}: use https:// (or set `allow_plaintext_credentials = true`)",
                    url.host_str().unwrap_or_default()
                );
            }
            if let Some(oauth2) = &destination.oauth2 {
                if !matches!(oauth2.token_url.scheme(), "https" | "http") {
                    bail!("{at}.oauth2.token_url: use https://");
                }
                if destination.sends_in_clear(&oauth2.token_url) {
                    bail!(
                        "{at}.oauth2.token_url: the client secret would cross the network unencrypted to {}: use https:// (or set `allow_plaintext_credentials = true`)",
                        oauth2.token_url.host_str().unwrap_or_default()
                    );
                }
            }
        }
        if let Some(i) = self.routes().iter().position(Vec::is_empty) {
            bail!(
                "{}: no destination takes its events (each names its `sources`, and not this one)",
                self.source_location(i)
            );
        }
        Ok(())
    }

    /// For each source, in order, the destinations (by index) that take its events.
    pub fn routes(&self) -> Vec<Vec<usize>> {
        self.sources
            .iter()
            .map(|source| {
                (0..self.destinations.len())
                    .filter(|&d| {
                        let wanted = &self.destinations[d].sources;
                        wanted.is_empty()
                            || source
                                .name()
                                .is_some_and(|name| wanted.iter().any(|w| w == name))
                    })
                    .collect()
            })
            .collect()
    }

    /// What is valid but does not do what it may seem to: `check` prints these and a
    /// run logs them at WARN.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (position, source) in self.declared_sources.iter().enumerate() {
            if !source.enabled {
                warnings.push(format!(
                    "sources[{position}] (`{}`): enabled = false, not read",
                    source.value.label()
                ));
            }
        }
        for name in &self.disabled_destinations {
            warnings.push(format!(
                "destination `{name}`: enabled = false, left out (its secrets are not read)"
            ));
        }
        for (i, dir) in self.modules_dirs.iter().enumerate() {
            if !dir.is_dir() {
                warnings.push(format!(
                    "modules_dirs[{i}]: {} is not a directory (yet): no module is found there",
                    dir.display()
                ));
            }
        }
        if self.spooled() {
            for destination in &self.destinations {
                if destination.buffer.when_full != WhenFull::Block {
                    warnings.push(format!(
                        "{}.buffer.when_full: with the spool on, nothing is dropped: events wait in the spool while the destination is behind (when_full applies only without a spool)",
                        destination.location()
                    ));
                }
            }
        }
        warnings
    }

    /// Whether events are spooled: `spool.enabled`, else whether there is a `data_dir`.
    pub fn spooled(&self) -> bool {
        self.data_dir.is_some() && self.spool.enabled.unwrap_or(true)
    }

    /// The configured cache directory, else the user's cache directory.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.cache_dir.clone().or_else(default_cache_dir)
    }
}

/// Whether `url` names this machine: `localhost` or a loopback address.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

/// A destination's `endpoint`: the text, or a secret that holds it (a URL that is itself
/// the credential, as Sumo Logic's collector URLs are).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EndpointSetting {
    Text(String),
    Secret(SecretRef),
}

impl EndpointSetting {
    /// The endpoint's text (read from its variable or file when it is a secret).
    pub fn text(&self) -> Result<Secret> {
        match self {
            EndpointSetting::Text(text) => Ok(Secret::obtained(text.clone())),
            EndpointSetting::Secret(secret) => {
                let text = secret.resolve().map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(Secret::obtained(text.expose().trim().to_owned()))
            }
        }
    }

    /// Whether the URL is a secret, never to be shown.
    pub fn is_secret(&self) -> bool {
        matches!(self, EndpointSetting::Secret(_))
    }

    /// How messages name the endpoint whose text is `text`: quoted, or, for a secret,
    /// where it comes from.
    pub fn shown(&self, text: &str) -> String {
        match self {
            EndpointSetting::Text(_) => format!("`{text}`"),
            EndpointSetting::Secret(secret) => format!("the URL in {secret}"),
        }
    }
}

/// Whether `host` (a name or an address, as a socket endpoint holds it) is this machine.
pub fn is_loopback_host(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A name S3, GCS and Azure Blob all take for a bucket or container.
fn is_bucket_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(name.chars().next())
        && edge(name.chars().last())
}

/// `url` without its user name and password.
fn without_userinfo(url: &url::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// An object store endpoint, checked: a bucket (or container) for a cloud store, a
/// directory on this machine for `file://`, and nothing else in the URL. The prefix is
/// checked as written (`text`), before the URL parser resolves `..` and drops `.` and
/// empty segments: a prefix names the objects' place exactly, or is refused.
fn object_store_endpoint(text: &str, url: url::Url, shown: &str) -> Result<Endpoint> {
    let written_path = text
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map_or("", |at| &rest[at..]))
        .unwrap_or_default();
    let prefix = written_path.strip_prefix('/').unwrap_or(written_path);
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    for segment in prefix.split('/').filter(|_| !prefix.is_empty()) {
        let escapes_whole = segment.match_indices('%').all(|(at, _)| {
            segment
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        if !escapes_whole {
            bail!("{shown}: a `%` in the prefix is not followed by two hex digits");
        }
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8();
        match decoded.as_deref() {
            Ok(part) if part.chars().any(char::is_control) => {
                bail!("{shown}: the prefix holds a control character")
            }
            Ok("" | "." | "..") => {
                bail!("{shown}: the prefix may not hold `//`, or a `.` or `..` part")
            }
            Ok(part) if part.contains('/') => {
                bail!("{shown}: a `%2F` in the prefix would be a `/`: write `/`")
            }
            Ok(_) => {}
            Err(_) => bail!("{shown}: the prefix is not UTF-8"),
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!("{shown}: credentials go in `aws` or the store's environment, not in the URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("{shown}: an object store endpoint is a bucket and a prefix, nothing after them");
    }
    if url.port().is_some() {
        bail!(
            "{shown}: an object store endpoint has no port (a server of your own goes in `s3_endpoint`)"
        );
    }
    match (url.scheme(), url.host_str()) {
        ("file", None | Some("" | "localhost")) if url.path() != "/" => Ok(Endpoint::Object(url)),
        (_, Some(bucket)) if !is_bucket_name(bucket) => bail!(
            "{shown}: `{bucket}` is not a bucket or container name (3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit)"
        ),
        ("file", _) => {
            bail!("{shown}: give a directory on this machine, as in file:///var/lib/sluice/archive")
        }
        (_, Some(bucket)) if !bucket.is_empty() => Ok(Endpoint::Object(url)),
        (scheme, _) => bail!("{shown} names no bucket, as in {scheme}://bucket/prefix"),
    }
}

/// `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("sluice"))
}

impl DestinationConfig {
    /// The `endpoint`, parsed; an error when it is absent (a module that lets a setting
    /// choose the endpoint is resolved by the host, which knows the module).
    pub fn endpoint(&self) -> Result<Endpoint> {
        let Some(setting) = &self.endpoint else {
            bail!("missing: give the URL the destination's requests go to")
        };
        let text = setting.text()?;
        let text = text.expose();
        // A secret URL is named by where it comes from, never shown.
        let shown = setting.shown(text);
        if let Some(dir) = text.strip_prefix("capture:") {
            if dir.is_empty() {
                bail!("`capture:` needs a directory, as in `capture:./captured`");
            }
            return Ok(Endpoint::Capture(PathBuf::from(dir)));
        }
        let url = url::Url::parse(text).map_err(|_| anyhow::anyhow!("{shown} is not a URL"))?;
        // A password in the URL is never repeated in the error that refuses it.
        let shown = match url.password().is_some() || !url.username().is_empty() {
            true => setting.shown(&without_userinfo(&url)),
            false => shown,
        };
        let socket = |tls, relp| -> Result<SocketEndpoint> {
            let host = match url.host() {
                Some(url::Host::Ipv6(address)) => address.to_string(),
                Some(host) => host.to_string(),
                None => bail!("{shown} names no host"),
            };
            // NATS has a port of its own; syslog's differ by transport.
            let Some(port) = url.port().or((url.scheme() == "nats").then_some(4222)) else {
                bail!("{shown} names no port (syslog: 514, or 6514 for TLS; NATS: 4222)")
            };
            if !url.username().is_empty() || url.password().is_some() {
                bail!(
                    "{shown}: credentials go in token, basic_auth, nkey or nats_credentials, not in the URL"
                )
            }
            if !matches!(url.path(), "" | "/") || url.query().is_some() {
                bail!(
                    "{shown}: a {} endpoint is a host and a port, nothing after them",
                    url.scheme()
                )
            }
            Ok(SocketEndpoint {
                host,
                port,
                tls,
                relp,
            })
        };
        match url.scheme() {
            "https" | "http" => Ok(Endpoint::Http(url)),
            "tcp" => Ok(Endpoint::Stream(socket(false, false)?)),
            "tls" => Ok(Endpoint::Stream(socket(true, false)?)),
            "relp" => Ok(Endpoint::Stream(socket(false, true)?)),
            "relp+tls" => Ok(Endpoint::Stream(socket(true, true)?)),
            "udp" => Ok(Endpoint::Datagram(socket(false, false)?)),
            "nats" => Ok(Endpoint::Nats(socket(false, false)?)),
            "s3" | "gs" | "az" | "file" => object_store_endpoint(text, url, &shown),
            other => {
                bail!(
                    "scheme `{other}` is not supported: use https://, http://, tls://, tcp://, relp://, relp+tls://, udp://, nats://, s3://, gs://, az://, file:// or capture:DIR"
                )
            }
        }
    }

    /// The keys only an object store endpoint takes, checked against its kind; the error
    /// starts with the key it is about.
    fn check_object_store(&self) -> std::result::Result<(), String> {
        let scheme = match self.endpoint() {
            Ok(Endpoint::Object(url)) => url.scheme().to_owned(),
            _ => {
                return match (&self.object_name, &self.s3_endpoint) {
                    (Some(_), _) => Err("object_name: only an object store endpoint (s3://, gs://, az://, file://) names objects".into()),
                    (_, Some(_)) => Err("s3_endpoint: only an s3:// endpoint takes it".into()),
                    (None, None) => Ok(()),
                };
            }
        };
        if let Some(template) = &self.object_name {
            object_name::ObjectName::parse(template)
                .map_err(|problem| format!("object_name: {problem}"))?;
        }
        let others = self.token.is_some()
            || self.basic_auth.is_some()
            || self.oauth2.is_some()
            || self.azure_shared_key.is_some()
            || self.nkey.is_some()
            || self.nats_credentials.is_some()
            || !self.signing_keys.is_empty();
        if others {
            return Err(format!(
                "endpoint: a {scheme}:// store takes {}, not token, basic_auth, oauth2, azure_shared_key, nkey, nats_credentials or signing_keys",
                match scheme.as_str() {
                    "s3" => "`aws`",
                    "gs" => "its service account from the environment",
                    "az" => "its account key or token from the environment",
                    _ => "no credential",
                }
            ));
        }
        match (scheme.as_str(), &self.aws) {
            ("s3", None) => return Err("aws: an s3:// endpoint needs `aws = { region = \"...\", service = \"s3\" }` (keys from the standard chain when not given)".into()),
            ("s3", Some(aws)) if aws.service != "s3" => return Err(format!("aws.service: an s3:// endpoint is signed for `s3`, not `{}`", aws.service)),
            ("s3", Some(_)) => {}
            (_, Some(_)) => return Err(format!("aws: a {scheme}:// endpoint is not AWS")),
            (_, None) => {}
        }
        if let Some(url) = &self.s3_endpoint {
            if scheme != "s3" {
                return Err("s3_endpoint: only an s3:// endpoint takes it".into());
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(
                    "s3_endpoint: credentials go in `aws`, not in the URL (the URL is shown in logs)"
                        .into(),
                );
            }
            if !matches!(url.path(), "" | "/") || url.query().is_some() {
                return Err(
                    "s3_endpoint: a server is a scheme, a host and a port, nothing after them"
                        .into(),
                );
            }
            match url.scheme() {
                "https" => {}
                "http" if is_loopback(url) => {}
                "http" => {
                    return Err(format!(
                        "s3_endpoint: the events would cross the network unencrypted to {}: use https://",
                        url.host_str().unwrap_or_default()
                    ));
                }
                other => {
                    return Err(format!(
                        "s3_endpoint: `{other}://` is not HTTP: use https://"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether the endpoint is a secret URL, never to be shown.
    pub fn endpoint_is_secret(&self) -> bool {
        self.endpoint
            .as_ref()
            .is_some_and(EndpointSetting::is_secret)
    }

    /// Whether a credential is sent with its requests.
    pub fn has_credential(&self) -> bool {
        self.token.is_some()
            || self.basic_auth.is_some()
            || self.oauth2.is_some()
            || self.aws.is_some()
            || self.azure_shared_key.is_some()
            || self.endpoint_is_secret()
            || self.nkey.is_some()
            || self.nats_credentials.is_some()
            || !self.secret_headers.is_empty()
    }

    /// Whether a secret sent to `url` would cross a network in clear text: plain
    /// `http://` to a host other than this machine, and not allowed by
    /// `allow_plaintext_credentials`.
    pub fn sends_in_clear(&self, url: &url::Url) -> bool {
        url.scheme() == "http" && !is_loopback(url) && !self.allow_plaintext_credentials
    }

    /// Settings as the strings modules receive.
    pub fn settings(&self) -> Result<Vec<(String, String)>> {
        setting_values(&self.settings)
    }

    /// The filter module's settings (`filter_settings`), as its `configure` takes them.
    pub fn filter_settings(&self) -> Result<Vec<(String, String)>> {
        setting_values(&self.filter_settings)
    }
}

/// A settings table's values as text: strings, numbers and booleans.
fn setting_values(table: &toml::Table) -> Result<Vec<(String, String)>> {
    table
        .iter()
        .map(|(key, value)| {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(n) => n.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => bail!(
                    "{key}: a {} is not a setting value (use a string, number or boolean)",
                    other.type_str()
                ),
            };
            Ok((key.clone(), text))
        })
        .collect()
}

fn enabled() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy path may name anything: `/dev/zero` is refused after a bounded read
    /// instead of read without end (found by the `config` fuzz target's review).
    #[test]
    fn a_policy_file_is_read_within_a_bound() {
        let filter = FilterConfig {
            name: "zero".into(),
            policy: "/dev/zero".into(),
        };
        let error = filter.load().unwrap_err().to_string();
        assert!(error.contains("is over 1024 KiB"), "{error}");
    }
}

//! The settings of a Datadog destination.

use sluice_guest::enrich::Stamp;
use sluice_guest::schema::Schema;
use sluice_guest::severity::SeverityRule;
use sluice_guest::{Enrichment, FormatError, SettingDoc, Settings};

/// The intake's limits (Datadog's Logs API documentation): on the uncompressed body.
pub const MAX_REQUEST_BYTES: usize = 5_000_000;
pub const MAX_ITEMS: usize = 1000;
pub const MAX_ITEM_BYTES: usize = 1_000_000;

/// The setting that names the destination's Datadog site.
pub const SITE: &str = "site";

/// Datadog's sites and their log intake (Datadog's "Getting started with sites").
pub const SITES: [(&str, &str); 9] = [
    ("datadoghq.com", "https://http-intake.logs.datadoghq.com"),
    (
        "us3.datadoghq.com",
        "https://http-intake.logs.us3.datadoghq.com",
    ),
    (
        "us5.datadoghq.com",
        "https://http-intake.logs.us5.datadoghq.com",
    ),
    ("datadoghq.eu", "https://http-intake.logs.datadoghq.eu"),
    (
        "ap1.datadoghq.com",
        "https://http-intake.logs.ap1.datadoghq.com",
    ),
    (
        "ap2.datadoghq.com",
        "https://http-intake.logs.ap2.datadoghq.com",
    ),
    (
        "uk1.datadoghq.com",
        "https://http-intake.logs.uk1.datadoghq.com",
    ),
    ("ddog-gov.com", "https://http-intake.logs.ddog-gov.com"),
    (
        "us2.ddog-gov.com",
        "https://http-intake.logs.us2.ddog-gov.com",
    ),
];

/// What the encoder needs, read once per module instance.
#[derive(Debug, Clone)]
pub struct DatadogConfig {
    pub ddsource: String,
    /// `k:v` tags, comma-separated: the setting's, then the host's tags.
    pub ddtags: String,
    pub hostname: String,
    pub service: String,
    pub gzip: bool,
    pub max_request_bytes: usize,
    /// How each log's `status` is found.
    pub severity: SeverityRule,
    /// The host's enrichment, a `sluice` attribute of each log.
    pub stamp: Stamp,
    /// What each log's `message` holds: the event as read, or mapped to ECS or OCSF.
    pub schema: Schema,
}

impl DatadogConfig {
    pub fn docs() -> Vec<SettingDoc> {
        [
            Schema::docs(),
            vec![
                SettingDoc {
                    name: SITE,
                    description: "the Datadog site whose intake receives the logs, when the destination has no `endpoint`: datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com or us2.ddog-gov.com",
                    default: Some("datadoghq.com"),
                },
                Stamp::doc(),
                SettingDoc {
                    name: "ddsource",
                    description: "the logs' source (Datadog's `source`, which picks its pipeline)",
                    default: Some("sluice"),
                },
                SettingDoc {
                    name: "ddtags",
                    description: "tags of every log, `k:v` comma-separated; the host's [events] tags are added",
                    default: None,
                },
                SettingDoc {
                    name: "hostname",
                    description: "the logs' host; the machine's host name when unset",
                    default: None,
                },
                SettingDoc {
                    name: "service",
                    description: "the logs' service",
                    default: Some("audit"),
                },
                SettingDoc {
                    name: "gzip",
                    description: "compress request bodies (the limits apply to the uncompressed size)",
                    default: Some("true"),
                },
                SettingDoc {
                    name: "max_request_bytes",
                    description: "upper bound of one request body before compression (Datadog: 5 MB)",
                    default: Some("5000000"),
                },
            ],
        ]
        .concat()
    }

    pub fn from_settings(
        settings: &Settings,
        enrichment: &Enrichment,
    ) -> Result<Self, FormatError> {
        let max_request_bytes: usize = settings
            .parse("max_request_bytes")?
            .unwrap_or(MAX_REQUEST_BYTES);
        if !(1024..=MAX_REQUEST_BYTES).contains(&max_request_bytes) {
            return Err(FormatError::setting(
                "max_request_bytes",
                format!("must be between 1024 and Datadog's {MAX_REQUEST_BYTES}"),
            ));
        }
        let mut tags: Vec<String> = settings
            .text("ddtags")
            .map(|tags| tags.split(',').map(|t| t.trim().to_owned()).collect())
            .unwrap_or_default();
        if let Some(bad) = tags.iter().find(|t| t.is_empty()) {
            return Err(FormatError::setting(
                "ddtags",
                format!("an empty tag in `{bad}`: `k:v` comma-separated"),
            ));
        }
        tags.extend(enrichment.tags.iter().map(|(k, v)| format!("{k}:{v}")));
        Ok(DatadogConfig {
            ddsource: settings.text("ddsource").unwrap_or_else(|| "sluice".into()),
            ddtags: tags.join(","),
            hostname: settings
                .text("hostname")
                .unwrap_or_else(|| enrichment.host_name.clone()),
            service: settings.text("service").unwrap_or_else(|| "audit".into()),
            // On unless set to false.
            gzip: settings.get("gzip").is_none() || settings.flag("gzip")?,
            max_request_bytes,
            severity: SeverityRule::from_settings(settings)?,
            stamp: Stamp::from_settings(settings, enrichment)?,
            schema: Schema::from_settings(settings)?,
        })
    }
}

//! The settings of a Sentinel destination.

use sluice_guest::schema::Schema;
use sluice_guest::{FormatError, SettingDoc, Settings};

/// The API's limit per call (Microsoft's documentation: compressed or not).
pub const MAX_CALL_BYTES: usize = 1_000_000;

/// Which of Azure Monitor's APIs the events go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Api {
    /// The Logs Ingestion API: a data collection rule's `stream` (`dcr_immutable_id`),
    /// an OAuth2 token.
    LogsIngestion {
        /// `dcr-` and 32 hex digits.
        dcr_immutable_id: String,
        /// `Custom-<Table>_CL`, or a built-in stream.
        stream: String,
    },
    /// The (deprecated) HTTP Data Collector API: a custom log type, signed with the
    /// workspace's shared key by the host.
    DataCollector {
        /// Letters, digits and `_`, at most 100: the table is `<log_type>_CL`.
        log_type: String,
    },
}

#[derive(Debug, Clone)]
pub struct SentinelConfig {
    pub api: Api,
    pub api_version: String,
    /// The field the event time goes in.
    pub time_field: String,
    pub max_request_bytes: usize,
    pub gzip: bool,
    /// Each row: the event as read, or mapped to ECS or OCSF.
    pub schema: Schema,
}

impl SentinelConfig {
    pub fn docs() -> Vec<SettingDoc> {
        [
            Schema::docs(),
            vec![
                sluice_guest::enrich::Stamp::doc(),
                SettingDoc {
                    name: "api",
                    description: "`logs-ingestion` (a data collection rule's stream, with `oauth2`) or `data-collector` (the deprecated HTTP Data Collector API, with `azure_shared_key`)",
                    default: Some("logs-ingestion"),
                },
                SettingDoc {
                    name: "dcr_immutable_id",
                    description: "logs-ingestion: the data collection rule's immutable id, `dcr-` and 32 hex digits (required)",
                    default: None,
                },
                SettingDoc {
                    name: "stream",
                    description: "logs-ingestion: the rule's stream, such as `Custom-SluiceAudit_CL` (required)",
                    default: None,
                },
                SettingDoc {
                    name: "log_type",
                    description: "data-collector: the custom log type, letters, digits and `_` (the table is `<log_type>_CL`; required)",
                    default: None,
                },
                SettingDoc {
                    name: "api_version",
                    description: "the API version: 2023-01-01 for logs-ingestion, 2016-04-01 for data-collector",
                    default: None,
                },
                SettingDoc {
                    name: "time_field",
                    description: "the field the event time goes in, unless the event has it: TimeGenerated for logs-ingestion; EventTime for data-collector, named in its time-generated-field header (TimeGenerated is reserved there)",
                    default: None,
                },
                SettingDoc {
                    name: "max_request_bytes",
                    description: "upper bound of one call, at most the API's 1 MB",
                    default: Some("1000000"),
                },
                SettingDoc {
                    name: "gzip",
                    description: "compress request bodies",
                    default: Some("false"),
                },
            ],
        ]
        .concat()
    }

    pub fn from_settings(settings: &Settings) -> Result<Self, FormatError> {
        let required = |key: &str| {
            settings
                .text(key)
                .ok_or_else(|| FormatError::setting(key, "required"))
        };
        let url_safe = |text: &str| {
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        let (api, default_version, default_time_field) = match settings.get("api") {
            Some("logs-ingestion") | None => {
                settings.require(&["dcr_immutable_id", "stream"])?;
                let dcr_immutable_id = required("dcr_immutable_id")?;
                let hex = dcr_immutable_id.strip_prefix("dcr-").unwrap_or("");
                if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(FormatError::setting(
                        "dcr_immutable_id",
                        "is `dcr-` and 32 hex digits (the rule's Immutable Id in the portal)",
                    ));
                }
                let stream = required("stream")?;
                if !url_safe(&stream) {
                    return Err(FormatError::setting(
                        "stream",
                        "letters, digits, `-`, `_` and `.` only (such as Custom-SluiceAudit_CL)",
                    ));
                }
                let api = Api::LogsIngestion {
                    dcr_immutable_id,
                    stream,
                };
                (api, "2023-01-01", "TimeGenerated")
            }
            Some("data-collector") => {
                settings.require(&["log_type"])?;
                let log_type = required("log_type")?;
                if log_type.len() > 100
                    || !log_type
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(FormatError::setting(
                        "log_type",
                        "letters, digits and `_`, at most 100 (such as SluiceAudit)",
                    ));
                }
                if settings.flag("gzip")? {
                    return Err(FormatError::setting(
                        "gzip",
                        "the Data Collector API takes uncompressed bodies",
                    ));
                }
                (Api::DataCollector { log_type }, "2016-04-01", "EventTime")
            }
            Some(other) => {
                return Err(FormatError::setting(
                    "api",
                    format!("`{other}` is not `logs-ingestion` or `data-collector`"),
                ));
            }
        };
        let api_version = settings
            .text("api_version")
            .unwrap_or_else(|| default_version.to_owned());
        if !url_safe(&api_version) {
            return Err(FormatError::setting("api_version", "such as 2023-01-01"));
        }
        let max_request_bytes: usize = settings
            .parse("max_request_bytes")?
            .unwrap_or(MAX_CALL_BYTES);
        if !(1024..=MAX_CALL_BYTES).contains(&max_request_bytes) {
            return Err(FormatError::setting(
                "max_request_bytes",
                format!("between 1024 and the API's {MAX_CALL_BYTES}"),
            ));
        }
        let time_field = settings
            .text("time_field")
            .unwrap_or_else(|| default_time_field.to_owned());
        if matches!(api, Api::DataCollector { .. })
            && ["TimeGenerated", "tenant", "RawData"]
                .iter()
                .any(|reserved| reserved.eq_ignore_ascii_case(time_field.trim()))
        {
            return Err(FormatError::setting(
                "time_field",
                "TimeGenerated, tenant and RawData are reserved by the Data Collector API",
            ));
        }
        Ok(SentinelConfig {
            schema: Schema::from_settings(settings)?,
            api,
            api_version,
            time_field,
            max_request_bytes,
            gzip: settings.flag("gzip")?,
        })
    }
}

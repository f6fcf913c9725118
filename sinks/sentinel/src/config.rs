//! The settings of a Sentinel destination.

use sluice_guest::{FormatError, SettingDoc, Settings};

/// The API's limit per call (Microsoft's documentation: compressed or not).
pub const MAX_CALL_BYTES: usize = 1_000_000;

#[derive(Debug, Clone)]
pub struct SentinelConfig {
    /// `dcr-` and 32 hex digits.
    pub dcr_immutable_id: String,
    /// `Custom-<Table>_CL`, or a built-in stream.
    pub stream: String,
    pub api_version: String,
    /// The field the event time goes in.
    pub time_field: String,
    pub max_request_bytes: usize,
    pub gzip: bool,
}

impl SentinelConfig {
    pub fn docs() -> Vec<SettingDoc> {
        vec![
            SettingDoc {
                name: "dcr_immutable_id",
                description: "the data collection rule's immutable id, `dcr-` and 32 hex digits (required)",
                default: None,
            },
            SettingDoc {
                name: "stream",
                description: "the rule's stream, such as `Custom-SluiceAudit_CL` (required)",
                default: None,
            },
            SettingDoc {
                name: "api_version",
                description: "the Logs Ingestion API version",
                default: Some("2023-01-01"),
            },
            SettingDoc {
                name: "time_field",
                description: "the field the event time goes in, unless the event has it",
                default: Some("TimeGenerated"),
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
        ]
    }

    pub fn from_settings(settings: &Settings) -> Result<Self, FormatError> {
        let required = |key: &str| {
            settings
                .text(key)
                .ok_or_else(|| FormatError::setting(key, "required"))
        };
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
        let url_safe = |text: &str| {
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !url_safe(&stream) {
            return Err(FormatError::setting(
                "stream",
                "letters, digits, `-`, `_` and `.` only (such as Custom-SluiceAudit_CL)",
            ));
        }
        let api_version = required("api_version")?;
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
        Ok(SentinelConfig {
            dcr_immutable_id,
            stream,
            api_version,
            time_field: required("time_field")?,
            max_request_bytes,
            gzip: settings.flag("gzip")?,
        })
    }
}

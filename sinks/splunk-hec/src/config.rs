//! The settings of a Splunk HEC destination.

use sluice_guest::schema::Schema;
use sluice_guest::{FormatError, SettingDoc, Settings};

/// Splunk Cloud's documented request limit; Splunk Enterprise accepts far more.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1_000_000;

/// What the encoder needs, read once per module instance.
#[derive(Debug, Clone)]
pub struct SplunkHecConfig {
    /// Target index; when absent, the token's default index.
    pub index: Option<String>,
    pub sourcetype: String,
    pub source: String,
    /// Envelope `host`; when absent, the host name Sluice runs on.
    pub host: Option<String>,
    /// Requests stay under this many bytes before compression.
    pub max_request_bytes: usize,
    pub gzip: bool,
    /// Send the enrichment as flat index-time `fields`.
    pub indexed_fields: bool,
    /// `X-Splunk-Request-Channel`, required when the token uses indexer acknowledgement.
    pub channel: Option<String>,
    /// Indexer acknowledgement: a request counts as delivered once HEC confirms it.
    pub ack: bool,
    pub path: String,
    /// The envelope's `event`: the event as read, or mapped to ECS or OCSF.
    pub schema: Schema,
}

impl SplunkHecConfig {
    pub fn docs() -> Vec<SettingDoc> {
        vec![
            Schema::doc(),
            SettingDoc {
                name: "index",
                description: "Splunk index (must be allowed for the token); the token's default when unset",
                default: None,
            },
            SettingDoc {
                name: "sourcetype",
                description: "sourcetype of every event",
                default: Some("_json"),
            },
            SettingDoc {
                name: "source",
                description: "source of every event",
                default: Some("sluice"),
            },
            SettingDoc {
                name: "host",
                description: "host of every event; the machine's host name when unset",
                default: None,
            },
            SettingDoc {
                name: "max_request_bytes",
                description: "upper bound of one request body before compression (Splunk Cloud: 1 MB)",
                default: Some("1000000"),
            },
            SettingDoc {
                name: "gzip",
                description: "compress request bodies with gzip",
                default: Some("false"),
            },
            SettingDoc {
                name: "indexed_fields",
                description: "send host enrichment and tags as index-time `fields`",
                default: Some("true"),
            },
            SettingDoc {
                name: "channel",
                description: "X-Splunk-Request-Channel GUID; with `ack` and no channel, one derived from the machine and these settings",
                default: None,
            },
            SettingDoc {
                name: "ack",
                description: "indexer acknowledgement: events count as delivered only once HEC confirms them (the token must have useACK on)",
                default: Some("false"),
            },
            SettingDoc {
                name: "path",
                description: "collector path",
                default: Some("/services/collector/event"),
            },
        ]
    }

    pub fn from_settings(settings: &Settings) -> Result<Self, FormatError> {
        let max_request_bytes: usize = settings
            .parse("max_request_bytes")?
            .unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
        if max_request_bytes < 1024 {
            return Err(FormatError::setting(
                "max_request_bytes",
                "must be at least 1024",
            ));
        }
        Ok(SplunkHecConfig {
            schema: Schema::from_settings(settings)?,
            index: settings.text("index"),
            sourcetype: settings
                .text("sourcetype")
                .unwrap_or_else(|| "_json".into()),
            source: settings.text("source").unwrap_or_else(|| "sluice".into()),
            host: settings.text("host"),
            max_request_bytes,
            gzip: settings.flag("gzip")?,
            indexed_fields: settings.flag("indexed_fields")?,
            channel: settings
                .text("channel")
                .map(|channel| match is_guid(&channel) {
                    true => Ok(channel),
                    false => Err(FormatError::setting(
                        "channel",
                        format!("`{channel}` is not a GUID (HEC answers code 11 to any other)"),
                    )),
                })
                .transpose()?,
            ack: settings.flag("ack")?,
            path: settings
                .text("path")
                .unwrap_or_else(|| "/services/collector/event".into()),
        })
    }
}

/// `8-4-4-4-12` hexadecimal digits: the only channel HEC takes.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_a_guid() {
        assert!(is_guid("0b5c1c8e-7a2e-4f51-9d7e-3b9a1f6c2d10"));
        assert!(!is_guid("0b5c1c8e-7a2e-4f51-9d7e-3b9a1f6c2d1"));
        assert!(!is_guid("0b5c1c8e7a2e-4f51-9d7e-3b9a1f6c2d10"));
        assert!(!is_guid("0b5c1c8e-7a2e-4f51-9d7e-3b9a1f6c2d1g"));
    }
}

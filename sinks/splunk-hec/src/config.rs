//! The settings of a Splunk HEC destination.

use sluice_guest::cef::Cef;
use sluice_guest::enrich::Stamp;
use sluice_guest::schema::{Schema, SchemaKind};
use sluice_guest::siem::LineSettings;
use sluice_guest::{Enrichment, FormatError, SettingDoc, Settings};

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
    /// What each envelope's `event` is.
    pub payload: EventPayload,
}

/// What an envelope's `event` holds.
#[derive(Debug, Clone)]
pub enum EventPayload {
    /// The event as read, or mapped to ECS or OCSF.
    Json(Schema),
    /// The event's CEF line, a JSON string (for Splunk's CEF extractions).
    Cef(Box<Cef>),
}

impl SplunkHecConfig {
    /// The module's settings, then those of the CEF payload.
    pub fn docs() -> Vec<SettingDoc> {
        [Self::own_docs(), LineSettings::docs(), Cef::docs()].concat()
    }

    fn own_docs() -> Vec<SettingDoc> {
        vec![
            SettingDoc {
                name: "payload",
                description: "each envelope's `event`: `json` (the event, or its `schema` mapping) or `cef` (its CEF line as a string, with the `vendor`, `product`, `fields`... settings)",
                default: Some("json"),
            },
            Schema::doc(),
            SettingDoc {
                name: "index",
                description: "Splunk index (must be allowed for the token); the token's default when unset",
                default: None,
            },
            SettingDoc {
                name: "sourcetype",
                description: "sourcetype of every event; when unset, `_json`, or `cef` with payload = \"cef\"",
                default: None,
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

    pub fn from_settings(
        settings: &Settings,
        enrichment: &Enrichment,
    ) -> Result<Self, FormatError> {
        let max_request_bytes: usize = settings
            .parse("max_request_bytes")?
            .unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
        if max_request_bytes < 1024 {
            return Err(FormatError::setting(
                "max_request_bytes",
                "must be at least 1024",
            ));
        }
        let schema = Schema::from_settings(settings)?;
        let payload = match settings.get("payload").unwrap_or("json") {
            "json" => EventPayload::Json(schema),
            "cef" if schema.kind() != SchemaKind::Raw => {
                return Err(FormatError::setting(
                    "schema",
                    "only with payload = \"json\"",
                ));
            }
            "cef" => EventPayload::Cef(Box::new(Cef::new(
                LineSettings::from_settings(settings)?
                    .stamped(Stamp::from_settings(settings, enrichment)?),
                settings,
                &enrichment.host_name,
            )?)),
            other => {
                return Err(FormatError::setting(
                    "payload",
                    format!("`{other}`: use json or cef"),
                ));
            }
        };
        let default_sourcetype = match payload {
            EventPayload::Json(_) => "_json",
            EventPayload::Cef(_) => "cef",
        };
        Ok(SplunkHecConfig {
            payload,
            index: settings.text("index"),
            sourcetype: settings
                .text("sourcetype")
                .unwrap_or_else(|| default_sourcetype.into()),
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

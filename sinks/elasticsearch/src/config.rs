//! The settings of an Elasticsearch or OpenSearch destination.

use sluice_guest::schema::Schema;
use sluice_guest::{FormatError, SettingDoc, Settings};

/// 5 MB: inside Elastic's "a few tens of MB" and AWS's 10 MiB on small instances.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 5_000_000;

/// The bulk action of every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Fails (409) when the `_id` exists: with ids from events, a resend is a no-op.
    /// The only action data streams accept.
    Create,
    /// Creates or replaces.
    Index,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Index => "index",
        }
    }
}

/// What the encoder needs, read once per module instance.
#[derive(Debug, Clone)]
pub struct ElasticsearchConfig {
    /// The index, data stream or alias written to.
    pub index: String,
    pub action: Action,
    /// `_id` from the event id (a resend never duplicates a document).
    pub event_ids: bool,
    /// `_id` from this event field instead (seed 000's own ids), the event id for an
    /// event without it.
    pub id_field: Option<String>,
    /// Add `@timestamp` (the event time) to events without one.
    pub add_timestamp: bool,
    pub pipeline: Option<String>,
    pub routing: Option<String>,
    pub max_request_bytes: usize,
    pub gzip: bool,
    /// The documents as read, or mapped to ECS or OCSF.
    pub schema: Schema,
}

impl ElasticsearchConfig {
    pub fn docs() -> Vec<SettingDoc> {
        [
            Schema::docs(),
            vec![
                sluice_guest::enrich::Stamp::doc(),
                SettingDoc {
                    name: "index",
                    description: "the index, data stream or alias written to (required)",
                    default: None,
                },
                SettingDoc {
                    name: "action",
                    description: "`create` (data streams need it; a resent document is a 409, counted as delivered) or `index` (create or replace)",
                    default: Some("create"),
                },
                SettingDoc {
                    name: "id",
                    description: "`event_id`: the document _id is the event id, so a resend never duplicates; `auto`: Elasticsearch assigns one",
                    default: Some("event_id"),
                },
                SettingDoc {
                    name: "id_field",
                    description: "an event field (dotted path) whose value is the document _id instead of the event id (which an event without it keeps)",
                    default: None,
                },
                SettingDoc {
                    name: "add_timestamp",
                    description: "add `@timestamp` (the event time, RFC 3339) to events that have no `@timestamp` key (data streams require it)",
                    default: Some("true"),
                },
                SettingDoc {
                    name: "pipeline",
                    description: "ingest pipeline of every document",
                    default: None,
                },
                SettingDoc {
                    name: "routing",
                    description: "routing value of every document",
                    default: None,
                },
                SettingDoc {
                    name: "max_request_bytes",
                    description: "upper bound of one request body before compression (http.max_content_length is 100 MB; AWS small instances 10 MiB)",
                    default: Some("5000000"),
                },
                SettingDoc {
                    name: "gzip",
                    description: "compress request bodies with gzip (accepted by every Elasticsearch since 5.0)",
                    default: Some("false"),
                },
                SettingDoc {
                    name: "flavor",
                    description: "`elasticsearch` or `opensearch` (same bulk API; OpenSearch has no API keys: use basic_auth)",
                    default: Some("elasticsearch"),
                },
            ],
        ]
        .concat()
    }

    pub fn from_settings(settings: &Settings) -> Result<Self, FormatError> {
        let index = settings.text("index").ok_or_else(|| {
            FormatError::setting("index", "required: the index or data stream to write to")
        })?;
        if !valid_index(&index) {
            return Err(FormatError::setting(
                "index",
                "lowercase, without spaces or any of \\ / * ? \" < > | , #, and not starting with -, _ or +",
            ));
        }
        let action = match settings.get("action") {
            Some("create") | None => Action::Create,
            Some("index") => Action::Index,
            Some(other) => {
                return Err(FormatError::setting(
                    "action",
                    format!("`{other}` is not `create` or `index`"),
                ));
            }
        };
        let event_ids = match settings.get("id") {
            Some("event_id") | None => true,
            Some("auto") => false,
            Some(other) => {
                return Err(FormatError::setting(
                    "id",
                    format!("`{other}` is not `event_id` or `auto`"),
                ));
            }
        };
        let id_field = settings.text("id_field").filter(|field| !field.is_empty());
        if id_field.is_some() && !event_ids {
            return Err(FormatError::setting(
                "id_field",
                "only with id = \"event_id\": with `auto`, Elasticsearch names the documents",
            ));
        }
        match settings.get("flavor") {
            Some("elasticsearch" | "opensearch") | None => {}
            Some(other) => {
                return Err(FormatError::setting(
                    "flavor",
                    format!("`{other}` is not `elasticsearch` or `opensearch`"),
                ));
            }
        }
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
        Ok(ElasticsearchConfig {
            schema,
            index,
            action,
            event_ids,
            id_field,
            add_timestamp: settings.flag("add_timestamp")?,
            pipeline: settings.text("pipeline"),
            routing: settings.text("routing"),
            max_request_bytes,
            gzip: settings.flag("gzip")?,
        })
    }
}

/// Elasticsearch's rules for index names (and data stream names), so that a typo is a
/// `check` error rather than every event dead-lettered.
fn valid_index(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '_', '+'])
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c.is_uppercase() || c.is_whitespace() || "\\/*?\"<>|,#:".contains(c))
}

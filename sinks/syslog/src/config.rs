//! The settings of a syslog destination.

use sluice_guest::cef::Cef;
use sluice_guest::leef::Leef;
use sluice_guest::severity::SeverityRule;
use sluice_guest::siem::LineSettings;
use sluice_guest::{Enrichment, FormatError, SettingDoc, Settings};

use crate::header;

/// Facility names, by number (RFC 5424, section 6.2.1; 13 is "log audit").
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Which syslog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc {
    /// RFC 5424: structured, UTF-8, RFC 3339 times.
    Rfc5424,
    /// RFC 3164 (BSD syslog), for receivers that read nothing else.
    Rfc3164,
}

/// What the MSG of each message is.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The event's JSON, byte for byte, or the text of `message_field`.
    Json,
    /// The event's CEF line.
    Cef(Box<Cef>),
    /// The event's LEEF line.
    Leef(Box<Leef>),
}

/// What the encoder needs, read once per module instance; header fields already
/// cleaned to RFC 5424's alphabet and lengths.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    pub rfc: Rfc,
    pub facility: u8,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    /// The top-level field whose text is the MSGID; none for `-`.
    pub msgid_field: Option<String>,
    /// The SD-ID of the message's element (`sluice@32473`); none for no element.
    pub sd_id: Option<String>,
    /// The event id as the element's `eventId` parameter.
    pub event_id: bool,
    /// Top-level fields written as parameters of the element (name: the field's).
    pub sd_fields: Vec<String>,
    /// The top-level field whose text is the MSG; none for the event's JSON.
    pub message_field: Option<String>,
    pub payload: Payload,
    /// The UTF-8 byte order mark before MSG, as RFC 5424 asks of a UTF-8 MSG.
    pub bom: bool,
    /// How the PRI's severity is found (`severity_field`, a setting of the CEF and LEEF
    /// payloads' too).
    pub severity: SeverityRule,
    /// The host's enrichment in the element (`enrichment`, the payloads' too).
    pub enriched: bool,
}

impl SyslogConfig {
    /// The syslog settings, then those of the CEF and LEEF payloads.
    pub fn docs() -> Vec<SettingDoc> {
        [
            Self::own_docs(),
            LineSettings::docs(),
            Cef::docs(),
            Leef::docs(),
        ]
        .concat()
    }

    fn own_docs() -> Vec<SettingDoc> {
        vec![
            SettingDoc {
                name: "payload",
                description: "the MSG: `json` (the event), `cef` or `leef` (its line, with the `vendor`, `product`, `fields`... settings)",
                default: Some("json"),
            },
            SettingDoc {
                name: "rfc",
                description: "5424, or 3164 for old receivers (local time as UTC, no structured data)",
                default: Some("5424"),
            },
            SettingDoc {
                name: "facility",
                description: "a name (kern, user, auth, authpriv, audit, local0..local7...) or a number 0-23",
                default: Some("auth"),
            },
            SettingDoc {
                name: "hostname",
                description: "HOSTNAME; the machine's host name when unset",
                default: None,
            },
            SettingDoc {
                name: "app_name",
                description: "APP-NAME (RFC 3164: the TAG)",
                default: Some("sluice"),
            },
            SettingDoc {
                name: "procid",
                description: "PROCID; `-` when unset",
                default: None,
            },
            SettingDoc {
                name: "msgid_field",
                description: "top-level event field whose text is the MSGID (`-` when absent); empty for none",
                default: Some("event_type"),
            },
            SettingDoc {
                name: "sd_id",
                description: "SD-ID of the structured-data element, `name@<private enterprise number>` (32473 is the documentation number: use yours); empty for none",
                default: Some("sluice@32473"),
            },
            SettingDoc {
                name: "event_id",
                description: "write the event id as the element's `eventId` parameter",
                default: Some("true"),
            },
            SettingDoc {
                name: "sd_fields",
                description: "top-level event fields written as parameters of the element, comma-separated",
                default: None,
            },
            SettingDoc {
                name: "message_field",
                description: "top-level field whose text is the MSG; the event's JSON when unset",
                default: None,
            },
            SettingDoc {
                name: "bom",
                description: "write the UTF-8 byte order mark before MSG, as RFC 5424 asks",
                default: Some("true"),
            },
        ]
    }

    pub fn from_settings(
        settings: &Settings,
        enrichment: &Enrichment,
    ) -> Result<Self, FormatError> {
        let rfc = match settings.get("rfc").unwrap_or("5424") {
            "5424" => Rfc::Rfc5424,
            "3164" => Rfc::Rfc3164,
            other => {
                return Err(FormatError::setting(
                    "rfc",
                    format!("`{other}`: use 5424 or 3164"),
                ));
            }
        };
        let facility = facility(settings.get("facility").unwrap_or("auth"))?;
        let sd_id = match settings.text("sd_id") {
            None => None,
            Some(sd_id) => match sd_id.split_once('@') {
                Some((name, number))
                    if header::sd_name(&sd_id).as_deref() == Some(sd_id.as_str())
                        && !name.is_empty()
                        && !number.is_empty()
                        && number.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
                {
                    Some(sd_id)
                }
                _ => {
                    return Err(FormatError::setting(
                        "sd_id",
                        format!(
                            "`{sd_id}` is not `name@<private enterprise number>` (at most 32 printable characters)"
                        ),
                    ));
                }
            },
        };
        let sd_fields: Vec<String> = settings
            .get("sd_fields")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|field| !field.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = sd_fields
            .iter()
            .find(|f| header::sd_name(f).as_deref() != Some(f.as_str()))
        {
            return Err(FormatError::setting(
                "sd_fields",
                format!(
                    "`{bad}` is not a PARAM-NAME (printable, no `=`, `]`, `\"` or space, at most 32)"
                ),
            ));
        }
        if let Some(taken) = sd_fields.iter().enumerate().find_map(|(i, field)| {
            (header::WRITTEN_PARAMS.contains(&field.as_str()) || sd_fields[..i].contains(field))
                .then_some(field)
        }) {
            return Err(FormatError::setting(
                "sd_fields",
                format!("`{taken}` is written already (by Sluice, or earlier in the list)"),
            ));
        }
        if sd_id.is_none() && !sd_fields.is_empty() {
            return Err(FormatError::setting("sd_fields", "needs an sd_id"));
        }
        let message_field = settings.text("message_field");
        let stamp = sluice_guest::enrich::Stamp::from_settings(settings, enrichment)?;
        let payload = match settings.get("payload").unwrap_or("json") {
            "json" => Payload::Json,
            _ if message_field.is_some() => {
                return Err(FormatError::setting(
                    "message_field",
                    "only with payload = \"json\"",
                ));
            }
            "cef" => Payload::Cef(Box::new(Cef::new(
                LineSettings::from_settings(settings)?.stamped(stamp.clone()),
                settings,
                &enrichment.host_name,
            )?)),
            "leef" => Payload::Leef(Box::new(
                Leef::from_settings(settings)?.stamped(stamp.clone()),
            )),
            other => {
                return Err(FormatError::setting(
                    "payload",
                    format!("`{other}`: use json, cef or leef"),
                ));
            }
        };
        Ok(SyslogConfig {
            rfc,
            facility,
            hostname: header::field(
                settings.get("hostname").unwrap_or(&enrichment.host_name),
                255,
            ),
            app_name: header::field(settings.get("app_name").unwrap_or("sluice"), 48),
            procid: header::field(settings.get("procid").unwrap_or(""), 128),
            msgid_field: settings.text("msgid_field"),
            sd_id,
            event_id: settings.flag("event_id")?,
            sd_fields,
            message_field,
            payload,
            bom: settings.flag("bom")?,
            severity: SeverityRule::from_settings(settings)?,
            enriched: !stamp.is_off(),
        })
    }
}

fn facility(text: &str) -> Result<u8, FormatError> {
    let number = match text.parse::<u8>() {
        Ok(number) => Some(number),
        Err(_) => FACILITIES
            .iter()
            .position(|name| *name == text)
            .map(|n| n as u8),
    };
    number.filter(|&n| n < 24).ok_or_else(|| {
        FormatError::setting(
            "facility",
            format!(
                "`{text}`: use a number 0-23 or one of {}",
                FACILITIES.join(", ")
            ),
        )
    })
}

//! QRadar LEEF (IBM's Log Event Extended Format): `LEEF:2.0|Vendor|Product|Version|EventID|
//! Delimiter|key=value<delimiter>...`, or LEEF 1.0 (tab-delimited, no delimiter field).
//!
//! The event id is the event's type. Attributes: the common audit fields under LEEF's
//! predefined keys where it has one (`usrName`, `src`, `resource`, `url`) and plain keys
//! otherwise (`userId`, `action`, `outcome`, `method`, `userAgent`, `externalId`,
//! `msg`), then `sev` (1 to 10), `devTime` (epoch milliseconds, or formatted with
//! `devTimeFormat`), then the other fields. The destination's `fields` take the place
//! of any of these (`key=` leaves one out).
//!
//! An other field keeps its name as its key, dots written `_` (`actor.name` is
//! `actor_name`), when that key is a plain word (an ASCII letter, then letters, digits
//! or `_`), is not one of LEEF's predefined keys nor one this line writes already, and
//! no earlier field took it. Every other field (`_actor`, `été`, `1x`, `@src`, a second
//! `a_b` after `a.b`, an event's own `usrName` or `devTime`) goes, under its original
//! name, into one JSON object written last as `sluiceOtherFields`, in which line
//! breakers and the delimiter are `\u` escapes. So no key appears twice, no event field
//! passes for one of LEEF's, and no field is lost.
//!
//! LEEF has no escape: a value's delimiter and control characters become spaces, a
//! header field's `|` an `_` (a documented sanitising rule, not an escape). The
//! delimiter cannot be a space or any other character a value may hold as it is.

use crate::escape::leef_value;
use crate::siem::{AuditFields, LineSettings, Role, is_key};
use crate::{Event, FormatError, SettingDoc, Settings};

/// The LEEF key of each common field.
const KEYS: [(Role, &str); 11] = [
    (Role::User, "usrName"),
    (Role::UserId, "userId"),
    (Role::SourceIp, "src"),
    (Role::Action, "action"),
    (Role::Outcome, "outcome"),
    (Role::Resource, "resource"),
    (Role::Url, "url"),
    (Role::Method, "method"),
    (Role::UserAgent, "userAgent"),
    (Role::EventId, "externalId"),
    (Role::Message, "msg"),
];

/// LEEF's predefined attribute keys (QRadar's list, the reserved ones included): an
/// event's own field of that name is not written under it.
const PREDEFINED: [&str; 45] = [
    "cat",
    "devTime",
    "devTimeFormat",
    "proto",
    "sev",
    "src",
    "dst",
    "srcPort",
    "dstPort",
    "srcPreNAT",
    "dstPreNAT",
    "srcPostNAT",
    "dstPostNAT",
    "srcPreNATPort",
    "dstPreNATPort",
    "srcPostNATPort",
    "dstPostNATPort",
    "usrName",
    "srcMAC",
    "dstMAC",
    "identSrc",
    "identHostName",
    "identNetBios",
    "identGrpName",
    "identMAC",
    "vSrc",
    "vSrcName",
    "accountName",
    "srcBytes",
    "dstBytes",
    "srcPackets",
    "dstPackets",
    "totalPackets",
    "role",
    "realm",
    "policy",
    "resource",
    "url",
    "groupID",
    "domain",
    "isLoginEvent",
    "isLogoutEvent",
    "identSecondlp",
    "calLanguage",
    "calCountryOrRegion",
];

/// The key of the JSON object holding the other fields no key of their own can name.
pub const OVERFLOW_KEY: &str = "sluiceOtherFields";

/// The `devTimeFormat` Sluice writes times in, besides epoch milliseconds.
pub const DEV_TIME_FORMAT: &str = "MMM dd yyyy HH:mm:ss.SSS z";

/// Writes LEEF lines for one destination.
#[derive(Debug, Clone)]
pub struct Leef {
    settings: LineSettings,
    delimiter: char,
    /// `devTime` as `DEV_TIME_FORMAT` rather than epoch milliseconds.
    formatted_time: bool,
    /// `LEEF:2.0|Vendor|Product|Version|`, sanitised.
    head: String,
    /// How the header declares the delimiter (LEEF 2.0), after the event id.
    declared: Option<String>,
}

impl Leef {
    /// LEEF's own settings, besides [`LineSettings::docs`].
    pub fn docs() -> Vec<SettingDoc> {
        vec![
            SettingDoc {
                name: "leef_version",
                description: "2.0 (its delimiter in the header) or 1.0 (tab only)",
                default: Some("2.0"),
            },
            SettingDoc {
                name: "delimiter",
                description: "LEEF 2.0 attribute delimiter: `tab`, one character such as `^`, or a hex code such as `x5E`",
                default: Some("tab"),
            },
            SettingDoc {
                name: "dev_time_format",
                description: "`epoch` (milliseconds, no devTimeFormat) or `MMM dd yyyy HH:mm:ss.SSS z`",
                default: Some("epoch"),
            },
        ]
    }

    /// A writer with the destination's settings ([`LineSettings`] and LEEF's own).
    pub fn from_settings(settings: &Settings) -> Result<Self, FormatError> {
        let line = LineSettings::from_settings(settings)?.for_leef()?;
        let version = settings.get("leef_version").unwrap_or("2.0");
        let (delimiter, declared) = match (version, settings.get("delimiter").unwrap_or("tab")) {
            ("1.0", "tab") => ('\t', None),
            ("1.0", other) => {
                return Err(FormatError::setting(
                    "delimiter",
                    format!("`{other}`: LEEF 1.0 is tab-delimited (use leef_version = \"2.0\")"),
                ));
            }
            ("2.0", text) => delimiter(text)?,
            (other, _) => {
                return Err(FormatError::setting(
                    "leef_version",
                    format!("`{other}`: use 2.0 or 1.0"),
                ));
            }
        };
        let formatted_time = match settings.get("dev_time_format").unwrap_or("epoch") {
            "epoch" => false,
            DEV_TIME_FORMAT => true,
            other => {
                return Err(FormatError::setting(
                    "dev_time_format",
                    format!("`{other}`: use epoch or {DEV_TIME_FORMAT}"),
                ));
            }
        };
        let header = |text: &str, max: usize| -> String {
            text.chars()
                .take(max)
                .map(|c| if c == '|' || c.is_control() { '_' } else { c })
                .collect()
        };
        let head = format!(
            "LEEF:{version}|{}|{}|{}|",
            header(&line.vendor, 255),
            header(&line.product, 255),
            header(&line.version, 255)
        );
        Ok(Leef {
            settings: line,
            delimiter,
            formatted_time,
            head,
            declared,
        })
    }

    /// The same, the host's enrichment in each line.
    pub fn stamped(mut self, stamp: crate::enrich::Stamp) -> Self {
        self.settings.stamp = stamp;
        self
    }

    /// The event as one LEEF line (no line break in it).
    pub fn line(&self, event: &Event<'_>) -> String {
        let fields = AuditFields::of(event);
        let event_id: String = fields
            .kind
            .chars()
            .take(255)
            .map(|c| if c == '|' || c.is_control() { '_' } else { c })
            .collect();
        let mut line = format!("{}{event_id}|", self.head);
        if let Some(declared) = &self.declared {
            line.push_str(declared);
            line.push('|');
        }
        let mut pairs: Vec<(String, String)> = self.settings.own_fields(event);
        let mut add = |key: &str, value: String| {
            if !self.settings.maps(key) {
                pairs.push((key.to_owned(), value));
            }
        };
        for (role, key) in KEYS {
            if let Some(value) = fields.get(role) {
                add(key, value.to_owned());
            }
        }
        // LEEF's sev is 1 to 10.
        let severity = self.settings.severity.of(event);
        add(
            "sev",
            self.settings.scale.number(severity).max(1).to_string(),
        );
        for (key, value) in self.settings.stamp.pairs(event) {
            add(&key, value);
        }
        if self.formatted_time {
            add("devTime", dev_time(event.time_ms()));
            add("devTimeFormat", DEV_TIME_FORMAT.to_owned());
        } else {
            add("devTime", event.time_ms().to_string());
        }
        if self.settings.keep_others {
            let mut overflow = serde_json::Map::new();
            for (name, value) in fields.others {
                let key = name.replace('.', "_");
                let free = is_key(&key)
                    && key != OVERFLOW_KEY
                    && !PREDEFINED.contains(&key.as_str())
                    && !pairs.iter().any(|(taken, _)| *taken == key)
                    && !self.settings.maps(&key);
                if free {
                    pairs.push((key, value));
                } else {
                    overflow.insert(name, serde_json::Value::String(value));
                }
            }
            if !overflow.is_empty() {
                // A field the destination maps to this very key joins the object.
                if let Some(at) = pairs.iter().position(|(key, _)| key == OVERFLOW_KEY) {
                    let (key, value) = pairs.remove(at);
                    overflow.insert(key, serde_json::Value::String(value));
                }
                pairs.push((OVERFLOW_KEY.to_owned(), self.overflow_text(overflow)));
            }
        }
        let mut first = true;
        for (key, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
            if !first {
                line.push(self.delimiter);
            }
            first = false;
            line.push_str(key);
            line.push('=');
            line.push_str(&leef_value(value, self.delimiter));
        }
        line
    }
}

impl Leef {
    /// The other fields' JSON object as a value nothing cleans: line breakers (JSON
    /// leaves DEL, C1 and U+2028/9 raw) and the delimiter written as `\u` escapes, so
    /// every name and value reads back whole. The delimiter is never a character of
    /// JSON's own syntax, so it only ever occurs inside strings.
    fn overflow_text(&self, overflow: serde_json::Map<String, serde_json::Value>) -> String {
        let text = serde_json::Value::Object(overflow).to_string();
        let text = crate::escape::json_one_line(&text);
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c == self.delimiter {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// A LEEF 2.0 `delimiter` setting: the character, and how the header declares it.
fn delimiter(text: &str) -> Result<(char, Option<String>), FormatError> {
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix('x'));
    let character = match (text, hex) {
        ("tab", _) => Some('\t'),
        (_, Some(digits)) if (1..=4).contains(&digits.len()) => u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32),
        _ => {
            let mut chars = text.chars();
            chars.next().filter(|_| chars.next().is_none())
        }
    };
    match character {
        // Not a character a key or a value may hold as it is: a space (`note = "hi
        // usrName=x"` would add an attribute), `=`, `|`, `_`, a letter or a digit; nor
        // one the JSON of `sluiceOtherFields` is built of.
        Some(c)
            if !matches!(
                c,
                '|' | '=' | '_' | '"' | '\\' | '{' | '}' | '[' | ']' | ':' | ','
            ) && !c.is_alphanumeric()
                && (c == '\t' || !(c.is_control() || c.is_whitespace())) =>
        {
            let declared = match (text, hex) {
                ("tab", _) => "x09".to_owned(),
                (_, Some(_)) => text.to_owned(),
                _ => c.to_string(),
            };
            Ok((c, Some(declared)))
        }
        _ => Err(FormatError::setting(
            "delimiter",
            format!(
                r#"`{text}`: use tab, one character that is not a space, a letter, a digit or one of `_|=\"{{}}[]:,`, or a hex code such as x5E"#
            ),
        )),
    }
}

/// `May 01 2024 12:34:56.789 UTC`: `DEV_TIME_FORMAT`.
fn dev_time(ms: i64) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    timestamp
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%b %d %Y %H:%M:%S%.3f UTC")
        .to_string()
}

//! ArcSight CEF 0 (the ArcSight Common Event Format, version 0): one line per event,
//! `CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|key=value ...`.
//!
//! The signature id is the event's type, the name its `message` (else its type), or
//! with `cef_name = "type"` its type made readable (`secret.read` is `Secret Read`, as
//! seed 004's lines show it), the severity the SDK's mapping on the destination's scale
//! (0 to 10, `severity_map`). The extension starts with `rt` (the event time
//! in epoch milliseconds) and `dvchost`, then the common audit fields under their CEF
//! keys: `suser`, `suid`, `src` (an IPv6 address goes to `c6a2`, labelled), `act`,
//! `outcome`, `fname`, `request`, `requestMethod`, `requestClientApplication`,
//! `externalId`, `msg`; then the other fields (empty ones left out) in `cs1`..`cs6`
//! with their names as labels, each label beside its own value (past the slots free,
//! the last holds the rest as one JSON object labelled `others`). The destination's
//! `fields` take the place of any of these (`key=` leaves one out); a custom string
//! slot whose `csN` or `csNLabel` it maps is not used for other fields, which move to
//! the next free one. A slot's label is text (`cs1Label=Tenant`), its path when not
//! given ([`LineSettings::for_cef`]).
//! Every field is cut to its length limit first, then escaped, so a cut never splits
//! an escape. Header fields escape `\` and `|`; extension values `\` and `=`, with CR
//! and LF written `\r` and `\n`: no value breaks the line.

use std::fmt::Write as _;

use crate::Event;
use crate::escape::{cef_extension_value, cef_header};
use crate::siem::{AuditFields, LineSettings, Role, cef_slot};

/// The CEF key of each common field, with its length limit.
const KEYS: [(Role, &str, usize); 11] = [
    (Role::User, "suser", 1023),
    (Role::UserId, "suid", 1023),
    (Role::SourceIp, "src", 1023),
    (Role::Action, "act", 63),
    (Role::Outcome, "outcome", 63),
    (Role::Resource, "fname", 1023),
    (Role::Url, "request", 1023),
    (Role::Method, "requestMethod", 1023),
    (Role::UserAgent, "requestClientApplication", 1023),
    (Role::EventId, "externalId", 40),
    (Role::Message, "msg", 1023),
];

/// Writes CEF lines for one destination.
#[derive(Debug, Clone)]
pub struct Cef {
    settings: LineSettings,
    /// `CEF:0|Vendor|Product|Version|`, escaped.
    prefix: String,
    /// `dvchost`: the machine Sluice runs on.
    host: String,
    /// The Name is the event's type made readable, not its message.
    name_from_type: bool,
}

impl Cef {
    /// CEF's own settings, besides [`LineSettings::docs`].
    pub fn docs() -> Vec<crate::SettingDoc> {
        vec![crate::SettingDoc {
            name: "cef_name",
            description: "the header's Name: `message` (the event's message, else its type) or `type` (its type made readable: `secret.read` is `Secret Read`)",
            default: Some("message"),
        }]
    }

    /// A writer with the destination's settings (`settings` for [`Cef::docs`]'s);
    /// `host_name` (the enrichment's) is the `dvchost`. A mapping CEF cannot write (a
    /// slot it does not have, a label without its value) is named.
    pub fn new(
        line: LineSettings,
        settings: &crate::Settings,
        host_name: &str,
    ) -> Result<Self, crate::FormatError> {
        let name_from_type = match settings.get("cef_name").unwrap_or("message") {
            "message" => false,
            "type" => true,
            other => {
                return Err(crate::FormatError::setting(
                    "cef_name",
                    format!("`{other}`: use message or type"),
                ));
            }
        };
        let settings = line.for_cef()?;
        let prefix = format!(
            "CEF:0|{}|{}|{}|",
            cef_header(cut(&settings.vendor, 63)),
            cef_header(cut(&settings.product, 63)),
            cef_header(cut(&settings.version, 31)),
        );
        Ok(Cef {
            settings,
            prefix,
            host: host_name.to_owned(),
            name_from_type,
        })
    }

    /// The event as one CEF line (no line break in it).
    pub fn line(&self, event: &Event<'_>) -> String {
        let fields = AuditFields::of(event);
        let name = match event.field("message") {
            _ if self.name_from_type && !readable(&fields.kind).is_empty() => {
                readable(&fields.kind)
            }
            Some(serde_json::Value::String(message)) if !message.is_empty() => message,
            _ => fields.get(Role::Message).unwrap_or(&fields.kind).to_owned(),
        };
        let mut line = format!(
            "{}{}|{}|{}|",
            self.prefix,
            cef_header(cut(&fields.kind, 1023)),
            cef_header(cut(&name, 512)),
            self.settings.scale.number(self.settings.severity.of(event))
        );
        let mut pairs: Vec<(String, String)> = self.settings.own_fields(event);
        let mut add = |key: &str, value: String| {
            if !self.settings.maps(key) {
                pairs.push((key.to_owned(), value));
            }
        };
        add("rt", event.time_ms().to_string());
        add("dvchost", self.host.clone());
        for (role, key, _) in KEYS {
            let Some(value) = fields.get(role) else {
                continue;
            };
            if role == Role::SourceIp && value.contains(':') {
                add("c6a2", value.to_owned());
                add("c6a2Label", "Source IPv6 Address".to_owned());
            } else {
                add(key, value.to_owned());
            }
        }
        // Sluice's own keys, named as CEF asks of a vendor's (its name first, letters
        // and digits): `sluiceEventId=...`.
        for (key, value) in self.settings.stamp.pairs(event) {
            add(&key, value);
        }
        if self.settings.keep_others {
            // A slot whose value or label the destination maps itself is not free: a
            // label must travel with its own value.
            let taken = |number: &usize| {
                self.settings.maps(&format!("cs{number}"))
                    || self.settings.maps(&format!("cs{number}Label"))
            };
            let free: Vec<usize> = (1..=6).filter(|n| !taken(n)).collect();
            let others = fields
                .others
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .collect();
            for (number, (label, value)) in free.iter().zip(custom_strings(others, free.len())) {
                add(&format!("cs{number}"), value);
                add(&format!("cs{number}Label"), label);
            }
        }
        let has_value = |key: &str| pairs.iter().any(|(k, v)| k == key && !v.is_empty());
        let mut first = true;
        for (key, value) in &pairs {
            // A label goes only beside its value: a mapped field the event lacks takes
            // its label with it.
            let unlabelled = match cef_slot(key) {
                Some((family, number, true)) => !has_value(&format!("{family}{number}")),
                _ => false,
            };
            if value.is_empty() || unlabelled {
                continue;
            }
            if !first {
                line.push(' ');
            }
            first = false;
            // Cut to the key's limit whoever chose the value (a destination's `fields` too).
            let _ = write!(
                line,
                "{key}={}",
                cef_extension_value(cut(value, limit(key)))
            );
        }
        line
    }
}

/// The length limit of an extension key: the common fields' own, 100 for `dvchost`,
/// 4,000 for a custom string, 1,023 for the rest.
fn limit(key: &str) -> usize {
    if key == "dvchost" {
        return 100;
    }
    match cef_slot(key) {
        Some(("cs", _, false)) => 4000,
        Some(_) => 1023,
        None => KEYS
            .iter()
            .find(|(_, name, _)| *name == key)
            .map_or(1023, |(_, _, max)| *max),
    }
}

/// At most `slots` custom strings: the first fields by name, the rest (and any field
/// whose name is empty, which no label can show) as one JSON object in the last slot.
fn custom_strings(others: Vec<(String, String)>, slots: usize) -> Vec<(String, String)> {
    let (mut others, unnamed): (Vec<_>, Vec<_>) =
        others.into_iter().partition(|(name, _)| !name.is_empty());
    if (others.len() <= slots && unnamed.is_empty()) || slots == 0 {
        return others;
    }
    let keep = others.len().min(slots - 1);
    let rest: serde_json::Map<String, serde_json::Value> = others
        .drain(keep..)
        .chain(unnamed)
        .map(|(name, value)| (name, serde_json::Value::String(value)))
        .collect();
    // Line breakers escaped in the JSON itself (it leaves DEL, C1 and U+2028/9 raw, which
    // the extension's escaping would make spaces): every name and value reads back whole.
    let text = serde_json::Value::Object(rest).to_string();
    let text = crate::escape::json_one_line(&text).into_owned();
    others.push(("others".into(), text));
    others
}

/// A type as words: its runs of letters and digits, each capitalised
/// (`secret.read` and `SECRET_READ` are `Secret Read`).
fn readable(kind: &str) -> String {
    kind.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().expect("a word has a first letter");
            first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut to at most `max` characters.
fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

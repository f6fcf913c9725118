//! What the line formats of SIEMs (CEF, LEEF) say of an audit event, read once for
//! both: the event's type, the common audit fields, and the rest.
//!
//! The common fields come from the event's ECS mapping ([`crate::schema`]), so the five
//! sample shapes (and any shape added there) map the same way here: who acted
//! (`user.name`, else `user.email`, else `user.id`), from where (`source.ip`), what was
//! done (`event.action`), how it ended (`event.outcome`), on what (`url.domain` +
//! `url.path`, or `labels.resource_key`), the HTTP method, the user agent, the event's
//! own id and message. Every other field of the event is kept, by its name, for a format
//! to write as custom fields or drop (`other_fields`). A destination names fields of its
//! own in `fields` (`"suser=actor_email,cs1=tenant_id,cs1Label=Tenant,rt="`): key of the
//! format, dotted path in the event (nothing: leave the key out; a CEF custom slot's
//! label: its text); they take the place of the default for that key.

use serde_json::{Map, Value};

use crate::enrich::Stamp;
use crate::severity::{CefScale, SeverityRule};
use crate::{Event, FormatError, SettingDoc, Settings};

/// A common audit field, which each format names its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Who acted.
    User,
    /// Their id, when the name is something else.
    UserId,
    /// The address they acted from.
    SourceIp,
    /// What they did.
    Action,
    /// `success` or `failure`.
    Outcome,
    /// What they acted on (a secret, a file).
    Resource,
    /// The URL they asked for.
    Url,
    /// The HTTP method.
    Method,
    /// The user agent.
    UserAgent,
    /// The event's own id.
    EventId,
    /// A message about it.
    Message,
}

/// An event read for a line format.
#[derive(Debug, Clone, Default)]
pub struct AuditFields {
    /// The event's type (`event_type`, else the ECS action or code), for a signature
    /// id or an event id; `audit` when it has none (or an empty one).
    pub kind: String,
    /// The common fields it has, in [`Role`] order.
    pub common: Vec<(Role, String)>,
    /// Its other fields, by name (dotted below the top), values as text.
    pub others: Vec<(String, String)>,
}

/// Where ECS keeps each role, first found wins (the URL is put together apart).
const ROLES: [(Role, &[&str]); 10] = [
    (Role::User, &["user.name", "user.email", "user.id"]),
    (Role::UserId, &["user.id"]),
    (Role::SourceIp, &["source.ip"]),
    (Role::Action, &["event.action"]),
    (Role::Outcome, &["event.outcome"]),
    (Role::Resource, &["labels.resource_key"]),
    (Role::Method, &["http.request.method"]),
    (Role::UserAgent, &["user_agent.original"]),
    (Role::EventId, &["event.id"]),
    (Role::Message, &["message", "error.message"]),
];

/// ECS fields the mapping adds or that a format writes elsewhere (the time, the
/// severity): not "other" fields.
const NOT_OTHERS: [&str; 10] = [
    "@timestamp",
    "event.outcome",
    "ecs.version",
    "event.kind",
    "event.severity",
    "event.dataset",
    "event.category",
    "event.type",
    "event.code",
    "user.roles",
];

impl AuditFields {
    /// Reads `event` (a JSON object).
    pub fn of(event: &Event<'_>) -> AuditFields {
        let Some(Value::Object(mut ecs)) = crate::schema::ecs_value(event.json(), event.time_ms())
        else {
            return AuditFields {
                kind: "audit".into(),
                ..AuditFields::default()
            };
        };
        let original = event.field("event_type");
        let kind = original
            .as_ref()
            .and_then(Value::as_str)
            .filter(|kind| !kind.is_empty())
            .or_else(|| text_at(&ecs, "event.action"))
            .or_else(|| text_at(&ecs, "event.code"))
            .unwrap_or("audit")
            .to_owned();
        let mut common = Vec::new();
        let mut used: Vec<&str> = Vec::new();
        for (role, paths) in ROLES {
            let found = paths
                .iter()
                .find_map(|path| Some((*path, text_at(&ecs, path)?)));
            if let Some((path, text)) = found {
                if role == Role::Outcome && text == "unknown" {
                    continue;
                }
                if role == Role::UserId && common.iter().any(|(_, t)| t == text) {
                    continue;
                }
                common.push((role, text.to_owned()));
                used.push(path);
            }
        }
        let domain = text_at(&ecs, "url.domain").map(str::to_owned);
        let path = text_at(&ecs, "url.path").map(str::to_owned);
        if let Some(url) = match (domain, path) {
            (Some(domain), Some(path)) => Some(format!("{domain}{path}")),
            (domain, path) => domain.or(path),
        } {
            common.push((Role::Url, url));
            used.extend(["url.domain", "url.path"]);
        }
        for path in used.iter().chain(&NOT_OTHERS) {
            crate::schema::remove(&mut ecs, path);
        }
        let mut others = Vec::new();
        leaves(&Value::Object(ecs), "", &mut others);
        number_repeated_names(&mut others);
        AuditFields {
            kind,
            common,
            others,
        }
    }

    /// The common field of `role`, if the event has it.
    pub fn get(&self, role: Role) -> Option<&str> {
        self.common
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, text)| text.as_str())
    }
}

/// What a key of `fields` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// The event's field at this dotted path.
    Field(String),
    /// This text, for every event: a CEF custom slot's label (`cs1Label=Environment`),
    /// which names the slot rather than holding a value of the event.
    Text(String),
    /// Nothing: the key is left out (`rt=`).
    Omitted,
}

/// CEF's custom slots: each family's name and its numbers (`cs1` to `cs6`...), each with
/// its label (`cs1Label`).
const CEF_SLOTS: [(&str, u32); 8] = [
    ("cs", 6),
    ("cn", 3),
    ("cfp", 4),
    ("c6a", 4),
    ("flexString", 2),
    ("flexNumber", 2),
    ("flexDate", 1),
    ("deviceCustomDate", 2),
];

/// A CEF custom slot key: its family, its number, and whether it is the label
/// (`cs3Label` is `("cs", 3, true)`).
pub fn cef_slot(key: &str) -> Option<(&'static str, u32, bool)> {
    let (key, label) = match key.strip_suffix("Label") {
        Some(slot) => (slot, true),
        None => (key, false),
    };
    CEF_SLOTS.iter().find_map(|&(family, _)| {
        let number = key.strip_prefix(family)?;
        let number = number
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| number.parse().ok())??;
        Some((family, number, label))
    })
}

/// What the formats share of their settings: the device, the fields a destination
/// maps itself, and what becomes of the others.
#[derive(Debug, Clone)]
pub struct LineSettings {
    /// The device's vendor, as given.
    pub vendor: String,
    /// The device's product.
    pub product: String,
    /// The device's version.
    pub version: String,
    /// `fields`: the format's key, and what it takes.
    pub fields: Vec<(String, Mapped)>,
    /// Other fields written as custom fields (`custom`), or left out (`drop`).
    pub keep_others: bool,
    /// How an event's severity is found (`severity_field`).
    pub severity: SeverityRule,
    /// The number each severity is (`severity_map`).
    pub scale: CefScale,
    /// The host's enrichment, as pairs (off unless the module sets it: [`LineSettings::stamped`]).
    pub stamp: Stamp,
}

impl LineSettings {
    /// The settings, for a module's [`crate::Info::settings`].
    pub fn docs() -> Vec<SettingDoc> {
        vec![
            SettingDoc {
                name: "vendor",
                description: "device vendor in the header",
                default: Some("Sluice"),
            },
            SettingDoc {
                name: "product",
                description: "device product in the header",
                default: Some("Sluice"),
            },
            SettingDoc {
                name: "product_version",
                description: "device version in the header",
                default: Some("1.0"),
            },
            SettingDoc {
                name: "fields",
                description: "fields mapped by the destination, `key=event.path` comma-separated, in place of the defaults for those keys",
                default: None,
            },
            SettingDoc {
                name: "other_fields",
                description: "`custom`: the fields no key takes, written as custom fields; `drop`: left out",
                default: Some("custom"),
            },
            SeverityRule::doc(),
            CefScale::doc(),
            Stamp::doc(),
        ]
    }

    /// Reads them; a malformed `fields` or `other_fields` is named.
    pub fn from_settings(settings: &Settings) -> Result<LineSettings, FormatError> {
        let mut fields = Vec::new();
        for pair in settings.get("fields").unwrap_or("").split(',') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            match pair.split_once('=') {
                Some((key, value)) if is_key(key.trim()) => {
                    let (key, value) = (key.trim(), value.trim());
                    let mapped = match cef_slot(key) {
                        _ if value.is_empty() => Mapped::Omitted,
                        Some((_, _, true)) => Mapped::Text(value.to_owned()),
                        _ => Mapped::Field(value.to_owned()),
                    };
                    if fields.iter().any(|(taken, _)| taken == key) {
                        return Err(FormatError::setting(
                            "fields",
                            format!("`{key}` is mapped twice"),
                        ));
                    }
                    fields.push((key.to_owned(), mapped));
                }
                _ => {
                    return Err(FormatError::setting(
                        "fields",
                        format!(
                            "`{pair}` is not `key=event.path` or `key=` (a key of letters, digits and `_`)"
                        ),
                    ));
                }
            }
        }
        let keep_others = match settings.get("other_fields").unwrap_or("custom") {
            "custom" => true,
            "drop" => false,
            other => {
                return Err(FormatError::setting(
                    "other_fields",
                    format!("`{other}`: use custom or drop"),
                ));
            }
        };
        let text = |key: &str, default: &str| settings.get(key).unwrap_or(default).to_owned();
        Ok(LineSettings {
            vendor: text("vendor", "Sluice"),
            product: text("product", "Sluice"),
            version: text("product_version", "1.0"),
            fields,
            keep_others,
            severity: SeverityRule::from_settings(settings)?,
            scale: CefScale::from_settings(settings)?,
            stamp: Stamp::off(),
        })
    }

    /// The destination's own fields the event has: key, and the value as text.
    pub fn own_fields(&self, event: &Event<'_>) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter_map(|(key, mapped)| {
                let value = match mapped {
                    Mapped::Field(path) => as_text(&event.field(path)?),
                    Mapped::Text(text) => text.clone(),
                    Mapped::Omitted => return None,
                };
                Some((key.clone(), value))
            })
            .collect()
    }

    /// The same, the host's enrichment written in each line.
    pub fn stamped(self, stamp: Stamp) -> Self {
        LineSettings { stamp, ..self }
    }

    /// Whether the destination maps `key` itself.
    pub fn maps(&self, key: &str) -> bool {
        self.fields.iter().any(|(own, _)| own == key)
    }

    /// The mapping checked for CEF: each custom slot one CEF has, a label only beside
    /// its slot's value; a slot's value without a label gets its path as the label, so
    /// a value never travels unnamed (`cs1=tenant_id` writes `cs1Label=tenant_id`).
    pub fn for_cef(mut self) -> Result<LineSettings, FormatError> {
        let mut labels = Vec::new();
        for (key, mapped) in &self.fields {
            let Some((family, number, label)) = cef_slot(key) else {
                continue;
            };
            let most = CEF_SLOTS
                .iter()
                .find(|(name, _)| *name == family)
                .map_or(0, |(_, most)| *most);
            if !(1..=most).contains(&number) {
                return Err(FormatError::setting(
                    "fields",
                    format!("`{key}`: CEF's custom slots are {family}1 to {family}{most}"),
                ));
            }
            let value_key = format!("{family}{number}");
            let value_mapped = self.fields.iter().find(|(own, _)| *own == value_key);
            if label && !matches!(value_mapped, Some((_, Mapped::Field(_)))) {
                return Err(FormatError::setting(
                    "fields",
                    format!(
                        "`{key}` labels nothing: map `{value_key}` to a field too, a label goes beside its value"
                    ),
                ));
            }
            let label_key = format!("{value_key}Label");
            if !label
                && matches!(mapped, Mapped::Field(_))
                && self.fields.contains(&(label_key.clone(), Mapped::Omitted))
            {
                return Err(FormatError::setting(
                    "fields",
                    format!("`{label_key}=` leaves `{key}` unnamed: a value goes beside its label"),
                ));
            }
            if let (false, Mapped::Field(path)) = (label, mapped) {
                let label_key = format!("{key}Label");
                if !self.maps(&label_key) {
                    labels.push((label_key, Mapped::Text(path.clone())));
                }
            }
        }
        self.fields.extend(labels);
        if self
            .fields
            .iter()
            .any(|(key, mapped)| key == "rt" && matches!(mapped, Mapped::Field(_)))
        {
            return Err(FormatError::setting(
                "fields",
                "`rt` is the event's time, which Sluice writes: leave it out (`rt=`) or keep it",
            ));
        }
        let all_taken =
            (1..=6).all(|n| self.maps(&format!("cs{n}")) || self.maps(&format!("cs{n}Label")));
        if all_taken && self.keep_others {
            return Err(FormatError::setting(
                "fields",
                "every custom string (cs1 to cs6) is mapped, so no other field has a place: free one, or set other_fields = \"drop\"",
            ));
        }
        Ok(self)
    }

    /// The mapping checked for LEEF, which has no numbered custom slots: it names a
    /// custom attribute by its key (`tenant=tenant_id`).
    pub fn for_leef(self) -> Result<LineSettings, FormatError> {
        for (key, mapped) in &self.fields {
            if cef_slot(key).is_some() {
                return Err(FormatError::setting(
                    "fields",
                    format!(
                        "`{key}` is a CEF custom slot: LEEF names a custom attribute by its own key (`tenant=tenant_id`)"
                    ),
                ));
            }
            // Keys whose value Sluice writes in a form LEEF defines, or its own overflow.
            let written = matches!(key.as_str(), "sev" | "devTime" | "devTimeFormat");
            if key == "sluiceOtherFields" || (written && matches!(mapped, Mapped::Field(_))) {
                return Err(FormatError::setting(
                    "fields",
                    format!(
                        "`{key}` is written by Sluice in LEEF's form: leave it out (`{key}=`) or keep it"
                    ),
                ));
            }
        }
        Ok(self)
    }
}

/// A key both formats take: ASCII letters, digits and `_`, starting with a letter.
pub fn is_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A value as text: a string as it is, anything else as compact JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn text_at<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    let mut value = object.get(path.split('.').next()?)?;
    for part in path.split('.').skip(1) {
        value = value.get(part)?;
    }
    value.as_str().filter(|text| !text.is_empty())
}

/// Every leaf of `value` with its dotted name; the members of `unmapped` (the fields
/// the ECS tables do not take) and of `labels` by their own names. Arrays are leaves.
/// Gives each repeated name a number (`a.b`, then `a.b#2`): names can meet (`labels`
/// and `unmapped` are flattened, and `a.b` may be a key or a path), and a format that
/// keeps fields by name (an object, a key) would keep only one of them.
fn number_repeated_names(others: &mut [(String, String)]) {
    let mut seen = std::collections::HashSet::new();
    for (name, _) in others.iter_mut() {
        if seen.insert(name.clone()) {
            continue;
        }
        let numbered = (2..)
            .map(|n| format!("{name}#{n}"))
            .find(|candidate| !seen.contains(candidate))
            .expect("a free number");
        seen.insert(numbered.clone());
        *name = numbered;
    }
}

fn leaves(value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                let name = match prefix {
                    "" if key == "unmapped" || key == "labels" => String::new(),
                    "" => key.clone(),
                    prefix => format!("{prefix}.{key}"),
                };
                leaves(inner, &name, out);
            }
        }
        // A null is no value: left out, as an empty one is.
        Value::Null => {}
        leaf => out.push((prefix.to_owned(), as_text(leaf))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, EventId, TimeSource};

    fn fields_of(json: &str) -> AuditFields {
        let mut batch = Batch::new();
        batch.push(json, 1_714_566_896_789, TimeSource::Event, EventId(1));
        AuditFields::of(&batch.event(0))
    }

    /// Found by the line_formats fuzz target: two fields of one name (here a leaf
    /// `labels` and a key ``) became one in CEF's `others` object.
    #[test]
    fn repeated_names_are_numbered() {
        let fields = fields_of(r#"{"a.b":"1","a":{"b":"2"},"labels":"3","":"4"}"#);
        let mut names: Vec<&str> = fields.others.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let unique: std::collections::HashSet<&&str> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(
            fields
                .others
                .iter()
                .any(|(n, v)| n == "a.b#2" && (v == "1" || v == "2")),
            "{:?}",
            fields.others
        );
    }

    #[test]
    fn a_secrets_event_gives_its_actor_address_action_and_resource() {
        let fields = fields_of(
            r#"{"timestamp":"2026-11-20T08:00:00Z","event_type":"secret.read","org_id":"org_1","project":"p","actor":{"type":"user","id":"tok_1","name":"deploy"},"resource":{"type":"secret","key":"STRIPE_KEY"},"source_ip":"203.0.113.42","result":"success"}"#,
        );
        assert_eq!(fields.kind, "secret.read");
        assert_eq!(fields.get(Role::User), Some("deploy"));
        assert_eq!(fields.get(Role::UserId), Some("tok_1"));
        assert_eq!(fields.get(Role::SourceIp), Some("203.0.113.42"));
        assert_eq!(fields.get(Role::Action), Some("secret.read"));
        assert_eq!(fields.get(Role::Outcome), Some("success"));
        assert_eq!(fields.get(Role::Resource), Some("STRIPE_KEY"));
        let names: Vec<&str> = fields.others.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"organization.id") && names.contains(&"project"),
            "{names:?}"
        );
        // What the mapping adds is not the event's: only its own fields are "others".
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with('@') || n.starts_with("event.") || n.starts_with("ecs.")),
            "{names:?}"
        );
    }

    #[test]
    fn fields_are_key_equals_path() {
        let settings = |value: &str| {
            Settings::new(vec![("fields".into(), value.into())], LineSettings::docs())
        };
        let parsed =
            LineSettings::from_settings(&settings("suser = actor.email, cs1=tenant_id")).unwrap();
        assert_eq!(
            parsed.fields,
            [
                ("suser".into(), Mapped::Field("actor.email".into())),
                ("cs1".into(), Mapped::Field("tenant_id".into()))
            ]
        );
        assert!(LineSettings::from_settings(&settings("suser")).is_err());
        assert!(LineSettings::from_settings(&settings("suser=a,suser=b")).is_err());
        assert!(LineSettings::from_settings(&settings("s user=x")).is_err());
        let dropped = LineSettings::from_settings(&settings("rt=")).unwrap();
        assert_eq!(dropped.fields, [("rt".into(), Mapped::Omitted)]);
        let labelled =
            LineSettings::from_settings(&settings("cs1=env,cs1Label=Environment")).unwrap();
        assert_eq!(
            labelled.fields[1],
            ("cs1Label".into(), Mapped::Text("Environment".into()))
        );
    }

    #[test]
    fn cef_slots_are_checked_and_labelled_and_leef_refuses_them() {
        let settings = |value: &str| {
            LineSettings::from_settings(&Settings::new(
                vec![("fields".into(), value.into())],
                LineSettings::docs(),
            ))
            .unwrap()
        };
        let cef = settings("cs2=tenant_id,cn1=count,cn1Label=Count")
            .for_cef()
            .unwrap();
        assert!(
            cef.fields
                .contains(&("cs2Label".into(), Mapped::Text("tenant_id".into())))
        );
        assert!(
            !cef.fields
                .contains(&("cn1Label".into(), Mapped::Text("count".into())))
        );
        for (fields, problem) in [
            ("cs7=x", "cs1 to cs6"),
            (
                "cs1Label=Tenant",
                "labels nothing: map `cs1` to a field too",
            ),
            ("cs1=,cs1Label=Tenant", "labels nothing"),
            ("cs1=t,cs1Label=", "leaves `cs1` unnamed"),
            ("rt=tenant", "the event's time"),
            (
                "cs1=a,cs2=b,cs3=c,cs4=d,cs5=e,cs6=f",
                "no other field has a place",
            ),
            ("cn0=x", "cn1 to cn3"),
        ] {
            let Err(FormatError::InvalidSetting(error)) = settings(fields).for_cef() else {
                panic!("{fields} accepted")
            };
            assert!(
                error.problem.contains(problem),
                "{fields}: {}",
                error.problem
            );
        }
        assert_eq!(cef_slot("c6a2Label"), Some(("c6a", 2, true)));
        assert_eq!(cef_slot("csx"), None);
        assert!(settings("tenant=tenant_id").for_leef().is_ok());
        assert!(settings("cs1=tenant_id").for_leef().is_err());
    }
}

//! Mapping events to a shared schema: ECS (the Elastic Common Schema) for Elasticsearch users,
//! OCSF (9.2) for security lakes, chosen per destination with a module's `schema`
//! setting (`raw`, the default, sends events as they are).
//!
//! One table per known audit-log shape (the five of `shared/data`, recognised by their
//! fields) says which field goes where; fields no table takes are kept, whole, under
//! `unmapped` (OCSF's own name for them), so nothing is lost. An event of an unknown
//! shape gets the common fields (time, severity, outcome) and keeps everything under
//! `unmapped`. Each table is documented in README ("Schemas"). The severity a mapping
//! writes (`event.severity`, `severity_id`) is the destination's rule: its
//! `severity_field` first, else the SDK's ([`crate::severity`]).

use serde_json::{Map, Value, json};

use crate::Event;
use crate::severity::{Severity, SeverityRule};
use crate::time::rfc3339_utc;

/// The schema a destination sends, and the rule for the severity its mapping writes.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    kind: SchemaKind,
    severity: SeverityRule,
}

/// Which schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchemaKind {
    /// Events as they were read.
    #[default]
    Raw,
    /// Elastic Common Schema 8.
    Ecs,
    /// OCSF 1.1.
    Ocsf,
}

/// The ECS version written in `ecs.version`.
pub const ECS_VERSION: &str = "8.17.0";
/// The OCSF version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.1.0";

impl SchemaKind {
    /// A `schema` setting's value.
    pub fn named(text: &str) -> Option<SchemaKind> {
        match text {
            "raw" => Some(SchemaKind::Raw),
            "ecs" => Some(SchemaKind::Ecs),
            "ocsf" => Some(SchemaKind::Ocsf),
            _ => None,
        }
    }
}

impl Schema {
    /// The schema `kind`, its severity by the SDK's rule alone.
    pub fn new(kind: SchemaKind) -> Schema {
        Schema {
            kind,
            severity: SeverityRule::default(),
        }
    }

    /// The `schema` and `severity_field` settings, for a module's
    /// [`crate::Info::settings`].
    pub fn docs() -> Vec<crate::SettingDoc> {
        vec![Schema::doc(), SeverityRule::doc()]
    }

    /// The `schema` setting alone, for a module that declares `severity_field` already
    /// (with [`crate::siem::LineSettings::docs`]).
    pub fn doc() -> crate::SettingDoc {
        crate::SettingDoc {
            name: "schema",
            description: "`raw` (events as read), `ecs` (Elastic Common Schema) or `ocsf` (a security lake's classes)",
            default: Some("raw"),
        }
    }

    /// A module's `schema` (`raw` when unset) and `severity_field` settings, or the
    /// error naming the one that is wrong.
    pub fn from_settings(settings: &crate::Settings) -> Result<Schema, crate::FormatError> {
        let kind = settings
            .get("schema")
            .map_or(Some(SchemaKind::Raw), SchemaKind::named)
            .ok_or_else(|| crate::FormatError::setting("schema", "is `raw`, `ecs` or `ocsf`"))?;
        Ok(Schema {
            kind,
            severity: SeverityRule::from_settings(settings)?,
        })
    }

    /// Which schema: `raw` writes events as they are.
    pub fn kind(&self) -> SchemaKind {
        self.kind
    }

    /// The event in this schema, as JSON text; `None` for `raw`, or for an event that is
    /// not an object.
    pub fn map(&self, event: &Event<'_>) -> Option<Vec<u8>> {
        let mapped = self.map_value(event)?;
        Some(serde_json::to_vec(&mapped).expect("a JSON value"))
    }

    /// The event in this schema, as a tree; `None` for `raw`, or for an event that is
    /// not an object. A number a `Value` cannot hold exactly is mapped as its text, and
    /// a value nested past [`crate::lossless::MAX_DEPTH`] as its JSON text
    /// ([`crate::lossless::fit`]): the rest of the event maps all the same.
    pub fn map_value(&self, event: &Event<'_>) -> Option<Value> {
        // Decided before the event is parsed: `raw` is the default, and parsing every
        // event into a tree for nothing made the elasticsearch module 2.8x slower.
        let mapping: Mapping = match self.kind {
            SchemaKind::Raw => return None,
            SchemaKind::Ecs => ecs,
            SchemaKind::Ocsf => ocsf,
        };
        map_with(mapping, event.json(), event.time_ms(), &|| {
            self.severity.of(event)
        })
    }
}

/// A schema's mapping of an event of a shape, its severity and its time.
type Mapping = fn(Map<String, Value>, Shape, Severity, i64) -> Value;

/// The event mapped to ECS, for what reads it in ECS terms ([`crate::siem`]): named
/// apart from [`Schema::map_value`] so that such a module does not carry OCSF too.
/// Such a module writes its own severity: the mapping's is the SDK's rule.
pub(crate) fn ecs_value(json: &str, time_ms: i64) -> Option<Value> {
    map_with(ecs, json, time_ms, &|| Severity::of(json))
}

/// `mapping` applied to the event `json`, of time `time_ms` and the severity `severity`
/// says (asked only of an event that is an object).
fn map_with(
    mapping: Mapping,
    json: &str,
    time_ms: i64,
    severity: &dyn Fn() -> Severity,
) -> Option<Value> {
    let fitted = crate::lossless::fit(json);
    let Ok(Value::Object(event)) = serde_json::from_str::<Value>(&fitted) else {
        return None;
    };
    let shape = Shape::of(&event);
    Some(mapping(event, shape, severity(), time_ms))
}

/// The audit-log shapes with a table, told apart by fields only they have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A DevOps agent's audit (`actor_id`, `actor_roles`, `event_type` like `auth.login`).
    DevopsAgent,
    /// An identity provider's (`tenant_id`, `occurred_at_ms`, `USER_LOGIN`...).
    IdentityProvider,
    /// An AI assistant's security audit (`tool_name`, `TOOL_CALL`...).
    Assistant,
    /// An HTTP proxy's (`request_id`, `status_code`, `path`).
    Proxy,
    /// A secrets manager's (`org_id`, `resource.key`, `secret.read`...).
    Secrets,
    /// None of them.
    Unknown,
}

impl Shape {
    /// The shape an event's fields say it has.
    pub fn of(event: &Map<String, Value>) -> Shape {
        let has = |keys: &[&str]| keys.iter().all(|key| event.contains_key(*key));
        if has(&["actor_id", "actor_roles"]) {
            Shape::DevopsAgent
        } else if has(&["tenant_id", "occurred_at_ms"]) {
            Shape::IdentityProvider
        } else if has(&["tool_name", "event_id"]) {
            Shape::Assistant
        } else if has(&["request_id", "status_code", "path"]) {
            Shape::Proxy
        } else if has(&["org_id", "resource"]) {
            Shape::Secrets
        } else {
            Shape::Unknown
        }
    }

    fn name(self) -> &'static str {
        match self {
            Shape::DevopsAgent => "devops-agent",
            Shape::IdentityProvider => "identity-provider",
            Shape::Assistant => "assistant",
            Shape::Proxy => "proxy",
            Shape::Secrets => "secrets-manager",
            Shape::Unknown => "unknown",
        }
    }
}

/// What happened, from the spellings of the samples: `success`, `failure` or `unknown`.
fn outcome(event: &Map<String, Value>, shape: Shape) -> &'static str {
    if shape == Shape::Proxy {
        return match event.get("status_code").and_then(Value::as_u64) {
            Some(100..=399) => "success",
            Some(_) => "failure",
            None => "unknown",
        };
    }
    let said = ["outcome", "result", "status"]
        .iter()
        .find_map(|key| event.get(*key)?.as_str())
        .map(str::to_ascii_lowercase);
    match said.as_deref() {
        Some("success" | "succeeded" | "granted" | "allowed" | "ok") => "success",
        Some("failure" | "failed" | "denied" | "error" | "blocked") => "failure",
        _ => "unknown",
    }
}

/// Moves the field at `from` (dotted) of `event` to `to` (dotted) of `out`, as it is.
fn take(event: &mut Map<String, Value>, from: &str, out: &mut Map<String, Value>, to: &str) {
    if let Some(value) = remove(event, from) {
        set(out, to, value);
    }
}

/// Removes the value at a dotted path, and an object left empty by it.
pub(crate) fn remove(event: &mut Map<String, Value>, path: &str) -> Option<Value> {
    match path.split_once('.') {
        None => event.remove(path).filter(|v| !v.is_null()),
        Some((head, rest)) => {
            let Value::Object(inner) = event.get_mut(head)? else {
                return None;
            };
            let value = remove(inner, rest);
            if inner.is_empty() {
                event.remove(head);
            }
            value
        }
    }
}

/// Sets a dotted path, making the objects on the way.
fn set(out: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            out.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = out.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            set(inner.as_object_mut().expect("an object"), rest, value);
        }
    }
}

/// The event's `event_type` (or `action`), lowercased, for the tables to match on.
fn kind(event: &Map<String, Value>) -> String {
    ["event_type", "action"]
        .iter()
        .find_map(|key| event.get(*key)?.as_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// ECS 8: `@timestamp`, `event.*`, `user.*`, `source.*`... from the shape's table.
fn ecs(mut event: Map<String, Value>, shape: Shape, severity: Severity, time_ms: i64) -> Value {
    let kind = kind(&event);
    let outcome = outcome(&event, shape);
    let mut out = Map::new();
    set(&mut out, "@timestamp", json!(rfc3339_utc(time_ms)));
    set(&mut out, "ecs.version", json!(ECS_VERSION));
    set(&mut out, "event.kind", json!("event"));
    set(&mut out, "event.severity", json!(severity.ecs()));
    set(&mut out, "event.outcome", json!(outcome));
    set(&mut out, "event.dataset", json!(shape.name()));
    let (category, types) = ecs_categories(shape, &kind);
    set(&mut out, "event.category", json!([category]));
    set(&mut out, "event.type", json!([types]));
    for (from, to) in ecs_table(shape) {
        take(&mut event, from, &mut out, to);
    }
    for milliseconds in ["duration_ms", "latency_ms"] {
        if let Some(ms) = event.get(milliseconds).and_then(Value::as_u64) {
            event.remove(milliseconds);
            set(&mut out, "event.duration", json!(ms * 1_000_000));
        }
    }
    finish(event, out)
}

/// Which field of a shape goes where in ECS.
fn ecs_table(shape: Shape) -> &'static [(&'static str, &'static str)] {
    match shape {
        Shape::DevopsAgent => &[
            ("id", "event.id"),
            ("correlation_id", "trace.id"),
            ("event_type", "event.action"),
            ("action", "message"),
            ("actor_id", "user.id"),
            ("actor_email", "user.email"),
            ("actor_roles", "user.roles"),
            ("actor_ip", "source.ip"),
            ("actor_user_agent", "user_agent.original"),
            ("component", "service.name"),
            ("environment", "labels.environment"),
            ("error_message", "error.message"),
        ],
        Shape::IdentityProvider => &[
            ("id", "event.id"),
            ("tenant_id", "organization.id"),
            ("event_type", "event.action"),
            ("user.id", "user.id"),
            ("user.login", "user.name"),
            ("src", "source.ip"),
            ("user_agent", "user_agent.original"),
        ],
        Shape::Assistant => &[
            ("event_id", "event.id"),
            ("correlation_id", "trace.id"),
            ("event_type", "event.code"),
            ("action", "event.action"),
            ("actor", "user.name"),
            ("tool_name", "service.name"),
            ("session_id", "labels.session_id"),
        ],
        Shape::Proxy => &[
            ("request_id", "http.request.id"),
            ("host", "url.domain"),
            ("path", "url.path"),
            ("method", "http.request.method"),
            ("status_code", "http.response.status_code"),
            ("bytes_in", "http.request.bytes"),
            ("bytes_out", "http.response.bytes"),
        ],
        Shape::Secrets => &[
            ("event_type", "event.action"),
            ("org_id", "organization.id"),
            ("project", "labels.project"),
            ("environment", "labels.environment"),
            ("actor.id", "user.id"),
            ("actor.name", "user.name"),
            ("actor.type", "labels.actor_type"),
            ("resource.key", "labels.resource_key"),
            ("resource.type", "labels.resource_type"),
            ("source_ip", "source.ip"),
            ("user_agent", "user_agent.original"),
        ],
        Shape::Unknown => &[],
    }
}

/// ECS `event.category` and `event.type` of an event of `shape` whose kind is `kind`.
fn ecs_categories(shape: Shape, kind: &str) -> (&'static str, &'static str) {
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| kind.ends_with(s));
    let category = match shape {
        Shape::Proxy => "web",
        Shape::Assistant => "api",
        _ if kind.starts_with("auth.") || kind.contains("login") || kind.starts_with("mfa") => {
            "authentication"
        }
        _ if kind.starts_with("session") => "session",
        _ if kind.starts_with("config")
            || kind.starts_with("policy")
            || kind.starts_with("secret") =>
        {
            "configuration"
        }
        Shape::Unknown => "host",
        _ => "iam",
    };
    let kind_of_type = if shape == Shape::Proxy {
        "access"
    } else if ends(&["login", "login_failed", "mfa_challenge", "token_issued"]) {
        "start"
    } else if ends(&["logout", "revoked", "revoke"]) {
        "end"
    } else if ends(&["denied", "deny"]) {
        "denied"
    } else if ends(&["granted", "allow"]) {
        "allowed"
    } else if ends(&["create", "initiated", "requested"]) {
        "creation"
    } else if ends(&["delete"]) {
        "deletion"
    } else if ends(&["read"]) {
        "access"
    } else if ends(&[
        "changed",
        "modified",
        "role_change",
        "reset",
        "assigned",
        "write",
    ]) {
        "change"
    } else {
        "info"
    };
    (category, kind_of_type)
}

/// OCSF 1.1: a class of the Identity & Access Management or Application Activity
/// categories, its activity, and the objects the class asks for.
fn ocsf(mut event: Map<String, Value>, shape: Shape, severity: Severity, time_ms: i64) -> Value {
    let kind = kind(&event);
    let outcome = outcome(&event, shape);
    let (class_uid, activity_id) = ocsf_class(shape, &kind, &event);
    let mut out = Map::new();
    set(&mut out, "class_uid", json!(class_uid));
    set(&mut out, "category_uid", json!(class_uid / 1000));
    set(&mut out, "activity_id", json!(activity_id));
    set(&mut out, "type_uid", json!(class_uid * 100 + activity_id));
    set(&mut out, "time", json!(time_ms));
    set(&mut out, "severity_id", json!(ocsf_severity(severity)));
    let (status_id, status) = match outcome {
        "success" => (1, "Success"),
        "failure" => (2, "Failure"),
        _ => (0, "Unknown"),
    };
    set(&mut out, "status_id", json!(status_id));
    set(&mut out, "status", json!(status));
    set(&mut out, "metadata.version", json!(OCSF_VERSION));
    set(&mut out, "metadata.product.name", json!(shape.name()));
    set(&mut out, "metadata.product.vendor_name", json!("sluice"));
    for (from, to) in ocsf_table(shape, class_uid) {
        take(&mut event, from, &mut out, to);
    }
    // What each class requires, when the event has nothing for it.
    let required: &[&str] = match class_uid {
        3002 => &["user", "service"],
        6003 => &["actor", "api", "src_endpoint"],
        _ => &["user"],
    };
    for key in required {
        out.entry(*key).or_insert_with(|| json!({}));
    }
    if class_uid == 3002 && out["service"].as_object().is_some_and(Map::is_empty) {
        set(&mut out, "service.name", json!(shape.name()));
    }
    finish(event, out)
}

/// OCSF's `severity_id`: 1 informational to 6 fatal.
fn ocsf_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Emergency | Severity::Alert => 6,
        Severity::Critical => 5,
        Severity::Error => 4,
        Severity::Warning => 3,
        Severity::Notice => 2,
        Severity::Informational | Severity::Debug => 1,
    }
}

/// The class and activity: Authentication 3002 (1 logon, 2 logoff), Account Change
/// 3001 (99 other; its activities are not confirmed by OCSF's published classes), or API Activity
/// 6003 (1 create, 2 read, 3 update, 4 delete, 99 other).
fn ocsf_class(shape: Shape, kind: &str, event: &Map<String, Value>) -> (u32, u32) {
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| kind.ends_with(s));
    let logon = kind.starts_with("auth.") && !kind.starts_with("authz")
        || ends(&[
            "user_login",
            "user_login_failed",
            "mfa_challenge",
            "token_issued",
        ]);
    if logon && shape != Shape::Assistant {
        let activity = if ends(&["logout"]) { 2 } else { 1 };
        return (3002, activity);
    }
    if shape == Shape::IdentityProvider {
        return match kind {
            "session_revoked" => (3002, 2),
            _ => (3001, 99),
        };
    }
    let activity = if shape == Shape::Proxy {
        match event.get("method").and_then(Value::as_str).unwrap_or("") {
            "POST" => 1,
            "GET" | "HEAD" => 2,
            "PUT" | "PATCH" => 3,
            "DELETE" => 4,
            _ => 99,
        }
    } else if ends(&["create", "initiated", "requested"]) {
        1
    } else if ends(&["read"]) {
        2
    } else if ends(&["write", "changed", "modified", "role_change", "granted"]) {
        3
    } else if ends(&["delete", "revoke", "rolled_back"]) {
        4
    } else {
        99
    };
    (6003, activity)
}

/// Which field of a shape goes where in OCSF (the class decides the objects' names).
fn ocsf_table(shape: Shape, class_uid: u32) -> &'static [(&'static str, &'static str)] {
    let authentication = class_uid != 6003;
    match (shape, authentication) {
        (Shape::DevopsAgent, true) => &[
            ("id", "metadata.uid"),
            ("correlation_id", "metadata.correlation_uid"),
            ("event_type", "metadata.event_code"),
            ("action", "message"),
            ("actor_id", "user.uid"),
            ("actor_email", "user.email_addr"),
            ("actor_ip", "src_endpoint.ip"),
            ("actor_user_agent", "http_request.user_agent"),
            ("component", "service.name"),
        ],
        (Shape::DevopsAgent, false) => &[
            ("id", "metadata.uid"),
            ("correlation_id", "metadata.correlation_uid"),
            ("event_type", "api.operation"),
            ("action", "message"),
            ("actor_id", "actor.user.uid"),
            ("actor_email", "actor.user.email_addr"),
            ("actor_ip", "src_endpoint.ip"),
            ("actor_user_agent", "http_request.user_agent"),
            ("component", "api.service.name"),
            ("resource_id", "resources.uid"),
            ("resource_type", "resources.type"),
        ],
        (Shape::IdentityProvider, _) => &[
            ("id", "metadata.uid"),
            ("tenant_id", "metadata.tenant_uid"),
            ("event_type", "metadata.event_code"),
            ("user.id", "user.uid"),
            ("user.login", "user.name"),
            ("src", "src_endpoint.ip"),
            ("user_agent", "http_request.user_agent"),
        ],
        (Shape::Assistant, _) => &[
            ("event_id", "metadata.uid"),
            ("correlation_id", "metadata.correlation_uid"),
            ("event_type", "metadata.event_code"),
            ("action", "api.operation"),
            ("actor", "actor.app_name"),
            ("tool_name", "api.service.name"),
            ("session_id", "actor.session.uid"),
        ],
        (Shape::Proxy, _) => &[
            ("request_id", "api.request.uid"),
            ("method", "http_request.http_method"),
            ("host", "http_request.url.hostname"),
            ("path", "http_request.url.path"),
            ("status_code", "http_response.code"),
            ("bytes_in", "http_request.length"),
            ("bytes_out", "http_response.length"),
            ("latency_ms", "duration"),
        ],
        (Shape::Secrets, true) => &[
            ("event_type", "metadata.event_code"),
            ("org_id", "metadata.tenant_uid"),
            ("actor.id", "user.uid"),
            ("actor.name", "user.name"),
            ("actor.type", "user.type"),
            ("source_ip", "src_endpoint.ip"),
            ("user_agent", "http_request.user_agent"),
        ],
        (Shape::Secrets, false) => &[
            ("event_type", "api.operation"),
            ("org_id", "metadata.tenant_uid"),
            ("actor.id", "actor.user.uid"),
            ("actor.name", "actor.user.name"),
            ("actor.type", "actor.user.type"),
            ("resource.key", "resources.name"),
            ("resource.type", "resources.type"),
            ("source_ip", "src_endpoint.ip"),
            ("user_agent", "http_request.user_agent"),
        ],
        (Shape::Unknown, _) => &[],
    }
}

/// `out` with what is left of the event under `unmapped` (the time fields the host
/// read, too: they are in the schema's own time already, and kept as they were).
fn finish(event: Map<String, Value>, mut out: Map<String, Value>) -> Value {
    if !event.is_empty() {
        out.insert("unmapped".into(), Value::Object(event));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(kind: SchemaKind, json: &str) -> Value {
        mapped_by(&Schema::new(kind), json).unwrap()
    }

    fn mapped_by(schema: &Schema, json: &str) -> Option<Value> {
        let mut batch = crate::Batch::new();
        batch.push(
            json,
            1_714_566_896_789,
            crate::TimeSource::Event,
            crate::EventId(1),
        );
        let bytes = schema.map(&batch.event(0))?;
        Some(serde_json::from_slice(&bytes).unwrap())
    }

    /// The mapping's severity follows the destination's `severity_field` when it holds
    /// a level, and the SDK's rule otherwise.
    #[test]
    fn a_severity_field_decides_the_mappings_severity() {
        let settings = |kind: &str| {
            crate::Settings::new(
                vec![
                    ("schema".into(), kind.into()),
                    ("severity_field".into(), "meta.level".into()),
                ],
                Schema::docs(),
            )
        };
        let ecs = Schema::from_settings(&settings("ecs")).unwrap();
        let ocsf = Schema::from_settings(&settings("ocsf")).unwrap();
        let critical = r#"{"event_type":"secret.read","meta":{"level":"critical"}}"#;
        assert_eq!(mapped_by(&ecs, critical).unwrap()["event"]["severity"], 8);
        assert_eq!(mapped_by(&ocsf, critical).unwrap()["severity_id"], 5);
        // Not a level: the SDK's rule (a read is informational).
        let odd = r#"{"event_type":"secret.read","meta":{"level":"purple"}}"#;
        assert_eq!(
            mapped_by(&ecs, odd).unwrap()["event"]["severity"],
            mapped(SchemaKind::Ecs, odd)["event"]["severity"]
        );
        assert_eq!(mapped_by(&ocsf, odd).unwrap()["severity_id"], 1);
    }

    #[test]
    fn an_identity_provider_login_in_ecs_and_ocsf() {
        let event = r#"{"id":"e1","tenant_id":"t1","occurred_at_ms":1714566896789,"event_type":"USER_LOGIN_FAILED","user":{"id":"u1","login":"bob"},"src":"10.0.0.1","user_agent":"UA","result":"FAILURE","risk":"low"}"#;
        let ecs = mapped(SchemaKind::Ecs, event);
        assert_eq!(ecs["@timestamp"], "2024-05-01T12:34:56.789Z");
        assert_eq!(ecs["event"]["category"], json!(["authentication"]));
        assert_eq!(ecs["event"]["type"], json!(["start"]));
        assert_eq!(ecs["event"]["outcome"], "failure");
        assert_eq!(ecs["user"]["name"], "bob");
        assert_eq!(ecs["source"]["ip"], "10.0.0.1");
        assert_eq!(ecs["unmapped"]["risk"], "low");
        let ocsf = mapped(SchemaKind::Ocsf, event);
        assert_eq!(
            (
                ocsf["class_uid"].clone(),
                ocsf["activity_id"].clone(),
                ocsf["type_uid"].clone()
            ),
            (json!(3002), json!(1), json!(300201))
        );
        assert_eq!(ocsf["status_id"], 2);
        assert_eq!(ocsf["time"], 1_714_566_896_789u64);
        assert_eq!(ocsf["user"]["uid"], "u1");
        assert_eq!(ocsf["service"]["name"], "identity-provider");
        assert_eq!(ocsf["metadata"]["version"], OCSF_VERSION);
    }

    #[test]
    fn a_secret_read_is_api_activity_read() {
        let event = r#"{"timestamp":"x","event_type":"secret.read","org_id":"o","project":"p","environment":"e","actor":{"type":"user","id":"a1","name":"ann"},"resource":{"type":"secret","key":"K"},"source_ip":"1.2.3.4","user_agent":"ua","result":"success"}"#;
        let ocsf = mapped(SchemaKind::Ocsf, event);
        assert_eq!(
            (ocsf["class_uid"].clone(), ocsf["activity_id"].clone()),
            (json!(6003), json!(2))
        );
        assert_eq!(ocsf["actor"]["user"]["name"], "ann");
        assert_eq!(ocsf["api"]["operation"], "secret.read");
        assert_eq!(ocsf["resources"]["name"], "K");
        assert_eq!(ocsf["unmapped"]["project"], "p");
    }

    #[test]
    fn an_unknown_shape_keeps_everything_under_unmapped() {
        let ecs = mapped(SchemaKind::Ecs, r#"{"a":{"b":1},"c":"d"}"#);
        assert_eq!(ecs["unmapped"], json!({"a":{"b":1},"c":"d"}));
        assert!(mapped_by(&Schema::new(SchemaKind::Raw), "{}").is_none());
        assert!(mapped_by(&Schema::new(SchemaKind::Ecs), "[1]").is_none());
    }
}

//! One severity for every module, read from the spellings audit logs use, so that a
//! Datadog status, a syslog severity, a CEF severity and an ECS `event.severity` of the
//! same event agree.
//!
//! The first of these that says something decides: the top-level fields `severity`,
//! `level`, `log_level` (explicit levels); then the words of `event_type` and `action`
//! (as seed 003's services derive it: `SYSTEM_ERROR` is an error, `AUTHZ_DENIED` and a
//! `SECURITY_DECISION` a warning, `DEPLOY_FAILED` an error); then `risk`, `risk_level`;
//! then `status`, `outcome`, `result` (what happened: a failure is an error, a denial a
//! warning); then `status_code` (an HTTP status: 5xx error, 4xx warning). Values,
//! case-insensitive:
//!
//! | severity | values |
//! | --- | --- |
//! | emergency (0) | `emerg`, `emergency`, `panic` |
//! | alert (1) | `alert` |
//! | critical (2) | `crit`, `critical`, `fatal` |
//! | error (3) | `err`, `error`, `high`, `failure`, `failed`, `fail` |
//! | warning (4) | `warn`, `warning`, `medium`, `denied`, `deny`, `blocked` |
//! | notice (5) | `notice`, `pending` |
//! | informational (6) | `info`, `informational`, `low`, `success`, `allowed`, `allow`, `ok` |
//! | debug (7) | `debug`, `trace` |
//!
//! An event with none of them is informational. The words of a type are its runs of
//! letters and digits: `critical`, `fatal`, `error`, `failed`, `failure`, `warning`,
//! `denied`, `blocked` and the pair `security decision` say something, the rest
//! (`login`, `read`) nothing.
//!
//! A destination may name a field that decides before all of these
//! ([`SeverityRule`], `severity_field`), and CEF and LEEF number the severities on a
//! scale it chooses ([`CefScale`], `severity_map`).

use serde::Deserialize;
use serde_json::Value;

use crate::{Event, FormatError, SettingDoc, Settings};

/// Syslog's eight severities (RFC 5424), most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The system is unusable.
    Emergency = 0,
    /// Action must be taken at once.
    Alert = 1,
    /// Critical conditions.
    Critical = 2,
    /// Error conditions; high risk.
    Error = 3,
    /// Warning conditions; medium risk, an action failed or was denied.
    Warning = 4,
    /// Normal but significant; pending.
    Notice = 5,
    /// Informational; low risk, an action succeeded.
    Informational = 6,
    /// Debug messages.
    Debug = 7,
}

/// The fields read, in the order they are tried; other fields are skipped unparsed.
#[derive(Deserialize, Default)]
struct Fields {
    severity: Option<Value>,
    level: Option<Value>,
    log_level: Option<Value>,
    event_type: Option<Value>,
    action: Option<Value>,
    risk: Option<Value>,
    risk_level: Option<Value>,
    status: Option<Value>,
    outcome: Option<Value>,
    result: Option<Value>,
    status_code: Option<Value>,
}

impl Severity {
    /// The severity of an event, from its JSON object.
    pub fn of(json: &str) -> Severity {
        // The text made fit only when it does not parse (a number past the f64 range):
        // the few fields read here need no exact numbers, and most events parse.
        let fields: Fields = serde_json::from_str(json)
            .or_else(|_| serde_json::from_str(&crate::lossless::fit(json)))
            .unwrap_or_default();
        let levels = [&fields.severity, &fields.level, &fields.log_level];
        let kinds = [&fields.event_type, &fields.action];
        let results = [
            &fields.risk,
            &fields.risk_level,
            &fields.status,
            &fields.outcome,
            &fields.result,
        ];
        levels
            .into_iter()
            .filter_map(text_of)
            .find_map(Severity::named)
            .or_else(|| {
                kinds
                    .into_iter()
                    .filter_map(text_of)
                    .find_map(Severity::of_kind)
            })
            .or_else(|| {
                results
                    .into_iter()
                    .filter_map(text_of)
                    .find_map(Severity::named)
            })
            .or_else(|| {
                fields
                    .status_code
                    .as_ref()?
                    .as_u64()
                    .map(Severity::of_http_status)
            })
            .unwrap_or(Severity::Informational)
    }

    /// A severity by one of its spellings.
    pub fn named(text: &str) -> Option<Severity> {
        let severity = match text.to_ascii_lowercase().as_str() {
            "emerg" | "emergency" | "panic" => Severity::Emergency,
            "alert" => Severity::Alert,
            "crit" | "critical" | "fatal" => Severity::Critical,
            "err" | "error" | "high" | "failure" | "failed" | "fail" => Severity::Error,
            "warn" | "warning" | "medium" | "denied" | "deny" | "blocked" => Severity::Warning,
            "notice" | "pending" => Severity::Notice,
            "info" | "informational" | "low" | "success" | "allowed" | "allow" | "ok" => {
                Severity::Informational
            }
            "debug" | "trace" => Severity::Debug,
            _ => return None,
        };
        Some(severity)
    }

    /// What the words of an event's type say, if anything.
    fn of_kind(kind: &str) -> Option<Severity> {
        let words: Vec<String> = kind
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let said = |word: &str| words.iter().any(|w| w == word);
        if said("critical") || said("fatal") {
            Some(Severity::Critical)
        } else if said("error") || said("failed") || said("failure") {
            Some(Severity::Error)
        } else if said("warning")
            || said("denied")
            || said("blocked")
            || words
                .windows(2)
                .any(|pair| pair == ["security", "decision"])
        {
            Some(Severity::Warning)
        } else {
            None
        }
    }

    /// The severity of syslog number `number` (0 to 7).
    fn of_syslog(number: u64) -> Option<Severity> {
        const ALL: [Severity; 8] = [
            Severity::Emergency,
            Severity::Alert,
            Severity::Critical,
            Severity::Error,
            Severity::Warning,
            Severity::Notice,
            Severity::Informational,
            Severity::Debug,
        ];
        ALL.get(usize::try_from(number).ok()?).copied()
    }

    fn of_http_status(status: u64) -> Severity {
        match status {
            500.. => Severity::Error,
            400..=499 => Severity::Warning,
            _ => Severity::Informational,
        }
    }

    /// The syslog severity number, 0 (emergency) to 7 (debug).
    pub fn syslog(self) -> u8 {
        self as u8
    }

    /// CEF's 0 (lowest) to 10 (highest).
    pub fn cef(self) -> u8 {
        [10, 9, 8, 7, 5, 3, 1, 0][self as usize]
    }

    /// Datadog's `status` values.
    pub fn datadog(self) -> &'static str {
        [
            "emergency",
            "alert",
            "critical",
            "error",
            "warning",
            "notice",
            "info",
            "debug",
        ][self as usize]
    }

    /// ECS `event.severity`: a number where higher is more severe (ECS leaves the scale
    /// to the source; this one is CEF's).
    pub fn ecs(self) -> u8 {
        self.cef()
    }
}

/// A field's text, if it is a string.
fn text_of(value: &Option<Value>) -> Option<&str> {
    value.as_ref()?.as_str()
}

/// A destination's rule for an event's severity: the SDK's ([`Severity::of`]), or first
/// the value of its `severity_field`: a level's name (`error`, `warning`...) or a syslog
/// number (0 to 7). A value that is neither leaves the SDK's rule to decide.
#[derive(Debug, Clone, Default)]
pub struct SeverityRule {
    field: Option<String>,
}

impl SeverityRule {
    /// The `severity_field` setting, for a module's [`crate::Info::settings`].
    pub fn doc() -> SettingDoc {
        SettingDoc {
            name: "severity_field",
            description: "a field (dotted path) whose value decides the severity first: a level's name (`error`, `warning`...) or a syslog number 0-7",
            default: None,
        }
    }

    /// The rule a destination's settings give; a path no field can have is named.
    pub fn from_settings(settings: &Settings) -> Result<SeverityRule, FormatError> {
        let field = settings
            .text("severity_field")
            .filter(|field| !field.is_empty());
        if let Some(path) = &field
            && path
                .split('.')
                .any(|part| part.is_empty() || part.chars().any(char::is_whitespace))
        {
            return Err(FormatError::setting(
                "severity_field",
                format!("`{path}` is not a dotted path (`meta.level`)"),
            ));
        }
        Ok(SeverityRule { field })
    }

    /// The severity of `event`.
    pub fn of(&self, event: &Event<'_>) -> Severity {
        self.field
            .as_deref()
            .and_then(|path| match event.field(path)? {
                // A level's name, or a syslog number written as text ("3").
                Value::String(text) => Severity::named(text.trim())
                    .or_else(|| Severity::of_syslog(text.trim().parse().ok()?)),
                Value::Number(number) => Severity::of_syslog(number.as_u64()?),
                _ => None,
            })
            .unwrap_or_else(|| Severity::of(event.json()))
    }
}

/// The numbers CEF (0 to 10) and LEEF (1 to 10) give the severities: `syslog` (the
/// default: 10, 9, 8, 7, 5, 3, 1, 0 from emergency to debug), `five_levels` (seed 003's
/// services and seed 004's lines: debug 1, info and notice 3, warning 5, error 7,
/// critical and above 10), or `level=number` pairs over the default
/// (`info=3,critical=10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CefScale([u8; 8]);

impl Default for CefScale {
    fn default() -> Self {
        CefScale([10, 9, 8, 7, 5, 3, 1, 0])
    }
}

impl CefScale {
    /// The `severity_map` setting, for a module's [`crate::Info::settings`].
    pub fn doc() -> SettingDoc {
        SettingDoc {
            name: "severity_map",
            description: "the 0-10 number of each severity: `syslog`, `five_levels` (debug 1, info 3, warning 5, error 7, critical 10), or `level=number` pairs over syslog's (`info=3,critical=10`)",
            default: Some("syslog"),
        }
    }

    /// The scale a destination's settings give; a malformed `severity_map` is named.
    pub fn from_settings(settings: &Settings) -> Result<CefScale, FormatError> {
        let problem = |text: String| FormatError::setting("severity_map", text);
        match settings.get("severity_map").unwrap_or("syslog").trim() {
            "syslog" => Ok(CefScale::default()),
            "five_levels" => Ok(CefScale([10, 10, 10, 7, 5, 3, 3, 1])),
            pairs => {
                let mut scale = CefScale::default();
                let mut given = Vec::new();
                for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (name, number) = pair
                        .split_once('=')
                        .ok_or_else(|| problem(format!("`{pair}` is not `level=number`")))?;
                    let severity = Severity::named(name.trim()).ok_or_else(|| {
                        problem(format!(
                            "`{}` is not a severity (emergency ... debug)",
                            name.trim()
                        ))
                    })?;
                    let number: u8 = number
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| *n <= 10)
                        .ok_or_else(|| problem(format!("`{pair}`: a number from 0 to 10")))?;
                    if given.contains(&severity) {
                        return Err(problem(format!("`{pair}`: that severity is given twice")));
                    }
                    given.push(severity);
                    scale.0[severity as usize] = number;
                }
                Ok(scale)
            }
        }
    }

    /// The number of `severity`.
    pub fn number(self, severity: Severity) -> u8 {
        self.0[severity as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_levels_win_over_outcomes_and_every_output_agrees() {
        let of = Severity::of;
        assert_eq!(
            of(r#"{"severity":"warning","outcome":"success"}"#),
            Severity::Warning
        );
        assert_eq!(
            of(r#"{"result":"FAILURE","risk":"medium"}"#),
            Severity::Warning
        );
        assert_eq!(of(r#"{"risk":"high","result":"SUCCESS"}"#), Severity::Error);
        assert_eq!(of(r#"{"status":"denied"}"#), Severity::Warning);
        assert_eq!(of(r#"{"result":"FAILURE"}"#), Severity::Error);
        assert_eq!(of(r#"{"status_code":503}"#), Severity::Error);
        assert_eq!(
            of(r#"{"status_code":200,"n":{"severity":"error"}}"#),
            Severity::Informational
        );
        assert_eq!(of(r#"{"severity":"??","level":"DEBUG"}"#), Severity::Debug);
        assert_eq!(of("not json"), Severity::Informational);
        let warning = Severity::Warning;
        assert_eq!(
            (warning.syslog(), warning.cef(), warning.datadog()),
            (4, 5, "warning")
        );
        assert_eq!(Severity::Emergency.cef(), 10);
        assert_eq!(Severity::Debug.cef(), 0);
    }

    /// Seed 003's rule: the type's words, before risk and outcome.
    #[test]
    fn the_type_says_what_the_seeds_say() {
        let of = Severity::of;
        assert_eq!(of(r#"{"event_type":"SYSTEM_ERROR"}"#), Severity::Error);
        assert_eq!(
            of(r#"{"event_type":"deploy.failed","risk":"low"}"#),
            Severity::Error
        );
        assert_eq!(
            of(r#"{"event_type":"AUTHZ_DENIED","result":"SUCCESS"}"#),
            Severity::Warning
        );
        assert_eq!(
            of(r#"{"event_type":"SECURITY_DECISION"}"#),
            Severity::Warning
        );
        assert_eq!(of(r#"{"action":"db.fatal"}"#), Severity::Critical);
        assert_eq!(
            of(r#"{"event_type":"secret.read","result":"success"}"#),
            Severity::Informational
        );
        // Words, not substrings: `errorless` says nothing; explicit levels still win.
        assert_eq!(of(r#"{"event_type":"errorless"}"#), Severity::Informational);
        assert_eq!(
            of(r#"{"event_type":"SYSTEM_ERROR","level":"debug"}"#),
            Severity::Debug
        );
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let docs = vec![SeverityRule::doc(), CefScale::doc()];
        Settings::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            docs,
        )
    }

    #[test]
    fn a_severity_field_decides_first_when_it_says_something() {
        let rule =
            SeverityRule::from_settings(&settings(&[("severity_field", "meta.level")])).unwrap();
        let mut batch = crate::Batch::new();
        for json in [
            r#"{"meta":{"level":"critical"},"severity":"info"}"#,
            r#"{"meta":{"level":4}}"#,
            r#"{"meta":{"level":"??"},"severity":"error"}"#,
        ] {
            batch.push(json, 0, crate::TimeSource::Event, crate::EventId(1));
        }
        let found: Vec<Severity> = (0..3).map(|i| rule.of(&batch.event(i))).collect();
        assert_eq!(
            found,
            [Severity::Critical, Severity::Warning, Severity::Error]
        );
    }

    #[test]
    fn cef_numbers_come_from_a_preset_or_pairs() {
        let scale = |value: &str| CefScale::from_settings(&settings(&[("severity_map", value)]));
        let five = scale("five_levels").unwrap();
        assert_eq!(
            [
                Severity::Debug,
                Severity::Informational,
                Severity::Warning,
                Severity::Error,
                Severity::Critical
            ]
            .map(|s| five.number(s)),
            [1, 3, 5, 7, 10]
        );
        let pairs = scale("info=3, critical=10").unwrap();
        assert_eq!(
            (
                pairs.number(Severity::Informational),
                pairs.number(Severity::Critical)
            ),
            (3, 10)
        );
        assert_eq!(pairs.number(Severity::Warning), 5, "the rest as syslog's");
        for bad in ["info=11", "loud=3", "info"] {
            assert!(scale(bad).is_err(), "{bad}");
        }
    }
}

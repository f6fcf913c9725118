//! One severity for every module, read from the spellings audit logs use, so that a
//! Datadog status, a syslog severity, a CEF severity and an ECS `event.severity` of the
//! same event agree.
//!
//! The first of these top-level fields that holds a known value decides: `severity`,
//! `level`, `log_level` (explicit levels), then `risk`, `risk_level`, then `status`,
//! `outcome`, `result` (what happened), then `status_code` (an HTTP status: 5xx error,
//! 4xx warning). Values, case-insensitive:
//!
//! | severity | values |
//! | --- | --- |
//! | emergency (0) | `emerg`, `emergency`, `panic` |
//! | alert (1) | `alert` |
//! | critical (2) | `crit`, `critical`, `fatal` |
//! | error (3) | `err`, `error`, `high` |
//! | warning (4) | `warn`, `warning`, `medium`, `failure`, `failed`, `fail`, `denied`, `deny`, `blocked` |
//! | notice (5) | `notice`, `pending` |
//! | informational (6) | `info`, `informational`, `low`, `success`, `allowed`, `allow`, `ok` |
//! | debug (7) | `debug`, `trace` |
//!
//! An event with none of them is informational.

use serde::Deserialize;
use serde_json::Value;

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
        let named = [
            &fields.severity,
            &fields.level,
            &fields.log_level,
            &fields.risk,
            &fields.risk_level,
            &fields.status,
            &fields.outcome,
            &fields.result,
        ];
        named
            .into_iter()
            .filter_map(|value| value.as_ref()?.as_str())
            .find_map(Severity::named)
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
            "err" | "error" | "high" => Severity::Error,
            "warn" | "warning" | "medium" | "failure" | "failed" | "fail" | "denied" | "deny"
            | "blocked" => Severity::Warning,
            "notice" | "pending" => Severity::Notice,
            "info" | "informational" | "low" | "success" | "allowed" | "allow" | "ok" => {
                Severity::Informational
            }
            "debug" | "trace" => Severity::Debug,
            _ => return None,
        };
        Some(severity)
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
}

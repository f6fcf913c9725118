//! The rules the seeds ask for (`shared/seeds`), on events shaped like the samples.

use super::*;

fn keeps(policy: &Policy, event: &str) -> bool {
    keeps_at(policy, event, 0)
}

/// Whether `policy` keeps `event`, whose time is `time_ms`.
fn keeps_at(policy: &Policy, event: &str, time_ms: i64) -> bool {
    let seen = Event {
        json: event,
        time_ms,
    };
    policy.keeps(&values(policy, event), &seen)
}

/// The values `policy` reads from `event` (a JSON object), as the reader captures them.
fn values<'e>(policy: &Policy, event: &str) -> Vec<Option<Value<'e>>> {
    let event: serde_json::Value = serde_json::from_str(event).unwrap();
    policy
        .paths()
        .iter()
        .map(|path| {
            let mut value = &event;
            for part in path {
                value = value.get(part)?;
            }
            Some(match value {
                serde_json::Value::String(text) => Value::Text(Cow::Owned(text.clone())),
                serde_json::Value::Number(n) => Value::Number(match n.as_i64() {
                    Some(integer) => Number::Integer(integer.into()),
                    None => match n.as_u64() {
                        Some(integer) => Number::Integer(integer.into()),
                        None => Number::Float(n.as_f64().unwrap()),
                    },
                }),
                serde_json::Value::Bool(b) => Value::Bool(*b),
                serde_json::Value::Null => Value::Null,
                _ => Value::Other,
            })
        })
        .collect()
}

const PROXY: &str = r#"
[keep]
all = [
  { field = "sanitized_count", gte = 1 },
  { field = "host", in = ["api.openai.com", "api.anthropic.com"] },
]
[drop]
any = [{ field = "path", in = ["/health", "/metrics"] }]
"#;

#[test]
fn the_proxy_seed_keeps_sanitized_requests_to_some_domains_but_not_health_checks() {
    let policy = Policy::parse(PROXY).unwrap();
    let event = |count: u32, host: &str, path: &str| {
        format!(r#"{{"request_id":"r","host":"{host}","path":"{path}","sanitized_count":{count}}}"#)
    };
    assert!(keeps(&policy, &event(1, "api.openai.com", "/v1/chat")));
    assert!(
        !keeps(&policy, &event(0, "api.openai.com", "/v1/chat")),
        "nothing sanitized"
    );
    assert!(
        !keeps(&policy, &event(2, "internal.health", "/v1/chat")),
        "another domain"
    );
    assert!(
        !keeps(&policy, &event(2, "api.anthropic.com", "/health")),
        "a health check"
    );
    assert!(
        !keeps(&policy, r#"{"host":"api.openai.com","path":"/x"}"#),
        "no count: false, not an error"
    );
    assert!(
        !keeps(
            &policy,
            r#"{"host":"api.openai.com","path":"/x","sanitized_count":"3"}"#
        ),
        "a count that is text"
    );
}

#[test]
fn event_types_severities_outcomes_actors_and_tenants() {
    let policy = Policy::parse(
        r#"
[keep]
all = [
  { field = "event_type", in = ["auth.login", "auth.login_failed"] },
  { any = [{ field = "severity", in = ["WARNING", "ERROR"], case_insensitive = true }, { field = "outcome", eq = "failure" }] },
  { not = { field = "actor_id", eq = "u-system" } },
  { field = "tenant.id", prefix = "acme-" },
]
"#,
    )
    .unwrap();
    let event = |kind: &str, severity: &str, outcome: &str, actor: &str, tenant: &str| {
        format!(
            r#"{{"event_type":"{kind}","severity":"{severity}","outcome":"{outcome}","actor_id":"{actor}","tenant":{{"id":"{tenant}"}}}}"#
        )
    };
    assert!(keeps(
        &policy,
        &event("auth.login", "warning", "success", "u-1", "acme-eu")
    ));
    assert!(keeps(
        &policy,
        &event("auth.login_failed", "info", "failure", "u-1", "acme-us")
    ));
    assert!(!keeps(
        &policy,
        &event("config.changed", "error", "failure", "u-1", "acme-eu")
    ));
    assert!(!keeps(
        &policy,
        &event("auth.login", "info", "success", "u-1", "acme-eu")
    ));
    assert!(!keeps(
        &policy,
        &event("auth.login", "error", "success", "u-system", "acme-eu")
    ));
    assert!(!keeps(
        &policy,
        &event("auth.login", "error", "success", "u-1", "other")
    ));
    assert_eq!(
        policy.paths().len(),
        5,
        "each field once: {:?}",
        policy.paths()
    );
}

#[test]
fn text_tests_glob_regex_exists_and_numbers() {
    let policy = Policy::parse(
        r#"
[drop]
any = [
  { field = "actor.email", glob = "*@EXAMPLE.test", case_insensitive = true },
  { field = "path", regex = "^/(internal|debug)/" },
  { field = "path", suffix = ".png" },
  { field = "debug", exists = true },
  { field = "latency_ms", gt = 10000 },
  { field = "risk", lte = 0.1 },
  { field = "dry_run", eq = true },
]
"#,
    )
    .unwrap();
    assert!(!keeps(&policy, r#"{"actor":{"email":"bob@example.TEST"}}"#));
    assert!(!keeps(&policy, r#"{"path":"/internal/x"}"#));
    assert!(!keeps(&policy, r#"{"path":"/logo.png"}"#));
    assert!(!keeps(&policy, r#"{"debug":null}"#), "present, even null");
    assert!(!keeps(&policy, r#"{"latency_ms":10001}"#));
    assert!(!keeps(&policy, r#"{"risk":0.05}"#));
    assert!(!keeps(&policy, r#"{"dry_run":true}"#));
    assert!(keeps(
        &policy,
        r#"{"actor":{"email":"bob@example.org"},"path":"/v1","latency_ms":5,"risk":0.5,"dry_run":false}"#
    ));
    assert!(
        keeps(&policy, r#"{"actor":"bob"}"#),
        "a path through a non-object is absent"
    );
}

#[test]
fn no_rule_keeps_everything_and_ne_holds_for_a_missing_field() {
    assert!(keeps(&Policy::parse("").unwrap(), r#"{"a":1}"#));
    let policy = Policy::parse(r#"keep = { field = "env", ne = "test" }"#).unwrap();
    assert!(keeps(&policy, r#"{"a":1}"#));
    assert!(!keeps(&policy, r#"{"env":"test"}"#));
}

#[test]
fn a_bad_policy_is_refused_with_where() {
    let error = |text: &str| Policy::parse(text).unwrap_err();
    let unknown = error("[keep]\nfield = \"a\"\nequals = 1\n");
    assert!(
        unknown.contains("unknown field `equals`") && unknown.contains("line 3"),
        "{unknown}"
    );
    let two = error("[keep]\nall = [\n  { field = \"a\", eq = 1, ne = 2 },\n]\n");
    assert!(
        two.starts_with("keep.all[0] (line 3, column 3)") && two.contains("one test"),
        "{two}"
    );
    let none = error("[drop]\nfield = \"a\"\n");
    assert!(none.contains("needs one of eq"), "{none}");
    let regex = error("keep = { field = \"a\", regex = \"(\" }");
    assert!(regex.contains("regex `(`"), "{regex}");
    let path = error("keep = { field = \"a..b\", exists = true }");
    assert!(path.contains("not a field path"), "{path}");
    let deep = format!(
        "keep = {}{{ field = \"a\", exists = true }}{}",
        "{ not = ".repeat(20),
        " }".repeat(20)
    );
    assert!(error(&deep).contains("nest deeper"), "{}", error(&deep));
    assert!(error("keep = { field = \"a\", gt = \"x\" }").contains("take a number"));
}

#[test]
fn the_first_route_that_matches_names_the_destinations_and_no_match_means_everywhere() {
    let policy = Policy::parse(
        r#"
[[route]]
when = { field = "tenant", eq = "acme" }
to = ["splunk-acme"]
[[route]]
when = { field = "event.severity", gte = 7 }
to = ["pager", "splunk-acme"]
"#,
    )
    .unwrap();
    let route = |event: &str| {
        policy
            .route(
                &values(&policy, event),
                &Event {
                    json: event,
                    time_ms: 0,
                },
            )
            .map(<[String]>::to_vec)
    };
    assert_eq!(
        route(r#"{"tenant":"acme","event":{"severity":9}}"#),
        Some(vec!["splunk-acme".to_owned()])
    );
    assert_eq!(
        route(r#"{"tenant":"other","event":{"severity":9}}"#),
        Some(vec!["pager".to_owned(), "splunk-acme".to_owned()])
    );
    assert_eq!(route(r#"{"tenant":"other"}"#), None);
    assert_eq!(policy.route_targets(), ["splunk-acme", "pager"]);
    assert!(keeps(&policy, r#"{"tenant":"other"}"#));

    let catch_all = Policy::parse("[[route]]\nto = [\"archive\"]\n").unwrap();
    assert_eq!(
        catch_all.route(
            &values(&catch_all, "{}"),
            &Event {
                json: "{}",
                time_ms: 0
            }
        ),
        Some(&["archive".to_owned()][..])
    );
    let empty = Policy::parse("\n[[route]]\nto = []\n").unwrap_err();
    assert!(
        empty.starts_with("route[0] (line 2, column 1)") && empty.contains("one destination"),
        "{empty}"
    );
}

/// Integers compared through f64 made ids past 2^53 equal to their neighbours.
#[test]
fn integers_compare_exactly_and_with_floats_by_value() {
    let policy = Policy::parse(
        r#"
[keep]
any = [
  { field = "id", eq = 9007199254740993 },
  { field = "id", in = [18014398509481985] },
  { field = "big", gt = 9007199254740992 },
  { field = "ratio", gt = 2 },
]
"#,
    )
    .unwrap();
    assert!(keeps(&policy, r#"{"id":9007199254740993}"#));
    assert!(
        !keeps(&policy, r#"{"id":9007199254740992}"#),
        "2^53 is not 2^53 + 1"
    );
    assert!(keeps(&policy, r#"{"id":18014398509481985}"#));
    assert!(!keeps(&policy, r#"{"id":18014398509481984}"#));
    assert!(keeps(&policy, r#"{"big":9007199254740993}"#));
    assert!(!keeps(&policy, r#"{"big":9007199254740992}"#));
    assert!(keeps(&policy, r#"{"ratio":2.5}"#));
    assert!(!keeps(&policy, r#"{"ratio":2.0}"#));
    assert!(!keeps(&policy, r#"{"ratio":1e-300}"#));
    assert!(keeps(&policy, r#"{"ratio":1e300}"#));
    assert_eq!(
        Number::Integer(-3).compare(Number::Float(-2.5)),
        Some(std::cmp::Ordering::Less)
    );
    assert_eq!(
        Number::Float(-2.5).compare(Number::Integer(-2)),
        Some(std::cmp::Ordering::Less)
    );
    assert_eq!(
        Number::Integer(i128::MAX).compare(Number::Float(1e300)),
        Some(std::cmp::Ordering::Less)
    );
}

#[test]
fn in_looks_texts_up_folded_when_case_insensitive() {
    let policy = Policy::parse(
        r#"
[keep]
all = [{ field = "level", in = ["WARN", "Érreur", 3], case_insensitive = true }]
"#,
    )
    .unwrap();
    assert!(keeps(&policy, r#"{"level":"warn"}"#));
    assert!(keeps(&policy, r#"{"level":"wArN"}"#));
    assert!(keeps(&policy, r#"{"level":"ÉRREUR"}"#));
    assert!(keeps(&policy, r#"{"level":3}"#));
    assert!(!keeps(&policy, r#"{"level":"3"}"#));
    assert!(!keeps(&policy, r#"{"level":"info"}"#));
}

#[test]
fn after_and_before_test_the_events_time_absolute_or_relative_to_the_compile() {
    let now: jiff::Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
    let ms = |at: &str| at.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    let window = Policy::parse_at(
        r#"keep = { all = [{ after = "2026-03-01T00:00:00Z" }, { before = "2026-03-02T00:00:00+00:00" }] }"#,
        now,
    )
    .unwrap();
    // At or after `after`, strictly before `before`.
    assert!(keeps_at(&window, "{}", ms("2026-03-01T00:00:00Z")));
    assert!(keeps_at(&window, "{}", ms("2026-03-01T23:59:59.999Z")));
    assert!(!keeps_at(&window, "{}", ms("2026-03-02T00:00:00Z")));
    assert!(!keeps_at(&window, "{}", ms("2026-02-28T23:59:59Z")));

    let last_day = Policy::parse_at(r#"keep = { after = "-24h" }"#, now).unwrap();
    assert!(keeps_at(&last_day, "{}", ms("2026-03-09T12:00:00Z")));
    assert!(!keeps_at(&last_day, "{}", ms("2026-03-09T11:59:59Z")));
    let last_week = Policy::parse_at(r#"drop = { before = "-7d" }"#, now).unwrap();
    assert!(keeps_at(&last_week, "{}", ms("2026-03-03T12:00:00Z")));
    assert!(!keeps_at(&last_week, "{}", ms("2026-03-03T11:00:00Z")));

    let error = Policy::parse_at("\nkeep = { after = \"yesterday\" }", now).unwrap_err();
    assert!(
        error.starts_with("keep (line 2, column 8)") && error.contains("RFC 3339"),
        "{error}"
    );
    // A span forward of now is not a bound anyone means by `after = "24h"`.
    for forward in ["24h", "+24h", "PT1H", "0s"] {
        let error =
            Policy::parse_at(&format!("keep = {{ after = \"{forward}\" }}"), now).unwrap_err();
        assert!(error.contains("a span back from now"), "{forward}: {error}");
    }
    let mixed = Policy::parse_at(r#"keep = { after = "-1h", eq = 1 }"#, now).unwrap_err();
    assert!(mixed.contains("no field test beside them"), "{mixed}");
}

#[test]
fn search_looks_in_every_string_value_not_in_keys_and_through_escapes() {
    let policy = Policy::parse(r#"keep = { search = "admin" }"#).unwrap();
    assert!(keeps(&policy, r#"{"actor":{"roles":["user","admin"]}}"#));
    assert!(keeps(&policy, r#"{"path":"/v1/admin/users"}"#));
    // A key is not a value; nor is a number.
    assert!(!keeps(&policy, r#"{"admin":true,"n":1}"#));
    // An escape cannot hide the words.
    assert!(keeps(&policy, r#"{"role":"\u0061dmin"}"#));
    assert!(!keeps(&policy, r#"{"role":"Admin"}"#));
    let folded = Policy::parse(r#"keep = { search = "ADMIN", case_insensitive = true }"#).unwrap();
    assert!(keeps(&folded, r#"{"role":"Admin"}"#));
    // Words with a quote are found behind its escape.
    let quoted = Policy::parse(r#"keep = { search = 'say "hi"' }"#).unwrap();
    assert!(keeps(&quoted, r#"{"m":"they say \"hi\" often"}"#));
    assert!(!keeps(&quoted, r#"{"m":"they say hi"}"#));
    assert!(Policy::parse(r#"keep = { search = "" }"#).is_err());
    let long = format!("keep = {{ search = \"{}\" }}", "a".repeat(1025));
    let error = Policy::parse(&long).unwrap_err();
    assert!(
        error.contains("1 to 1024 characters") && error.len() < 200,
        "{error}"
    );
    // Keys and values at every depth, in arrays and objects.
    assert!(!keeps(
        &policy,
        r#"{"a":[{"admin":1},"x",{"b":{"admin":[]}}]}"#
    ));
    assert!(keeps(&policy, r#"{"a":[{"k":1},{"admin":"the admin"}]}"#));
    assert!(keeps(&policy, r#"{"a":[[],[["admin"]]]}"#));
    assert!(!keeps(&policy, r#"{"ad\"min admin":"x"}"#));
    assert!(keeps(&policy, r#"{"ad\"min":"x","y":"\"admin\u0020"}"#));
    assert!(!keeps(&policy, r#"{"x\\":"ad","min":"min"}"#));
}

#[test]
fn contains_tests_one_fields_text() {
    let policy = Policy::parse(
        r#"drop = { field = "path", contains = "/internal/", case_insensitive = true }"#,
    )
    .unwrap();
    assert!(!keeps(&policy, r#"{"path":"/api/INTERNAL/x"}"#));
    assert!(keeps(&policy, r#"{"path":"/api/public/x"}"#));
    assert!(keeps(&policy, r#"{"other":"/internal/"}"#));
}

#[test]
fn require_names_every_field_an_event_lacks() {
    let policy = Policy::parse("[require]\nfields = [\"tenant_id\", \"actor.id\"]\n").unwrap();
    assert!(policy.requires());
    let missing = |event: &str| -> Vec<String> {
        let values = values(&policy, event);
        policy.missing(&values).map(str::to_owned).collect()
    };
    assert!(missing(r#"{"tenant_id":"t1","actor":{"id":"u1"}}"#).is_empty());
    assert!(missing(r#"{"tenant_id":"t1","actor":{"id":7}}"#).is_empty());
    assert_eq!(missing(r#"{"actor":{"id":"u1"}}"#), ["tenant_id"]);
    assert_eq!(
        missing(r#"{"tenant_id":"","actor":{"id":"u1"}}"#),
        ["tenant_id"]
    );
    assert_eq!(
        missing(r#"{"tenant_id":"t","actor":{"id":null}}"#),
        ["actor.id"]
    );
    assert_eq!(missing(r#"{"actor":{}}"#), ["tenant_id", "actor.id"]);
    assert!(
        !Policy::parse("keep = { field = \"a\", exists = true }")
            .unwrap()
            .requires()
    );
    let empty = Policy::parse("[require]\nfields = []\n").unwrap_err();
    assert!(empty.starts_with("require (line 1, column 1)"), "{empty}");
}

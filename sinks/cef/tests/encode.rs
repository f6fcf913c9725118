//! CEF lines, natively, against the ArcSight CEF specification and the hostile lines of
//! `edge-cases.jsonl`.

use sluice_guest::cef::Cef;
use sluice_guest::siem::LineSettings;
use sluice_guest::{Batch, EventId, Settings, TimeSource};

fn cef(pairs: &[(&str, &str)]) -> Cef {
    let values = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::new(values, [LineSettings::docs(), Cef::docs()].concat());
    Cef::new(
        LineSettings::from_settings(&settings).unwrap(),
        &settings,
        "host1",
    )
    .unwrap()
}

fn line(cef: &Cef, json: &str) -> String {
    let mut batch = Batch::new();
    batch.push(json, 1_714_566_896_789, TimeSource::Event, EventId(7));
    cef.line(&batch.event(0))
}

/// C1 to C3: header escaping (`|`, `\`; `=` kept) apart from extension escaping (`=`,
/// `\`, LF; `|` kept), in one line.
#[test]
fn a_full_line_matches_vector_c3() {
    let cef = cef(&[
        ("vendor", "Acme"),
        ("product", "AuditSvc"),
        ("product_version", "1.0"),
        ("fields", "rt=,dvchost=,suser=user,msg=note,act=what"),
        ("other_fields", "drop"),
    ]);
    let json = r#"{"event_type":"100","message":"detected a | and \\ here","severity":"error","user":"bob","note":"a=b\\c\nd","what":"blocked a | b"}"#;
    assert_eq!(
        line(&cef, json),
        r"CEF:0|Acme|AuditSvc|1.0|100|detected a \| and \\ here|7|suser=bob msg=a\=b\\c\nd act=blocked a | b"
    );
}

/// The default mapping of a sample event: time, host, the audit fields under their CEF
/// keys, the rest in labelled custom strings.
#[test]
fn a_secrets_manager_event_maps_to_cef_keys() {
    let json = r#"{"timestamp":"2026-11-20T08:00:00.053Z","event_type":"secret.read","org_id":"org_8f2k","project":"my-saas","environment":"staging","actor":{"type":"user","id":"tok_486","name":"railway-deploy"},"resource":{"type":"secret","key":"STRIPE_KEY"},"source_ip":"203.0.113.42","user_agent":"zvault-sdk-node/0.1.0","result":"success"}"#;
    let line = line(&cef(&[]), json);
    assert!(
        line.starts_with("CEF:0|Sluice|Sluice|1.0|secret.read|secret.read|1|rt=1714566896789 dvchost=host1 suser=railway-deploy suid=tok_486 src=203.0.113.42 act=secret.read outcome=success fname=STRIPE_KEY requestClientApplication=zvault-sdk-node/0.1.0 "),
        "{line}"
    );
    assert!(
        line.contains("cs1=") && line.contains("cs1Label="),
        "{line}"
    );
    assert!(
        line.contains("Label=environment") && line.contains("=staging"),
        "{line}"
    );
}

#[test]
fn an_ipv6_source_goes_to_a_labelled_custom_address() {
    let json = r#"{"id":"x","timestamp":"2026-11-20T08:00:00Z","event_type":"auth.login","actor_id":"u-1","actor_roles":["dev"],"actor_ip":"2001:db8::7"}"#;
    let line = line(&cef(&[("other_fields", "drop")]), json);
    assert!(
        line.contains(" c6a2=2001:db8::7 c6a2Label=Source IPv6 Address"),
        "{line}"
    );
    assert!(!line.contains(" src="), "{line}");
}

/// Past five other fields, `cs6` holds the rest as one JSON object.
#[test]
fn more_than_six_other_fields_fold_into_cs6() {
    let json = r#"{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7"}"#;
    let line = line(&cef(&[]), json);
    assert!(
        line.contains(r#"cs6={"f":"6","g":"7"} cs6Label=others"#),
        "{line}"
    );
    assert!(line.contains("cs5=5 cs5Label=e"), "{line}");
}

#[test]
fn bad_settings_are_named() {
    for (key, value) in [("fields", "su ser=x"), ("other_fields", "keep")] {
        let values = vec![(key.to_owned(), value.to_owned())];
        let Err(sluice_guest::FormatError::InvalidSetting(problem)) =
            LineSettings::from_settings(&Settings::new(values, LineSettings::docs()))
        else {
            panic!("{key} = {value} accepted")
        };
        assert_eq!(problem.key, key);
    }
}

/// Every hostile line of `edge-cases.jsonl` makes one CEF line: no raw line break or
/// control character, seven header fields before the extension.
#[test]
fn every_edge_case_makes_one_cef_line() {
    let cef = cef(&[]);
    let events = sluice_sink_cases::edge_case_events();
    assert!(events.len() >= 14, "{} edge cases", events.len());
    for event in &events {
        let line = line(&cef, event);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        // Header fields end at unescaped pipes: seven of them before the extension.
        let unescaped_pipes = line
            .char_indices()
            .filter(|&(i, c)| c == '|' && backslashes_before(&line, i).is_multiple_of(2))
            .count();
        assert!(unescaped_pipes >= 7, "{line}");
    }
}

fn backslashes_before(line: &str, index: usize) -> usize {
    line[..index]
        .chars()
        .rev()
        .take_while(|&c| c == '\\')
        .count()
}

/// A CEF line read back: its header fields, and its extension's pairs.
type Parsed = (Vec<String>, Vec<(String, String)>);

/// A CEF line read as a strict parser reads it: the seven header fields (unescaped) and
/// the extension's pairs; `None` when the header does not have seven fields or holds a
/// `\` that escapes nothing.
fn parse(line: &str) -> Option<Parsed> {
    let mut header = vec![String::new()];
    let mut chars = line.chars();
    while header.len() < 8 {
        match chars.next()? {
            '\\' => match chars.next()? {
                c @ ('\\' | '|') => header.last_mut()?.push(c),
                _ => return None,
            },
            '|' => header.push(String::new()),
            c => header.last_mut()?.push(c),
        }
    }
    header.pop();
    let extension: String = chars.collect();
    // Keys are words before an unescaped `=`; a value runs to the next key.
    let mut pairs: Vec<(String, String)> = Vec::new();
    for word in extension.split(' ') {
        match word.split_once('=') {
            Some((key, value)) if !key.contains('\\') && is_cef_key(key) => {
                pairs.push((key.to_owned(), value.to_owned()))
            }
            _ => {
                let (_, value) = pairs.last_mut()?;
                value.push(' ');
                value.push_str(word);
            }
        }
    }
    Some((header, pairs))
}

fn is_cef_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A header field was cut to its length after escaping, so it could end in the `\` of
/// an escape, which then escaped the next separator: Name took the Severity, and the
/// Severity the whole extension.
#[test]
fn a_header_field_is_cut_before_it_is_escaped() {
    let cef = cef(&[
        ("vendor", &format!("{}|", "v".repeat(62))),
        ("fields", "suser=user"),
    ]);
    for field in ["event_type", "message"] {
        let json = format!(
            r#"{{"{field}":"{}|x","user":"bob","action":"login"}}"#,
            "a".repeat(if field == "message" { 511 } else { 1022 })
        );
        let line = line(&cef, &json);
        let (header, pairs) = parse(&line).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(header.len(), 7, "{line}");
        assert!(header[6].parse::<u8>().is_ok(), "severity: {line}");
        assert!(
            header[1].ends_with('|'),
            "the vendor cut at 63: {}",
            header[1]
        );
        assert!(pairs.iter().any(|(k, _)| k == "rt"), "{line}");
        assert!(
            pairs.iter().any(|(k, v)| k == "suser" && v == "bob"),
            "{line}"
        );
    }
}

/// Seed 003 labels its slots with text (`cs1Label=Environment`); a label used to be read
/// as an event path (README's own `cs1Label=tenant_label` sent `cs1` unnamed). The
/// field that would have had the slot moves to the next one.
#[test]
fn a_label_is_the_text_given_and_the_displaced_field_moves_on() {
    let cef = cef(&[("fields", "cs1=tenant_id,cs1Label=Tenant")]);
    let line = line(
        &cef,
        r#"{"tenant_id":"T1","environment":"dev","tenant_label":"not this"}"#,
    );
    let (_, pairs) = parse(&line).unwrap();
    let has = |key: &str, value: &str| pairs.iter().any(|(k, v)| k == key && v == value);
    assert!(has("cs1", "T1") && has("cs1Label", "Tenant"), "{line}");
    // Each other field in a slot of its own, with its own label.
    for (field, value) in [("environment", "dev"), ("tenant_label", "not this")] {
        let slot = (2..=6).find(|n| has(&format!("cs{n}Label"), field));
        let slot = slot.unwrap_or_else(|| panic!("{field}: {line}"));
        assert!(has(&format!("cs{slot}"), value), "{line}");
    }
}

/// A mapping CEF cannot write is a setting to fix, found at `check`.
#[test]
fn a_slot_cef_lacks_or_a_label_without_its_value_is_refused() {
    for fields in ["cs7=x", "cs2Label=Tenant"] {
        let values = vec![("fields".to_owned(), fields.to_owned())];
        let settings = Settings::new(values, LineSettings::docs());
        let line = LineSettings::from_settings(&settings).unwrap();
        assert!(Cef::new(line, &settings, "h").is_err(), "{fields}");
    }
}

/// `fields = "cs1=tenant_id"` used to leave the first custom label to another field
/// (`cs1=T1 ... cs1Label=alpha`), and an empty value left a label without its value.
#[test]
fn a_custom_label_travels_with_its_value() {
    let cef = cef(&[("fields", "cs1=tenant_id")]);
    let line = line(
        &cef,
        r#"{"tenant_id":"T1","alpha":"A","empty":"","beta":"B"}"#,
    );
    let (_, pairs) = parse(&line).unwrap();
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(value("cs1"), Some("T1"), "{line}");
    // Unnamed, a value could not be read: the path names it.
    assert_eq!(value("cs1Label"), Some("tenant_id"), "{line}");
    for n in 2..=6 {
        let label = format!("cs{n}Label");
        let key = format!("cs{n}");
        assert_eq!(value(&label).is_some(), value(&key).is_some(), "{line}");
    }
    assert_eq!(value("cs2"), Some("A"), "{line}");
    assert_eq!(value("cs2Label"), Some("alpha"), "{line}");
    assert_eq!(value("cs3"), Some("B"), "{line}");
    assert_eq!(value("cs3Label"), Some("beta"), "{line}");
}

/// An event nested 127 deep (within the host's limit) made the SDK's parse of its
/// mapping fail and the module trap: the whole batch was dead-lettered. A number past
/// the f64 range emptied the line of every field but `rt` and `dvchost`.
#[test]
fn deep_events_and_huge_numbers_make_whole_lines() {
    let cef = cef(&[("fields", "suser=user")]);
    let deep = format!("{}1{}", r#"{"a":"#.repeat(126), "}".repeat(126));
    for json in [
        format!(r#"{{"event_type":"x","user":"bob","deep":{deep}}}"#),
        r#"{"event_type":"x","user":"bob","n":1e400,"m":-9223372036854775809}"#.to_owned(),
    ] {
        let line = line(&cef, &json);
        let (header, pairs) = parse(&line).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(header[4], "x", "{line}");
        assert!(
            pairs.iter().any(|(k, v)| k == "suser" && v == "bob"),
            "{line}"
        );
    }
    let line = line(
        &cef,
        r#"{"event_type":"x","n":1e400,"m":-9223372036854775809}"#,
    );
    assert!(
        line.contains("=1e400") && line.contains("=-9223372036854775809"),
        "the numbers' own text: {line}"
    );
}

/// Seed 004's lines: `CEF:0|ZVault|Cloud|1.0|secret.read|Secret Read|3|...`, a read
/// being 3 on seed 003's five levels; a denial 5 there, a failure 7.
#[test]
fn seed_004s_header_comes_from_the_readable_type_and_the_five_levels() {
    let cef = cef(&[
        ("vendor", "ZVault"),
        ("product", "Cloud"),
        ("cef_name", "type"),
        ("severity_map", "five_levels"),
    ]);
    let read = r#"{"event_type":"secret.read","message":"a read","actor":{"id":"tok_1"},"result":"success"}"#;
    assert!(
        line(&cef, read).starts_with("CEF:0|ZVault|Cloud|1.0|secret.read|Secret Read|3|"),
        "{}",
        line(&cef, read)
    );
    let denied = r#"{"event_type":"AUTHZ_DENIED"}"#;
    assert!(line(&cef, denied).starts_with("CEF:0|ZVault|Cloud|1.0|AUTHZ_DENIED|Authz Denied|5|"));
    let failed = r#"{"event_type":"deploy","result":"failure"}"#;
    assert!(
        line(&cef, failed).contains("|Deploy|7|"),
        "{}",
        line(&cef, failed)
    );
}

/// From a hostile run: a mapped slot the event lacks left its label alone on the line,
/// and a value a destination mapped was not cut to its key's limit.
#[test]
fn a_label_leaves_with_its_missing_value_and_mapped_values_are_cut() {
    let cef = cef(&[("fields", "cs1=tenant_id,cs1Label=Tenant,externalId=id")]);
    let line = line(
        &cef,
        r#"{"event_type":"x","id":"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE"}"#,
    );
    assert!(!line.contains("cs1Label"), "{line}");
    let (_, pairs) = parse(&line).unwrap();
    let external = pairs.iter().find(|(k, _)| k == "externalId").unwrap();
    assert_eq!(external.1.chars().count(), 40, "{line}");
}

/// A syslog number written as text ("0") in the `severity_field` is that severity.
#[test]
fn a_severity_field_may_hold_a_number_as_text() {
    let cef = cef(&[("severity_field", "level")]);
    assert!(line(&cef, r#"{"event_type":"x","level":"0"}"#).contains("|x|x|10|"));
    assert!(line(&cef, r#"{"event_type":"x","level":" error "}"#).contains("|x|x|7|"));
}

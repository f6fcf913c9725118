//! LEEF lines, natively, against `protocols.md` section 10.6 and the hostile lines of
//! `edge-cases.jsonl`.

use sluice_guest::leef::Leef;
use sluice_guest::{Batch, EventId, Settings, TimeSource};

fn leef(pairs: &[(&str, &str)]) -> Leef {
    let values = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let docs = [sluice_guest::siem::LineSettings::docs(), Leef::docs()].concat();
    Leef::from_settings(&Settings::new(values, docs)).unwrap()
}

fn line(leef: &Leef, json: &str) -> String {
    let mut batch = Batch::new();
    batch.push(json, 1_714_566_896_789, TimeSource::Event, EventId(7));
    leef.line(&batch.event(0))
}

const ACME: [(&str, &str); 4] = [
    ("vendor", "Acme"),
    ("product", "AuditSvc"),
    ("product_version", "1.0"),
    ("other_fields", "drop"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    [&ACME[..], extra].concat()
}

/// L1: LEEF 1.0, tab-delimited, the time in epoch milliseconds (91 bytes).
#[test]
fn leef_1_matches_vector_l1() {
    let leef = leef(&with(&[
        ("leef_version", "1.0"),
        ("fields", "cat=result,usrName=user,src=ip,outcome=,sev="),
    ]));
    let line = line(
        &leef,
        r#"{"event_type":"login","result":"Success","user":"bob","ip":"10.0.0.1"}"#,
    );
    assert_eq!(
        line,
        "LEEF:1.0|Acme|AuditSvc|1.0|login|cat=Success\tusrName=bob\tsrc=10.0.0.1\tdevTime=1714566896789"
    );
    assert_eq!(line.len(), 91);
}

/// L2: LEEF 2.0 with `^`, a formatted devTime and its format.
#[test]
fn leef_2_matches_vector_l2() {
    let leef = leef(&with(&[
        ("delimiter", "^"),
        ("dev_time_format", "MMM dd yyyy HH:mm:ss.SSS z"),
        ("fields", "cat=result,usrName=user,outcome="),
    ]));
    let json = r#"{"event_type":"login","result":"Failed","user":"bob","severity":"warning"}"#;
    assert_eq!(
        line(&leef, json),
        "LEEF:2.0|Acme|AuditSvc|1.0|login|^|cat=Failed^usrName=bob^sev=5^devTime=May 01 2024 12:34:56.789 UTC^devTimeFormat=MMM dd yyyy HH:mm:ss.SSS z"
    );
}

/// L3: a delimiter given as a hex code is declared as given.
#[test]
fn a_hex_delimiter_matches_vector_l3() {
    let leef = leef(&with(&[
        ("delimiter", "x09"),
        ("fields", "cat=result,usrName=user,outcome=,sev=,devTime="),
    ]));
    let json = r#"{"event_type":"login","result":"Failed","user":"bob"}"#;
    assert_eq!(
        line(&leef, json),
        "LEEF:2.0|Acme|AuditSvc|1.0|login|x09|cat=Failed\tusrName=bob"
    );
}

/// L4: LEEF has no escape; the delimiter in a value becomes a space, `|` in a header
/// field an `_`.
#[test]
fn the_delimiter_in_a_value_is_sanitised_as_vector_l4() {
    let leef = leef(&[
        ("vendor", "Ac|me"),
        ("delimiter", "^"),
        ("fields", "usrName=user,sev=,devTime="),
        ("other_fields", "drop"),
    ]);
    let line = line(&leef, r#"{"event_type":"log|in","user":"jo^e"}"#);
    assert_eq!(line, "LEEF:2.0|Ac_me|Sluice|1.0|log_in|^|usrName=jo e");
}

#[test]
fn bad_settings_are_named() {
    for (key, value) in [
        ("leef_version", "3.0"),
        ("delimiter", "|"),
        ("delimiter", "ab"),
        ("dev_time_format", "yyyy"),
    ] {
        let values = vec![(key.to_owned(), value.to_owned())];
        let docs = [sluice_guest::siem::LineSettings::docs(), Leef::docs()].concat();
        let Err(sluice_guest::FormatError::InvalidSetting(problem)) =
            Leef::from_settings(&Settings::new(values, docs))
        else {
            panic!("{key} = {value} accepted")
        };
        assert_eq!(problem.key, key);
    }
}

/// Every hostile line of `edge-cases.jsonl` makes one LEEF line whose attributes split
/// on the delimiter into `key=value` pairs, with no control character but the tab.
#[test]
fn every_edge_case_makes_one_leef_line() {
    let leef = leef(&[]);
    let events = sluice_sink_cases::edge_case_events();
    assert!(events.len() >= 14, "{} edge cases", events.len());
    for event in &events {
        let line = line(&leef, event);
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "{line:?}"
        );
        let header: Vec<&str> = line.splitn(7, '|').collect();
        assert_eq!(header.len(), 7, "{line}");
        assert_eq!(header[5], "x09");
        for attribute in header[6].split('\t') {
            let (key, _) = attribute
                .split_once('=')
                .unwrap_or_else(|| panic!("{attribute:?} in {line}"));
            assert!(sluice_guest::siem::is_key(key), "{key:?} in {line}");
        }
    }
}

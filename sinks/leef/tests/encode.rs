//! LEEF lines, natively, against IBM's LEEF specification and the hostile lines of
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

/// A LEEF line's attributes as a strict reader splits them: on the delimiter, then on
/// the first `=`; `None` when an attribute has no `=`.
fn attributes(line: &str, delimiter: char) -> Option<Vec<(String, String)>> {
    let header_fields = if line.starts_with("LEEF:2.0|") { 6 } else { 5 };
    let attributes = line.splitn(header_fields + 1, '|').nth(header_fields)?;
    attributes
        .split(delimiter)
        .map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

fn keys_once(pairs: &[(String, String)]) -> bool {
    let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.windows(2).all(|w| w[0] != w[1])
}

/// An event's own `usrName`, `devTime`, `sev` or `src` member was written under LEEF's
/// key of that name, a second time: forged attributes. The shipped devops sample gave
/// two `outcome=` in 61 of 80 lines.
#[test]
fn an_event_field_never_takes_a_key_the_line_writes_or_leef_defines() {
    let leef = leef(&[("fields", "usrName=actor")]);
    let json = r#"{"actor":"alice","usrName":"admin","devTime":"0","sev":"1","src":"10.9.9.9","cat":"forged","outcome":"ok","meta":{"usrName":"x"}}"#;
    let line = line(&leef, json);
    let pairs = attributes(&line, '\t').unwrap();
    assert!(keys_once(&pairs), "{line}");
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(value("usrName").as_deref(), Some("alice"), "{line}");
    assert_eq!(value("devTime").as_deref(), Some("1714566896789"), "{line}");
    assert_eq!(value("meta_usrName").as_deref(), Some("x"), "{line}");
    let overflow: serde_json::Value =
        serde_json::from_str(&value("sluiceOtherFields").unwrap()).unwrap();
    for (name, text) in [
        ("usrName", "admin"),
        ("devTime", "0"),
        ("sev", "1"),
        ("src", "10.9.9.9"),
        ("cat", "forged"),
    ] {
        assert_eq!(overflow[name], text, "{line}");
    }

    let devops = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/devops-agent-audit.jsonl"
    ))
    .unwrap();
    for event in devops.lines() {
        let written = self::line(&leef, event);
        assert!(keys_once(&attributes(&written, '\t').unwrap()), "{written}");
    }
}

/// Names that are not plain words vanished (`_actor`, `été`, `1x`, `@src`), and names
/// that differ only in punctuation merged (`a.b`, `a b`, `a=b` all became `a_b`).
#[test]
fn no_field_name_is_lost_or_merged() {
    let json =
        r#"{"_actor":"1","été":"2","1x":"3","@src":"4","a.b":"5","a b":"6","a=b":"7","a_b":"8"}"#;
    let line = line(&leef(&[]), json);
    let pairs = attributes(&line, '\t').unwrap();
    assert!(keys_once(&pairs), "{line}");
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(
        value("a_b").as_deref(),
        Some("5"),
        "the first takes the key: {line}"
    );
    let overflow: serde_json::Value =
        serde_json::from_str(&value("sluiceOtherFields").unwrap()).unwrap();
    for (name, text) in [
        ("_actor", "1"),
        ("été", "2"),
        ("1x", "3"),
        ("@src", "4"),
        ("a b", "6"),
        ("a=b", "7"),
        ("a_b", "8"),
    ] {
        assert_eq!(overflow[name], text, "{name}: {line}");
    }
}

/// A space was accepted as the delimiter, though values keep their spaces: `note =
/// "hi usrName=admin"` added an attribute.
#[test]
fn a_space_cannot_be_the_delimiter() {
    for delimiter in ["x20", " ", "0x20", "x0A", "_", "x5F", "\"", ",", ":"] {
        let values = vec![("delimiter".to_owned(), delimiter.to_owned())];
        let docs = [sluice_guest::siem::LineSettings::docs(), Leef::docs()].concat();
        assert!(
            Leef::from_settings(&Settings::new(values, docs)).is_err(),
            "{delimiter:?} accepted"
        );
    }
}

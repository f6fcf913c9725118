//! Every line-format module's output, read back by a strict parser of its format written
//! from the rules README states: CEF, LEEF 1.0 and 2.0, and RFC 5424 syslog (with a JSON,
//! field, CEF or LEEF MSG). For arbitrary events (hostile text in keys and values, deep
//! nesting, numbers of any size) and settings: one message per event, with no control
//! character or line separator in it; every header field where it belongs; no key or
//! SD-PARAM twice; a CEF custom label beside its value; the destination's own field
//! and every field of the event's mapping (`AuditFields`) read back where it belongs,
//! none lost; a JSON MSG that is the event's JSON value.

#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sluice_guest::cef::Cef;
use sluice_guest::leef::Leef;
use sluice_guest::siem::{AuditFields, LineSettings, Role};
use sluice_guest::{Batch, Enrichment, EventId, Request, Settings, TimeSource};
use sluice_syslog::config::SyslogConfig;
use sluice_syslog::encoder::SyslogEncoder;

#[derive(Debug, Arbitrary)]
enum Member {
    Text(String),
    /// A number token: digits, and an exponent that may reach past the f64 range.
    Number(i64, u8, i16),
    Nested(u8, String),
    List(Vec<String>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    members: Vec<(String, Member)>,
    /// The text of the member the destination maps itself.
    own: String,
    delimiter: u8,
    leef_1: bool,
    payload: u8,
    vendor: String,
    tag: (String, String),
}

/// A line breaker as the formats' rules define it.
fn breaks_a_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The event's JSON text; none when two members share a key (the host refuses those).
fn event_json(input: &Input) -> Option<String> {
    let mut keys: HashSet<&str> = HashSet::from(["event_type", "own"]);
    if !input.members.iter().all(|(key, _)| keys.insert(key)) {
        return None;
    }
    let mut text = String::from("{");
    let mut first = true;
    let mut push = |key: &str, value: String| {
        if !first {
            text.push(',');
        }
        first = false;
        text.push_str(&serde_json::to_string(key).unwrap());
        text.push(':');
        text.push_str(&value);
    };
    push("event_type", serde_json::to_string(&input.own).unwrap());
    push("own", serde_json::to_string(&input.own).unwrap());
    for (key, member) in &input.members {
        let value = match member {
            Member::Text(text) => serde_json::to_string(text).unwrap(),
            Member::Number(mantissa, fraction, exponent) => {
                format!("{mantissa}.{fraction}e{exponent}")
            }
            Member::Nested(depth, leaf) => {
                let depth = usize::from(*depth % 126);
                format!(
                    "{}{}{}",
                    "{\"a\":".repeat(depth),
                    serde_json::to_string(leaf).unwrap(),
                    "}".repeat(depth)
                )
            }
            Member::List(items) => serde_json::to_string(items).unwrap(),
        };
        push(key, value);
    }
    text.push('}');
    Some(text)
}

fn settings(pairs: Vec<(&str, String)>, docs: Vec<sluice_guest::SettingDoc>) -> Settings {
    Settings::new(
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        docs,
    )
}

fuzz_target!(|input: Input| {
    let Some(json) = event_json(&input) else {
        return;
    };
    // The events the host takes: valid JSON, nesting within its default limit of 128.
    let Ok(value) = serde_json::from_str::<Value>(&json) else {
        return;
    };
    let mut batch = Batch::new();
    batch.push(&json, 1_714_566_896_789, TimeSource::Event, EventId(7));
    let event = batch.event(0);

    let common = vec![
        ("vendor", input.vendor.clone()),
        ("fields", "suser=own".to_owned()),
    ];
    let line_docs = LineSettings::docs();
    let cef_settings = settings(common.clone(), line_docs);
    if let Ok(cef) = LineSettings::from_settings(&cef_settings)
        .and_then(|line_settings| Cef::new(line_settings, &cef_settings, "host"))
    {
        let line = cef.line(&event);
        let pairs = check_cef(&line, Some(&input.own));
        check_cef_mapping(&pairs, &AuditFields::of(&event), &line);
    }

    let mut leef_pairs = vec![
        ("vendor", input.vendor.clone()),
        ("fields", "usrName=own".to_owned()),
    ];
    if input.leef_1 {
        leef_pairs.push(("leef_version", "1.0".to_owned()));
    } else {
        leef_pairs.push(("delimiter", char::from(input.delimiter).to_string()));
    }
    let leef_docs = [LineSettings::docs(), Leef::docs()].concat();
    if let Ok(leef) = Leef::from_settings(&settings(leef_pairs, leef_docs)) {
        let line = leef.line(&event);
        let (delimiter, pairs) = check_leef(&line, &input.own);
        check_leef_mapping(&pairs, delimiter, &AuditFields::of(&event), &line);
    }

    let payload = ["json", "cef", "leef", "field"][usize::from(input.payload % 4)];
    let mut syslog_pairs = vec![
        ("sd_fields", "own".to_owned()),
        (
            "payload",
            if payload == "field" { "json" } else { payload }.to_owned(),
        ),
    ];
    if payload == "field" {
        syslog_pairs.push(("message_field", "own".to_owned()));
    }
    let enrichment = Enrichment {
        host_name: "host".into(),
        machine_id: String::new(),
        sluice_version: "0".into(),
        tags: vec![input.tag.clone()],
    };
    let syslog_docs = SyslogConfig::docs();
    if let Ok(config) =
        SyslogConfig::from_settings(&settings(syslog_pairs, syslog_docs), &enrichment)
    {
        let formatted = SyslogEncoder::new(config, &enrichment).encode(&batch);
        let [Request::Messages(framed)] = formatted.requests.as_slice() else {
            panic!("one request of messages");
        };
        assert_eq!(framed.message_ends.len(), 1, "one message per event");
        let message = String::from_utf8(framed.messages.assemble(&batch)).expect("UTF-8");
        check_syslog(&message, payload, &value, &input.own);
    }
});

/// A CEF line: seven header fields split on unescaped `|` (only `\|` and `\\` escapes),
/// then `key=value` pairs (values escape `\`, `=`, CR and LF), no key twice.
fn check_cef(line: &str, own: Option<&str>) -> Vec<(String, String)> {
    assert!(!line.chars().any(breaks_a_line), "{line:?}");
    let mut header = vec![String::new()];
    let mut chars = line.chars();
    while header.len() < 8 {
        match chars.next().expect("seven header fields") {
            '\\' => match chars.next() {
                Some(c @ ('\\' | '|')) => header.last_mut().unwrap().push(c),
                other => panic!("header escape of {other:?}: {line}"),
            },
            '|' => header.push(String::new()),
            c => header.last_mut().unwrap().push(c),
        }
    }
    header.pop();
    assert_eq!(header[0], "CEF:0", "{line}");
    let severity: u8 = header[6].parse().expect("a numeric severity");
    assert!(severity <= 10, "{line}");
    let extension: String = chars.collect();
    let pairs = cef_pairs(&extension);
    let mut keys = HashSet::new();
    for (key, _) in &pairs {
        assert!(keys.insert(key.as_str()), "{key} twice: {line}");
    }
    for n in 1..=6 {
        assert_eq!(
            keys.contains(format!("cs{n}").as_str()),
            keys.contains(format!("cs{n}Label").as_str()),
            "a label without its value: {line}"
        );
    }
    if let Some(own) = own {
        // CEF writes CR and LF as `\r` and `\n`: read back, they are themselves; the
        // other line breakers are spaces.
        let expected: String = own
            .chars()
            .map(|c| {
                if breaks_a_line(c) && c != '\n' && c != '\r' {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let suser = pairs
            .iter()
            .find(|(k, _)| k == "suser")
            .map(|(_, v)| v.as_str());
        if own.is_empty() {
            assert_eq!(suser, None, "{line}");
        } else {
            assert_eq!(suser, Some(expected.as_str()), "{line}");
        }
    }
    pairs
}

/// `text` cut to `max` characters, as a reader of a CEF value gets it back: CR and LF
/// as themselves (written `\r` and `\n`), the other line breakers as spaces.
fn cef_read(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| {
            if breaks_a_line(c) && c != '\n' && c != '\r' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The CEF pairs against the event's audit fields: each common field under its key,
/// each other field in a labelled custom string or the `others` object, none lost.
fn check_cef_mapping(pairs: &[(String, String)], fields: &AuditFields, line: &str) {
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let keys = [
        (Role::UserId, "suid", 1023),
        (Role::Action, "act", 63),
        (Role::Outcome, "outcome", 63),
        (Role::Resource, "fname", 1023),
        (Role::Url, "request", 1023),
        (Role::Method, "requestMethod", 1023),
        (Role::UserAgent, "requestClientApplication", 1023),
        (Role::EventId, "externalId", 40),
        (Role::Message, "msg", 1023),
    ];
    for (role, key, max) in keys {
        let expected = fields.get(role).map(|text| cef_read(text, max));
        assert_eq!(value(key), expected.as_deref(), "{key}: {line}");
    }
    let mut found: Vec<(String, String)> = Vec::new();
    for n in 1..=6 {
        let (Some(label), Some(text)) = (value(&format!("cs{n}Label")), value(&format!("cs{n}")))
        else {
            continue;
        };
        // The object of the rest is in the last slot used, labelled `others` (a field
        // of that name may look the same: taken both ways).
        if label == "others"
            && let Ok(rest) = serde_json::from_str::<serde_json::Map<String, Value>>(text)
        {
            found.extend(
                rest.into_iter()
                    .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned()))),
            );
        }
        found.push((label.to_owned(), text.to_owned()));
    }
    for (name, text) in fields.others.iter().filter(|(_, text)| !text.is_empty()) {
        // In a slot: cut and cleaned as any value; in the `others` object: whole.
        let kept = found.iter().any(|(label, value)| {
            (*label == cef_read(name, 1023) && *value == cef_read(text, 4000))
                || (label == name && value == text)
        });
        assert!(kept, "{name:?}={text:?} lost: {line}");
    }
}

/// The LEEF attributes against the event's other fields: each under its own key (dots
/// as `_`) or in the `sluiceOtherFields` object, with its text cleaned; none lost.
fn check_leef_mapping(
    pairs: &[(String, String)],
    delimiter: char,
    fields: &AuditFields,
    line: &str,
) {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c == delimiter || breaks_a_line(c) {
                    ' '
                } else {
                    c
                }
            })
            .collect()
    };
    let overflow: serde_json::Map<String, Value> = pairs
        .iter()
        .find(|(k, _)| k == "sluiceOtherFields")
        .map(|(_, v)| serde_json::from_str(v).expect("the overflow is a JSON object"))
        .unwrap_or_default();
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    // The common fields under LEEF's keys (`usrName` is the configured `own`, checked by
    // `check_leef`), whole but cleaned: LEEF cuts nothing.
    let keys = [
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
    for (role, key) in keys {
        if let Some(text) = fields.get(role).filter(|text| !text.is_empty()) {
            assert_eq!(value(key), Some(clean(text).as_str()), "{key}: {line}");
        }
    }
    let sev = value("sev").and_then(|sev| sev.parse::<u8>().ok());
    assert!(
        sev.is_some_and(|sev| (1..=10).contains(&sev)),
        "sev: {line}"
    );
    assert!(
        value("devTime").is_some_and(|time| time.parse::<i64>().is_ok()),
        "devTime: {line}"
    );
    for (name, text) in fields.others.iter().filter(|(_, text)| !text.is_empty()) {
        let key = name.replace('.', "_");
        let as_attribute = pairs.iter().any(|(k, v)| *k == key && *v == clean(text));
        // The overflow object holds names and values whole.
        let in_overflow = overflow.get(name).and_then(Value::as_str) == Some(text.as_str());
        assert!(
            as_attribute || in_overflow,
            "{name:?}={text:?} lost: {line}"
        );
    }
}

/// CEF extension pairs: a key is a word before an unescaped `=`; a value runs to the
/// next ` key=`; escapes `\\`, `\=`, `\n`, `\r` are read back.
fn cef_pairs(extension: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut current = String::new();
    let mut chars = extension.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => current.push('\\'),
                Some('=') => current.push('='),
                Some('n') => current.push('\n'),
                Some('r') => current.push('\r'),
                other => panic!("extension escape of {other:?}: {extension}"),
            },
            '=' => {
                // The key is the last word of what came before.
                let (value, key) = match current.rsplit_once(' ') {
                    Some((value, key)) => (value.to_owned(), key.to_owned()),
                    None => (String::new(), current.clone()),
                };
                assert!(
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "key {key:?}: {extension}"
                );
                if let Some((_, previous)) = pairs.last_mut() {
                    *previous = value;
                }
                pairs.push((key, String::new()));
                current.clear();
            }
            c => current.push(c),
        }
    }
    if let Some((_, last)) = pairs.last_mut() {
        *last = current;
    }
    pairs
}

/// A LEEF line: the header's fields hold no `|`; attributes split on the delimiter, each
/// `key=value` with a plain-word key, no key twice, the destination's `usrName` its
/// field's text cleaned.
fn check_leef(line: &str, own: &str) -> (char, Vec<(String, String)>) {
    assert!(
        !line.chars().any(|c| breaks_a_line(c) && c != '\t'),
        "{line:?}"
    );
    let version_2 = line.starts_with("LEEF:2.0|");
    assert!(version_2 || line.starts_with("LEEF:1.0|"), "{line}");
    let header_fields = if version_2 { 6 } else { 5 };
    let parts: Vec<&str> = line.splitn(header_fields + 1, '|').collect();
    assert_eq!(parts.len(), header_fields + 1, "{line}");
    assert!(!parts[4].is_empty(), "an EventID: {line}");
    let delimiter = if version_2 {
        let declared = parts[5];
        match declared
            .strip_prefix("0x")
            .or_else(|| declared.strip_prefix('x'))
        {
            Some(hex) => char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap(),
            None => declared.chars().next().unwrap(),
        }
    } else {
        '\t'
    };
    assert!(
        !delimiter.is_alphanumeric() && !matches!(delimiter, ' ' | '=' | '|' | '_'),
        "{line}"
    );
    let mut keys = HashSet::new();
    let mut usr_name = None;
    let mut pairs = Vec::new();
    for attribute in parts[header_fields].split(delimiter) {
        let (key, value) = attribute
            .split_once('=')
            .unwrap_or_else(|| panic!("{attribute:?}: {line}"));
        assert!(
            key.starts_with(|c: char| c.is_ascii_alphabetic())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "key {key:?}: {line}"
        );
        assert!(keys.insert(key.to_owned()), "{key} twice: {line}");
        assert!(!value.chars().any(breaks_a_line), "{line:?}");
        if key == "usrName" {
            usr_name = Some(value.to_owned());
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    let expected: String = own
        .chars()
        .map(|c| {
            if c == delimiter || breaks_a_line(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    if !own.is_empty() {
        assert_eq!(usr_name.as_deref(), Some(expected.as_str()), "{line}");
    }
    (delimiter, pairs)
}

/// An RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]`,
/// header fields printable US-ASCII, SD-PARAM values with exactly `\"`, `\\`, `\]`
/// escaped, no PARAM-NAME twice; the MSG one clean line (the event's JSON value, or the
/// field's text cleaned).
fn check_syslog(message: &str, payload: &str, event: &Value, own: &str) {
    // A LEEF MSG is delimited with tabs by default: the one control character allowed.
    let tab_allowed = payload == "leef";
    assert!(
        !message
            .chars()
            .any(|c| breaks_a_line(c) && !(tab_allowed && c == '\t')),
        "{message:?}"
    );
    let rest = message.strip_prefix('<').expect("PRI");
    let (pri, rest) = rest.split_once('>').expect("PRI");
    assert!(pri.parse::<u8>().is_ok_and(|p| p <= 191), "{message}");
    let rest = rest.strip_prefix("1 ").expect("VERSION");
    let mut fields = rest.splitn(6, ' ');
    for _ in 0..5 {
        let field = fields.next().expect("header field");
        assert!(
            !field.is_empty() && field.chars().all(|c| c.is_ascii_graphic()),
            "{field:?}: {message}"
        );
    }
    let rest = fields.next().expect("STRUCTURED-DATA");
    let rest = rest.strip_prefix('[').expect("an SD-ELEMENT");
    let mut chars = rest.char_indices();
    let mut names = HashSet::new();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut name = String::new();
    let mut end = None;
    while let Some((at, c)) = chars.next() {
        match c {
            ']' => {
                end = Some(at + 1);
                break;
            }
            '=' => {
                let param = name.trim().rsplit(' ').next().unwrap().to_owned();
                assert!(names.insert(param.clone()), "{param} twice: {message}");
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{message}");
                let mut value = String::new();
                loop {
                    match chars.next().expect("a closed value").1 {
                        '\\' => {
                            let escaped = chars.next().unwrap().1;
                            assert!(
                                matches!(escaped, '"' | '\\' | ']'),
                                "escape of {escaped:?}: {message}"
                            );
                            value.push(escaped);
                        }
                        '"' => break,
                        ']' => panic!("a raw ] in a value: {message}"),
                        c => value.push(c),
                    }
                }
                params.push((param, value));
                name.clear();
            }
            c => name.push(c),
        }
    }
    // The `sd_fields` parameter: the field's text read back whole, line breakers as
    // spaces; left out when empty.
    let cleaned: String = own
        .chars()
        .map(|c| if breaks_a_line(c) { ' ' } else { c })
        .collect();
    let own_param = params.iter().find(|(name, _)| name == "own");
    assert_eq!(
        own_param.map(|(_, value)| value.as_str()),
        Some(cleaned.as_str()),
        "{message}"
    );
    let msg = &rest[end.expect("the SD-ELEMENT closes")..];
    let msg = msg
        .strip_prefix(" \u{feff}")
        .unwrap_or(msg.strip_prefix(' ').unwrap_or(msg));
    match payload {
        "json" => {
            let read: Value = serde_json::from_str(msg).expect("the MSG is JSON");
            assert_eq!(&read, event, "{message}");
        }
        "field" => {
            let expected: String = own
                .chars()
                .map(|c| if breaks_a_line(c) { ' ' } else { c })
                .collect();
            assert_eq!(msg, expected, "{message}");
        }
        "cef" => {
            check_cef(msg, None);
        }
        _ => {
            check_leef(msg, "");
        }
    }
}

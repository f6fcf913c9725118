//! The encoder, natively, against RFC 5424 and the hostile lines of
//! `edge-cases.jsonl`.

use sluice_guest::{Batch, Enrichment, EventId, Request, Settings, TimeSource};
use sluice_syslog::config::SyslogConfig;
use sluice_syslog::encoder::SyslogEncoder;

fn enrichment(tags: &[(&str, &str)]) -> Enrichment {
    Enrichment {
        host_name: "host1".into(),
        machine_id: String::new(),
        sluice_version: "0.1.0".into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// An encoder with `pairs`; without the host's enrichment (the published vectors do not
/// have it) unless `pairs` set `enrichment`.
fn encoder(pairs: &[(&str, &str)], enrichment: &Enrichment) -> SyslogEncoder {
    let enriched = pairs.iter().any(|(k, _)| *k == "enrichment");
    let values = pairs
        .iter()
        .copied()
        .chain((!enriched).then_some(("enrichment", "none")))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config =
        SyslogConfig::from_settings(&Settings::new(values, SyslogConfig::docs()), enrichment)
            .unwrap();
    SyslogEncoder::new(config, enrichment)
}

/// Each message of the batch, as bytes.
fn messages(encoder: &SyslogEncoder, batch: &Batch) -> Vec<Vec<u8>> {
    let formatted = encoder.encode(batch);
    assert!(formatted.refused.is_empty());
    let [Request::Messages(framed)] = formatted.requests.as_slice() else {
        panic!("one request of messages")
    };
    assert_eq!(framed.events, (0..batch.len() as u32).collect::<Vec<_>>());
    let bytes = framed.messages.assemble(batch);
    let mut start = 0;
    framed
        .message_ends
        .iter()
        .map(|&end| {
            let message = bytes[start..end as usize].to_vec();
            start = end as usize;
            message
        })
        .collect()
}

fn one(json: &str, ms: i64, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut batch = Batch::new();
    batch.push(json, ms, TimeSource::Event, EventId(1));
    messages(&encoder(pairs, &enrichment(&[])), &batch).remove(0)
}

/// S1: a full message with structured data, the BOM and a UTF-8 MSG (126 bytes).
#[test]
fn a_full_message_matches_vector_s1() {
    let message = one(
        r#"{"severity":"notice","msgid":"LOGIN","user":"bob","result":"ok","message":"user bob logged in"}"#,
        1_714_566_896_789,
        &[
            ("facility", "audit"),
            ("hostname", "host1.example.com"),
            ("app_name", "auditd"),
            ("procid", "4242"),
            ("msgid_field", "msgid"),
            ("sd_id", "audit@32473"),
            ("event_id", "false"),
            ("sd_fields", "user,result"),
            ("message_field", "message"),
        ],
    );
    let expected = b"<109>1 2024-05-01T12:34:56.789Z host1.example.com auditd 4242 LOGIN [audit@32473 user=\"bob\" result=\"ok\"] \xEF\xBB\xBFuser bob logged in";
    assert_eq!(message, expected);
    assert_eq!(message.len(), 126);
}

/// S2: `"`, `\` and `]` escaped in a PARAM-VALUE, nothing else; no MSG, no trailing SP.
#[test]
fn param_values_are_escaped_as_vector_s2() {
    let message = one(
        r#"{"level":"info","v":"a\"b\\c]d"}"#,
        1_714_566_896_000,
        &[
            ("facility", "13"),
            ("hostname", "host1"),
            ("app_name", "app"),
            ("msgid_field", ""),
            ("sd_id", "x@32473"),
            ("event_id", "false"),
            ("sd_fields", "v"),
            ("message_field", "absent"),
        ],
    );
    assert_eq!(
        String::from_utf8(message).unwrap(),
        r#"<110>1 2024-05-01T12:34:56Z host1 app - - [x@32473 v="a\"b\\c\]d"]"#
    );
}

/// The default message: the event's JSON as MSG, its id and the tags in Sluice's
/// element, the MSGID from `event_type`, the severity from `outcome` (a failure is an
/// error, 3: facility 4 makes PRI 35).
#[test]
fn by_default_the_msg_is_the_event_and_the_element_names_it() {
    let json = r#"{"event_type":"user login","outcome":"failure"}"#;
    let mut batch = Batch::new();
    batch.push(json, 1_714_566_896_789, TimeSource::Ingest, EventId(0xab));
    let encoder = encoder(
        &[("enrichment", "object")],
        &enrichment(&[("team", "sec]ops"), ("bad name", "x")]),
    );
    let message = String::from_utf8(messages(&encoder, &batch).remove(0)).unwrap();
    assert_eq!(
        message,
        format!(
            "<35>1 2024-05-01T12:34:56.789Z host1 sluice - user_login [sluice@32473 eventId=\"{:032x}\" timeSource=\"ingest\" host=\"host1\" version=\"0.1.0\" team=\"sec\\]ops\" badname=\"x\"] \u{feff}{json}",
            0xab
        )
    );
}

/// C5: a CEF line as the MSG of an RFC 5424 message, every other field NIL, no BOM.
/// (The vector's PRI 110 says informational while its CEF severity 3 says notice; the
/// SDK's one mapping makes notice 3 in CEF and 5 in syslog, so the event here is a
/// notice and its PRI 109.)
#[test]
fn a_cef_payload_matches_vector_c5() {
    let message = one(
        r#"{"event_type":"100","message":"User login","severity":"notice","user":"bob","ip":"10.0.0.1","result":"success"}"#,
        1_714_566_896_789,
        &[
            ("facility", "audit"),
            ("app_name", "auditsvc"),
            ("msgid_field", ""),
            ("sd_id", ""),
            ("bom", "false"),
            ("payload", "cef"),
            ("vendor", "Acme"),
            ("product", "AuditSvc"),
            ("fields", "rt=,dvchost=,suser=user,src=ip,outcome=result"),
            ("other_fields", "drop"),
        ],
    );
    assert_eq!(
        String::from_utf8(message).unwrap(),
        "<109>1 2024-05-01T12:34:56.789Z host1 auditsvc - - - CEF:0|Acme|AuditSvc|1.0|100|User login|3|suser=bob src=10.0.0.1 outcome=success"
    );
}

#[test]
fn a_leef_payload_is_the_msg() {
    let message = one(
        r#"{"event_type":"login","user":"bob"}"#,
        1_714_566_896_789,
        &[
            ("payload", "leef"),
            ("fields", "usrName=user,sev=,devTime="),
            ("other_fields", "drop"),
            ("bom", "false"),
            ("sd_id", ""),
        ],
    );
    assert!(
        String::from_utf8(message)
            .unwrap()
            .ends_with(" login - LEEF:2.0|Sluice|Sluice|1.0|login|x09|usrName=bob"),
    );
}

#[test]
fn rfc_3164_writes_a_bsd_line() {
    let message = one(
        r#"{"severity":"crit","a":1}"#,
        1_727_820_855_000,
        &[
            ("rfc", "3164"),
            ("hostname", "mymachine"),
            ("app_name", "su"),
            ("procid", "42"),
        ],
    );
    assert_eq!(
        String::from_utf8(message).unwrap(),
        r#"<34>Oct  1 22:14:15 mymachine su[42]: {"severity":"crit","a":1}"#
    );
}

#[test]
fn bad_settings_are_named() {
    let problem = |pairs: &[(&str, &str)]| {
        let values = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match SyslogConfig::from_settings(
            &Settings::new(values, SyslogConfig::docs()),
            &enrichment(&[]),
        ) {
            Err(sluice_guest::FormatError::InvalidSetting(problem)) => problem.key,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(problem(&[("rfc", "5425")]), "rfc");
    assert_eq!(problem(&[("facility", "24")]), "facility");
    assert_eq!(problem(&[("facility", "mail2")]), "facility");
    assert_eq!(problem(&[("sd_id", "sluice")]), "sd_id");
    assert_eq!(problem(&[("sd_id", "a b@1")]), "sd_id");
    assert_eq!(problem(&[("sd_fields", "a=b")]), "sd_fields");
    assert_eq!(problem(&[("sd_id", ""), ("sd_fields", "a")]), "sd_fields");
    assert_eq!(problem(&[("bom", "maybe")]), "bom");
    assert_eq!(problem(&[("payload", "xml")]), "payload");
    assert_eq!(
        problem(&[("payload", "cef"), ("message_field", "m")]),
        "message_field"
    );
    assert_eq!(
        problem(&[("payload", "leef"), ("delimiter", "|")]),
        "delimiter"
    );
}

/// Every hostile line of `edge-cases.jsonl` makes one message with a clean header: no
/// control character or line separator anywhere (the JSON escapes them), the event's
/// JSON value whole after the BOM.
#[test]
fn every_edge_case_makes_one_clean_message() {
    let originals = sluice_sink_cases::edge_case_events();
    let batch = sluice_sink_cases::batch_of(&originals);
    let encoder = encoder(&[("sd_fields", "action,actor_id")], &enrichment(&[]));
    let messages = messages(&encoder, &batch);
    assert_eq!(messages.len(), originals.len());
    for (message, original) in messages.iter().zip(&originals) {
        let text = std::str::from_utf8(message).unwrap();
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
            "{text}"
        );
        let (_, msg) = message.split_at(
            message
                .windows(3)
                .position(|w| w == b"\xEF\xBB\xBF")
                .unwrap()
                + 3,
        );
        let value = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
        assert_eq!(value(msg), value(original.as_bytes()));
        let header = std::str::from_utf8(&message[..message.len() - msg.len()]).unwrap();
        assert!(
            header.starts_with('<') && header.contains("1 1970-01-01T00:00:00Z host1 sluice "),
            "{header}"
        );
    }
}

/// A field holding a line break and a whole forged message after it was copied raw into
/// the MSG: over UDP the receiver got a second, forged message.
#[test]
fn a_message_field_cannot_forge_a_message() {
    let forged = r#"legit\n<13>1 2026-11-20T08:00:00Z dc01 sshd - LOGIN [x@1 a=\"b\"] FORGED admin login ok\r\u0000\u2028end"#;
    let json = format!(r#"{{"note":"{forged}"}}"#);
    for rfc in ["5424", "3164"] {
        let message = one(&json, 0, &[("message_field", "note"), ("rfc", rfc)]);
        let text = String::from_utf8(message).unwrap();
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')),
            "{text:?}"
        );
        assert!(text.ends_with("legit <13>1 2026-11-20T08:00:00Z dc01 sshd - LOGIN [x@1 a=\"b\"] FORGED admin login ok   end"), "{text:?}");
    }
}

/// The JSON MSG carried the TAB and CR between members raw, and DEL and C1 controls in
/// strings: a receiver that strips or splits on them saw something else.
#[test]
fn the_json_msg_is_one_clean_line() {
    let json = "{\"a\":\t\"x\u{7f}\u{85}\",\r\"b\":1}";
    let message = one(json, 0, &[]);
    let text = String::from_utf8(message).unwrap();
    assert!(
        text.ends_with("{\"a\": \"x\\u007f\\u0085\", \"b\":1}"),
        "{text:?}"
    );
}

/// `sd_fields = "eventId"`, or a tag named `eventId`, added a second `eventId`
/// parameter beside Sluice's own.
#[test]
fn sluices_own_parameters_are_not_written_twice() {
    for fields in ["eventId", "timeSource", "a,a"] {
        let values = vec![
            ("sd_id".to_owned(), "sluice@32473".to_owned()),
            ("sd_fields".to_owned(), fields.to_owned()),
        ];
        assert!(
            SyslogConfig::from_settings(
                &Settings::new(values, SyslogConfig::docs()),
                &enrichment(&[])
            )
            .is_err(),
            "{fields} accepted"
        );
    }
    let tags = enrichment(&[("eventId", "forged"), ("a", "1"), ("team", "ops")]);
    let encoder = encoder(
        &[
            ("sd_id", "sluice@32473"),
            ("event_id", "true"),
            ("sd_fields", "a"),
        ],
        &tags,
    );
    let mut batch = Batch::new();
    batch.push(r#"{"a":"x"}"#, 0, TimeSource::Event, EventId(1));
    let text = String::from_utf8(messages(&encoder, &batch).remove(0)).unwrap();
    assert_eq!(text.matches(" eventId=").count(), 1, "{text}");
    assert_eq!(text.matches(" a=").count(), 1, "{text}");
    assert!(text.contains(" team=\"ops\""), "{text}");
    assert!(!text.contains("forged"), "{text}");
}

/// An RFC 3164 `procid` of `1]: forged` ended the TAG early: `myapp[1]:_forged]:`.
#[test]
fn an_rfc_3164_procid_cannot_end_the_tag() {
    let message = one(
        "{}",
        0,
        &[
            ("rfc", "3164"),
            ("app_name", "myapp"),
            ("procid", "1]: forged"),
        ],
    );
    let text = String::from_utf8(message).unwrap();
    assert!(text.contains(" myapp[1___forged]: "), "{text}");
}

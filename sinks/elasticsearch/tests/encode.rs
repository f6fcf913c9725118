//! The encoder and the classifier, natively, against Elastic's `_bulk` API documentation and its
//! test vectors (10.2).

use sluice_elasticsearch::config::{Action, ElasticsearchConfig};
use sluice_elasticsearch::encoder::BulkEncoder;
use sluice_elasticsearch::retry::classify;
use sluice_guest::{
    Batch, EventId, HttpResponse, Refusal, Request, SentRequest, Settings, TimeSource, Verdict,
};

fn config(pairs: &[(&str, &str)]) -> Result<ElasticsearchConfig, String> {
    let values = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ElasticsearchConfig::from_settings(&Settings::new(values, ElasticsearchConfig::docs()))
        .map_err(|e| format!("{e:?}"))
}

fn encoder(pairs: &[(&str, &str)]) -> BulkEncoder {
    BulkEncoder::new(config(pairs).unwrap())
}

/// The bodies as the host sends them, with the events of each request.
fn bodies(encoder: &BulkEncoder, batch: &Batch) -> Vec<(String, Vec<u32>)> {
    let formatted = encoder.encode(batch);
    formatted
        .requests
        .iter()
        .map(|request| match request {
            Request::Http(http) => {
                assert_eq!(http.path, "/_bulk");
                assert!(
                    http.headers
                        .contains(&("Content-Type".to_owned(), "application/x-ndjson".to_owned()))
                );
                (
                    String::from_utf8(http.body.assemble(batch)).unwrap(),
                    http.events.clone(),
                )
            }
            Request::Messages(_) | Request::Publish(_) => panic!("bulk is HTTP"),
        })
        .collect()
}

/// Test vector E1: a `create` into a data stream, the newline inside the message kept as
/// the escape, and exactly two LF bytes, both line ends (the last one too).
#[test]
fn a_create_line_and_its_document_match_test_vector_e1() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"@timestamp":"2024-05-01T12:34:56.789Z","event":{"action":"login","outcome":"success"},"message":"line1\nline2"}"#,
        1_714_566_896_789,
        TimeSource::Event,
        EventId(1),
    );
    let encoder = encoder(&[("index", "logs-audit-default"), ("id", "auto")]);
    let body = &bodies(&encoder, &batch)[0].0;
    assert_eq!(
        body,
        "{\"create\":{\"_index\":\"logs-audit-default\"}}\n{\"@timestamp\":\"2024-05-01T12:34:56.789Z\",\"event\":{\"action\":\"login\",\"outcome\":\"success\"},\"message\":\"line1\\nline2\"}\n"
    );
    assert_eq!(body.bytes().filter(|&b| b == b'\n').count(), 2);
}

/// Test vector E5: data streams take only `create`, the default; the `_id` is the
/// event id, so a resend is the same document.
#[test]
fn the_default_is_create_with_the_event_id_as_the_document_id() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"@timestamp":"x","a":1}"#,
        0,
        TimeSource::Event,
        EventId(0xab),
    );
    let body = &bodies(&encoder(&[("index", "logs-a"), ("pipeline", "p1")]), &batch)[0].0;
    assert_eq!(
        body,
        &format!(
            "{{\"create\":{{\"_index\":\"logs-a\",\"_id\":\"{:032x}\",\"pipeline\":\"p1\"}}}}\n{{\"@timestamp\":\"x\",\"a\":1}}\n",
            0xab
        )
    );
    let index = encoder(&[("index", "audit"), ("action", "index"), ("id", "auto")]);
    assert!(
        bodies(&index, &batch)[0]
            .0
            .starts_with("{\"index\":{\"_index\":\"audit\"}}\n")
    );
}

/// Data streams need `@timestamp`: an event without one gets the event time, ahead of
/// its own members; an empty object gets it alone.
#[test]
fn events_without_a_timestamp_get_the_event_time() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"a":"b"}"#,
        1_714_566_896_789,
        TimeSource::Event,
        EventId(1),
    );
    batch.push("{}", 0, TimeSource::Ingest, EventId(2));
    let body = &bodies(&encoder(&[("index", "logs-a"), ("id", "auto")]), &batch)[0].0;
    let documents: Vec<&str> = body.lines().skip(1).step_by(2).collect();
    assert_eq!(
        documents,
        [
            r#"{"@timestamp":"2024-05-01T12:34:56.789Z","a":"b"}"#,
            r#"{"@timestamp":"1970-01-01T00:00:00.000Z"}"#
        ]
    );
    let kept = encoder(&[
        ("index", "logs-a"),
        ("id", "auto"),
        ("add_timestamp", "false"),
    ]);
    assert!(bodies(&kept, &batch)[0].0.contains("\n{\"a\":\"b\"}\n"));
}

/// `@timestamp` was looked for in the event's text: a value that said `@timestamp`
/// kept it from being added (a data stream then refused the document), and an escaped
/// key (`"\u0040timestamp"`) got a second one.
#[test]
fn a_timestamp_is_a_top_level_key_not_text() {
    let mut batch = Batch::new();
    for json in [
        r#"{"note":"\"@timestamp\""}"#,
        r#"{"\u0040timestamp":"2020-01-01T00:00:00Z"}"#,
        r#"{"inner":{"@timestamp":"x"}}"#,
    ] {
        batch.push(json, 0, TimeSource::Event, EventId(1));
    }
    let body = &bodies(&encoder(&[("index", "logs-a"), ("id", "auto")]), &batch)[0].0;
    let documents: Vec<serde_json::Value> = body
        .lines()
        .skip(1)
        .step_by(2)
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let timestamps: Vec<usize> = body
        .lines()
        .skip(1)
        .step_by(2)
        .map(|line| line.matches("timestamp\":").count())
        .collect();
    assert_eq!(timestamps, [1, 1, 2], "{body}");
    assert!(documents[0]["@timestamp"].is_string(), "{body}");
    assert_eq!(documents[1]["@timestamp"], "2020-01-01T00:00:00Z", "{body}");
    assert!(documents[2]["@timestamp"].is_string(), "{body}");
}

/// Every hostile line of `edge-cases.jsonl` stays one NDJSON line, parsable, with the
/// event's own members unchanged.
#[test]
fn every_edge_case_is_one_line_of_json() {
    let events = sluice_sink_cases::edge_case_events();
    let batch = sluice_sink_cases::batch_of(&events);
    let originals: Vec<serde_json::Map<String, serde_json::Value>> = events
        .iter()
        .map(|event| serde_json::from_str(event).unwrap())
        .collect();
    let (body, events) = bodies(&encoder(&[("index", "audit")]), &batch).remove(0);
    assert_eq!(events.len(), originals.len());
    assert!(body.ends_with('\n'));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2 * originals.len(), "two lines per event");
    for (pair, original) in lines.chunks(2).zip(&originals) {
        let action: serde_json::Value = serde_json::from_str(pair[0]).unwrap();
        assert!(action["create"]["_id"].is_string());
        let document: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(pair[1]).unwrap();
        for (key, value) in original {
            assert_eq!(document.get(key), Some(value), "{key}");
        }
    }
}

#[test]
fn requests_split_under_the_limit_and_an_oversized_event_is_refused() {
    let mut batch = Batch::new();
    let small = format!(r#"{{"@timestamp":"t","pad":"{}"}}"#, "x".repeat(300));
    let huge = format!(r#"{{"@timestamp":"t","pad":"{}"}}"#, "x".repeat(5000));
    for n in 0..7 {
        let json = if n == 3 { &huge } else { &small };
        batch.push(json, 0, TimeSource::Event, EventId(n));
    }
    let encoder = encoder(&[("index", "a"), ("max_request_bytes", "1500")]);
    let formatted = encoder.encode(&batch);
    assert_eq!(formatted.refused.len(), 1);
    assert_eq!(formatted.refused[0].event, 3);
    let requests = bodies(&encoder, &batch);
    assert!(requests.iter().all(|(body, _)| body.len() <= 1500));
    let sent: Vec<u32> = requests.iter().flat_map(|(_, e)| e.clone()).collect();
    assert_eq!(sent, vec![0, 1, 2, 4, 5, 6]);
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    for (pairs, key) in [
        (vec![], "index"),
        (vec![("index", "Audit")], "index"),
        (vec![("index", "a b")], "index"),
        (vec![("index", "a"), ("action", "update")], "action"),
        (vec![("index", "a"), ("id", "random")], "id"),
        (vec![("index", "a"), ("flavor", "solr")], "flavor"),
        (
            vec![("index", "a"), ("max_request_bytes", "10")],
            "max_request_bytes",
        ),
    ] {
        let error = config(&pairs).unwrap_err();
        assert!(error.contains(key), "{pairs:?}: {error}");
    }
}

fn response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Retry-After".into(), "3".into())],
        body: body.as_bytes().to_vec(),
        truncated: false,
    }
}

fn sent(event_count: u32) -> SentRequest {
    SentRequest {
        path: "/_bulk".into(),
        event_count,
    }
}

/// Test vector E3: 201 and 409-on-create delivered, the 429 item alone retried, the
/// 400 item refused with the server's error type and reason.
#[test]
fn mixed_item_results_match_test_vector_e3() {
    let answer = r#"{"took":5,"errors":true,"items":[
        {"create":{"_id":"a","status":201}},
        {"create":{"_id":"b","status":409,"error":{"type":"version_conflict_engine_exception"}}},
        {"create":{"_id":"c","status":429,"error":{"type":"es_rejected_execution_exception"}}},
        {"create":{"_id":"d","status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [n]"}}}]}"#;
    match classify(&response(200, answer), &sent(4), Action::Create) {
        Verdict::Partial(partial) => {
            assert_eq!(partial.retry, vec![2]);
            assert_eq!(partial.refused.len(), 1);
            let Refusal { event, reason } = &partial.refused[0];
            assert_eq!(*event, 3);
            assert!(
                reason.contains("document_parsing_exception") && reason.contains("field [n]"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // With `index`, a 409 is a real conflict: refused.
    match classify(&response(200, answer), &sent(4), Action::Index) {
        Verdict::Partial(partial) => assert_eq!(partial.refused.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_level_answers() {
    let clean = r#"{"took":1,"errors":false,"items":[{"create":{"status":201}}]}"#;
    assert!(matches!(
        classify(&response(200, clean), &sent(1), Action::Create),
        Verdict::Delivered
    ));
    assert!(matches!(
        classify(&response(413, ""), &sent(2), Action::Create),
        Verdict::TooLarge
    ));
    for status in [429, 502, 503] {
        match classify(&response(status, "busy"), &sent(2), Action::Create) {
            Verdict::Retry(advice) => assert_eq!(advice.after_ms, Some(3000)),
            other => panic!("{status}: {other:?}"),
        }
    }
    // E2: a body without its final newline is an encoder bug, not retried.
    let e2 = r#"{"error":{"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\n]"},"status":400}"#;
    match classify(&response(400, e2), &sent(1), Action::Create) {
        Verdict::Refused(reason) => {
            assert!(reason.contains("illegal_argument_exception"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        classify(&response(401, "{}"), &sent(1), Action::Create),
        Verdict::Refused(_)
    ));
    // An answer with fewer items than documents says nothing of the missing ones.
    let short = r#"{"took":1,"errors":true,"items":[{"create":{"status":429}}]}"#;
    assert!(matches!(
        classify(&response(200, short), &sent(2), Action::Create),
        Verdict::Retry(_)
    ));
}

/// `schema = "ecs"` sends ECS documents (with `@timestamp`); `ocsf` sends OCSF ones,
/// with `@timestamp` added for data streams.
#[test]
fn documents_can_be_mapped_to_ecs_or_ocsf() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"id":"e1","tenant_id":"t1","occurred_at_ms":1714566896789,"event_type":"USER_LOGIN","user":{"id":"u1","login":"bob"},"src":"10.0.0.1","user_agent":"UA","result":"SUCCESS","risk":"low"}"#,
        1_714_566_896_789,
        TimeSource::Event,
        EventId(1),
    );
    let document = |schema: &str| -> serde_json::Value {
        let body = &bodies(&encoder(&[("index", "logs-a"), ("schema", schema)]), &batch)[0].0;
        serde_json::from_str(body.lines().nth(1).unwrap()).unwrap()
    };
    let ecs = document("ecs");
    assert_eq!(ecs["@timestamp"], "2024-05-01T12:34:56.789Z");
    assert_eq!(ecs["event"]["category"][0], "authentication");
    assert_eq!(ecs["user"]["name"], "bob");
    let ocsf = document("ocsf");
    assert_eq!(ocsf["@timestamp"], "2024-05-01T12:34:56.789Z");
    assert_eq!(ocsf["class_uid"], 3002);
    assert!(
        config(&[("index", "a"), ("schema", "cef")])
            .unwrap_err()
            .contains("schema")
    );
}

/// A number past the f64 range (`1e400`) failed the parse of the whole event: the ECS
/// mapping was silently off and the raw event sent. Numbers an f64 or a 64-bit integer
/// cannot hold exactly are mapped as their text, and the rest maps as ever.
#[test]
fn a_number_no_f64_holds_does_not_turn_the_mapping_off() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"event_type":"login","actor_id":"u-1","actor_roles":["dev"],"huge":1e400,"big":18446744073709551616,"tiny":1e-400}"#,
        1_714_566_896_789,
        TimeSource::Event,
        EventId(1),
    );
    let body = &bodies(&encoder(&[("index", "logs-a"), ("schema", "ecs")]), &batch)[0].0;
    let document: serde_json::Value = serde_json::from_str(body.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        document["ecs"]["version"]
            .as_str()
            .map(|v| v.starts_with('8')),
        Some(true),
        "{body}"
    );
    assert_eq!(document["user"]["id"], "u-1", "{body}");
    for (name, text) in [
        ("huge", "1e400"),
        ("big", "18446744073709551616"),
        ("tiny", "1e-400"),
    ] {
        assert!(
            body.contains(&format!("\"{text}\"")),
            "{name} as its text: {body}"
        );
    }
}

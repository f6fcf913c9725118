//! The encoder and the classifier, natively, against Splunk's HEC documentation.

use sluice_guest::{
    Batch, Enrichment, EventId, FormatError, HttpResponse, Request, SentRequest, Settings,
    TimeSource, Verdict,
};
use sluice_splunk_hec::config::SplunkHecConfig;
use sluice_splunk_hec::encoder::HecEncoder;
use sluice_splunk_hec::retry;

fn enrichment() -> Enrichment {
    Enrichment {
        host_name: "host1".into(),
        machine_id: String::new(),
        sluice_version: "0.1.0".into(),
        tags: vec![],
    }
}

fn config(pairs: &[(&str, &str)], enrichment: &Enrichment) -> Result<SplunkHecConfig, FormatError> {
    let values = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    SplunkHecConfig::from_settings(&Settings::new(values, SplunkHecConfig::docs()), enrichment)
}

fn encoder(pairs: &[(&str, &str)], enrichment: &Enrichment) -> HecEncoder {
    HecEncoder::new(config(pairs, enrichment).unwrap(), enrichment)
}

/// The request body as the host sends it: the payload assembled against the batch.
fn body(request: &Request, batch: &Batch) -> String {
    match request {
        Request::Http(http) => String::from_utf8(http.body.assemble(batch)).unwrap(),
        Request::Messages(_) | Request::Publish(_) => panic!("HEC is HTTP"),
    }
}

/// Test vector H1: stacked envelopes, JSON escaping kept inside `event`.
#[test]
fn stacked_envelopes_match_test_vector_h1() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"action":"login","user":"bob","note":"said \"hi\"\nbye"}"#,
        1_714_566_896_789,
        TimeSource::Event,
        EventId(1),
    );
    batch.push(
        r#"{"action":"logout"}"#,
        1_714_566_897_000,
        TimeSource::Event,
        EventId(2),
    );
    let encoder = encoder(
        &[
            ("index", "audit"),
            ("source", "auditd"),
            ("indexed_fields", "false"),
        ],
        &enrichment(),
    );
    let formatted = encoder.encode(&batch);
    assert_eq!(formatted.requests.len(), 1);
    assert_eq!(
        body(&formatted.requests[0], &batch),
        concat!(
            r#"{"time":1714566896.789,"host":"host1","source":"auditd","sourcetype":"_json","index":"audit","event":{"action":"login","user":"bob","note":"said \"hi\"\nbye"}}"#,
            r#"{"time":1714566897,"host":"host1","source":"auditd","sourcetype":"_json","index":"audit","event":{"action":"logout"}}"#
        )
    );
}

/// `payload = "cef"`: each envelope's `event` is the event's CEF line as a JSON string
/// (its quotes and backslashes escaped for JSON over CEF's own escaping), with the CEF
/// settings (a severity map here), and sourcetype `cef` unless set; a schema mapping
/// cannot apply to a CEF line.
#[test]
fn a_cef_payload_is_the_line_as_a_json_string() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"id":"e-1","event_type":"auth.login_failed","outcome":"failure","actor_id":"bob","actor_roles":["dev"],"action":"a \"quoted\" = sign\\here"}"#,
        1_714_566_896_789,
        TimeSource::Event,
        EventId(1),
    );
    let encoder = encoder(
        &[
            ("payload", "cef"),
            ("indexed_fields", "false"),
            ("enrichment", "none"),
            ("severity_map", "five_levels"),
        ],
        &enrichment(),
    );
    let formatted = encoder.encode(&batch);
    let body = body(&formatted.requests[0], &batch);
    let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["sourcetype"], "cef");
    let line = envelope["event"].as_str().expect("a string event");
    assert!(
        line.starts_with(
            "CEF:0|Sluice|Sluice|1.0|auth.login_failed|a \"quoted\" = sign\\\\here|7|"
        ),
        "{line}"
    );
    assert!(line.contains("suser=bob"), "{line}");
    // CEF escapes `=` and `\` in a value; JSON then escapes quotes and backslashes.
    assert!(line.contains(r#"msg=a "quoted" \= sign\\here"#), "{line}");
    assert!(
        body.contains(r#"msg=a \"quoted\" \\= sign\\\\here"#),
        "{body}"
    );

    let refused = config(&[("payload", "cef"), ("schema", "ecs")], &enrichment()).unwrap_err();
    assert!(
        matches!(&refused, FormatError::InvalidSetting(problem) if problem.key == "schema"),
        "{refused:?}"
    );
}

/// The event id travels as an indexed field, so that a redelivered event can be
/// removed in Splunk (`| dedup sluice_event_id`); it used to be sent nowhere.
#[test]
fn enrichment_goes_to_flat_fields_and_ingest_time_is_flagged() {
    let mut enrichment = enrichment();
    enrichment.tags = vec![("team".into(), "sec\"ops".into())];
    let mut batch = Batch::new();
    batch.push(r#"{"a":1}"#, 5, TimeSource::Ingest, EventId(1));
    let text = body(
        &encoder(&[], &enrichment).encode(&batch).requests[0],
        &batch,
    );
    assert!(text.ends_with(r#""event":{"a":1},"fields":{"sluice_event_id":"00000000000000000000000000000001","sluice_host":"host1","sluice_version":"0.1.0","sluice_time_source":"ingest","team":"sec\"ops"}}"#), "{text}");
}

#[test]
fn requests_split_under_the_limit_and_oversized_events_are_refused() {
    let mut batch = Batch::new();
    let small = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300));
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(3000));
    for i in 0..10 {
        batch.push(
            if i == 5 { &big } else { &small },
            0,
            TimeSource::Event,
            EventId(i),
        );
    }
    let formatted = encoder(&[("max_request_bytes", "1500")], &enrichment()).encode(&batch);
    assert_eq!(formatted.refused.len(), 1);
    assert_eq!(formatted.refused[0].event, 5);
    let mut carried: Vec<u32> = Vec::new();
    for request in &formatted.requests {
        let Request::Http(http) = request else {
            unreachable!()
        };
        let sent = http.body.assemble(&batch);
        assert!(sent.len() <= 1500, "{}", sent.len());
        let envelopes = sent
            .split(|&b| b == b'}')
            .filter(|s| s.starts_with(b"{\"time\""))
            .count();
        assert_eq!(
            envelopes,
            http.events.len(),
            "one envelope per event carried"
        );
        carried.extend(&http.events);
    }
    assert_eq!(carried, vec![0, 1, 2, 3, 4, 6, 7, 8, 9]);
}

#[test]
fn requests_fill_up_to_the_limit_exactly() {
    let event = &format!(r#"{{"pad":"{}"}}"#, "x".repeat(400));
    let one = {
        let mut batch = Batch::new();
        batch.push(event, 1_000, TimeSource::Event, EventId(0));
        let formatted = encoder(&[], &enrichment()).encode(&batch);
        body(&formatted.requests[0], &batch).len()
    };
    let mut batch = Batch::new();
    for i in 0..7 {
        batch.push(event, 1_000, TimeSource::Event, EventId(i));
    }
    let limit = (3 * one).to_string();
    let formatted = encoder(&[("max_request_bytes", &limit)], &enrichment()).encode(&batch);
    let sizes: Vec<(usize, usize)> = formatted
        .requests
        .iter()
        .map(|request| {
            let Request::Http(http) = request else {
                unreachable!()
            };
            (http.events.len(), body(request, &batch).len())
        })
        .collect();
    assert_eq!(sizes, vec![(3, 3 * one), (3, 3 * one), (1, one)]);
}

fn response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Retry-After".into(), "7".into())],
        body: body.as_bytes().to_vec(),
        truncated: false,
    }
}

/// The verdict of a destination without indexer acknowledgement.
fn classify(response: &HttpResponse, request: &SentRequest) -> Verdict {
    retry::classify(response, request, false)
}

#[test]
fn with_ack_a_success_is_pending_on_its_ack_id() {
    let success = response(200, r#"{"text":"Success","code":0,"ackId":7}"#);
    assert!(matches!(
        retry::classify(&success, &sent(3), true),
        Verdict::Pending(ticket) if ticket == "7"
    ));
    assert!(matches!(classify(&success, &sent(3)), Verdict::Delivered));
    // A token without useACK answers no ackId: 200 is all HEC says.
    let plain = response(200, r#"{"text":"Success","code":0}"#);
    assert!(matches!(
        retry::classify(&plain, &sent(3), true),
        Verdict::Delivered
    ));
}

fn sent(event_count: u32) -> SentRequest {
    SentRequest {
        path: "/services/collector/event".into(),
        event_count,
    }
}

#[test]
fn every_hec_code_has_a_verdict() {
    let verdict = |status, code: u32| {
        classify(
            &response(status, &format!(r#"{{"text":"t","code":{code}}}"#)),
            &sent(3),
        )
    };
    assert!(matches!(verdict(200, 0), Verdict::Delivered));
    assert!(matches!(verdict(200, 24), Verdict::Delivered));
    for (status, code) in [
        (500, 8),
        (503, 9),
        (503, 18),
        (503, 19),
        (503, 20),
        (503, 23),
        (429, 26),
        (429, 27),
    ] {
        match verdict(status, code) {
            Verdict::Retry(advice) => assert_eq!(
                advice.after_ms,
                Some(7000),
                "Retry-After honoured for code {code}"
            ),
            other => panic!("code {code}: {other:?}"),
        }
    }
    for (status, code) in [
        (403, 1),
        (401, 2),
        (401, 3),
        (403, 4),
        (400, 5),
        (400, 7),
        (400, 10),
        (400, 11),
        (400, 14),
        (400, 16),
        (403, 21),
        (403, 22),
    ] {
        assert!(
            matches!(verdict(status, code), Verdict::Refused(ref r) if r.contains(&format!("HEC code {code}"))),
            "code {code}"
        );
    }
    // 6, 12, 13 and 15 without an index: nothing tells which event, refuse the request.
    assert!(matches!(verdict(400, 12), Verdict::Refused(_)));
}

/// Test vector H2: objects before the invalid one are indexed, it is refused, the rest resent.
#[test]
fn invalid_event_number_is_a_partial_failure() {
    for code in [6, 12, 13, 15] {
        let body =
            format!(r#"{{"text":"Invalid data format","code":{code},"invalid-event-number":1}}"#);
        let Verdict::Partial(partial) = classify(&response(400, &body), &sent(3)) else {
            panic!("code {code}")
        };
        assert_eq!(partial.retry, vec![2]);
        assert_eq!(partial.refused.len(), 1);
        assert_eq!(partial.refused[0].event, 1);
    }
}

#[test]
fn answers_without_a_hec_body_fall_back_to_the_status() {
    assert!(matches!(
        classify(&response(413, "too big"), &sent(2)),
        Verdict::TooLarge
    ));
    assert!(matches!(
        classify(&response(502, "<html>bad gateway</html>"), &sent(2)),
        Verdict::Retry(_)
    ));
    assert!(matches!(
        classify(&response(415, "<html>"), &sent(2)),
        Verdict::Refused(_)
    ));
    assert!(matches!(
        classify(
            &response(
                404,
                r#"{"text":"The requested URL was not found on this server.","code":404}"#
            ),
            &sent(2)
        ),
        Verdict::Refused(_)
    ));
}

/// A proxy or load balancer in front of HEC that echoes its status as `"code"` used to
/// have its 503, 429 and 413 refused outright, the whole batch dead-lettered.
#[test]
fn codes_that_are_not_hec_codes_fall_back_to_the_status() {
    let verdict = |status: u16| {
        classify(
            &response(
                status,
                &format!(r#"{{"text":"from a proxy","code":{status}}}"#),
            ),
            &sent(2),
        )
    };
    assert!(matches!(verdict(503), Verdict::Retry(_)));
    assert!(matches!(verdict(429), Verdict::Retry(_)));
    assert!(matches!(verdict(413), Verdict::TooLarge));
    assert!(matches!(verdict(400), Verdict::Refused(_)));
}

/// A 2xx counts only with HEC's own answer, an object whose integer `code` says it took
/// the request: a proxy's `{}`, its own error object, or a `code` that is a string, null
/// or a float were counted delivered.
#[test]
fn a_success_needs_hecs_own_answer() {
    for body in [
        r#"{"text":"Success","code":0}"#,
        r#"{"text":"Success","code":24}"#,
    ] {
        assert!(
            matches!(classify(&response(200, body), &sent(2)), Verdict::Delivered),
            "{body}"
        );
    }
    for body in [
        "{}",
        r#"{"status":"ok"}"#,
        r#"{"error":"Not Found","path":"/services/collector/event"}"#,
        r#"{"code":503,"message":"Service Unavailable"}"#,
        r#"{"text":"Success"}"#,
        r#"{"text":"Success","code":"0"}"#,
        r#"{"code":null}"#,
        r#"{"code":true}"#,
        r#"{"code":1e0}"#,
        r#"{"acks":{}}"#,
        "<html>portal</html>",
        "",
    ] {
        assert!(
            matches!(classify(&response(200, body), &sent(2)), Verdict::Retry(_)),
            "{body}"
        );
    }
}

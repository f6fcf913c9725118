//! The webhook encoder natively: framing, splitting, static headers, settings.

use sluice_guest::{Batch, EventId, Request, Settings, TimeSource};
use sluice_http::config::WebhookConfig;
use sluice_http::encoder::WebhookEncoder;

fn config(pairs: &[(&str, &str)]) -> Result<WebhookConfig, String> {
    let values = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    WebhookConfig::from_settings(&Settings::new(values, WebhookConfig::docs()))
        .map_err(|e| format!("{e:?}"))
}

fn batch(events: &[&str]) -> Batch<'static> {
    let mut batch = Batch::new();
    for (n, json) in events.iter().enumerate() {
        batch.push(json, 0, TimeSource::Event, EventId(n as u128));
    }
    batch
}

/// A request as the host sends it.
struct Sent {
    body: String,
    headers: Vec<(String, String)>,
    events: Vec<u32>,
}

fn requests(pairs: &[(&str, &str)], batch: &Batch) -> Vec<Sent> {
    let encoder = WebhookEncoder::new(config(pairs).unwrap());
    encoder
        .encode(batch, 1_700_000_000)
        .unwrap()
        .requests
        .iter()
        .map(|request| match request {
            Request::Http(http) => Sent {
                body: String::from_utf8(http.body.assemble(batch)).unwrap(),
                headers: http.headers.clone(),
                events: http.events.clone(),
            },
            Request::Messages(_) | Request::Publish(_) => panic!("a webhook is HTTP"),
        })
        .collect()
}

#[test]
fn a_json_array_of_the_events_byte_exact() {
    let batch = batch(&[r#"{"a":1}"#, r#"{"b":"é\n"}"#]);
    let requests = requests(&[("headers", "X-Source: sluice; X-Team: secops")], &batch);
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.body, r#"[{"a":1},{"b":"é\n"}]"#);
    assert_eq!(sent.events, [0, 1]);
    assert!(
        sent.headers
            .contains(&("Content-Type".into(), "application/json".into()))
    );
    assert!(sent.headers.contains(&("X-Team".into(), "secops".into())));
}

#[test]
fn ndjson_ends_every_event_with_a_newline() {
    let batch = batch(&[r#"{"a":1}"#, r#"{"b":2}"#]);
    let body = &requests(&[("format", "ndjson")], &batch)[0].body;
    assert_eq!(body, "{\"a\":1}\n{\"b\":2}\n");
}

#[test]
fn requests_split_under_the_limit_and_stay_valid_json() {
    let event = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300));
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(3000));
    let mut events = vec![event.as_str(); 9];
    events[4] = &huge;
    let batch = batch(&events);
    let encoder = WebhookEncoder::new(config(&[("max_request_bytes", "1024")]).unwrap());
    let formatted = encoder.encode(&batch, 0).unwrap();
    assert_eq!(formatted.refused.len(), 1);
    assert_eq!(formatted.refused[0].event, 4);
    let requests = requests(&[("max_request_bytes", "1024")], &batch);
    let mut sent: Vec<u32> = Vec::new();
    for request in &requests {
        assert!(request.body.len() <= 1024, "{}", request.body.len());
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&request.body).unwrap();
        assert_eq!(parsed.len(), request.events.len());
        sent.extend(request.events.iter().copied());
    }
    assert_eq!(sent, vec![0, 1, 2, 3, 5, 6, 7, 8]);
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    for (pairs, key) in [
        (vec![("path", "ingest")], "path"),
        (vec![("format", "xml")], "format"),
        (vec![("headers", "no colon")], "headers"),
        (vec![("headers", "Content-Length: 5")], "headers"),
        (vec![("headers", "Authorization: x")], "headers"),
        (vec![("headers", "Bad Name: x")], "headers"),
        (vec![("max_request_bytes", "5")], "max_request_bytes"),
    ] {
        let error = config(&pairs).unwrap_err();
        assert!(error.contains(key), "{pairs:?}: {error}");
    }
}

/// Every hostile line of `edge-cases.jsonl` that is an event arrives as it was, in a
/// body that stays one JSON array (and NDJSON stays one event per line).
#[test]
fn every_edge_case_arrives_as_it_was() {
    let lines = sluice_sink_cases::edge_case_events();
    let batch = sluice_sink_cases::batch_of(&lines);
    let array: Vec<serde_json::Value> = requests(&[], &batch)
        .iter()
        .flat_map(|sent| serde_json::from_str::<Vec<serde_json::Value>>(&sent.body).unwrap())
        .collect();
    let originals: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(array, originals);
    let ndjson: Vec<String> = requests(&[("format", "ndjson")], &batch)
        .iter()
        .flat_map(|sent| sent.body.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert_eq!(ndjson, lines);
}

#[test]
fn events_can_be_sent_as_ocsf() {
    let batch = batch(&[
        r#"{"timestamp":"x","event_type":"secret.read","org_id":"o","project":"p","environment":"e","actor":{"type":"user","id":"a1","name":"ann"},"resource":{"type":"secret","key":"K"},"source_ip":"1.2.3.4","user_agent":"ua","result":"success"}"#,
    ]);
    let body = &requests(&[("schema", "ocsf")], &batch)[0].body;
    let items: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
    assert_eq!(items[0]["class_uid"], 6003);
    assert_eq!(items[0]["activity_id"], 2);
}

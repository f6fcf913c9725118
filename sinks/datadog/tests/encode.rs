//! The Datadog encoder natively, against Datadog's Logs API documentation and test vectors
//! (10.3).

use sluice_datadog::config::DatadogConfig;
use sluice_datadog::encoder::LogsEncoder;
use sluice_guest::{Batch, Compression, Enrichment, EventId, Request, Settings, TimeSource};

fn enrichment() -> Enrichment {
    Enrichment {
        host_name: "host1".into(),
        machine_id: String::new(),
        sluice_version: "0.1.0".into(),
        tags: vec![("team".into(), "sec".into())],
    }
}

fn encoder(pairs: &[(&str, &str)]) -> LogsEncoder {
    let values = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::new(values, DatadogConfig::docs());
    LogsEncoder::new(DatadogConfig::from_settings(&settings, &enrichment()).unwrap())
}

/// Each request's items, parsed, and whether it is gzipped.
fn requests(encoder: &LogsEncoder, batch: &Batch) -> Vec<(Vec<serde_json::Value>, bool)> {
    encoder
        .encode(batch)
        .requests
        .iter()
        .map(|request| match request {
            Request::Http(http) => {
                assert_eq!(http.path, "/api/v2/logs");
                let body = http.body.assemble(batch);
                assert!(body.len() <= 5_000_000);
                let items: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
                assert_eq!(items.len(), http.events.len());
                (items, http.compression == Compression::Gzip)
            }
            Request::Messages(_) | Request::Publish(_) => panic!("Datadog is HTTP"),
        })
        .collect()
}

/// Test vector D1's shape: source, tags, host, service, status, epoch-ms timestamp,
/// and the event in `message`.
#[test]
fn an_item_carries_the_event_and_its_metadata() {
    let mut batch = Batch::new();
    let event = r#"{"user":"bob","action":"login","severity":"warning"}"#;
    batch.push(event, 1_714_566_896_789, TimeSource::Event, EventId(7));
    let encoder = encoder(&[
        ("ddsource", "acme-audit"),
        ("ddtags", "env:prod"),
        ("service", "auth"),
    ]);
    let (items, gzip) = requests(&encoder, &batch).remove(0);
    assert!(gzip, "on by default");
    let item = &items[0];
    assert_eq!(item["ddsource"], "acme-audit");
    assert_eq!(item["ddtags"], "env:prod,team:sec");
    assert_eq!(item["hostname"], "host1");
    assert_eq!(item["service"], "auth");
    assert_eq!(item["status"], "warning");
    assert_eq!(item["timestamp"], 1_714_566_896_789u64);
    assert_eq!(item["sluice_event_id"], format!("{:032x}", 7));
    assert_eq!(item["message"], event);
}

/// Test vector D2: 1001 logs go as 1000 + 1; a log over 1 MB is refused, not cut.
#[test]
fn requests_keep_to_1000_items_and_no_item_over_a_megabyte() {
    let mut batch = Batch::new();
    for n in 0..1001 {
        batch.push(&format!(r#"{{"n":{n}}}"#), 0, TimeSource::Event, EventId(n));
    }
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(1_100_000));
    batch.push(&huge, 0, TimeSource::Event, EventId(5000));
    let encoder = encoder(&[]);
    let sizes: Vec<usize> = requests(&encoder, &batch)
        .iter()
        .map(|(items, _)| items.len())
        .collect();
    assert_eq!(sizes, vec![1000, 1]);
    let refused = encoder.encode(&batch).refused;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].event, 1001);
    assert!(
        refused[0].reason.contains("1000000"),
        "{}",
        refused[0].reason
    );
}

#[test]
fn requests_stay_under_max_request_bytes() {
    let mut batch = Batch::new();
    let event = format!(r#"{{"pad":"{}"}}"#, "y".repeat(500));
    for n in 0..50 {
        batch.push(&event, 0, TimeSource::Event, EventId(n));
    }
    let encoder = encoder(&[("max_request_bytes", "4096"), ("gzip", "false")]);
    let requests = requests(&encoder, &batch);
    assert!(requests.len() > 5);
    assert!(requests.iter().all(|(_, gzip)| !gzip));
    assert_eq!(
        requests.iter().map(|(items, _)| items.len()).sum::<usize>(),
        50
    );
}

/// Every hostile line of `edge-cases.jsonl` that is an event arrives whole in `message`,
/// and every body stays one JSON array.
#[test]
fn every_edge_case_survives_in_message() {
    let originals = sluice_sink_cases::edge_case_events();
    let batch = sluice_sink_cases::batch_of(&originals);
    let items: Vec<serde_json::Value> = requests(&encoder(&[]), &batch)
        .into_iter()
        .flat_map(|(items, _)| items)
        .collect();
    let messages: Vec<&str> = items
        .iter()
        .map(|i| i["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, originals);
}

//! The Sentinel encoder natively, against the Logs Ingestion API's documentation.

use sluice_guest::{Batch, EventId, Request, Settings, TimeSource};
use sluice_sentinel::config::SentinelConfig;
use sluice_sentinel::encoder::IngestionEncoder;

const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";

fn config(pairs: &[(&str, &str)]) -> Result<SentinelConfig, String> {
    let mut values: Vec<(String, String)> = vec![
        ("dcr_immutable_id".into(), DCR.into()),
        ("stream".into(), "Custom-SluiceAudit_CL".into()),
    ];
    values.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    SentinelConfig::from_settings(&Settings::new(values, SentinelConfig::docs()))
        .map_err(|e| format!("{e:?}"))
}

fn bodies(pairs: &[(&str, &str)], batch: &Batch) -> Vec<(String, String, Vec<u32>)> {
    let encoder = IngestionEncoder::new(config(pairs).unwrap());
    encoder
        .encode(batch)
        .requests
        .iter()
        .map(|request| match request {
            Request::Http(http) => (
                http.path.clone(),
                String::from_utf8(http.body.assemble(batch)).unwrap(),
                http.events.clone(),
            ),
            Request::Messages(_) | Request::Publish(_) => panic!("Sentinel is HTTP"),
        })
        .collect()
}

#[test]
fn events_go_to_the_rules_stream_with_time_generated_first() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"User":"bob","Action":"login"}"#,
        1_714_566_896_789,
        TimeSource::Event,
        EventId(1),
    );
    batch.push(
        r#"{"TimeGenerated":"2020-01-01T00:00:00Z","a":1}"#,
        0,
        TimeSource::Event,
        EventId(2),
    );
    batch.push("{}", 0, TimeSource::Ingest, EventId(3));
    let (path, body, events) = bodies(&[], &batch).remove(0);
    assert_eq!(
        path,
        format!("/dataCollectionRules/{DCR}/streams/Custom-SluiceAudit_CL?api-version=2023-01-01")
    );
    assert_eq!(
        body,
        r#"[{"TimeGenerated":"2024-05-01T12:34:56.789Z","User":"bob","Action":"login"},{"TimeGenerated":"2020-01-01T00:00:00Z","a":1},{"TimeGenerated":"1970-01-01T00:00:00.000Z"}]"#
    );
    assert_eq!(events, [0, 1, 2]);
}

#[test]
fn calls_stay_under_the_limit_and_parse() {
    let mut batch = Batch::new();
    let event = format!(r#"{{"pad":"{}"}}"#, "z".repeat(400));
    let huge = format!(r#"{{"pad":"{}"}}"#, "z".repeat(5000));
    for n in 0..30 {
        let json = if n == 7 { &huge } else { &event };
        batch.push(json, 0, TimeSource::Event, EventId(n));
    }
    let pairs = [("max_request_bytes", "2048")];
    let encoder = IngestionEncoder::new(config(&pairs).unwrap());
    assert_eq!(encoder.encode(&batch).refused.len(), 1);
    let mut sent = 0;
    for (_, body, events) in bodies(&pairs, &batch) {
        assert!(body.len() <= 2048, "{}", body.len());
        let items: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        assert_eq!(items.len(), events.len());
        assert!(items.iter().all(|i| i["TimeGenerated"].is_string()));
        sent += events.len();
    }
    assert_eq!(sent, 29);
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    for (pairs, key) in [
        (vec![("dcr_immutable_id", "dcr-123")], "dcr_immutable_id"),
        (vec![("stream", "Custom/../x")], "stream"),
        (vec![("max_request_bytes", "2000000")], "max_request_bytes"),
    ] {
        let error = config(&pairs).unwrap_err();
        assert!(error.contains(key), "{pairs:?}: {error}");
    }
}

/// Every hostile line of `edge-cases.jsonl` that is an event becomes one row with its
/// own fields unchanged and a `TimeGenerated`.
#[test]
fn every_edge_case_is_a_row() {
    let events = sluice_sink_cases::edge_case_events();
    let batch = sluice_sink_cases::batch_of(&events);
    let originals: Vec<serde_json::Map<String, serde_json::Value>> = events
        .iter()
        .map(|event| serde_json::from_str(event).unwrap())
        .collect();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = bodies(&[], &batch)
        .into_iter()
        .flat_map(|(_, body, _)| serde_json::from_str::<Vec<_>>(&body).unwrap())
        .collect();
    assert_eq!(rows.len(), originals.len());
    for (row, original) in rows.iter().zip(&originals) {
        assert!(row["TimeGenerated"].is_string());
        for (key, value) in original {
            assert_eq!(row.get(key), Some(value), "{key}");
        }
    }
}

/// `TimeGenerated` was looked for in the event's text: a value that said it kept the
/// field from being added, and an escaped key got a second one.
#[test]
fn time_generated_is_a_top_level_key_not_text() {
    let mut batch = Batch::new();
    batch.push(
        r#"{"note":"\"TimeGenerated\""}"#,
        0,
        TimeSource::Event,
        EventId(1),
    );
    batch.push(
        r#"{"\u0054imeGenerated":"2020-01-01T00:00:00Z"}"#,
        0,
        TimeSource::Event,
        EventId(2),
    );
    let (_, body, _) = bodies(&[], &batch).remove(0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert!(rows[0]["TimeGenerated"].is_string(), "{body}");
    assert_eq!(rows[1]["TimeGenerated"], "2020-01-01T00:00:00Z", "{body}");
    assert_eq!(
        body.matches("imeGenerated\":").count(),
        2,
        "one per row: {body}"
    );
}

/// A time column named `sluice` would be a second member of that name beside the
/// enrichment's: refused, unless the enrichment is off.
#[test]
fn a_time_column_named_as_the_enrichment_is_refused_unless_it_is_off() {
    use sluice_guest::{Enrichment, Formatter};
    use sluice_sentinel::Sentinel;
    let settings = |extra: &[(&str, &str)]| {
        let mut values: Vec<(String, String)> = vec![
            ("dcr_immutable_id".into(), DCR.into()),
            ("stream".into(), "Custom-SluiceAudit_CL".into()),
            ("time_field".into(), "sluice".into()),
        ];
        values.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::new(values, Sentinel::info().settings)
    };
    let enrichment = Enrichment {
        host_name: "web-1".into(),
        machine_id: String::new(),
        sluice_version: "0.1.0".into(),
        tags: Vec::new(),
    };
    let refused = Sentinel::new(&settings(&[]), &enrichment)
        .err()
        .expect("refused");
    assert!(format!("{refused:?}").contains("time_field"), "{refused:?}");
    assert!(Sentinel::new(&settings(&[("enrichment", "none")]), &enrichment).is_ok());
}

//! The Splunk HEC encoder on arbitrary events (JSON objects) and settings: every event
//! is sent once or refused, each request is stacked JSON envelopes that parse, each
//! envelope's `event` is the event byte for byte, and requests stay under
//! `max_request_bytes`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use sluice_guest::{Batch, Enrichment, EventId, Request, Settings, TimeSource};
use sluice_splunk_hec::config::SplunkHecConfig;
use sluice_splunk_hec::encoder::HecEncoder;

fuzz_target!(|input: (Vec<(String, i64, bool)>, u16, bool, String)| {
    let (events, limit, indexed_fields, tag) = input;
    let mut batch = Batch::new();
    let mut texts = Vec::new();
    for (i, (value, time_ms, ingest)) in events.iter().enumerate() {
        // An object holding arbitrary text, as the host would have validated it.
        let json = serde_json::json!({ "v": value, "i": i }).to_string();
        let source = if *ingest {
            TimeSource::Ingest
        } else {
            TimeSource::Event
        };
        batch.push(
            &json,
            *time_ms,
            source,
            EventId(i as u128 * 0x9e37_79b9_7f4a_7c15),
        );
        texts.push(json);
    }
    let max_request_bytes = 200 + usize::from(limit);
    let values = vec![
        (
            "max_request_bytes".to_owned(),
            max_request_bytes.to_string(),
        ),
        ("indexed_fields".to_owned(), indexed_fields.to_string()),
    ];
    let settings = Settings::new(values, SplunkHecConfig::docs());
    let enrichment = Enrichment {
        host_name: "host".into(),
        machine_id: String::new(),
        sluice_version: "0".into(),
        tags: vec![("tag".into(), tag)],
    };
    let Ok(config) = SplunkHecConfig::from_settings(&settings, &enrichment) else {
        return;
    };
    let formatted = HecEncoder::new(config, &enrichment).encode(&batch);

    let mut placed = vec![0u32; texts.len()];
    for refusal in &formatted.refused {
        placed[refusal.event as usize] += 1;
    }
    for request in &formatted.requests {
        let Request::Http(http) = request else {
            panic!("HEC is HTTP")
        };
        let body = http.body.assemble(&batch);
        assert!(
            body.len() <= max_request_bytes,
            "{} over {max_request_bytes}",
            body.len()
        );
        let envelopes: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::Deserializer::from_slice(&body)
                .into_iter()
                .collect::<Result<_, _>>()
                .expect("stacked envelopes parse");
        assert_eq!(envelopes.len(), http.events.len());
        // The raw `event` of each envelope is the event's text.
        let raw: Vec<RawEnvelope> = serde_json::Deserializer::from_slice(&body)
            .into_iter::<RawEnvelope>()
            .collect::<Result<_, _>>()
            .unwrap();
        for (envelope, &index) in raw.iter().zip(&http.events) {
            placed[index as usize] += 1;
            assert_eq!(envelope.event.get(), texts[index as usize]);
        }
    }
    assert!(
        placed.iter().all(|&n| n == 1),
        "every event once: {placed:?}"
    );
});

#[derive(serde::Deserialize)]
struct RawEnvelope {
    event: Box<RawValue>,
}

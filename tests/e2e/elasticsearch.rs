//! The `elasticsearch` module end to end, against the strict `_bulk` endpoint of
//! `support/es.rs`.

use std::process::Output;

use serde_json::Value;

use crate::support::es::{EsAuth, EsReceiver};
use crate::support::{Harness, SAMPLE_FILES, summary_figure, transcript, write_events};

const API_KEY: &str = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";

fn destination(endpoint: &str, extra: &str) -> String {
    format!(
        "[[destinations]]\nname = \"elastic\"\nmodule = \"elasticsearch\"\nendpoint = {endpoint:?}\ntoken = {{ env = \"ES_API_KEY\" }}\n{extra}\n"
    )
}

/// The sample files run to a strict receiver's data stream with `index =
/// "logs-audit-default"` and `more` settings: the documents stored, and the run's output.
async fn samples_to_a_data_stream(more: &str) -> (Vec<(String, Value, usize)>, Output) {
    let receiver = EsReceiver::start(EsAuth::ApiKey(API_KEY.into())).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{}",
        destination(
            receiver.endpoint(),
            &format!("settings = {{ index = \"logs-audit-default\", {more} }}")
        )
    ));
    let output = harness.run_ok(&[("ES_API_KEY", API_KEY)]).await;
    (receiver.documents("logs-audit-default"), output)
}

/// Every sample event reaches the data stream once, its `_id` the event id, with an
/// `@timestamp` (added where the event had none).
#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_reaches_a_data_stream_once_with_its_event_id() {
    let (documents, output) = samples_to_a_data_stream("gzip = true").await;
    assert_eq!(documents.len(), 290, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "delivered"), 290);
    for (id, document, writes) in &documents {
        assert_eq!(id.len(), 32, "{id}");
        assert_eq!(*writes, 1);
        assert!(document["@timestamp"].is_string(), "{document}");
    }
}

/// One bulk answer with items 201, 429 and 400: only the throttled documents are sent
/// again, the refused ones are dead-lettered with Elasticsearch's error, and nothing is
/// written twice.
#[tokio::test(flavor = "multi_thread")]
async fn only_throttled_items_are_resent_and_refused_ones_are_dead_lettered() {
    let receiver = EsReceiver::start(EsAuth::ApiKey(API_KEY.into())).await;
    let harness = Harness::new();
    let mut lines = String::new();
    for n in 0..100u64 {
        let poison = if n % 10 == 7 { ",\"poison\":true" } else { "" };
        lines.push_str(&format!(
            "{{\"timestamp\":\"2026-11-20T08:00:00Z\",\"n\":{n}{poison}}}\n"
        ));
    }
    harness.write("data/audit.jsonl", lines);
    for n in (3..100).step_by(10) {
        receiver.throttle(n, 2);
    }
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n{}",
        destination(
            receiver.endpoint(),
            "settings = { index = \"audit\" }\nretry = { initial_backoff = \"20ms\", max_backoff = \"50ms\" }"
        )
    ));
    let output = harness.run_expecting(3, &[("ES_API_KEY", API_KEY)]).await;

    let documents = receiver.documents("audit");
    assert_eq!(documents.len(), 90, "{}", transcript(&output));
    assert!(documents.iter().all(|(_, _, writes)| *writes == 1));
    // The first request, and one per round of retries for the throttled items.
    assert_eq!(receiver.requests(), 3, "{}", transcript(&output));
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 10);
    assert!(dead.iter().all(|r| {
        r["event"]["poison"] == true
            && r["reason"]
                .as_str()
                .unwrap()
                .contains("mapper_parsing_exception")
    }));
}

/// Sent again without checkpoints, every document is a 409 on `create`: counted as
/// delivered (the earlier run wrote it), nothing written twice, exit 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_resend_is_a_version_conflict_counted_as_delivered() {
    let receiver = EsReceiver::start(EsAuth::ApiKey(API_KEY.into())).await;
    let harness = Harness::new();
    write_events(&harness, "data/audit.jsonl", 500);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n{}",
        destination(receiver.endpoint(), "settings = { index = \"logs-a\" }")
    ));
    harness.run_ok(&[("ES_API_KEY", API_KEY)]).await;
    let output = harness.run_ok(&[("ES_API_KEY", API_KEY)]).await;

    assert_eq!(summary_figure(&output, "delivered"), 500);
    let documents = receiver.documents("logs-a");
    assert_eq!(documents.len(), 500);
    assert!(documents.iter().all(|(_, _, writes)| *writes == 1));
}

/// `basic_auth`: the host encodes `user:password` (test vector E4) and sends it in the
/// module's credential header; a wrong password is refused by the server and the events
/// are dead-lettered with its reason.
#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_is_encoded_by_the_host() {
    let receiver = EsReceiver::start(EsAuth::Basic("ZWxhc3RpYzpjaGFuZ2VtZQ==".into())).await;
    let harness = Harness::new();
    write_events(&harness, "data/audit.jsonl", 10);
    let config = format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n[[destinations]]\nname = \"opensearch\"\nmodule = \"elasticsearch\"\nendpoint = {:?}\nbasic_auth = {{ user = \"elastic\", password = {{ env = \"ES_PASSWORD\" }} }}\nsettings = {{ index = \"audit\", flavor = \"opensearch\" }}\n",
        receiver.endpoint()
    );
    harness.config(&config);
    harness.run_ok(&[("ES_PASSWORD", "changeme")]).await;
    assert_eq!(receiver.documents("audit").len(), 10);

    let output = harness.run_expecting(3, &[("ES_PASSWORD", "wrong")]).await;
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 10, "{}", transcript(&output));
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("security_exception")
    );
    assert!(
        !transcript(&output).contains("wrong"),
        "the password is never logged"
    );
}

/// Seed 000's documents carry their own ids: `id_field` makes one the `_id` (a resend
/// still writes nothing twice), and an event without it keeps the event id.
#[tokio::test(flavor = "multi_thread")]
async fn id_field_names_the_documents_by_the_events_own_ids() {
    let receiver = EsReceiver::start(EsAuth::ApiKey(API_KEY.into())).await;
    let harness = Harness::new();
    harness.write(
        "data/events.jsonl",
        "{\"id\":\"evt-\\\"1\",\"n\":1}\n{\"id\":42,\"n\":2}\n{\"n\":3}\n",
    );
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{}",
        destination(
            receiver.endpoint(),
            "settings = { index = \"audit\", id_field = \"id\" }"
        )
    ));
    let output = harness.run_ok(&[("ES_API_KEY", API_KEY)]).await;
    let mut ids: Vec<String> = receiver
        .documents("audit")
        .into_iter()
        .map(|(id, _, writes)| {
            assert_eq!(writes, 1);
            id
        })
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 3, "{}", transcript(&output));
    assert!(ids.contains(&"42".to_owned()), "{ids:?}");
    assert!(ids.contains(&"evt-\"1".to_owned()), "{ids:?}");
    assert!(
        ids.iter().any(|id| id.len() == 32),
        "the event id for the event without one: {ids:?}"
    );
}

/// An event's own `sluice` and `@timestamp` are kept and not added again, wherever in
/// its text they are (the module looks for both in one pass over 32 bytes at a time,
/// in WebAssembly's SIMD, which native tests of the SDK do not run); the same words in
/// a value or a nested object, or a key spelled with `\u`, are told apart. A field
/// named twice would be refused by the receiver, as by Elasticsearch.
#[tokio::test(flavor = "multi_thread")]
async fn an_events_own_sluice_and_timestamp_are_kept_wherever_they_are_and_never_doubled() {
    let receiver = EsReceiver::start(EsAuth::ApiKey(API_KEY.into())).await;
    let harness = Harness::new();
    let own_time = "2020-01-02T03:04:05Z";
    let mut lines = String::new();
    for pad in 0..70 {
        let filler = "f".repeat(pad);
        for (shape, line) in [
            format!(r#"{{"{filler}":1,"@timestamp":"{own_time}","#),
            format!(r#"{{"k":"{filler}","sluice":{{"mine":true}},"#),
            format!(
                r#"{{"{filler}":"@timestamp sluice","sluice":"own","@timestamp":"{own_time}","#
            ),
            format!(r#"{{"k":"{filler} \"sluice\"","n":{{"@timestamp":1,"sluice":2}},"#),
            format!(r#"{{"k":"{filler}","\u0073luice":0,"\u0040timestamp":"{own_time}","#),
        ]
        .into_iter()
        .enumerate()
        {
            lines.push_str(&format!("{line}\"shape\":{shape},\"pad\":{pad}}}\n"));
        }
    }
    harness.write("data/audit.jsonl", lines);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n{}",
        destination(receiver.endpoint(), "settings = { index = \"audit\" }")
    ));
    let output = harness.run_ok(&[("ES_API_KEY", API_KEY)]).await;

    let documents = receiver.documents("audit");
    assert_eq!(documents.len(), 350, "{}", transcript(&output));
    for (_, document, _) in &documents {
        let shape = document["shape"].as_u64().unwrap();
        let own_time_kept = document["@timestamp"] == own_time;
        let stamped = document["sluice"]["event_id"].is_string();
        let (keeps_time, keeps_sluice) = match shape {
            0 => (true, false),
            1 => (false, true),
            2 | 4 => (true, true),
            _ => (false, false),
        };
        assert_eq!(own_time_kept, keeps_time, "{document}");
        assert!(document["@timestamp"].is_string(), "{document}");
        assert_eq!(stamped, !keeps_sluice, "{document}");
    }
}

/// A schema's document beside the enrichment gets one `@timestamp`: ECS's own, or the
/// event time for OCSF (asked after the enrichment went ahead of the mapping, the
/// answer was always "none yet", and every ECS document carried two, which the
/// receiver refuses as Elasticsearch does).
#[tokio::test(flavor = "multi_thread")]
async fn a_schemas_document_has_one_timestamp_beside_the_enrichment() {
    for schema in ["ecs", "ocsf"] {
        let (documents, output) = samples_to_a_data_stream(&format!("schema = \"{schema}\"")).await;
        assert_eq!(documents.len(), 290, "{schema}: {}", transcript(&output));
        for (_, document, _) in &documents {
            assert!(document["@timestamp"].is_string(), "{schema}: {document}");
            assert!(
                document["sluice"]["event_id"].is_string(),
                "{schema}: {document}"
            );
        }
    }
}

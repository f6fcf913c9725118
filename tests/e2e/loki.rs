//! The example module (`examples/modules/loki`) end to end, loaded from a modules
//! directory as a user's own module is: every sample event reaches a strict Loki push
//! endpoint once, as its line, at its time; a 429 on the way is waited out.

use serde_json::Value;

use crate::support::loki::LokiReceiver;
use crate::support::{Harness, SAMPLE_FILES, objects_in, sorted, test_module, transcript};

#[tokio::test(flavor = "multi_thread")]
async fn the_example_module_delivers_every_event_to_loki() {
    let receiver = LokiReceiver::start("loki-token").await;
    receiver.make_busy(1);
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.write(
        "modules/loki.wasm",
        std::fs::read(test_module("loki")).unwrap(),
    );
    harness.config(&format!(
        "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\
         [[destinations]]\nname = \"loki\"\nmodule = \"loki\"\nendpoint = {:?}\n\
         token = {{ env = \"LOKI_TOKEN\" }}\nsettings = {{ job = \"audit\", tenant = \"secops\" }}\n\
         batch = {{ max_events = 100 }}\n",
        receiver.endpoint()
    ));

    let output = harness.run_ok(&[("LOKI_TOKEN", "loki-token")]).await;

    let expected: Vec<Value> = SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&harness.path(&format!("data/{name}"))))
        .collect();
    let entries = receiver.entries();
    let lines: Vec<Value> = entries
        .iter()
        .map(|entry| serde_json::from_str(&entry.line).unwrap())
        .collect();
    assert_eq!(
        sorted(lines),
        sorted(expected.clone()),
        "{}",
        transcript(&output)
    );
    assert!(
        entries
            .iter()
            .all(|entry| entry.labels == serde_json::json!({"job": "audit"})
                && entry.tenant.as_deref() == Some("secops"))
    );
    // Each line at its event's time (`timestamp` in the proxy sample), in nanoseconds.
    let proxy = entries
        .iter()
        .find(|entry| entry.line.contains("\"sanitized_count\""))
        .expect("a proxy event");
    let event: Value = serde_json::from_str(&proxy.line).unwrap();
    let time: jiff::Timestamp = event["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(proxy.nanoseconds, time.as_nanosecond());
    assert!(
        receiver.requests() > expected.len() / 100,
        "batches of 100, and the 429"
    );
}

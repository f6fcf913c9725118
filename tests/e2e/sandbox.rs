//! Modules that trap, loop or hoard memory fail their own calls; the host and the other
//! destinations go on.

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{FILE_SOURCE, Harness, splunk_destination, test_module, transcript};

#[tokio::test(flavor = "multi_thread")]
async fn a_misbehaving_module_fails_only_its_own_calls() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    let misbehave = test_module("misbehave");
    let limits = "[limits]\nmodule_memory_bytes = 33554432\nmodule_call_timeout = \"2s\"\nmodule_output_bytes = 8388608\n";
    let mut config = format!(
        "{limits}{FILE_SOURCE}{}",
        splunk_destination(&receiver.endpoint(), "")
    );
    for mode in ["trap", "loop", "alloc", "huge-output"] {
        config.push_str(&format!(
            r#"
[[destinations]]
name = "{mode}"
module = {misbehave:?}
endpoint = "http://127.0.0.1:9"
settings = {{ mode = "{mode}" }}
concurrency = 1
retry = {{ max_attempts = 2, initial_backoff = "10ms", max_backoff = "20ms" }}
"#
        ));
    }
    harness.config(&config);

    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    assert_eq!(
        receiver.indexed().len(),
        50,
        "the healthy destination got everything"
    );

    let dead = harness.dead_letters();
    let reasons = |destination: &str| -> Vec<String> {
        dead.iter()
            .filter(|r| r["destination"] == destination)
            .map(|r| r["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    for (mode, expected) in [
        ("trap", "trapped"),
        ("loop", "ran past its time limit"),
        ("alloc", "trapped"),
        ("huge-output", "over the limit"),
    ] {
        let reasons = reasons(mode);
        assert_eq!(
            reasons.len(),
            50,
            "{mode}: every event dead-lettered once\n{}",
            transcript(&output)
        );
        assert!(
            reasons
                .iter()
                .all(|r| r.starts_with("gave up after 2 attempts") && r.contains(expected)),
            "{mode}: {}",
            reasons[0]
        );
    }
}

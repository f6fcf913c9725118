//! The `sumo-logic` module, its collector URL a secret of the host (`endpoint = { env
//! = ... }`), against the Sumo Logic source of `support/sumo.rs`: the URL's code is never
//! shown, whatever goes wrong.

use serde_json::Value;

use crate::support::sumo::SumoSource;
use crate::support::{Harness, SAMPLE_FILES, data_file, objects_in, sorted, transcript};

const CODE: &str = "ZaVnC4dhaV2ZW1hgHfSbnNDOA8mFqIcUvLBoEaj0Lq-secret-code";

fn config() -> String {
    "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"sumo\"\nmodule = \"sumo-logic\"\nendpoint = { env = \"SUMO_URL\" }\nsettings = { category = \"prod/audit\" }\nretry = { max_attempts = 2, initial_backoff = \"50ms\" }\n".to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_the_secret_collector_url_which_is_never_shown() {
    let sumo = SumoSource::start(CODE).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&config());

    let output = harness.run_ok(&[("SUMO_URL", &sumo.url(CODE))]).await;
    let messages = sumo.messages();
    assert!(
        messages
            .iter()
            .all(|(_, category)| category.as_deref() == Some("prod/audit"))
    );
    let arrived: Vec<Value> = messages
        .iter()
        .map(|(line, _)| serde_json::from_str(line).unwrap())
        .collect();
    let expected: Vec<Value> = SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&data_file(name)))
        .collect();
    assert_eq!(sorted(arrived), sorted(expected), "{}", transcript(&output));
    assert!(!transcript(&output).contains(CODE));

    // A wrong code: refused (401) and dead-lettered; nowhere answering: retried, then
    // dead-lettered. Neither says the URL.
    for url in [
        sumo.url("wrong-code-of-another-source"),
        format!("http://127.0.0.1:9/receiver/v1/http/{CODE}"),
    ] {
        let harness = Harness::new();
        harness.copy_data(&["idp-audit.jsonl"]);
        harness.config(&config());
        let failed = harness.run_expecting(3, &[("SUMO_URL", &url)]).await;
        let said = transcript(&failed);
        let dead: String = harness
            .dead_letters()
            .iter()
            .map(Value::to_string)
            .collect();
        assert!(!dead.is_empty(), "{said}");
        for text in [&said, &dead] {
            assert!(
                !text.contains(CODE) && !text.contains("wrong-code"),
                "{text}"
            );
        }
        assert!(dead.contains("SUMO_URL") || dead.contains("401"), "{dead}");
    }

    let refused = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(
        transcript(&refused).contains("SUMO_URL is not set"),
        "{}",
        transcript(&refused)
    );
}

//! CloudWatch Logs through moto's server, which checks every request's AWS Signature V4
//! against the key it made: the `cloudwatch-logs` module formats, the host signs with
//! keys the module never sees, from the destination's `aws` table or the environment.

use serde_json::Value;

use crate::support::moto::{AccessKey, MotoServer};
use crate::support::{Harness, transcript};

const GROUP: &str = "audit";
const STREAM: &str = "host-1";

/// `count` events timed in the last minute (CloudWatch refuses events older than 14 days).
fn recent_events(harness: &Harness, count: usize) -> Vec<Value> {
    let now = jiff::Timestamp::now();
    let events: Vec<Value> = (0..count)
        .map(|n| {
            let time = now - jiff::SignedDuration::from_millis(60_000 - n as i64);
            serde_json::json!({"timestamp": time.to_string(), "action": "secret.read", "n": n, "note": "zoë \"q\""})
        })
        .collect();
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    harness.write("data/events.jsonl", text);
    events
}

fn config(moto: &MotoServer, keys: &str) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\n[[destinations]]\nname = \"cloudwatch\"\nmodule = \"cloudwatch-logs\"\nendpoint = \"{}\"\naws = {{ region = \"us-east-1\", service = \"logs\"{keys} }}\nsettings = {{ log_group = \"{GROUP}\", log_stream = \"{STREAM}\" }}\nretry = {{ max_attempts = 2, initial_backoff = \"50ms\" }}\n",
        moto.endpoint()
    )
}

const TABLE_KEYS: &str =
    ", access_key_id = { env = \"CW_KEY_ID\" }, secret_access_key = { env = \"CW_SECRET\" }";

fn key_env(key: &AccessKey) -> [(&str, &str); 2] {
    [
        ("CW_KEY_ID", key.id.as_str()),
        ("CW_SECRET", key.secret.as_str()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_arrives_in_requests_the_host_signed() {
    let moto = MotoServer::start().await;
    let key = moto.setup(GROUP, STREAM).await;
    let harness = Harness::new();
    let events = recent_events(&harness, 300);
    harness.config(&config(&moto, TABLE_KEYS));

    let checked = harness
        .sluice(&["check", "--connect", "-c", "sluice.toml"], &key_env(&key))
        .await;
    assert!(checked.status.success(), "{}", transcript(&checked));
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains("credential accepted"),
        "{}",
        transcript(&checked)
    );

    let output = harness.run_ok(&key_env(&key)).await;
    let said = transcript(&output);
    assert!(
        !said.contains(&key.secret),
        "the secret is never written: {said}"
    );
    let arrived: Vec<Value> = moto
        .messages(&key, GROUP, STREAM)
        .await
        .iter()
        .map(|message| {
            // The host's enrichment rides in each message; the rest is the event.
            let mut arrived: Value = serde_json::from_str(message).unwrap();
            let enrichment = arrived.as_object_mut().unwrap().remove("sluice");
            assert!(
                enrichment.is_some_and(|e| e["event_id"].is_string()),
                "{message}"
            );
            arrived
        })
        .collect();
    assert_eq!(arrived, events, "every event, in time order: {said}");

    // The standard chain: the same keys from AWS's own environment variables.
    let harness = Harness::new();
    recent_events(&harness, 5);
    harness.config(&config(&moto, ""));
    harness
        .run_ok(&[
            ("AWS_ACCESS_KEY_ID", key.id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", key.secret.as_str()),
        ])
        .await;
    assert_eq!(moto.messages(&key, GROUP, STREAM).await.len(), 305);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_moto_refuses_dead_letters_the_events_and_never_shows_the_secret() {
    let moto = MotoServer::start().await;
    let key = moto.setup(GROUP, STREAM).await;
    let harness = Harness::new();
    recent_events(&harness, 10);
    harness.config(&config(&moto, TABLE_KEYS));
    let wrong = "wrong-secret-value";

    let refused = harness
        .sluice(
            &["check", "--connect", "-c", "sluice.toml"],
            &[("CW_KEY_ID", key.id.as_str()), ("CW_SECRET", wrong)],
        )
        .await;
    assert!(!refused.status.success(), "{}", transcript(&refused));
    assert!(
        transcript(&refused).contains("credential was refused"),
        "{}",
        transcript(&refused)
    );

    let output = harness
        .run_expecting(3, &[("CW_KEY_ID", key.id.as_str()), ("CW_SECRET", wrong)])
        .await;
    let said = transcript(&output);
    assert!(!said.contains(wrong), "{said}");
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 10, "{said}");
    assert!(
        dead[0].to_string().contains("SignatureDoesNotMatch"),
        "{}",
        dead[0]
    );
    assert!(moto.messages(&key, GROUP, STREAM).await.is_empty());
}

#[tokio::test]
async fn check_refuses_a_region_or_service_no_signature_could_name() {
    let harness = Harness::new();
    for (aws, expected) in [
        (
            "region = \"us east/1\", service = \"logs\"",
            "aws.region: `us east/1` is not an AWS region",
        ),
        (
            "region = \"eu-west-1\", service = \"\"",
            "aws.service: `` is not an AWS service",
        ),
    ] {
        let config = format!(
            "[[sources]]\ntype = \"stdin\"\n[[destinations]]\nname = \"cw\"\nmodule = \"cloudwatch-logs\"\nendpoint = \"https://logs.eu-west-1.amazonaws.com\"\naws = {{ {aws} }}\nsettings = {{ log_group = \"g\", log_stream = \"s\" }}\n"
        );
        let stderr = crate::support::check_fails(&harness, &config, &[]).await;
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

//! The `http` (webhook) module end to end: signed by the host with a key the module
//! never sees, checked by a receiver that refuses a bad signature or a stale timestamp.

use crate::support::webhook::WebhookReceiver;
use crate::support::{Harness, SAMPLE_FILES, objects_in, sorted, transcript, unstamped};

const KEY: &str = "a-webhook-secret-of-some-length";

fn config(endpoint: &str, extra: &str) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"hook\"\nmodule = \"http\"\nendpoint = {endpoint:?}\nsigning_keys = {{ hook = {{ env = \"HOOK_KEY\" }} }}\nsettings = {{ path = \"/hook\", signing_key = \"hook\", headers = \"X-Source: sluice\" }}\nbatch = {{ max_events = 50 }}\n{extra}\n"
    )
}

/// Every sample event arrives, unchanged, in signed requests the receiver
/// verified; one 429 on the way is waited out.
#[tokio::test(flavor = "multi_thread")]
async fn signed_batches_arrive_whole_and_verified() {
    let receiver = WebhookReceiver::start(Some(KEY.as_bytes())).await;
    receiver.make_busy(1);
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&config(receiver.endpoint(), ""));
    let output = harness.run_ok(&[("HOOK_KEY", KEY)]).await;

    let expected: Vec<_> = SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&harness.path(&format!("data/{name}"))))
        .collect();
    assert_eq!(
        sorted(receiver.events().into_iter().map(unstamped).collect()),
        sorted(expected),
        "{}",
        transcript(&output)
    );
    assert!(
        receiver.requests() > 290 / 50,
        "one 429 answered and retried"
    );
    assert!(
        !transcript(&output).contains(KEY),
        "the key is never logged"
    );
}

/// A key the receiver does not share: every request is refused (401) and its events
/// dead-lettered with the receiver's words.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_refused_and_the_events_dead_lettered() {
    let receiver = WebhookReceiver::start(Some(b"another key")).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&config(receiver.endpoint(), ""));
    let output = harness.run_expecting(3, &[("HOOK_KEY", KEY)]).await;

    assert!(receiver.events().is_empty());
    let dead = harness.dead_letters();
    assert!(!dead.is_empty(), "{}", transcript(&output));
    assert!(
        dead.iter()
            .all(|r| r["reason"] == "HTTP 401: signature mismatch"),
        "{:?}",
        dead[0]
    );
}

/// A `signing_key` that names no key of the destination is a `check` error, not a
/// failure of every batch.
#[tokio::test(flavor = "multi_thread")]
async fn a_signing_key_that_is_not_configured_is_a_check_error() {
    let receiver = WebhookReceiver::start(None).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(
        &config(receiver.endpoint(), "")
            .replace("signing_key = \"hook\"", "signing_key = \"missing\""),
    );
    let output = harness
        .sluice(&["check", "-c", "sluice.toml"], &[("HOOK_KEY", KEY)])
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("signing_key") && stderr.contains("missing"),
        "{stderr}"
    );
}

//! The `sentinel` module end to end, with the host's OAuth2 client credentials, against
//! the Entra ID and Logs Ingestion API of `support/azure.rs`.

use std::time::Duration;

use crate::support::azure::{Azure, CLIENT_ID, DCR, SHARED_KEY, STREAM, WORKSPACE};
use crate::support::{Harness, SAMPLE_FILES, transcript};

const SECRET: &str = "client-secret-value";

fn config(azure: &Azure, extra: &str) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"sentinel\"\nmodule = \"sentinel\"\nendpoint = {:?}\noauth2 = {{ token_url = {:?}, client_id = {CLIENT_ID:?}, client_secret = {{ env = \"AZURE_SECRET\" }}, scope = \"https://monitor.azure.com//.default\" }}\nsettings = {{ dcr_immutable_id = {DCR:?}, stream = {STREAM:?} }}\n{extra}\n",
        azure.endpoint(),
        azure.token_url()
    )
}

/// Tokens of two seconds while the export takes several: the host obtains new ones
/// before they expire, so no call is refused; every event arrives with its
/// `TimeGenerated`.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_refreshed_before_they_expire() {
    let azure = Azure::start(SECRET, Duration::from_secs(2)).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&config(
        &azure,
        "batch = { max_events = 25 }\nconcurrency = 1\nrate_limit = { requests_per_second = 3 }",
    ));
    let output = harness.run_ok(&[("AZURE_SECRET", SECRET)]).await;

    let rows = azure.rows();
    assert_eq!(rows.len(), 290, "{}", transcript(&output));
    assert!(rows.iter().all(|row| row["TimeGenerated"].is_string()));
    assert!(
        azure.tokens_issued() >= 3,
        "issued {}",
        azure.tokens_issued()
    );
    assert_eq!(
        azure.tokens_refused(),
        0,
        "no call went with an expired token"
    );
    assert!(!transcript(&output).contains(SECRET));
    assert!(
        !transcript(&output).contains("access-token-0001"),
        "tokens are never logged"
    );
}

/// A token revoked under way is refused once (401); the host obtains a new one and
/// sends the call again: nothing is dead-lettered.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_is_sent_again_once_with_a_new_token() {
    let azure = Azure::start(SECRET, Duration::from_secs(3600)).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&config(
        &azure,
        "batch = { max_events = 10 }\nconcurrency = 1\nrate_limit = { requests_per_second = 2 }",
    ));
    let run = harness.sluice(&["run", "-c", "sluice.toml"], &[("AZURE_SECRET", SECRET)]);
    // Once the first call went through with the first token.
    let revoke = async {
        while azure.rows().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        azure.revoke_all();
    };
    let (output, ()) = tokio::join!(run, revoke);

    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(azure.rows().len(), 50);
    assert_eq!(azure.tokens_refused(), 1, "{}", transcript(&output));
    assert_eq!(azure.tokens_issued(), 2);
    assert!(harness.dead_letters().is_empty());
}

/// A wrong client secret: the token endpoint's refusal is the reason of every
/// dead-lettered event (after the retries), and the secret is never written.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_client_secret_is_said_where_the_events_are() {
    let azure = Azure::start(SECRET, Duration::from_secs(3600)).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&config(
        &azure,
        "retry = { max_attempts = 2, initial_backoff = \"10ms\", max_backoff = \"20ms\" }",
    ));
    let output = harness
        .run_expecting(3, &[("AZURE_SECRET", "not-the-secret")])
        .await;
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 50, "{}", transcript(&output));
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid_client"),
        "{}",
        dead[0]
    );
    assert!(
        !std::fs::read_to_string(harness.path("dead-letter/dead-letter.jsonl"))
            .unwrap()
            .contains("not-the-secret")
    );
}

fn data_collector_config(azure: &Azure) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"workspace\"\nmodule = \"sentinel\"\nendpoint = {:?}\nazure_shared_key = {{ workspace_id = {WORKSPACE:?}, key = {{ env = \"WORKSPACE_KEY\" }} }}\nsettings = {{ api = \"data-collector\", log_type = \"SluiceAudit\" }}\nretry = {{ max_attempts = 2, initial_backoff = \"50ms\" }}\n",
        azure.endpoint()
    )
}

/// The Data Collector API: every event arrives as a row of the log type, its time in
/// the field the `time-generated-field` header names, each call signed by the host with
/// the workspace key; a wrong key is refused (403) and dead-letters the events, and the
/// key is never printed.
#[tokio::test(flavor = "multi_thread")]
async fn the_data_collector_api_takes_calls_the_host_signed_with_the_workspace_key() {
    let azure = Azure::start(SECRET, Duration::from_secs(3600)).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&data_collector_config(&azure));

    let output = harness.run_ok(&[("WORKSPACE_KEY", SHARED_KEY)]).await;
    let collected = azure.collected();
    assert_eq!(collected.len(), 290, "{}", transcript(&output));
    assert!(collected.iter().all(|(log_type, time_field, row)| {
        log_type == "SluiceAudit" && time_field == "EventTime" && row["EventTime"].is_string()
    }));
    assert_eq!(azure.signatures_refused(), 0);
    assert!(!transcript(&output).contains(SHARED_KEY));

    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmc=";
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&data_collector_config(&azure));
    let refused = harness.run_expecting(3, &[("WORKSPACE_KEY", wrong)]).await;
    assert!(azure.signatures_refused() > 0);
    let dead = harness.dead_letters();
    assert!(!dead.is_empty(), "{}", transcript(&refused));
    assert!(
        dead[0].to_string().contains("InvalidAuthorization"),
        "{}",
        dead[0]
    );
    assert!(!transcript(&refused).contains(wrong));
}

/// `check --connect` obtains a token and sends a call of no rows to the stream (the
/// Data Collector API: a call the host signed), and says which part failed: the token
/// request, the stream, or the signature.
#[tokio::test(flavor = "multi_thread")]
async fn check_connect_tests_the_token_the_stream_and_the_signature() {
    let azure = Azure::start(SECRET, Duration::from_secs(3600)).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let harness = &harness;
    let check = |config: String, env: (&'static str, &'static str)| {
        harness.config(&config);
        async move {
            harness
                .sluice(&["check", "--connect", "-c", "sluice.toml"], &[env])
                .await
        }
    };

    let taken = check(config(&azure, ""), ("AZURE_SECRET", SECRET)).await;
    assert_eq!(taken.status.code(), Some(0), "{}", transcript(&taken));
    assert!(
        String::from_utf8_lossy(&taken.stdout).contains(&format!(
            "credential accepted (POST /dataCollectionRules/{DCR}/streams/{STREAM}?api-version=2023-01-01 answered HTTP 204"
        )),
        "{}",
        transcript(&taken)
    );
    assert_eq!(azure.tokens_issued(), 1);
    assert!(azure.rows().is_empty(), "no row is sent by the check");

    let signed = check(data_collector_config(&azure), ("WORKSPACE_KEY", SHARED_KEY)).await;
    assert_eq!(signed.status.code(), Some(0), "{}", transcript(&signed));
    assert!(
        String::from_utf8_lossy(&signed.stdout).contains("credential accepted (POST /api/logs"),
        "{}",
        transcript(&signed)
    );

    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmc=";
    for (config, env, problem) in [
        (
            config(&azure, ""),
            ("AZURE_SECRET", "not-the-secret"),
            "no OAuth2 token: the OAuth2 token endpoint",
        ),
        (
            config(&azure, "").replace(STREAM, "Custom-Other_CL"),
            ("AZURE_SECRET", SECRET),
            "unexpected answer to the connection check POST /dataCollectionRules/",
        ),
        (
            data_collector_config(&azure),
            ("WORKSPACE_KEY", wrong_key),
            "the credential was refused: HTTP 403",
        ),
    ] {
        let failed = check(config, env).await;
        assert_eq!(failed.status.code(), Some(2), "{}", transcript(&failed));
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(stderr.contains(problem), "{problem}: {stderr}");
        // The token endpoint quotes the client secret, the stream's 404 the token: both
        // masked.
        assert!(
            !stderr.contains("not-the-secret")
                && !stderr.contains(wrong_key)
                && !stderr.contains("access-token-"),
            "{stderr}"
        );
    }
}

//! Opt-in: the sample export against real servers. Each test is ignored unless asked
//! for (`cargo test --test e2e real_splunk -- --ignored`, and `real_elasticsearch`,
//! `real_datadog`; `.ci/run` runs each when its URL or key variable is set). Asked for
//! without its variables, a test fails rather than pass untested.
//!
//! - Splunk: `SLUICE_TEST_SPLUNK_URL` (e.g. `https://splunk.example.com:8088`),
//!   `SLUICE_TEST_SPLUNK_TOKEN`; `SLUICE_TEST_SPLUNK_INDEX` (default `main`).
//! - Elasticsearch or OpenSearch: `SLUICE_TEST_ES_URL`, and `SLUICE_TEST_ES_API_KEY` or
//!   `SLUICE_TEST_ES_USER` with `SLUICE_TEST_ES_PASSWORD`; `SLUICE_TEST_ES_INDEX`
//!   (default the data stream `logs-sluice-test`).
//! - Datadog: `SLUICE_TEST_DD_API_KEY`; `SLUICE_TEST_DD_URL` (default
//!   `https://http-intake.logs.datadoghq.com`).
//!
//! `SLUICE_TEST_CA` (a PEM file) adds a private CA for any of them.

use crate::support::{FILE_SOURCE, Harness, SAMPLE_FILES, splunk_destination};

/// The variable `name`, or a failure saying which server is missing.
fn variable(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: no real server to test"))
}

/// `ca_file = ...` when `SLUICE_TEST_CA` names one.
fn ca() -> String {
    std::env::var("SLUICE_TEST_CA")
        .or_else(|_| std::env::var("SLUICE_TEST_SPLUNK_CA"))
        .map(|path| format!("ca_file = {path:?}"))
        .unwrap_or_default()
}

/// Runs the sample export through `destination` and fails if anything was refused.
async fn export_samples(destination: &str, env: &[(&str, &str)]) {
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&format!("{FILE_SOURCE}{destination}"));
    harness.run_ok(env).await;
    assert!(
        harness.dead_letters().is_empty(),
        "the server refused events: {:#?}",
        harness.dead_letters()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real Splunk: SLUICE_TEST_SPLUNK_URL and SLUICE_TEST_SPLUNK_TOKEN"]
async fn real_splunk_takes_the_samples() {
    let (url, token) = (
        variable("SLUICE_TEST_SPLUNK_URL"),
        variable("SLUICE_TEST_SPLUNK_TOKEN"),
    );
    let index = std::env::var("SLUICE_TEST_SPLUNK_INDEX").unwrap_or_else(|_| "main".into());
    let extra = format!(
        "settings = {{ index = {index:?}, sourcetype = \"sluice:test\" }}\nretry = {{ max_attempts = 3, initial_backoff = \"200ms\" }}\n{}",
        ca()
    );
    export_samples(&splunk_destination(&url, &extra), &[("HEC_TOKEN", &token)]).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real Elasticsearch or OpenSearch: SLUICE_TEST_ES_URL and a credential"]
async fn real_elasticsearch_takes_the_samples() {
    let url = variable("SLUICE_TEST_ES_URL");
    let index = std::env::var("SLUICE_TEST_ES_INDEX").unwrap_or_else(|_| "logs-sluice-test".into());
    let (credential, env) = match std::env::var("SLUICE_TEST_ES_API_KEY") {
        Ok(key) => (
            "token = { env = \"ES_API_KEY\" }".to_owned(),
            ("ES_API_KEY", key),
        ),
        Err(_) => (
            format!(
                "basic_auth = {{ user = {:?}, password = {{ env = \"ES_PASSWORD\" }} }}",
                variable("SLUICE_TEST_ES_USER")
            ),
            ("ES_PASSWORD", variable("SLUICE_TEST_ES_PASSWORD")),
        ),
    };
    let destination = format!(
        "[[destinations]]\nname = \"elastic\"\nmodule = \"elasticsearch\"\nendpoint = {url:?}\n{credential}\nsettings = {{ index = {index:?} }}\nretry = {{ max_attempts = 3, initial_backoff = \"200ms\" }}\n{}\n",
        ca()
    );
    export_samples(&destination, &[(env.0, &env.1)]).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Datadog API key: SLUICE_TEST_DD_API_KEY"]
async fn real_datadog_takes_the_samples() {
    let key = variable("SLUICE_TEST_DD_API_KEY");
    let url = std::env::var("SLUICE_TEST_DD_URL")
        .unwrap_or_else(|_| "https://http-intake.logs.datadoghq.com".into());
    let destination = format!(
        "[[destinations]]\nname = \"datadog\"\nmodule = \"datadog\"\nendpoint = {url:?}\ntoken = {{ env = \"DD_API_KEY\" }}\nsettings = {{ ddsource = \"sluice-test\" }}\nretry = {{ max_attempts = 3, initial_backoff = \"200ms\" }}\n{}\n",
        ca()
    );
    export_samples(&destination, &[("DD_API_KEY", &key)]).await;
}

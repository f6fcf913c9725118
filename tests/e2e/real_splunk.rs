//! Opt-in: the same export against a real Splunk HEC. Runs only when
//! `SLUICE_TEST_SPLUNK_URL` (e.g. `https://splunk.example.com:8088`) and
//! `SLUICE_TEST_SPLUNK_TOKEN` are set; `SLUICE_TEST_SPLUNK_INDEX` (default `main`) and
//! `SLUICE_TEST_SPLUNK_CA` (a PEM file, for a private CA) are optional. Without them the
//! test returns at once and says so.

use crate::support::{FILE_SOURCE, Harness, SAMPLE_FILES, splunk_destination};

#[tokio::test(flavor = "multi_thread")]
async fn exports_the_samples_to_a_real_splunk_when_one_is_named() {
    let (Ok(url), Ok(token)) = (
        std::env::var("SLUICE_TEST_SPLUNK_URL"),
        std::env::var("SLUICE_TEST_SPLUNK_TOKEN"),
    ) else {
        eprintln!(
            "SLUICE_TEST_SPLUNK_URL / SLUICE_TEST_SPLUNK_TOKEN not set: no real Splunk to test against"
        );
        return;
    };
    let index = std::env::var("SLUICE_TEST_SPLUNK_INDEX").unwrap_or_else(|_| "main".into());
    let ca = std::env::var("SLUICE_TEST_SPLUNK_CA")
        .map(|path| format!("ca_file = {path:?}"))
        .unwrap_or_default();
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    let extra = format!(
        "settings = {{ index = {index:?}, sourcetype = \"sluice:test\" }}\nretry = {{ max_attempts = 3, initial_backoff = \"200ms\" }}\n{ca}"
    );
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination(&url, &extra)
    ));
    harness.run_ok(&[("HEC_TOKEN", &token)]).await;
    assert!(
        harness.dead_letters().is_empty(),
        "Splunk refused events: {:#?}",
        harness.dead_letters()
    );
}

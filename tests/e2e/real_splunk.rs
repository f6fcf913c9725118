//! Opt-in: the same export against a real Splunk HEC. Ignored unless asked for
//! (`cargo test --test e2e real_splunk -- --ignored`, which `.ci/run` does when
//! `SLUICE_TEST_SPLUNK_URL` is set); it then needs `SLUICE_TEST_SPLUNK_URL` (e.g.
//! `https://splunk.example.com:8088`) and `SLUICE_TEST_SPLUNK_TOKEN`, and takes
//! `SLUICE_TEST_SPLUNK_INDEX` (default `main`) and `SLUICE_TEST_SPLUNK_CA` (a PEM file,
//! for a private CA). Asked for without them, it fails rather than pass untested.

use crate::support::{FILE_SOURCE, Harness, SAMPLE_FILES, splunk_destination};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real Splunk: SLUICE_TEST_SPLUNK_URL and SLUICE_TEST_SPLUNK_TOKEN"]
async fn exports_the_samples_to_a_real_splunk_when_one_is_named() {
    let variable = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: no real Splunk to test"))
    };
    let (url, token) = (
        variable("SLUICE_TEST_SPLUNK_URL"),
        variable("SLUICE_TEST_SPLUNK_TOKEN"),
    );
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

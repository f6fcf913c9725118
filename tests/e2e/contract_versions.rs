//! Contract versions side by side: modules built for the previous contracts (0.3.0,
//! 0.4.0 and 0.5.0, `tests/modules/contract-0-3`, `contract-0-4` and `contract-0-5`,
//! wit-bindgen without the SDK) keep working in a host whose latest contract is 0.6.0,
//! formatters and filters.

use serde_json::Value;

use crate::support::{
    FILE_SOURCE, Harness, SAMPLE_FILES, data_file, objects_in, sorted, test_module, transcript,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_module_built_for_the_previous_contract_still_delivers() {
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"legacy\"\nmodule = {:?}\nendpoint = \"capture:captured\"\n",
        test_module("contract-0-3").display().to_string()
    ));

    let output = harness.run_ok(&[]).await;

    let mut delivered = Vec::new();
    for entry in std::fs::read_dir(harness.path("captured")).unwrap() {
        let request = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let (head, body) = request.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /legacy HTTP/1.1"), "{head}");
        delivered.extend(
            body.lines()
                .map(|line| serde_json::from_str::<Value>(line).unwrap()),
        );
    }
    let expected: Vec<Value> = SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&data_file(name)))
        .collect();
    assert_eq!(
        sorted(delivered),
        sorted(expected),
        "{}",
        transcript(&output)
    );

    let listed = harness.sluice(&["modules", "-c", "sluice.toml"], &[]).await;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        stdout.contains("legacy-ndjson 0.3.0  contract 0.3.0"),
        "{}",
        transcript(&listed)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_formatter_and_a_filter_built_for_contract_0_4_still_work() {
    formatter_and_filter_still_work("contract-0-4", "0.4.0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_formatter_and_a_filter_built_for_contract_0_5_still_work() {
    formatter_and_filter_still_work("contract-0-5", "0.5.0").await;
}

/// The test module `name`, built for contract `version`, formats and filters.
async fn formatter_and_filter_still_work(name: &str, version: &str) {
    let harness = Harness::new();
    harness.write(
        "data/events.jsonl",
        "{\"n\":1}\n{\"n\":2,\"drop\":true}\n{\"n\":3}\n",
    );
    let module = test_module(name).display().to_string();
    harness.config(&format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"legacy\"\nmodule = {module:?}\nfilter_module = {module:?}\nendpoint = \"capture:captured\"\n"
    ));

    let output = harness.run_ok(&[]).await;

    let mut delivered = Vec::new();
    for entry in std::fs::read_dir(harness.path("captured")).unwrap() {
        let request = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let (_, body) = request.split_once("\r\n\r\n").unwrap();
        delivered.extend(body.lines().map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["n"]
                .as_u64()
                .unwrap()
        }));
    }
    delivered.sort_unstable();
    assert_eq!(delivered, [1, 3], "{}", transcript(&output));

    let listed = harness.sluice(&["modules", "-c", "sluice.toml"], &[]).await;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    // One file serves both roles: listed once, by its bytes.
    assert!(
        stdout.contains(&format!("legacy-ndjson {version}  contract {version}")),
        "{}",
        transcript(&listed)
    );
}

//! The README's first command: the quickstart exports the sample logs through the
//! Splunk HEC module into a capture directory, with no external service.

use std::path::Path;

use serde_json::Value;

use crate::support::{Harness, transcript};

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_captures_what_splunk_would_receive() {
    let harness = Harness::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    harness.write(
        "examples/quickstart.toml",
        std::fs::read(examples.join("quickstart.toml")).unwrap(),
    );
    for entry in std::fs::read_dir(examples.join("data")).unwrap() {
        let path = entry.unwrap().path();
        harness.write(
            &format!(
                "examples/data/{}",
                path.file_name().unwrap().to_str().unwrap()
            ),
            std::fs::read(&path).unwrap(),
        );
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache");
    let output = harness
        .sluice(
            &["run", "-c", "examples/quickstart.toml"],
            &[
                ("SPLUNK_HEC_TOKEN", "quickstart-secret-token"),
                ("XDG_CACHE_HOME", cache.to_str().unwrap()),
            ],
        )
        .await;
    assert!(output.status.success(), "{}", transcript(&output));

    let mut envelopes = 0;
    let captured = harness.path("target/quickstart/captured");
    for entry in std::fs::read_dir(&captured).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .expect("headers, blank line, body");
        assert!(
            head.starts_with("POST /services/collector/event HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nAuthorization: Splunk ****\r\n"),
            "{head}"
        );
        assert!(
            !text.contains("quickstart-secret-token"),
            "the token is masked"
        );
        for envelope in serde_json::Deserializer::from_str(body).into_iter::<Value>() {
            let envelope = envelope.unwrap();
            assert_eq!(envelope["index"], "audit");
            assert_eq!(envelope["fields"]["environment"], "quickstart");
            envelopes += 1;
        }
    }
    assert_eq!(envelopes, 290, "every sample event, once");
}

//! The README's first command: the quickstart exports the sample logs through the
//! Splunk HEC module into a capture directory, with no external service.

use std::path::Path;

use serde_json::Value;

use crate::support::{FILE_SOURCE, Harness, summary_figure, transcript};

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
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("requests captured as files")
                && l.contains("target/quickstart/captured")),
        "the run says where the requests went: {stderr}"
    );

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

/// Capture files were numbered from the count of files present: after a deletion, or
/// with two destinations sharing the directory, a run overwrote earlier requests.
#[tokio::test(flavor = "multi_thread")]
async fn capture_never_overwrites_a_request() {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    // An earlier run's files, one of them deleted since.
    harness.write("captured/000001.http", "earlier 1");
    harness.write("captured/000003.http", "earlier 3");
    let destination = |name: &str| {
        format!(
            "[[destinations]]\nname = {name:?}\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\nbatch = {{ max_events = 10 }}\n"
        )
    };
    harness.config(&format!(
        "{FILE_SOURCE}{}{}",
        destination("a"),
        destination("b")
    ));
    let output = harness.run_ok(&[]).await;
    assert_eq!(
        summary_figure(&output, "delivered"),
        100,
        "{}",
        transcript(&output)
    );

    let read = |name: &str| std::fs::read_to_string(harness.path(&format!("captured/{name}")));
    assert_eq!(read("000001.http").unwrap(), "earlier 1");
    assert_eq!(read("000003.http").unwrap(), "earlier 3");
    let files = std::fs::read_dir(harness.path("captured")).unwrap().count();
    assert_eq!(files, 2 + 10, "five requests of ten events per destination");
}

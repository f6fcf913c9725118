//! One enrichment rule for every module: each built-in module, over the same event with
//! a tag, carries the host's name, Sluice's version, the tag and the event's id (and,
//! with `enrichment = "none"`, none of them).

use std::io::Read;

use crate::support::{Harness, builtins, transcript};

const TAG: &str = "sec-ops-7731";
const EVENT: &str =
    r#"{"timestamp":"2026-11-20T08:00:00Z","event_type":"login","user":"bob","result":"success"}"#;

/// Settings a module cannot go without.
fn required_settings(module: &str) -> &'static str {
    match module {
        "cloudwatch-logs" => "log_group = \"g\", log_stream = \"s\"",
        "sentinel" => {
            "dcr_immutable_id = \"dcr-0123456789abcdef0123456789abcdef\", stream = \"Custom-Audit\""
        }
        "elasticsearch" => "index = \"audit\"",
        // A CSV holds the columns asked for: here the event's and all of the host's.
        "csv" => {
            "columns = \"user,sluice.event_id,sluice.time_source,sluice.host,sluice.machine_id,sluice.version,sluice.tags\""
        }
        _ => "",
    }
}

/// Every file the capture directory `dir` holds, as text, bodies gunzipped.
fn captured(dir: &std::path::Path) -> String {
    captured_files(dir).concat()
}

/// The same, a text per file (a request, or a run of messages).
fn captured_files(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let mut text = String::new();
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n");
        match split {
            Some(at)
                if String::from_utf8_lossy(&bytes[..at]).contains("Content-Encoding: gzip") =>
            {
                text.push_str(&String::from_utf8_lossy(&bytes[..at]));
                let mut body = String::new();
                flate2::read::GzDecoder::new(&bytes[at + 4..])
                    .read_to_string(&mut body)
                    .unwrap();
                text.push_str(&body);
            }
            _ => text.push_str(&String::from_utf8_lossy(&bytes)),
        }
        files.push(text);
    }
    files
}

fn config(modules: &[String], enrichment: &str) -> String {
    let mut config = format!(
        "[events]\ntags = {{ team = \"{TAG}\" }}\n[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n"
    );
    for module in modules {
        let settings = [required_settings(module), enrichment]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        config.push_str(&format!(
            "[[destinations]]\nname = \"{module}\"\nmodule = \"{module}\"\nendpoint = \"capture:out/{module}\"\nsettings = {{ {settings} }}\nbatch = {{ max_wait = \"10ms\" }}\n"
        ));
    }
    config
}

#[tokio::test]
async fn every_builtin_module_carries_the_hosts_enrichment() {
    let harness = Harness::new();
    harness.write("data/events.jsonl", format!("{EVENT}\n"));
    let modules = builtins();
    assert!(modules.len() >= 12, "{modules:?}");
    harness.config(&config(&modules, ""));
    let output = harness.run_ok(&[]).await;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let hec = captured(&harness.path("out/splunk-hec"));
    let id_at = hec
        .find("\"sluice_event_id\":\"")
        .expect("HEC names the event id")
        + 19;
    let event_id = &hec[id_at..id_at + 32];
    for module in &modules {
        let text = captured(&harness.path(&format!("out/{module}")));
        for (what, expected) in [
            ("the event id", event_id),
            ("the host's name", host),
            ("Sluice's version", env!("CARGO_PKG_VERSION")),
            ("the tag", TAG),
        ] {
            assert!(
                text.contains(expected),
                "{module} lacks {what} ({expected}):\n{text}\n{}",
                transcript(&output)
            );
        }
    }
}

/// The modules that add a `sluice` member to the event leave the event as it is when
/// asked; those whose format has a place of its own for it (HEC's `fields`, Datadog's
/// attributes, syslog's element) keep that.
#[tokio::test]
async fn enrichment_none_sends_the_event_as_it_is() {
    let harness = Harness::new();
    harness.write("data/events.jsonl", format!("{EVENT}\n"));
    let modules: Vec<String> = [
        "elasticsearch",
        "http",
        "sumo-logic",
        "archive",
        "nats",
        "cef",
        "leef",
    ]
    .map(str::to_owned)
    .to_vec();
    harness.config(&config(&modules, "enrichment = \"none\""));
    let output = harness.run_ok(&[]).await;
    for module in &modules {
        let text = captured(&harness.path(&format!("out/{module}")));
        assert!(
            text.contains("bob"),
            "{module}: {text}\n{}",
            transcript(&output)
        );
        assert!(!text.contains(TAG), "{module} added the tag: {text}");
    }
}

/// Every JSON document in the captured `requests` (each its headers, a blank line, its
/// body): stacked objects (HEC) or arrays of them (Datadog, Sentinel), flattened.
fn documents(requests: &[String]) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    for request in requests {
        let body = request.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        for value in serde_json::Deserializer::from_str(body).into_iter::<serde_json::Value>() {
            match value.unwrap() {
                serde_json::Value::Array(items) => found.extend(items),
                other => found.push(other),
            }
        }
    }
    found
}

/// `schema` in the JSON modules that lacked it: each of the five sample shapes arrives
/// mapped, in the place each destination keeps an event (HEC's `event`, Datadog's
/// `message`, a Sentinel row).
#[tokio::test]
async fn hec_datadog_and_sentinel_send_ecs_and_ocsf() {
    for (schema, version) in [
        ("ecs", ["ecs", "version"]),
        ("ocsf", ["metadata", "version"]),
    ] {
        let harness = Harness::new();
        harness.copy_data(&crate::support::SAMPLE_FILES);
        let modules: Vec<String> = ["splunk-hec", "datadog", "sentinel"]
            .map(str::to_owned)
            .to_vec();
        harness.config(&config(
            &modules,
            &format!("schema = \"{schema}\", gzip = false"),
        ));
        let output = harness.run_ok(&[]).await;
        for module in &modules {
            let documents = documents(&captured_files(&harness.path(&format!("out/{module}"))));
            assert_eq!(documents.len(), 290, "{module}: {}", transcript(&output));
            for document in &documents {
                let event = match module.as_str() {
                    "splunk-hec" => document["event"].clone(),
                    "datadog" => {
                        serde_json::from_str(document["message"].as_str().unwrap()).unwrap()
                    }
                    _ => document.clone(),
                };
                assert!(
                    event[version[0]][version[1]].is_string(),
                    "{module} {schema}: {event}"
                );
            }
        }
    }
}

//! OTLP/HTTP logs: the real OpenTelemetry Python SDK's exporter sends to `sluice run`
//! (protobuf); a JSON body with a record the parser refuses is a partial success; bad
//! content types, tokens and bodies are answered as OTLP says.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, exit_within, free_port, send_signal, splunk_destination, transcript,
};

const TOKEN: &str = "otlp-token";

/// The Python with the OpenTelemetry SDK `.ci/test-deps` installs.
fn otel_python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/otel-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `bash .ci/test-deps` makes it",
        python.display()
    );
    python
}

/// A logging program that exports through the SDK's OTLP/HTTP exporter (protobuf),
/// with the SDK's batch processor, as a service instrumented with OpenTelemetry does.
const SENDER: &str = r#"
import logging, sys
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk.resources import Resource

endpoint, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
provider = LoggerProvider(resource=Resource.create({"service.name": "vault"}))
exporter = OTLPLogExporter(endpoint=endpoint + "/v1/logs", headers={"Authorization": "Bearer " + token})
provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
log = logging.getLogger("audit")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
for n in range(count):
    log.warning("secret read", extra={"n": n, "user": "bob"})
print("flushed", provider.force_flush())
provider.shutdown()
"#;

async fn start(harness: &Harness, port: u16, hec_token: &str) -> tokio::process::Child {
    let env = [("INGEST_TOKEN", TOKEN), ("HEC_TOKEN", hec_token)];
    crate::support::start_listening(harness, &env, port).await
}

fn config(harness: &Harness, port: u16, receiver: &HecReceiver, events: &str) {
    harness.config(&format!(
        "{events}[[sources]]\ntype = \"otlp\"\nlisten = \"127.0.0.1:{port}\"\ntokens = [{{ env = \"INGEST_TOKEN\" }}]\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"50ms\" }")
    ));
}

#[tokio::test]
async fn the_opentelemetry_sdk_exports_logs_and_each_record_is_an_event() {
    let python = otel_python();
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    config(&harness, port, &receiver, "");
    let run = start(&harness, port, receiver.token()).await;
    let script = harness.write("send.py", SENDER);
    let sent = tokio::process::Command::new(python)
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(TOKEN)
        .arg("500")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&sent.stdout);
    assert!(
        said.contains("flushed True"),
        "{said}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    send_signal(&run, libc::SIGTERM);
    let output = exit_within(run, Duration::from_secs(60)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let events: Vec<Value> = receiver
        .indexed()
        .into_iter()
        .map(|e| e["event"].clone())
        .collect();
    let mut numbers: Vec<u64> = events
        .iter()
        .map(|e| e["attributes"]["n"].as_u64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (0..500).collect::<Vec<u64>>());
    let first = &events[0];
    assert_eq!(first["body"], "secret read");
    assert_eq!(first["severity_text"], "WARN", "{first}");
    assert_eq!(first["severity_number"], 13);
    assert_eq!(first["attributes"]["user"], "bob");
    assert_eq!(first["resource"]["service.name"], "vault");
    assert_eq!(first["scope"]["name"], "audit");
    // The record's own time is the event's: the SDK stamps it when the line is logged.
    assert!(first["time"].as_str().unwrap().starts_with("20"), "{first}");
    assert_eq!(
        receiver.indexed()[0]["time"].as_f64().map(|t| t > 1.7e9),
        Some(true),
        "HEC's time is the record's"
    );
}

#[tokio::test]
async fn a_record_the_parser_refuses_is_a_partial_success_and_bad_requests_are_answered() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    config(
        &harness,
        port,
        &receiver,
        "[events]\nmax_line_bytes = 1024\n",
    );
    let run = start(&harness, port, receiver.token()).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/logs");
    let record = |n: u64, text: &str| {
        format!(
            r#"{{"timeUnixNano":"1765015200000000000","body":{{"stringValue":"{text}"}},"attributes":[{{"key":"n","value":{{"intValue":"{n}"}}}}]}}"#
        )
    };
    let body = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{},{},{}]}}]}}]}}"#,
        record(1, "a"),
        record(2, &"x".repeat(2000)),
        record(3, "c")
    );
    let post = |content_type: &'static str, token: &'static str, body: Vec<u8>| {
        client
            .post(&url)
            .header("content-type", content_type)
            .bearer_auth(token)
            .body(body)
            .send()
    };
    let answer = post("application/json", TOKEN, body.into_bytes())
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    let partial = &answer["partialSuccess"];
    assert_eq!(
        partial["rejectedLogRecords"].to_string().trim_matches('"'),
        "1",
        "{answer}"
    );
    assert!(
        partial["errorMessage"]
            .as_str()
            .unwrap()
            .contains("dead-letter"),
        "{answer}"
    );

    let answer = post("text/plain", TOKEN, b"{}".to_vec()).await.unwrap();
    assert_eq!(answer.status(), 415);
    let answer = post("application/json", "wrong", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let answer = post("application/x-protobuf", TOKEN, vec![0x0a, 0xff])
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(
        answer.headers()["content-type"],
        "application/x-protobuf",
        "the error in the request's encoding"
    );

    send_signal(&run, libc::SIGTERM);
    let output = exit_within(run, Duration::from_secs(60)).await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let numbers: Vec<u64> = receiver
        .indexed()
        .iter()
        .map(|e| e["event"]["attributes"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 3]);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("max_line_bytes"),
        "{dead:?}"
    );
}

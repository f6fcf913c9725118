//! The producer library (`sluice-producer`) against the real binary: through the HTTP
//! source, across an outage and a full spool, and in durable mode through files a file
//! source follows.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::json;
use sluice_producer::Producer;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, exit_within, free_port, send_signal, splunk_destination, transcript,
};

const TOKEN: &str = "producer-token";

fn http_source(port: u16) -> String {
    format!(
        "[[sources]]\ntype = \"http\"\nlisten = \"127.0.0.1:{port}\"\ntokens = [{{ env = \"INGEST_TOKEN\" }}]\n"
    )
}

async fn start(harness: &Harness, port: u16, hec_token: &str) -> tokio::process::Child {
    let env = [("INGEST_TOKEN", TOKEN), ("HEC_TOKEN", hec_token)];
    crate::support::start_listening(harness, &env, port).await
}

async fn stop(child: tokio::process::Child) -> std::process::Output {
    send_signal(&child, libc::SIGTERM);
    exit_within(child, Duration::from_secs(60)).await
}

/// The `n` of every event the receiver indexed, once each.
fn numbers(receiver: &HecReceiver) -> BTreeSet<u64> {
    receiver
        .indexed()
        .iter()
        .filter_map(|envelope| envelope["event"]["n"].as_u64())
        .collect()
}

#[tokio::test]
async fn the_producer_delivers_through_the_http_source_and_reports_what_was_refused() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "{}{}",
        http_source(port),
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"50ms\" }")
    ));
    let run = start(&harness, port, receiver.token()).await;
    let producer = Producer::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .token(TOKEN)
        .queue_capacity(20_000)
        .build()
        .unwrap();
    for n in 0..10_000u64 {
        producer.send(&json!({"action": "read", "n": n})).unwrap();
    }
    producer.send_json("not json").unwrap();
    let report = tokio::time::timeout(Duration::from_secs(60), producer.flush())
        .await
        .expect("flushed");
    assert_eq!(
        (report.delivered, report.refused, report.undelivered),
        (10_000, 1, 0),
        "{report:?}"
    );
    let report = producer.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.undelivered, 0);
    let output = stop(run).await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(numbers(&receiver), (0..10_000).collect());
    assert_eq!(receiver.indexed().len(), 10_000);
    assert_eq!(harness.dead_letters()[0]["line"], "not json");
}

#[tokio::test]
async fn the_producer_waits_through_an_outage_and_a_full_spool_and_loses_nothing() {
    let harness = Harness::new();
    let port = free_port(false);
    let settings = "data_dir = \"state\"\nshutdown_timeout = \"1s\"\n[spool]\nmax_bytes = 16384\nsegment_bytes = 4096\n";
    // Sluice is not running yet: the first batches find nobody.
    let producer = Producer::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .token(TOKEN)
        .max_batch_events(100)
        .linger(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(500))
        .build()
        .unwrap();
    for n in 0..2000u64 {
        producer
            .send(&json!({"action": "read", "pad": "x".repeat(40), "n": n}))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(producer.report().delivered, 0);
    // Sluice with its destination down: the spool fills, and Sluice answers 503.
    harness.config(&format!(
        "{settings}{}{}",
        http_source(port),
        splunk_destination("http://127.0.0.1:1", "")
    ));
    let down = start(&harness, port, "t").await;
    let mut spooled = 0;
    for _ in 0..100 {
        spooled = producer.report().delivered;
        if spooled > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let output = stop(down).await;
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        spooled > 0 && spooled < 2000,
        "some spooled, not all: {spooled}"
    );
    assert!(log.contains("requests answered 503"), "{log}");

    // The destination is back: what was spooled goes, and the producer's resends too.
    let receiver = HecReceiver::start(HecConfig::default()).await;
    harness.config(&format!(
        "{settings}{}{}",
        http_source(port),
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"50ms\" }")
    ));
    let up = start(&harness, port, receiver.token()).await;
    let report = tokio::time::timeout(Duration::from_secs(60), producer.flush())
        .await
        .expect("flushed once Sluice was back");
    assert_eq!(
        (report.delivered, report.undelivered),
        (2000, 0),
        "{report:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let output = stop(up).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(numbers(&receiver), (0..2000).collect());
}

#[tokio::test]
async fn in_durable_mode_events_go_through_files_a_file_source_follows() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let dir = harness.path("audit");
    let producer = Producer::builder()
        .durable_dir(&dir, 64 * 1024, Duration::from_millis(100))
        .build()
        .unwrap();
    for n in 0..5000u64 {
        producer.send(&json!({"action": "read", "n": n})).unwrap();
    }
    let report = producer.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        (report.delivered, report.undelivered),
        (5000, 0),
        "{report:?}"
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert!(
        files.len() > 1,
        "rotated past segment_bytes: {}",
        files.len()
    );
    for file in &files {
        let mode = file.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?}", file.path());
    }
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"audit/*.jsonl\"]\n{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    assert!(output.status.success());
    assert_eq!(numbers(&receiver), (0..5000).collect());
}

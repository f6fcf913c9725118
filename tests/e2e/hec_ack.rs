//! Splunk HEC indexer acknowledgement against a strict receiver that loses requests
//! and forgets its channels: events count as delivered only once HEC confirms them,
//! and what it lost or forgot is sent again until it does.

use std::collections::HashMap;

use serde_json::Value;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    FILE_SOURCE, Harness, splunk_destination, summary_figure, transcript, write_events,
};

const EVENTS: usize = 1000;

/// How many copies of each event (`n`) HEC indexed.
fn copies(receiver: &HecReceiver) -> HashMap<u64, usize> {
    let mut copies = HashMap::new();
    for envelope in receiver.indexed() {
        let n = envelope["event"]["n"]
            .as_u64()
            .expect("an event of write_events");
        *copies.entry(n).or_default() += 1;
    }
    copies
}

fn ack_config(receiver: &HecReceiver) -> String {
    let destination = splunk_destination(
        &receiver.endpoint(),
        "settings = { index = \"audit\", ack = true }\n\
         batch = { max_events = 100, max_wait = \"10ms\" }\n\
         acknowledgement = { poll_interval = \"300ms\", timeout = \"2s\" }\n\
         retry = { initial_backoff = \"20ms\", max_backoff = \"200ms\" }",
    );
    format!("{FILE_SOURCE}{destination}")
}

#[tokio::test(flavor = "multi_thread")]
async fn what_hec_lost_or_forgot_is_sent_again_until_it_confirms_it() {
    let receiver = HecReceiver::start(HecConfig {
        ack: true,
        ..HecConfig::default()
    })
    .await;
    // Request 2's events are lost and never confirmed (the timeout sends them again);
    // before request 6 HEC forgets its channels, so ids start from 0 again and the
    // tickets of requests 1 to 5 are handed out anew (sent again at once), and request
    // 9's events are lost after that.
    receiver.lose_requests(&[2, 9]);
    receiver.forget_channels_before(6);
    let harness = Harness::new();
    write_events(&harness, "data/audit.jsonl", EVENTS);
    harness.config(&ack_config(&receiver));

    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;

    let copies = copies(&receiver);
    let missing: Vec<u64> = (0..EVENTS as u64)
        .filter(|n| !copies.contains_key(n))
        .collect();
    assert!(
        missing.is_empty(),
        "never indexed: {missing:?}\n{}",
        transcript(&output)
    );
    // At least once, and a copy per sending at most: each was sent at most twice here.
    assert!(copies.values().all(|&count| count <= 2), "{copies:?}");
    assert_eq!(
        summary_figure(&output, "delivered"),
        EVENTS as u64,
        "{}",
        transcript(&output)
    );
    let sent_again = summary_figure(&output, "sent_again_unconfirmed");
    assert!(
        sent_again >= 200,
        "the two lost requests at least were sent again: {sent_again}\n{}",
        transcript(&output)
    );
    assert!(receiver.polls() > 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not confirmed within acknowledgement.timeout"),
        "{stderr}"
    );
    assert!(stderr.contains("it forgot the first"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ack_against_a_token_without_it_delivers_on_200_and_polls_nothing() {
    // `ack = true` against a token without useACK: answers carry no ackId, so a 200 is
    // a delivery, and nothing is polled.
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    write_events(&harness, "data/audit.jsonl", 300);
    harness.config(&ack_config(&receiver));

    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;

    assert_eq!(copies(&receiver).len(), 300, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "delivered"), 300);
    assert_eq!(receiver.polls(), 0);
    assert!(
        receiver
            .indexed()
            .iter()
            .all(|e: &Value| e["index"] == "audit")
    );
}

/// The events taken and not yet confirmed are bounded: past `max_pending_events` the
/// workers wait for confirmations (they held every pending batch in memory, without a
/// bound), and every event is still delivered once.
#[tokio::test(flavor = "multi_thread")]
async fn events_waiting_for_confirmation_are_bounded() {
    let receiver = HecReceiver::start(HecConfig {
        ack: true,
        ..HecConfig::default()
    })
    .await;
    let harness = Harness::new();
    write_events(&harness, "data/audit.jsonl", EVENTS);
    let destination = splunk_destination(
        &receiver.endpoint(),
        "settings = { index = \"audit\", ack = true }\n\
         batch = { max_events = 50, max_wait = \"10ms\" }\n\
         acknowledgement = { poll_interval = \"100ms\", timeout = \"5s\", max_pending_events = 200 }",
    );
    harness.config(&format!("{FILE_SOURCE}{destination}"));
    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    let copies = copies(&receiver);
    assert_eq!(copies.len(), EVENTS, "{}", transcript(&output));
    assert!(copies.values().all(|&n| n == 1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("reached acknowledgement.max_pending_events"),
        "{}",
        transcript(&output)
    );
    assert_eq!(summary_figure(&output, "delivered"), EVENTS as u64);
}

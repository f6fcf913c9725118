//! Delivery to a strict HEC receiver: framing, envelopes, auth, retries, partial failures
//! and size limits.

use serde_json::{Value, json};

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    FILE_SOURCE, Harness, SAMPLE_FILES, data_file, objects_in, redirecting_endpoint, sorted,
    splunk_destination, summary_figure, transcript,
};

/// A config reading `data/*.jsonl` into one HEC destination with quick retries; `extra`
/// is appended to the destination.
fn hec_config(receiver: &HecReceiver, extra: &str) -> String {
    let retry = "retry = { max_attempts = 5, initial_backoff = \"20ms\", max_backoff = \"200ms\" }";
    format!(
        "{FILE_SOURCE}{}",
        splunk_destination(&receiver.endpoint(), &format!("{retry}\n{extra}"))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_valid_event_arrives_once_with_its_envelope() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.copy_data(&["edge-cases.jsonl"]);
    harness.config(&hec_config(&receiver, "settings = { index = \"audit\", sourcetype = \"sluice:audit\" }\n[events]\ntags = { team = \"secops\" }"));

    harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;

    let mut expected = Vec::new();
    for name in SAMPLE_FILES.iter().chain(&["edge-cases.jsonl"]) {
        expected.extend(objects_in(&data_file(name)));
    }
    let indexed = receiver.indexed();
    let events: Vec<Value> = indexed
        .iter()
        .map(|envelope| envelope["event"].clone())
        .collect();
    assert_eq!(
        events.len(),
        290 + 16,
        "290 sample events and 16 valid edge cases"
    );
    assert_eq!(
        sorted(events),
        sorted(expected),
        "each valid event exactly once, unchanged"
    );

    for envelope in &indexed {
        assert_eq!(envelope["index"], "audit");
        assert_eq!(envelope["sourcetype"], "sluice:audit");
        assert_eq!(envelope["source"], "sluice");
        assert!(envelope["host"].as_str().is_some_and(|h| !h.is_empty()));
        assert!(envelope["time"].is_number(), "{envelope}");
        assert_eq!(envelope["fields"]["team"], "secops");
        assert!(envelope["fields"]["sluice_version"].is_string());
    }
    let by_type = |kind: &str| {
        indexed
            .iter()
            .find(|e| e["event"]["event_type"] == kind)
            .unwrap()
            .clone()
    };
    // +05:30 converted to UTC; epoch seconds and milliseconds recognized.
    assert_eq!(by_type("syslog.sd")["time"], json!(1_795_141_801));
    assert_eq!(by_type("epoch.seconds")["time"], json!(1_763_625_603));
    assert_eq!(by_type("epoch.millis")["time"], json!(1_763_625_604.123));
    assert_eq!(by_type("deep.nesting")["time"], json!(1_795_161_608));
    // No or unparsable time: the ingest time, flagged; the original value kept.
    for kind in ["no.timestamp", "bad.timestamp"] {
        assert_eq!(
            by_type(kind)["fields"]["sluice_time_source"],
            "ingest",
            "{kind}"
        );
    }
    assert_eq!(by_type("bad.timestamp")["event"]["timestamp"], "not a date");
    // Repeated key: last value wins.
    assert_eq!(by_type("dup.keys")["event"]["action"], "second");
    // Numbers keep their exact text on the wire; no raw control character in any body.
    let bodies: Vec<u8> = receiver.bodies().concat();
    let text = String::from_utf8(bodies).expect("bodies are UTF-8");
    for exact in [
        "18446744073709551615",
        "-9007199254740993",
        "1.5e+300",
        "\"42\"",
        "zoë 日本語 עברית 🚀",
    ] {
        assert!(text.contains(exact), "body keeps {exact}");
    }
    assert!(
        !text.contains('\n') && !text.contains('\0') && !text.contains('\u{1b}'),
        "no raw control characters"
    );

    // The four bad lines are dead-lettered with file and line.
    let dead = harness.dead_letters();
    let origins: Vec<&str> = dead.iter().map(|r| r["origin"].as_str().unwrap()).collect();
    assert_eq!(dead.len(), 4, "{dead:#?}");
    for line in [11, 12, 13, 21] {
        assert!(
            origins
                .iter()
                .any(|o| o.ends_with(&format!("edge-cases.jsonl:{line}"))),
            "line {line} in {origins:?}"
        );
    }
    assert!(
        dead.iter()
            .all(|r| r["stage"] == "parse" && !r["reason"].as_str().unwrap().is_empty())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_dead_letters_instead_of_retrying_forever() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["proxy-audit.jsonl"]);
    harness.config(&hec_config(&receiver, ""));

    let output = harness
        .run_expecting(3, &[("HEC_TOKEN", "not-the-token")])
        .await;
    assert!(receiver.indexed().is_empty());
    assert_eq!(receiver.requests(), 1, "403 is final: no retry");
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 60);
    assert!(
        dead.iter().all(|r| r["destination"] == "splunk"
            && r["reason"].as_str().unwrap().contains("HEC code 4")),
        "{:#?}",
        dead[0]
    );
    assert!(
        dead.iter().all(|r| r["event"]["request_id"].is_string()),
        "the event itself is kept"
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("not-the-token"),
        "the token is never logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_receiver_is_retried_until_it_recovers() {
    busy_three_times_then_recovers(|receiver| receiver.make_busy(3)).await;
}

/// A load balancer's `"code": 503` used to be taken for an unknown HEC code and the
/// whole batch dead-lettered on the first try.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_load_balancer_in_front_of_hec_is_retried_too() {
    busy_three_times_then_recovers(|receiver| receiver.make_proxy_busy(3)).await;
}

async fn busy_three_times_then_recovers(make_busy: impl Fn(&HecReceiver)) {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    make_busy(&receiver);
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&hec_config(&receiver, ""));

    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    assert_eq!(
        receiver.indexed().len(),
        50,
        "every event once, after the 503s"
    );
    assert_eq!(summary_figure(&output, "delivered"), 50);
    assert_eq!(
        summary_figure(&output, "events_settled"),
        50,
        "delivered events are acknowledged to their source"
    );
    assert_eq!(receiver.requests(), 4, "three 503s, then success");
    assert!(harness.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_failure_keeps_the_good_events_and_resends_the_rest() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    receiver.reject_poison();
    let harness = Harness::new();
    let lines: Vec<String> = (0..10)
        .map(|i| json!({"timestamp": "2026-11-20T08:00:00Z", "n": i, "poison": i == 4}).to_string())
        .collect();
    harness.write("data/events.jsonl", lines.join("\n"));
    harness.config(&hec_config(&receiver, ""));

    harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;
    let numbers: Vec<i64> = receiver
        .indexed()
        .iter()
        .map(|e| e["event"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        vec![0, 1, 2, 3, 5, 6, 7, 8, 9],
        "0-3 indexed with the first request, 5-9 resent"
    );
    assert_eq!(receiver.requests(), 2);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["event"]["n"], 4);
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("HEC code 6"),
        "{}",
        dead[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_stay_under_the_size_limit_and_413_splits() {
    // The receiver takes 250 KB; the module is told 1 MB (its default), so the host
    // learns from 413s and splits until each part fits. The 200 KB event fits alone.
    let receiver = HecReceiver::start(HecConfig {
        max_content_length: 250_000,
        ..HecConfig::default()
    })
    .await;
    let harness = Harness::new();
    harness.copy_data(&["edge-cases.jsonl", "devops-agent-audit.jsonl"]);
    harness.config(&hec_config(
        &receiver,
        "batch = { max_events = 1000, max_bytes = 900000 }",
    ));

    harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;
    assert_eq!(receiver.indexed().len(), 80 + 16);
    assert!(receiver.requests() > 1);
    assert!(receiver.bodies().iter().all(|b| b.len() <= 250_000));
    assert_eq!(harness.dead_letters().len(), 4, "only the four bad lines");

    // And with max_request_bytes below the big event, the module refuses it up front.
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["edge-cases.jsonl"]);
    harness.config(&hec_config(
        &receiver,
        "settings = { max_request_bytes = 100000, gzip = true }",
    ));
    harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;
    assert_eq!(
        receiver.indexed().len(),
        15,
        "gzip-compressed requests arrive; the 200 KB event does not"
    );
    let dead = harness.dead_letters();
    let refused: Vec<&Value> = dead.iter().filter(|r| r["stage"] == "deliver").collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["event"]["event_type"], "big.field");
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("max_request_bytes")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_is_verified_against_the_configured_ca_and_never_skipped() {
    let pki = crate::support::tls::test_pki();
    let receiver = HecReceiver::start_tls(HecConfig::default(), pki.server.clone()).await;
    assert!(receiver.endpoint().starts_with("https://127.0.0.1:"));
    let token_file = "secrets/hec-token";

    // Trusting the test CA: delivered, with the token read from a file.
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.write("ca.pem", &pki.ca_pem);
    harness.write(token_file, format!("{}\n", receiver.token()));
    let config = hec_config(&receiver, "ca_file = \"ca.pem\"").replace(
        "{ env = \"HEC_TOKEN\" }",
        &format!("{{ file = {token_file:?} }}"),
    );
    harness.config(&config);
    harness.run_ok(&[]).await;
    assert_eq!(receiver.indexed().len(), 50);

    // Without it, the certificate is refused: nothing reaches the receiver, every event
    // is dead-lettered with the TLS error after the retries.
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&hec_config(&receiver, ""));
    harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;
    assert_eq!(receiver.indexed().len(), 50, "nothing more arrived");
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 50);
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("gave up after 5 attempts")
            && reason.contains("certificate")
            && reason.contains("name that CA's certificate (PEM) in ca_file"),
        "what to do, in words: {reason}"
    );

    // A `ca_file` that is not there is said so (it read "is not PEM certificates").
    harness.config(&hec_config(&receiver, "ca_file = \"missing.pem\""));
    let check = harness
        .sluice(
            &["check", "-c", "sluice.toml"],
            &[("HEC_TOKEN", receiver.token())],
        )
        .await;
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("cannot read ca_file")
            && stderr.contains("missing.pem")
            && !stderr.contains("is not PEM"),
        "{stderr}"
    );
}

/// Redirects used to be followed silently: events counted as delivered to a host the
/// configuration never named (here, a HEC that happens to accept them).
#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_is_not_followed_and_names_where_it_pointed() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let elsewhere = format!("{}/services/collector/event", receiver.endpoint());
    let endpoint = redirecting_endpoint(elsewhere.clone()).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination(&endpoint, "")
    ));
    let output = harness
        .sluice(
            &["run", "-c", "sluice.toml"],
            &[("HEC_TOKEN", receiver.token())],
        )
        .await;

    assert_eq!(receiver.requests(), 0, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "delivered"), 0);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 50);
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("answered HTTP 307 to {elsewhere}"))
            && reason.contains("redirects are not followed"),
        "{reason}"
    );
}

/// The stable event id used to be sent nowhere, so a redelivery could not be removed
/// downstream. Each envelope carries it as the indexed field `sluice_event_id`, the
/// same for the same line however often it is sent.
#[tokio::test(flavor = "multi_thread")]
async fn each_event_carries_its_stable_id_so_a_redelivery_can_be_removed() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&hec_config(&receiver, ""));
    let ids = |envelopes: &[Value]| -> Vec<String> {
        let mut ids: Vec<String> = envelopes
            .iter()
            .map(|e| e["fields"]["sluice_event_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    let first = ids(&receiver.indexed());
    assert_eq!(first.len(), 50);
    assert!(
        first
            .iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert!(
        first.windows(2).all(|pair| pair[0] != pair[1]),
        "one id per event"
    );

    // The same file again, as after a crash before its checkpoint: the same ids.
    harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    let both = ids(&receiver.indexed());
    let again: Vec<String> = both.iter().step_by(2).cloned().collect();
    assert_eq!(again, first);
}

/// A 200 that is not HEC's answer (a captive portal's page, a misrouted proxy's megabyte
/// of text) is a failed attempt, not a delivery: it used to count every event delivered,
/// exit 0, without a word.
#[tokio::test(flavor = "multi_thread")]
async fn a_200_that_is_not_hecs_answer_is_not_a_delivery() {
    for page in [
        "<html><body>Sign in to the guest network</body></html>".to_owned(),
        "x".repeat(1 << 20),
    ] {
        let app = axum::Router::new().fallback(move || {
            let page = page.clone();
            async move { page }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let harness = Harness::new();
        harness.copy_data(&["idp-audit.jsonl"]);
        harness.config(&format!(
            "{FILE_SOURCE}{}",
            splunk_destination(
                &endpoint,
                "retry = { max_attempts = 2, initial_backoff = \"10ms\", max_backoff = \"20ms\" }"
            )
        ));
        let output = harness.run_expecting(3, &[("HEC_TOKEN", "t")]).await;
        assert_eq!(
            summary_figure(&output, "delivered"),
            0,
            "{}",
            transcript(&output)
        );
        let letters = harness.dead_letters();
        assert!(!letters.is_empty());
        assert!(
            letters
                .iter()
                .all(|l| l["reason"].as_str().unwrap().contains("not HEC's JSON")),
            "{:?}",
            letters[0]
        );
    }
}

/// `payload = "cef"` (CEF to Splunk, as seed 004 sends it): HEC indexes each sample
/// event as its CEF line, a string `event` with sourcetype `cef`, its severity from the
/// preset map and its fields mapped by the setting.
#[tokio::test(flavor = "multi_thread")]
async fn a_cef_payload_indexes_each_event_as_its_cef_line() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&hec_config(
        &receiver,
        "settings = { payload = \"cef\", severity_map = \"five_levels\", vendor = \"Acme\", product = \"Audit\" }",
    ));
    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;

    let indexed = receiver.indexed();
    let expected: usize = SAMPLE_FILES
        .iter()
        .map(|name| objects_in(&data_file(name)).len())
        .sum();
    assert_eq!(indexed.len(), expected, "{}", transcript(&output));
    for envelope in &indexed {
        assert_eq!(envelope["sourcetype"], "cef", "{envelope}");
        let line = envelope["event"].as_str().expect("a CEF line");
        assert!(line.starts_with("CEF:0|Acme|Audit|"), "{line}");
        let severity: u8 = line.split('|').nth(6).unwrap().parse().unwrap();
        assert!(
            [1, 3, 5, 7, 10].contains(&severity),
            "five_levels numbers only: {line}"
        );
    }
    assert!(
        indexed
            .iter()
            .any(|e| e["event"].as_str().unwrap().contains("suser=")),
        "the actor mapped"
    );
}

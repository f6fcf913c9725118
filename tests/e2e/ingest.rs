//! The HTTP source: producers POST events to `sluice run` and are answered once the
//! events are safe; HEC clients (and Sluice's own `splunk-hec` module) send to it as to
//! Splunk; bad tokens and bodies are answered and take nothing.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, exit_within, free_port, send_signal, splunk_destination, transcript,
};

const TOKEN: &str = "ingest-token-1";

/// An http source on `port` taking `TOKEN` from `INGEST_TOKEN`, with `extra` lines.
fn http_source(port: u16, extra: &str) -> String {
    format!(
        "[[sources]]\ntype = \"http\"\nname = \"ingest\"\nlisten = \"127.0.0.1:{port}\"\ntokens = [{{ env = \"INGEST_TOKEN\" }}]\n{extra}\n"
    )
}

/// Starts `sluice run` with the tokens set, and waits until the source listens.
async fn start(harness: &Harness, port: u16, hec_token: &str) -> tokio::process::Child {
    let env = [("INGEST_TOKEN", TOKEN), ("HEC_TOKEN", hec_token)];
    crate::support::start_listening(harness, &env, port).await
}

/// Posts `body` to `path` with `headers`; the status, the headers and the body as JSON.
async fn post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let text = answer.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, json)
}

/// Writes `head` (and nothing after it) on a new connection; what comes back within
/// 10 s.
async fn raw_request(port: u16, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The events the receiver indexed, by their `n`.
fn indexed_numbers(receiver: &HecReceiver) -> Vec<u64> {
    let mut numbers: Vec<u64> = receiver
        .indexed()
        .iter()
        .filter_map(|envelope| envelope["event"]["n"].as_u64())
        .collect();
    numbers.sort();
    numbers
}

async fn stop(child: tokio::process::Child) -> std::process::Output {
    send_signal(&child, libc::SIGTERM);
    exit_within(child, Duration::from_secs(60)).await
}

#[tokio::test]
async fn events_posted_are_answered_once_delivered_and_rejected_lines_are_kept() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "{}{}",
        http_source(port, ""),
        splunk_destination(
            &receiver.endpoint(),
            "batch = { max_events = 1000, max_wait = \"300ms\" }"
        )
    ));
    let child = start(&harness, port, receiver.token()).await;

    let body = "{\"n\":1}\nnot json\n{\"n\":2}\n\n{\"n\":3}";
    let auth = bearer();
    let (status, _, answer) = post(port, "/v1/events", &[("authorization", &auth)], body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["rejected"][0]["line"], 2, "{answer}");
    // Without a spool, the answer waits for the delivery.
    assert_eq!(indexed_numbers(&receiver), [1, 2, 3]);

    // A JSON array, gzip, an element over several lines.
    let array = gzip(b"[{\"n\":4},\n {\"n\":\n 5}]");
    let (status, _, answer) = post(
        port,
        "/v1/events",
        &[("authorization", &auth), ("content-encoding", "gzip")],
        array,
    )
    .await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(2)), "{answer}");
    assert_eq!(indexed_numbers(&receiver), [1, 2, 3, 4, 5]);
    let event_5 = receiver
        .indexed()
        .into_iter()
        .find(|e| e["event"]["n"] == 5)
        .unwrap();
    assert_eq!(event_5["event"], json!({"n": 5}));

    let output = stop(child).await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["line"], "not json");
    assert_eq!(dead[0]["origin"], "ingest request without X-Request-Id:2");
}

#[tokio::test]
async fn bad_tokens_oversized_and_malformed_bodies_are_answered_and_take_nothing() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "{}{}",
        http_source(port, "max_body_bytes = 4096"),
        splunk_destination(&receiver.endpoint(), "")
    ));
    let child = start(&harness, port, receiver.token()).await;
    let auth = bearer();
    let event = "{\"n\":1}";

    let (status, headers, _) = post(port, "/v1/events", &[], event).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = post(
        port,
        "/v1/events",
        &[("authorization", "Bearer nope")],
        event,
    )
    .await;
    assert_eq!(status, 401);
    let wrong_length = format!("Bearer {TOKEN}x");
    let (status, _, _) = post(
        port,
        "/v1/events",
        &[("authorization", &wrong_length)],
        event,
    )
    .await;
    assert_eq!(status, 401);

    // A length past the bound is refused before the body is waited for.
    let answer = raw_request(
        port,
        &format!("POST /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-length: 1000000000000\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let big = "{\"n\":1}\n".repeat(1000);
    let (status, _, answer) =
        post(port, "/v1/events", &[("authorization", &auth)], big.clone()).await;
    assert_eq!(status, 413, "{answer}");
    // Small as sent, past the bound once inflated.
    let bomb = gzip(&vec![b' '; 1 << 20]);
    assert!(bomb.len() < 4096);
    let gzipped = [
        ("authorization", auth.as_str()),
        ("content-encoding", "gzip"),
    ];
    let (status, _, answer) = post(port, "/v1/events", &gzipped, bomb).await;
    assert_eq!(status, 413, "{answer}");
    let (status, _, answer) = post(port, "/v1/events", &gzipped, "not gzip").await;
    assert_eq!(status, 400, "{answer}");
    let deflate = [
        ("authorization", auth.as_str()),
        ("content-encoding", "deflate"),
    ];
    let (status, _, _) = post(port, "/v1/events", &deflate, event).await;
    assert_eq!(status, 415);
    let (status, _, answer) = post(
        port,
        "/v1/events",
        &[("authorization", &auth)],
        "[{\"n\":1},",
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("JSON array"),
        "{answer}"
    );
    let (status, _, answer) =
        post(port, "/v1/events", &[("authorization", &auth)], "nope\n[1]").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["accepted"], 0);
    assert_eq!(answer["rejected"].as_array().unwrap().len(), 2, "{answer}");

    let output = stop(child).await;
    assert_eq!(receiver.requests(), 0, "nothing was taken");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("requests refused for their token"), "{log}");
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    // The lines of the body that had none were kept; the refused bodies were not read.
    assert_eq!(harness.dead_letters().len(), 2);
}

#[tokio::test]
async fn a_resend_with_the_same_request_id_makes_the_same_event_ids() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "{}{}",
        http_source(port, ""),
        splunk_destination(
            &receiver.endpoint(),
            "batch = { max_events = 1000, max_wait = \"100ms\" }"
        )
    ));
    let child = start(&harness, port, receiver.token()).await;
    let auth = bearer();
    let body = "{\"n\":1}\n{\"n\":2}\n";
    let keyed = [("authorization", auth.as_str()), ("x-request-id", "req-7")];
    for headers in [&keyed[..], &keyed[..], &keyed[..1], &keyed[..1]] {
        let (status, _, answer) = post(port, "/v1/events", headers, body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let output = stop(child).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let ids: Vec<String> = receiver
        .indexed()
        .iter()
        .map(|e| e["fields"]["sluice_event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 8);
    assert_eq!(
        ids[0..2],
        ids[2..4],
        "a resend with the same key: the same ids"
    );
    assert_ne!(ids[0], ids[1]);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        6,
        "requests without a key get ids of their own: {ids:?}"
    );
}

#[tokio::test]
async fn hec_clients_are_answered_as_splunk_answers_them() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "{}{}",
        http_source(port, ""),
        splunk_destination(
            &receiver.endpoint(),
            "batch = { max_events = 1000, max_wait = \"100ms\" }"
        )
    ));
    let child = start(&harness, port, receiver.token()).await;
    let splunk = format!("Splunk {TOKEN}");
    let auth = [("authorization", splunk.as_str())];
    let event = "/services/collector/event";
    let code = |answer: &Value| answer["code"].as_u64().unwrap();

    let (status, _, answer) = post(port, event, &[], "{\"event\":1}").await;
    assert_eq!((status, code(&answer)), (401, 2));
    let (status, _, answer) = post(port, event, &[("authorization", TOKEN)], "{\"event\":1}").await;
    assert_eq!((status, code(&answer)), (401, 3));
    let (status, _, answer) = post(
        port,
        event,
        &[("authorization", "Splunk wrong")],
        "{\"event\":1}",
    )
    .await;
    assert_eq!((status, code(&answer)), (403, 4));
    let (status, _, answer) = post(port, event, &auth, "  ").await;
    assert_eq!((status, code(&answer)), (400, 5));

    let stacked = r#"{"time":1714566896.5,"host":"h1","sourcetype":"_json","index":"audit","event":{"n":1,"action":"login"}}
{"event":{"n":2},"fields":{"env":"prod"}}"#;
    let (status, _, answer) = post(port, event, &auth, stacked).await;
    assert_eq!((status, code(&answer)), (200, 0), "{answer}");
    // Envelopes before the first refused one are taken; its number is answered.
    let (status, _, answer) = post(
        port,
        "/services/collector",
        &auth,
        r#"{"event":{"n":3}}{"host":"no event"}{"event":{"n":4}}"#,
    )
    .await;
    assert_eq!((status, code(&answer)), (400, 12), "{answer}");
    assert_eq!(answer["invalid-event-number"], 1);
    let (status, _, answer) = post(
        port,
        "/services/collector/raw?sourcetype=app&channel=0b5c1c8e-7a2e-4f51-9d7e-3b9a1f6c2d10",
        &auth,
        "{\"n\":5}\na text line",
    )
    .await;
    assert_eq!((status, code(&answer)), (200, 0), "{answer}");
    // An event the parser refuses (nested past events.max_depth) is answered as HEC
    // answers invalid data: those before it are taken, it and those after are not.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let body = format!(
        "{{\"event\":\"hello\"}}{{\"event\":{{\"deep\":{deep}}}}}{{\"event\":{{\"n\":6}}}}"
    );
    let (status, _, answer) = post(port, event, &auth, body).await;
    assert_eq!((status, code(&answer)), (400, 6), "{answer}");
    assert_eq!(answer["invalid-event-number"], 1);
    let (status, _, answer) = post(port, "/services/collector/ack", &auth, "{\"acks\":[0]}").await;
    assert_eq!((status, code(&answer)), (400, 14));

    let output = stop(child).await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let events: Vec<Value> = receiver
        .indexed()
        .into_iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(
        events,
        [
            json!({"n":1,"action":"login","time":1714566896.5,"hec":{"time":1714566896.5,"host":"h1","sourcetype":"_json","index":"audit"}}),
            json!({"n":2,"hec":{"fields":{"env":"prod"}}}),
            json!({"n":3}),
            json!({"n":5,"hec":{"sourcetype":"app"}}),
            json!({"message":"a text line","hec":{"sourcetype":"app"}}),
            json!({"event":"hello"}),
        ]
    );
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        dead[1]["reason"].as_str().unwrap().contains("max_depth"),
        "{dead:?}"
    );
    assert_eq!(dead[0]["line"], "{\"host\":\"no event\"}");
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("code 12"),
        "{dead:?}"
    );
}

#[tokio::test]
async fn sluice_s_own_splunk_hec_module_sends_to_sluice() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let central = Harness::new();
    let port = free_port(false);
    central.config(&format!(
        "{}{}",
        http_source(port, ""),
        splunk_destination(
            &receiver.endpoint(),
            "batch = { max_events = 1000, max_wait = \"100ms\" }"
        )
    ));
    let central_run = start(&central, port, receiver.token()).await;

    let edge = Harness::new();
    edge.copy_data(&["idp-audit.jsonl"]);
    let sample_events = std::fs::read_to_string(edge.path("data/idp-audit.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    edge.config(&format!(
        "{}{}",
        crate::support::FILE_SOURCE,
        splunk_destination(&format!("http://127.0.0.1:{port}"), "")
    ));
    let output = edge.run_ok(&[("HEC_TOKEN", TOKEN)]).await;
    assert!(output.status.success(), "{}", transcript(&output));

    let output = stop(central_run).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let indexed = receiver.indexed();
    assert_eq!(indexed.len(), sample_events);
    // The edge's envelope arrives whole: its event, and HEC's metadata beside it.
    let first = &indexed[0]["event"];
    assert!(
        first["hec"]["fields"]["sluice_event_id"].is_string(),
        "{first}"
    );
}

/// Events each producer of the crash test sends: 50,000 (the issue's count); fewer
/// with `SLUICE_INGEST_EVENTS`.
fn events_per_producer() -> u64 {
    std::env::var("SLUICE_INGEST_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000)
}

/// A producer that sends events `first..first + count` in requests of 200, each with its
/// own `X-Request-Id`, and sends a request again (same body, same id) until it is
/// answered 200; what was answered goes into `acknowledged`.
async fn produce(
    port: u16,
    first: u64,
    count: u64,
    acknowledged: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
) -> u64 {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut resent = 0;
    for start in (first..first + count).step_by(200) {
        let numbers = start..(start + 200).min(first + count);
        let body: String = numbers
            .clone()
            .map(|n| format!("{{\"action\":\"read\",\"n\":{n}}}\n"))
            .collect();
        loop {
            let answer = client
                .post(format!("http://127.0.0.1:{port}/v1/events"))
                .header("authorization", bearer())
                .header("x-request-id", format!("batch-{start}"))
                .body(body.clone())
                .send()
                .await;
            if answer.is_ok_and(|a| a.status() == 200) {
                acknowledged.lock().unwrap().extend(numbers.clone());
                break;
            }
            resent += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    resent
}

#[tokio::test]
async fn kill_9_right_after_answers_loses_nothing_acknowledged_and_resends_keep_their_ids() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        // Each answer waits for the disk: a kill lands between an event's write and its
        // answer often, and the producer sends again what the spool already has.
        "data_dir = \"state\"\n[spool]\nfsync = \"always\"\n{}{}",
        http_source(port, ""),
        splunk_destination(
            &receiver.endpoint(),
            "batch = { max_events = 1000, max_wait = \"100ms\" }"
        )
    ));
    let mut run = start(&harness, port, receiver.token()).await;
    let per_producer = events_per_producer();
    let total = 4 * per_producer;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            tokio::spawn(produce(
                port,
                p * per_producer,
                per_producer,
                acknowledged.clone(),
            ))
        })
        .collect();
    for kill in 1..=2u64 {
        while (acknowledged.lock().unwrap().len() as u64) < kill * total / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        send_signal(&run, libc::SIGKILL);
        let _ = run.wait().await;
        run = start(&harness, port, receiver.token()).await;
    }
    let mut resent = 0;
    for producer in producers {
        resent += producer.await.unwrap();
    }
    assert!(
        resent > 0,
        "the kills interrupted requests that were sent again"
    );
    let output = stop(run).await;
    assert!(output.status.success(), "{}", transcript(&output));

    let mut ids: std::collections::BTreeMap<u64, std::collections::BTreeSet<String>> =
        Default::default();
    for envelope in receiver.indexed() {
        let n = envelope["event"]["n"].as_u64().unwrap();
        let id = envelope["fields"]["sluice_event_id"].as_str().unwrap();
        ids.entry(n).or_default().insert(id.to_owned());
    }
    let copies = receiver.indexed().len() - ids.len();
    println!("{resent} requests sent again, {copies} events arrived twice");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len() as u64, total);
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|n| !ids.contains_key(n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events never arrived",
        missing.len()
    );
    let changed: Vec<_> = ids.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        changed.is_empty(),
        "an event sent again must keep its id, so the SIEM can drop the copy: {:?}",
        changed.first()
    );
    assert_eq!(
        ids.len() as u64,
        total,
        "no event the producers did not send"
    );
}

#[tokio::test]
async fn a_full_spool_is_answered_503_with_retry_after_and_what_was_answered_200_arrives() {
    let harness = Harness::new();
    let port = free_port(false);
    let settings = "data_dir = \"state\"\nshutdown_timeout = \"1s\"\n[spool]\nmax_bytes = 16384\nsegment_bytes = 4096\n";
    harness.config(&format!(
        "{settings}{}{}",
        http_source(port, ""),
        splunk_destination("http://127.0.0.1:1", "")
    ));
    let run = start(&harness, port, "t").await;
    let auth = bearer();
    let mut answered = Vec::new();
    let mut refused = None;
    for request in 0..200u64 {
        let body: String = (request * 10..request * 10 + 10)
            .map(|n| {
                format!(
                    "{{\"action\":\"read\",\"pad\":\"{}\",\"n\":{n}}}\n",
                    "x".repeat(60)
                )
            })
            .collect();
        let (status, headers, answer) =
            post(port, "/v1/events", &[("authorization", &auth)], body).await;
        match status {
            200 => answered.extend(request * 10..request * 10 + 10),
            503 => {
                refused = Some((headers, answer));
                break;
            }
            other => panic!("{other}: {answer}"),
        }
    }
    let (headers, answer) = refused.expect("the spool filled up");
    assert_eq!(headers["retry-after"], "1");
    assert!(
        answer["error"].as_str().unwrap().contains("full"),
        "{answer}"
    );
    assert!(!answered.is_empty());
    let output = stop(run).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("requests answered 503"),
        "the refusal is said: {log}"
    );
    let summary = log
        .lines()
        .find(|line| line.contains("source summary"))
        .unwrap_or_else(|| panic!("a source summary: {log}"));
    assert!(summary.contains("refused_requests=1 "), "{summary}");
    // What the producer was told to send again was not read.
    assert_eq!(
        crate::support::summary_figure(&output, "events_read"),
        answered.len() as u64
    );

    // The receiver is back: what was answered 200 arrives, nothing else.
    let receiver = HecReceiver::start(HecConfig::default()).await;
    harness.config(&format!(
        "{settings}{}{}",
        http_source(port, ""),
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"100ms\" }")
    ));
    let run = start(&harness, port, receiver.token()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let output = stop(run).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(indexed_numbers(&receiver), answered);
}

#[tokio::test]
async fn over_tls_only_clients_with_a_certificate_of_the_ca_are_served() {
    let pki = crate::support::tls::test_pki();
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let tls = pki.listener_tls(&harness);
    let port = free_port(false);
    harness.config(&format!(
        "{}{}",
        http_source(port, tls),
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"100ms\" }")
    ));
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let identity = format!("{}{}", pki.client_cert_pem, pki.client_key_pem);
    let client = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let run = start(&harness, port, receiver.token()).await;

    let answer = client
        .post(format!("{base}/v1/events"))
        .bearer_auth(TOKEN)
        .body("{\"n\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let anonymous = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let refused = anonymous
        .post(format!("{base}/v1/events"))
        .bearer_auth(TOKEN)
        .body("{\"n\":2}")
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a client without a certificate is not served: {refused:?}"
    );
    let plain = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/events"))
        .bearer_auth(TOKEN)
        .body("{\"n\":3}")
        .send()
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|a| a.status() != 200));

    let output = stop(run).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(indexed_numbers(&receiver), [1]);
}

#[tokio::test]
async fn check_refuses_an_http_source_anyone_could_send_to_or_that_cannot_serve() {
    let harness = Harness::new();
    let destination =
        "[[destinations]]\nname = \"c\"\nmodule = \"http\"\nendpoint = \"capture:c\"\n";
    let cases = [
        (
            "[[sources]]\ntype = \"http\"\nlisten = \"0.0.0.0:8088\"\n",
            "sources[0].listen: 0.0.0.0:8088 can be reached from other machines",
        ),
        (
            "[[sources]]\ntype = \"http\"\n",
            "an http source needs `listen`",
        ),
        (
            "[[sources]]\ntype = \"http\"\nlisten = \"127.0.0.1:8088\"\npaths = [\"x\"]\n",
            "`paths` is for file sources, not http",
        ),
        (
            "[[sources]]\ntype = \"file\"\npaths = [\"x\"]\ntokens = []\n",
            "`tokens` is for http sources, not file",
        ),
        (
            "[[sources]]\ntype = \"http\"\nlisten = \"127.0.0.1:8088\"\ntokens = [{ env = \"NOT_SET_ANYWHERE\" }]\n",
            "sources[0].tokens[0]: environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            "[[sources]]\ntype = \"http\"\nlisten = \"127.0.0.1:8088\"\nmax_connections = 8\nmax_connections_per_client = 9\n",
            "sources[0].max_connections_per_client: must be from 1 to max_connections (8)",
        ),
        (
            "[[sources]]\ntype = \"syslog\"\nlisten = \"udp://127.0.0.1:5514\"\nmax_connections = 8\n",
            "UDP has no connections",
        ),
        (
            "[[sources]]\ntype = \"file\"\npaths = [\"x\"]\nevict_idle_after = \"1m\"\n",
            "`evict_idle_after` is for http and syslog sources, not file",
        ),
    ];
    for (source, expected) in cases {
        let stderr =
            crate::support::check_fails(&harness, &format!("{source}{destination}"), &[]).await;
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    // A token's value is never said.
    let stderr = crate::support::check_fails(
        &harness,
        &format!("[[sources]]\ntype = \"http\"\nlisten = \"127.0.0.1:8088\"\ntokens = [{{ env = \"T\" }}]\n{destination}"),
        &[("T", "has a space")],
    )
    .await;
    assert!(stderr.contains("sources[0].tokens[0]"), "{stderr}");
    assert!(!stderr.contains("has a space"), "{stderr}");
}

#[tokio::test]
async fn a_request_larger_than_the_spool_is_taken_and_so_are_the_next_ones() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "data_dir = \"state\"\n[spool]\nmax_bytes = 16384\nsegment_bytes = 4096\n{}{}",
        http_source(port, ""),
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"100ms\" }")
    ));
    let run = start(&harness, port, receiver.token()).await;
    let auth = bearer();
    let big: String = (0..1000)
        .map(|n| format!("{{\"pad\":\"{}\",\"n\":{n}}}\n", "p".repeat(50)))
        .collect();
    assert!(big.len() > 16384);
    let (status, _, answer) = post(port, "/v1/events", &[("authorization", &auth)], big).await;
    assert_eq!(status, 200, "{answer}");
    // Once the big record is delivered, its segment makes room: a small request is
    // taken (refused while the record is still on its way).
    let mut answered = None;
    for _ in 0..100 {
        let (status, _, _) = post(
            port,
            "/v1/events",
            &[("authorization", &auth)],
            "{\"n\":1000}",
        )
        .await;
        if status == 200 {
            answered = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answered, Some(200), "the spool never made room again");
    let output = stop(run).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(indexed_numbers(&receiver), (0..=1000).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_stop_answers_an_upload_that_stalled_and_does_not_wait_for_it() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "shutdown_timeout = \"2s\"\n{}{}",
        http_source(port, ""),
        splunk_destination(&receiver.endpoint(), "")
    ));
    let run = start(&harness, port, receiver.token()).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-length: 100\r\n\r\n{{\"n\":1}}",
        bearer()
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = std::time::Instant::now();
    send_signal(&run, libc::SIGTERM);
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut answer))
        .await
        .expect("the stalled upload is answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    let output = exit_within(run, Duration::from_secs(20)).await;
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopped.elapsed()
    );
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(receiver.requests(), 0);
}

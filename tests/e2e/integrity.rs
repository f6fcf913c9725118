//! `[integrity]` and `sluice verify`: a chained stream through `kill -9` and restarts
//! verified intact from a strict HEC receiver's copy (redeliveries told apart from
//! tampering), then that copy tampered with, one way at a time, each reported at the
//! right seq and line; and a digest with a wrong signature refused.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, append_lines, exit_within, send_signal, splunk_destination, transcript,
};

const EVENTS: usize = 6000;

/// The receiver's copy as a SIEM export would give it: one HEC envelope per line, each
/// event's bytes as sent.
fn receiver_copy(receiver: &HecReceiver) -> Vec<String> {
    receiver
        .bodies()
        .iter()
        .flat_map(|body| {
            String::from_utf8(body.clone())
                .unwrap()
                .replace("}{\"time\"", "}\n{\"time\"")
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `sluice verify` of `lines` written to `name`, with the harness's public key and, for
/// a copy that keeps the stream's order (`concurrency = 1`), `--in-order`.
async fn verify(harness: &Harness, name: &str, lines: &[String]) -> (i32, String) {
    harness.write(name, lines.join("\n") + "\n");
    let output = harness
        .sluice(
            &["verify", "--in-order", "--public-key", "key.pem.pub", name],
            &[],
        )
        .await;
    let text = transcript(&output);
    (output.status.code().unwrap(), text)
}

/// A harness with a signing key, `key.pem` and `key.pem.pub`.
async fn with_signing_key() -> Harness {
    let harness = Harness::new();
    let keygen = harness.sluice(&["keygen", "key.pem"], &[]).await;
    assert!(keygen.status.success(), "{}", transcript(&keygen));
    let mode = |name: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(harness.path(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!((mode("key.pem"), mode("key.pem.pub")), (0o600, 0o644));
    harness
}

/// The line of the copy holding the event of seq `seq` (the first such).
fn line_of(lines: &[String], seq: u64) -> usize {
    let needle = format!("\"sluice_seq\":{seq},");
    lines.iter().position(|l| l.contains(&needle)).unwrap()
}

#[tokio::test]
async fn a_chain_through_kill_9_verifies_intact_and_every_tampering_is_found_where_it_is() {
    let harness = with_signing_key().await;
    let receiver = HecReceiver::start(HecConfig::default()).await;
    harness.config(&format!(
        "data_dir = \"state\"\ncheckpoint_interval = \"200ms\"\n[integrity]\nchain = \"sha256\"\nsigning_key = {{ file = \"key.pem\" }}\ndigest_interval = \"1s\"\n\n[[sources]]\nname = \"audit\"\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\n{}",
        splunk_destination(
            &receiver.endpoint(),
            "concurrency = 1\nbatch = { max_events = 50, max_wait = \"50ms\" }\nrate_limit = { events_per_second = 4000 }"
        )
    ));
    let event =
        |n: usize| format!(r#"{{"timestamp":"2026-12-01T00:00:00Z","n":{n},"action":"login"}}"#);
    append_lines(&harness.path("data/audit.jsonl"), (0..EVENTS).map(event));
    // Killed twice while it delivers, then a run that ends with a stop.
    for _ in 0..2 {
        let child = harness.spawn_run(receiver.token(), Stdio::null());
        let started = Instant::now();
        let arrived = receiver.indexed().len();
        while receiver.indexed().len() < arrived + 1500
            && started.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        send_signal(&child, libc::SIGKILL);
        let _ = exit_within(child, Duration::from_secs(10)).await;
    }
    append_lines(
        &harness.path("data/audit.jsonl"),
        (EVENTS..EVENTS + 100).map(event),
    );
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    let started = Instant::now();
    let all = |r: &HecReceiver| {
        let mut seen: Vec<u64> = r
            .indexed()
            .iter()
            .filter_map(|e| e["event"]["n"].as_u64())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    while all(&receiver) < EVENTS + 100 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));

    let copy = receiver_copy(&receiver);
    let (code, report) = verify(&harness, "copy.jsonl", &copy).await;
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains(&format!("seqs 1 to {}", EVENTS + 100)),
        "{report}"
    );
    assert!(report.contains(": intact"), "{report}");
    let redelivered =
        copy.len() - EVENTS - 100 - copy.iter().filter(|l| l.contains("sluice_digest")).count();
    assert!(
        report.contains(&format!("{redelivered} found twice (redelivered)")),
        "the copies sent again after each kill are redeliveries: {report}"
    );
    assert!(
        redelivered > 0,
        "a kill -9 left events to send again: {report}"
    );
    // Resumed from checkpoints inside the file: the chain was made again up to them.
    assert!(redelivered < EVENTS, "{report}");

    // Each tampering alone, reported at its seq and its line of the copy.
    let expect = |report: &str, seq: u64, line: usize, what: &str| {
        let wanted = format!("seq {seq} at copy.jsonl:{}: {what}", line + 1);
        assert!(report.contains(&wanted), "wanted `{wanted}` in:\n{report}");
    };
    let mut altered = copy.clone();
    let at = line_of(&altered, 100);
    altered[at] = altered[at].replacen("\"action\":\"login\"", "\"action\":\"logon\"", 1);
    let (code, report) = verify(&harness, "copy.jsonl", &altered).await;
    assert_eq!(code, 1, "{report}");
    expect(&report, 100, at, "altered");

    let mut deleted = copy.clone();
    let at = line_of(&deleted, 200);
    deleted.retain(|l| !l.contains("\"sluice_seq\":200,"));
    let (code, report) = verify(&harness, "copy.jsonl", &deleted).await;
    assert_eq!(code, 1, "{report}");
    expect(
        &report,
        201,
        line_of(&deleted, 201),
        "missing before it: seq 200 to 200",
    );
    assert!(at > 0);

    let mut swapped = copy.clone();
    let (a, b) = (line_of(&swapped, 300), line_of(&swapped, 301));
    swapped.swap(a, b);
    let (code, report) = verify(&harness, "copy.jsonl", &swapped).await;
    assert_eq!(code, 1, "{report}");
    expect(&report, 300, b, "out of order: found after seq 301");

    let mut inserted = copy.clone();
    let at = line_of(&inserted, 400);
    let forged = inserted[at].replacen("\"n\":", "\"forged\":true,\"n\":", 1);
    inserted.insert(at + 1, forged);
    let (code, report) = verify(&harness, "copy.jsonl", &inserted).await;
    assert_eq!(code, 1, "{report}");
    expect(&report, 400, at + 1, "inserted or altered");

    // The tail cut after the last event the digests cover: the last digest says so.
    let last_digest = copy
        .iter()
        .rposition(|l| l.contains("sluice_digest"))
        .unwrap();
    let mut cut: Vec<String> = copy
        .iter()
        .filter(|l| {
            l.contains("sluice_digest") || !l.contains(&format!("\"sluice_seq\":{},", EVENTS + 100))
        })
        .cloned()
        .collect();
    cut.truncate(cut.len().max(last_digest));
    let (code, report) = verify(&harness, "copy.jsonl", &cut).await;
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("cut: the digest covers seqs up to"),
        "{report}"
    );

    // Without the digests, no event is proven, whatever the chain says.
    let unsigned: Vec<String> = copy
        .iter()
        .filter(|l| !l.contains("sluice_digest"))
        .cloned()
        .collect();
    let (code, report) = verify(&harness, "copy.jsonl", &unsigned).await;
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!(
            "unproven: seqs 1 to {} are under no signed digest",
            EVENTS + 100
        )),
        "{report}"
    );

    // A digest re-signed by another key (or altered) is refused.
    let other = harness.sluice(&["keygen", "other.pem"], &[]).await;
    assert!(other.status.success());
    let (code, report) = {
        harness.write("copy.jsonl", copy.join("\n") + "\n");
        let output = harness
            .sluice(
                &["verify", "--public-key", "other.pem.pub", "copy.jsonl"],
                &[],
            )
            .await;
        (output.status.code().unwrap(), transcript(&output))
    };
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("signature is not the key's"), "{report}");
}

#[tokio::test]
async fn an_event_with_a_member_of_the_chain_is_refused_and_a_file_read_once_is_sealed() {
    let harness = with_signing_key().await;
    harness.write(
        "data/audit.jsonl",
        // The last one's key is `sluice_stream` to any reader (a hostile run: accepted,
        // it made its copy hold two).
        "{\"n\":1}\n{\"sluice_seq\":999,\"n\":2}\n{\"n\":3,\"note\":{\"sluice_seq\":1}}\n{\"sluice\\u005fstream\":\"ffffffffffffffff\",\"n\":4}\n",
    );
    harness.config(
        "data_dir = \"state\"\n[integrity]\nchain = \"sha256\"\nsigning_key = { file = \"key.pem\" }\n\n[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n\n[[destinations]]\nname = \"c\"\nmodule = \"http\"\nendpoint = \"capture:captured\"\n",
    );
    let output = harness.run_expecting(3, &[]).await;
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 2, "{}", transcript(&output));
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("`sluice_seq`")
            && dead[1]["reason"]
                .as_str()
                .unwrap()
                .contains("`sluice_stream`"),
        "{dead:?}"
    );
    // The webhook puts its `sluice` enrichment first; the file, read to its end, has its
    // digest: every event proven.
    let verified = harness
        .sluice(&["verify", "--public-key", "key.pem.pub", "captured"], &[])
        .await;
    let report = transcript(&verified);
    assert_eq!(verified.status.code(), Some(0), "{report}");
    assert!(report.contains("seqs 1 to 2, 2 events"), "{report}");
}

#[tokio::test]
async fn a_source_renamed_between_two_runs_goes_on_with_its_files_chains() {
    let harness = with_signing_key().await;
    let config = |name: &str| {
        format!(
            "data_dir = \"state\"\n[integrity]\nchain = \"sha256\"\nsigning_key = {{ file = \"key.pem\" }}\n\n[[sources]]\nname = \"{name}\"\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n\n[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n"
        )
    };
    let event = |n: usize| format!("{{\"n\":{n}}}");
    append_lines(&harness.path("data/audit.jsonl"), (0..50).map(event));
    harness.config(&config("audit"));
    harness.run_ok(&[]).await;
    append_lines(&harness.path("data/audit.jsonl"), (50..80).map(event));
    harness.config(&config("audit-renamed"));
    harness.run_ok(&[]).await;
    let verified = harness
        .sluice(&["verify", "--public-key", "key.pem.pub", "captured"], &[])
        .await;
    let report = transcript(&verified);
    assert_eq!(verified.status.code(), Some(0), "{report}");
    assert!(report.contains("seqs 1 to 80, 80 events"), "{report}");
}

#[tokio::test]
async fn another_chain_or_key_over_the_same_data_dir_is_refused_before_anything_is_read() {
    let harness = Harness::new();
    let config = |chain: &str| {
        format!(
            "data_dir = \"state\"\n[integrity]\n{chain}\n\n[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n\n[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n"
        )
    };
    let hmac = "chain = \"hmac-sha256\"\nkey = { env = \"CHAIN_KEY\" }";
    let key_a = [("CHAIN_KEY", "a-key-of-at-least-thirty-two-bytes-0001")];
    let key_b = [("CHAIN_KEY", "a-key-of-at-least-thirty-two-bytes-0002")];
    append_lines(
        &harness.path("data/audit.jsonl"),
        (0..5).map(|n| format!("{{\"n\":{n}}}")),
    );
    harness.config(&config("chain = \"sha256\""));
    harness.run_ok(&[]).await;
    let chain_file = harness.path("state/integrity/chain");
    assert_eq!(std::fs::read_to_string(&chain_file).unwrap(), "sha256\n");

    append_lines(&harness.path("data/audit.jsonl"), ["{\"n\":5}".to_owned()]);
    harness.config(&config(hmac));
    let refused = harness.run_expecting(2, &key_a).await;
    let said = transcript(&refused);
    assert!(
        said.contains("integrity.chain: the streams of data_dir")
            && said.contains("were chained with sha256"),
        "{said}"
    );
    // Nothing was read: the sixth event waits for the chain it belongs to.
    let sent = std::fs::read_dir(harness.path("captured")).unwrap().count();

    // Once told (the file removed), the new chain is recorded; a new key is refused too,
    // and the key is never said.
    std::fs::remove_file(&chain_file).unwrap();
    harness.run_ok(&key_a).await;
    assert!(std::fs::read_dir(harness.path("captured")).unwrap().count() > sent);
    let refused = harness.run_expecting(2, &key_b).await;
    let said = transcript(&refused);
    assert!(
        said.contains("were chained with hmac-sha256 under another key"),
        "{said}"
    );
    assert!(!said.contains("thirty-two"), "{said}");
    harness.run_ok(&key_a).await;
}

#[tokio::test]
async fn the_streams_of_a_syslog_connection_and_of_http_requests_end_with_a_signed_digest() {
    use tokio::io::AsyncWriteExt;
    let harness = with_signing_key().await;
    let (syslog_port, http_port) = (
        crate::support::free_port(false),
        crate::support::free_port(false),
    );
    // A digest interval no run reaches: only the streams' ends can make digests.
    harness.config(&format!(
        "data_dir = \"state\"\n[integrity]\nchain = \"sha256\"\nsigning_key = {{ file = \"key.pem\" }}\ndigest_interval = \"1h\"\n\n[[sources]]\ntype = \"syslog\"\nlisten = \"tcp://127.0.0.1:{syslog_port}\"\n\n[[sources]]\ntype = \"http\"\nlisten = \"127.0.0.1:{http_port}\"\n\n[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n"
    ));
    let run = crate::support::start_listening(&harness, &[], syslog_port).await;
    let mut connection = tokio::net::TcpStream::connect(("127.0.0.1", syslog_port))
        .await
        .unwrap();
    for n in 0..3 {
        let line = format!("<13>1 2026-12-06T10:00:00Z h app - - - {{\"syslog\":{n}}}\n");
        connection.write_all(line.as_bytes()).await.unwrap();
    }
    connection.shutdown().await.unwrap();
    drop(connection);
    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{http_port}/v1/events"))
        .body("{\"http\":1}\n{\"http\":2}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = crate::support::stop(run).await;

    let verified = harness
        .sluice(&["verify", "--public-key", "key.pem.pub", "captured"], &[])
        .await;
    let report = transcript(&verified);
    assert_eq!(verified.status.code(), Some(0), "{report}\n{log}");
    assert!(report.contains("seqs 1 to 3, 3 events"), "{report}");
    assert!(report.contains("seqs 1 to 2, 2 events"), "{report}");
    assert!(!report.contains("unproven"), "{report}");
}

#[tokio::test]
async fn a_cloudwatch_copy_whose_events_are_text_in_messages_verifies() {
    let harness = with_signing_key().await;
    harness.config(
        "data_dir = \"state\"\n[integrity]\nchain = \"sha256\"\nsigning_key = { file = \"key.pem\" }\n\n[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n\n[[destinations]]\nname = \"cloudwatch\"\nmodule = \"cloudwatch-logs\"\nendpoint = \"capture:captured\"\naws = { region = \"eu-west-1\", service = \"logs\", access_key_id = { env = \"AWS_ACCESS_KEY_ID\" }, secret_access_key = { env = \"AWS_SECRET_ACCESS_KEY\" } }\nsettings = { log_group = \"/acme/audit\", log_stream = \"s1\" }\n",
    );
    append_lines(
        &harness.path("data/audit.jsonl"),
        (0..20).map(|n| {
            format!("{{\"action\":\"read\",\"note\":\"a \\\"quoted\\\" word\",\"n\":{n}}}")
        }),
    );
    let aws = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ];
    harness.run_ok(&aws).await;
    let verified = harness
        .sluice(&["verify", "--public-key", "key.pem.pub", "captured"], &[])
        .await;
    let report = transcript(&verified);
    assert_eq!(verified.status.code(), Some(0), "{report}");
    assert!(report.contains("seqs 1 to 20, 20 events"), "{report}");

    // The text of one message altered: found.
    let file = std::fs::read_dir(harness.path("captured"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .contains("\\\"n\\\":7")
        })
        .expect("a request with event 7");
    let request = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, request.replace("\\\"n\\\":7", "\\\"n\\\":70")).unwrap();
    let verified = harness
        .sluice(&["verify", "--public-key", "key.pem.pub", "captured"], &[])
        .await;
    let report = transcript(&verified);
    assert_eq!(verified.status.code(), Some(1), "{report}");
    assert!(
        report.contains("seq 8 at") && report.contains("altered"),
        "{report}"
    );
}

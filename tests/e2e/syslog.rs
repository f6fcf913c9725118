//! The `syslog` module over UDP, TCP and TLS to a real rsyslog: every sample event
//! arrives, and rsyslog's own parse of each message (header fields, structured data,
//! MSG) matches the event it came from.

use serde_json::Value;

use crate::support::syslog_daemon::{Listen, SyslogDaemon};
use crate::support::tls::test_pki;
use crate::support::{
    FILE_SOURCE, Harness, SAMPLE_FILES, data_file, objects_in, sorted, transcript,
};

/// A destination of the syslog module at `endpoint`, with `extra` lines.
fn syslog_config(endpoint: &str, extra: &str) -> String {
    format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"rsyslog\"\nmodule = \"syslog\"\nendpoint = {endpoint:?}\n\
         settings = {{ hostname = \"host1.example.com\", app_name = \"sluice-test\", procid = \"77\" }}\n{extra}\n"
    )
}

fn sample_events() -> Vec<Value> {
    SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&data_file(name)))
        .collect()
}

/// Checks rsyslog's parse of every message against the sample events.
fn assert_parsed_as_sent(parsed: &[Value], output: &std::process::Output) {
    let expected = sample_events();
    assert_eq!(parsed.len(), expected.len(), "{}", transcript(output));
    let mut events = Vec::new();
    for message in parsed {
        assert_eq!(message["hostname"], "host1.example.com", "{message}");
        assert_eq!(message["app-name"], "sluice-test", "{message}");
        assert_eq!(message["procid"], "77", "{message}");
        // Facility auth (4): PRI 32 to 39, the severity from the event.
        let pri: u32 = message["pri"].as_str().unwrap().parse().unwrap();
        assert!((32..40).contains(&pri), "{message}");
        let sd = message["structured-data"].as_str().unwrap();
        assert!(
            sd.starts_with("[sluice@32473 eventId=\"") && sd.ends_with("\"]"),
            "{sd}"
        );
        let msg = message["msg"].as_str().unwrap();
        // The BOM before a UTF-8 MSG: rsyslog keeps it in `msg`, syslog-ng takes it off.
        let json = msg.trim_start_matches('\u{feff}');
        let event: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {msg}"));
        let msgid = message["msgid"].as_str().unwrap();
        match event["event_type"].as_str() {
            Some(kind) => assert_eq!(msgid, kind.replace(' ', "_"), "{message}"),
            // NILVALUE: rsyslog shows `-`, syslog-ng nothing.
            None => assert!(matches!(msgid, "-" | ""), "{message}"),
        }
        events.push(event);
    }
    assert_eq!(
        sorted(events),
        sorted(expected),
        "each event once, unchanged"
    );
}

async fn every_sample_arrives(listen: Listen<'_>, scheme: &str, extra: &str) {
    every_sample_arrives_at(SyslogDaemon::rsyslog(listen).await, scheme, extra).await;
}

async fn every_sample_arrives_at(daemon: SyslogDaemon, scheme: &str, extra: &str) {
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    let extra =
        format!("retry = {{ initial_backoff = \"50ms\", max_backoff = \"500ms\" }}\n{extra}");
    harness.config(&syslog_config(&daemon.endpoint(scheme), &extra));

    let output = harness.run_ok(&[]).await;

    let parsed = daemon.parsed(290).await;
    assert_parsed_as_sent(&parsed, &output);
}

/// RELP: each message answered by rsyslog's `imrelp` once taken.
#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_reaches_rsyslog_over_relp() {
    every_sample_arrives(Listen::Relp, "relp", "").await;
}

/// syslog-ng, a second reader written apart from rsyslog, parses the same messages
/// the same way.
#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_reaches_syslog_ng_over_tcp() {
    every_sample_arrives_at(SyslogDaemon::syslog_ng().await, "tcp", "").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_reaches_rsyslog_over_udp() {
    every_sample_arrives(Listen::Udp, "udp", "").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_reaches_rsyslog_over_tcp() {
    every_sample_arrives(Listen::Tcp, "tcp", "").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_reaches_rsyslog_over_tcp_with_lf_framing() {
    every_sample_arrives(Listen::Tcp, "tcp", "framing = \"lf\"").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_reaches_rsyslog_over_tls() {
    let pki = test_pki();
    let harness_ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(harness_ca.path(), &pki.ca_pem).unwrap();
    let extra = format!("ca_file = {:?}", harness_ca.path());
    every_sample_arrives(Listen::Tls(&pki), "tls", &extra).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_receiver_with_an_untrusted_certificate_is_refused_with_a_clear_error() {
    let pki = test_pki();
    let rsyslog = SyslogDaemon::rsyslog(Listen::Tls(&pki)).await;
    let harness = Harness::new();
    harness.write("data/one.jsonl", "{\"event_type\":\"login\"}\n");
    // No ca_file: the test CA is not trusted.
    harness.config(&syslog_config(
        &rsyslog.endpoint("tls"),
        "retry = { max_attempts = 2, initial_backoff = \"10ms\" }",
    ));

    let output = harness.run_expecting(3, &[]).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tls://127.0.0.1") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    assert!(rsyslog.parsed(0).await.is_empty());
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1, "{stderr}");
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("UnknownIssuer"),
        "{}",
        dead[0]
    );
}

/// Appends events `first..first + count` to the followed file.
fn append_events(harness: &Harness, first: usize, count: usize) {
    let lines = (first..first + count).map(|n| format!("{{\"event_type\":\"tick\",\"n\":{n}}}"));
    crate::support::append_lines(&harness.path("data/live.jsonl"), lines);
}

/// How many times each `n` arrived.
fn arrivals(parsed: &[Value]) -> std::collections::BTreeMap<u64, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for message in parsed {
        let msg = message["msg"]
            .as_str()
            .unwrap()
            .trim_start_matches('\u{feff}');
        let event: Value = serde_json::from_str(msg).unwrap();
        *counts.entry(event["n"].as_u64().unwrap()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn rsyslog_stopped_mid_stream_and_started_again_gets_every_event() {
    stopped_and_started_again(Listen::Tcp, "tcp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rsyslog_stopped_mid_relp_session_and_started_again_gets_every_event() {
    stopped_and_started_again(Listen::Relp, "relp").await;
}

/// Sluice follows a file into rsyslog, which stops (its connection open and idle) and
/// starts again on the same port: every event arrives.
async fn stopped_and_started_again(listen: Listen<'_>, scheme: &str) {
    let mut rsyslog = SyslogDaemon::rsyslog(listen).await;
    let harness = Harness::new();
    append_events(&harness, 0, 500);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         [[destinations]]\nname = \"rsyslog\"\nmodule = \"syslog\"\nendpoint = {:?}\n\
         batch = {{ max_events = 100, max_wait = \"50ms\" }}\n\
         retry = {{ max_attempts = 100, initial_backoff = \"50ms\", max_backoff = \"200ms\" }}\n\
         circuit_breaker = {{ open_for = \"300ms\" }}\n",
        rsyslog.endpoint(scheme)
    ));
    let sluice = harness.spawn_run("", std::process::Stdio::null());
    assert_eq!(rsyslog.parsed(500).await.len(), 500, "{}", rsyslog.log());

    // The connection is open and idle when rsyslog stops; the next events find it
    // closed, and then nothing listening, until rsyslog is back on the same port.
    rsyslog.stop();
    append_events(&harness, 500, 500);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    rsyslog.restart().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while arrivals(&rsyslog.parsed(0).await).len() < 1000 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    crate::support::send_signal(&sluice, libc::SIGTERM);
    let output = crate::support::exit_within(sluice, std::time::Duration::from_secs(20)).await;

    let parsed = rsyslog.parsed(0).await;
    let counts = arrivals(&parsed);
    let missing: Vec<u64> = (0..1000).filter(|n| !counts.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "never arrived: {missing:?}\n{}",
        transcript(&output)
    );
    // At least once: only a batch whose connection broke under it is sent again.
    let duplicates = parsed.len() - counts.len();
    assert!(
        duplicates <= 100,
        "{duplicates} duplicates\n{}",
        transcript(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{scheme}://127.0.0.1")),
        "the failures name the endpoint: {stderr}"
    );
}

/// CEF and LEEF lines as the MSG of RFC 5424 messages: each arrives whole in rsyslog,
/// one per sample event, its header and keys intact.
#[tokio::test(flavor = "multi_thread")]
async fn cef_and_leef_lines_arrive_whole_inside_syslog() {
    for (payload, own, start) in [
        ("cef", "", "CEF:0|Acme|AuditSvc|2.1|"),
        ("leef", ", delimiter = \"^\"", "LEEF:2.0|Acme|AuditSvc|2.1|"),
    ] {
        let rsyslog = SyslogDaemon::rsyslog(Listen::Tcp).await;
        let harness = Harness::new();
        harness.copy_data(&SAMPLE_FILES);
        harness.config(&format!(
            "{FILE_SOURCE}[[destinations]]\nname = \"rsyslog\"\nmodule = \"syslog\"\nendpoint = {:?}\n\
             settings = {{ payload = \"{payload}\", vendor = \"Acme\", product = \"AuditSvc\", product_version = \"2.1\"{own} }}\n",
            rsyslog.endpoint("tcp")
        ));

        let output = harness.run_ok(&[]).await;

        let parsed = rsyslog.parsed(290).await;
        assert_eq!(parsed.len(), 290, "{payload}: {}", transcript(&output));
        for message in &parsed {
            let msg = message["msg"]
                .as_str()
                .unwrap()
                .trim_start_matches('\u{feff}');
            assert!(msg.starts_with(start), "{payload}: {msg}");
            assert!(!msg.chars().any(char::is_control), "{payload}: {msg:?}");
            match payload {
                "cef" => assert!(msg.contains("|rt=") && msg.contains(" dvchost="), "{msg}"),
                _ => assert!(
                    msg.contains("|^|") && msg.contains("^devTime=") && msg.contains("^sev="),
                    "{msg}"
                ),
            }
        }
        let idp_logins = parsed
            .iter()
            .filter(|m| {
                m["msg"].as_str().unwrap().contains("usrName=zoë.ç")
                    || m["msg"].as_str().unwrap().contains("suser=zoë.ç")
            })
            .count();
        assert!(
            idp_logins > 0,
            "{payload}: the identity provider's user names arrive, UTF-8 intact"
        );
    }
}

/// A `fields` mapping a format cannot write is refused at `check`, naming the key: LEEF
/// has no numbered custom slots, CEF none past its own, and a CEF label goes beside its
/// value.
#[tokio::test]
async fn check_refuses_a_field_mapping_the_format_cannot_write() {
    let harness = Harness::new();
    for (module, fields, expected) in [
        ("leef", "cs1=tenant_id", "`cs1` is a CEF custom slot"),
        ("cef", "cs7=tenant_id", "cs1 to cs6"),
        ("cef", "cs1Label=Tenant", "`cs1Label` labels nothing"),
        ("syslog", "cs1Label=Tenant", "`cs1Label` labels nothing"),
    ] {
        let payload = match module {
            "syslog" => ", payload = \"cef\"",
            _ => "",
        };
        let config = format!(
            "[[sources]]\ntype = \"stdin\"\n[[destinations]]\nname = \"siem\"\nmodule = \"{module}\"\nendpoint = \"tcp://127.0.0.1:5514\"\nsettings = {{ fields = \"{fields}\"{payload} }}\n"
        );
        let stderr = crate::support::check_fails(&harness, &config, &[]).await;
        assert!(
            stderr.contains(expected) && stderr.contains("fields"),
            "{module} {fields}: {stderr}"
        );
    }
}

/// A receiver that asks for a client certificate: refused without one (the events kept
/// in the dead-letter store), taken with `client_cert` and `client_key`.
#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_presents_the_client_certificate() {
    let pki = test_pki();
    let rsyslog = SyslogDaemon::rsyslog(Listen::MutualTls(&pki)).await;
    let harness = Harness::new();
    let ca = harness.write("pki/ca.pem", &pki.ca_pem);
    harness.write("pki/client.pem", &pki.client_cert_pem);
    harness.write("pki/client.key", &pki.client_key_pem);
    harness.write("data/one.jsonl", "{\"event_type\":\"login\",\"n\":0}\n");
    let tls = format!("ca_file = {ca:?}");
    harness.config(&syslog_config(
        &rsyslog.endpoint("tls"),
        &format!("{tls}\nretry = {{ max_attempts = 2, initial_backoff = \"10ms\" }}"),
    ));

    let refused = harness.run_expecting(3, &[]).await;

    assert!(
        rsyslog.parsed(0).await.is_empty(),
        "{}",
        transcript(&refused)
    );
    assert_eq!(harness.dead_letters().len(), 1, "{}", transcript(&refused));

    std::fs::remove_dir_all(harness.path("dead-letter")).unwrap();
    harness.config(&syslog_config(
        &rsyslog.endpoint("tls"),
        &format!(
            "{tls}\nclient_cert = \"pki/client.pem\"\nclient_key = {{ file = \"pki/client.key\" }}"
        ),
    ));
    let output = harness.run_ok(&[]).await;

    let parsed = rsyslog.parsed(1).await;
    assert_eq!(
        parsed.len(),
        1,
        "{}\n{}",
        transcript(&output),
        rsyslog.log()
    );
    assert!(parsed[0]["msg"].as_str().unwrap().contains("\"n\":0"));
}

/// A message over `max_datagram_bytes` is not cut but dead-lettered with its size; the
/// others go.
#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_datagram_is_dead_lettered_with_its_size() {
    let rsyslog = SyslogDaemon::rsyslog(Listen::Udp).await;
    let harness = Harness::new();
    let big = "x".repeat(3000);
    harness.write(
        "data/mixed.jsonl",
        format!("{{\"n\":1}}\n{{\"n\":2,\"note\":\"{big}\"}}\n{{\"n\":3}}\n"),
    );
    harness.config(&syslog_config(&rsyslog.endpoint("udp"), ""));

    let output = harness.run_expecting(3, &[]).await;

    let parsed = rsyslog.parsed(2).await;
    assert_eq!(parsed.len(), 2, "{}", transcript(&output));
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1, "{}", transcript(&output));
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("over max_datagram_bytes (2048)"),
        "{reason}"
    );
    assert!(dead[0]["event"]["n"] == 2, "{}", dead[0]);
}

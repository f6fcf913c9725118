//! The syslog source: a real rsyslog forwards what it receives to `sluice run` over TCP
//! (RFC 5424, octet counting) and UDP (its forward format, RFC 3164 style); a client
//! over mutual TLS; each message made an event.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, exit_within, free_port, send_signal, splunk_destination, transcript,
};

/// Starts `sluice run` and waits until it takes connections on `tcp_port`.
async fn start(harness: &Harness, hec_token: &str, tcp_port: u16) -> tokio::process::Child {
    crate::support::start_listening(harness, &[("HEC_TOKEN", hec_token)], tcp_port).await
}

/// Waits until the receiver has `count` events (or 15 s passed); the events by source.
async fn events(receiver: &HecReceiver, count: usize) -> Vec<Value> {
    for _ in 0..150 {
        if receiver.indexed().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.indexed()
}

/// rsyslogd, listening on `input_port` (TCP, line-fed) and forwarding every message to
/// Sluice over TCP (RFC 5424, octet counting) and UDP (its forward format).
struct Rsyslog {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Rsyslog {
    fn start(input_port: u16, tcp_port: u16, udp_port: u16) -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().display();
        let config = format!(
            "global(workDirectory=\"{work}\" maxMessageSize=\"64k\")\n\
             module(load=\"imtcp\")\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{input_port}\" ruleset=\"forward\")\n\
             ruleset(name=\"forward\") {{\n\
               action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{tcp_port}\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\")\n\
               action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{udp_port}\" protocol=\"udp\" template=\"RSYSLOG_ForwardFormat\")\n\
             }}\n"
        );
        let path = dir.path().join("rsyslog.conf");
        std::fs::write(&path, config).unwrap();
        let child = std::process::Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&path)
            .arg("-i")
            .arg(dir.path().join("rsyslog.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("rsyslog.err")).unwrap())
            .spawn()
            .expect("rsyslogd (`bash .ci/test-deps` installs it)");
        Rsyslog { child, _dir: dir }
    }
}

impl Rsyslog {
    /// A connection to its input, once it listens.
    async fn input(input_port: u16) -> tokio::net::TcpStream {
        for _ in 0..100 {
            if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", input_port)).await {
                return stream;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("rsyslog does not listen on {input_port}");
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn rsyslog_forwards_over_tcp_and_udp_and_each_message_is_an_event() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let (tcp_port, udp_port, input_port) = (free_port(false), free_port(true), free_port(false));
    harness.config(&format!(
        "[[sources]]\ntype = \"syslog\"\nname = \"tcp\"\nlisten = \"tcp://127.0.0.1:{tcp_port}\"\n\
         [[sources]]\ntype = \"syslog\"\nname = \"udp\"\nlisten = \"udp://127.0.0.1:{udp_port}\"\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"100ms\" }")
    ));
    let run = start(&harness, receiver.token(), tcp_port).await;
    let _rsyslog = Rsyslog::start(input_port, tcp_port, udp_port);
    let mut input = Rsyslog::input(input_port).await;
    let messages = [
        "<86>Dec  6 10:00:00 web01 sshd[123]: Accepted publickey for bob",
        "<110>1 2026-12-06T10:00:01Z web01 audit 55 LOGIN [meta@32473 user=\"alice\"] {\"action\":\"login\",\"user\":\"alice\",\"n\":2}",
        "<13>1 2026-12-06T10:00:02Z web01 app - - - plain message 3",
    ];
    for message in messages {
        input
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    input.flush().await.unwrap();
    let indexed = events(&receiver, 6).await;
    send_signal(&run, libc::SIGTERM);
    let output = exit_within(run, Duration::from_secs(60)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(
        indexed.len(),
        6,
        "each message once from each source: {indexed:#?}"
    );

    let by_message = |needle: &str| -> Vec<Value> {
        indexed
            .iter()
            .map(|envelope| envelope["event"].clone())
            .filter(|event| event.to_string().contains(needle))
            .collect()
    };
    // Both ways, the message's parts as rsyslog forwarded them.
    for event in by_message("Accepted publickey") {
        assert_eq!(event["hostname"], "web01", "{event}");
        assert_eq!(event["appname"], "sshd", "{event}");
        assert_eq!(event["procid"], 123, "{event}");
        assert_eq!(event["facility"], "authpriv", "{event}");
        assert_eq!(event["severity"], "info", "{event}");
        assert_eq!(event["message"], "Accepted publickey for bob", "{event}");
    }
    // A JSON message is the event.
    let logins = by_message("\"login\"");
    assert_eq!(logins.len(), 2, "{indexed:#?}");
    for event in logins {
        assert_eq!(event, json!({"action": "login", "user": "alice", "n": 2}));
    }
    let plain = by_message("plain message 3");
    assert_eq!(plain.len(), 2);
    let over_tcp = plain
        .iter()
        .find(|event| event["timestamp"] == "2026-12-06T10:00:02+00:00")
        .unwrap_or_else(|| panic!("RFC 5424 keeps the time: {plain:?}"));
    assert_eq!(over_tcp["appname"], "app");
    assert_eq!(over_tcp["message"], "plain message 3");
}

#[tokio::test]
async fn over_mutual_tls_octet_counted_messages_are_read_and_bad_ones_kept() {
    let pki = crate::support::tls::test_pki();
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let tls = pki.listener_tls(&harness);
    let port = free_port(false);
    harness.config(&format!(
        "[events]\nmax_line_bytes = 1024\n\
         [[sources]]\ntype = \"syslog\"\nlisten = \"tls://127.0.0.1:{port}\"\n{tls}\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"100ms\" }")
    ));
    let run = start(&harness, receiver.token(), port).await;

    use rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let chain = vec![
        rustls::pki_types::CertificateDer::from_pem_slice(pki.client_cert_pem.as_bytes()).unwrap(),
    ];
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.client_key_pem.as_bytes()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut stream = Vec::new();
    for message in [
        "<14>1 2026-12-06T10:00:00Z h app - - - {\"n\":1}".to_owned(),
        format!(
            "<14>1 2026-12-06T10:00:00Z h app - - - {}",
            "x".repeat(2000)
        ),
        "<14>1 2026-12-06T10:00:00Z h app - - - {\"n\":3}".to_owned(),
    ] {
        write!(stream, "{} {message}", message.len()).unwrap();
    }
    tls.write_all(&stream).await.unwrap();
    tls.shutdown().await.unwrap();
    let indexed = events(&receiver, 2).await;
    send_signal(&run, libc::SIGTERM);
    let output = exit_within(run, Duration::from_secs(60)).await;
    // The long message is kept in the dead-letter store: exit 3.
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let numbers: Vec<_> = indexed.iter().map(|e| e["event"]["n"].clone()).collect();
    assert_eq!(numbers, [json!(1), json!(3)]);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("longer than events.max_line_bytes"),
        "{dead:?}"
    );
}

/// Opens a connection to `port` from `local` (any 127.x.y.z address is this machine's).
async fn connect_from(local: &str, port: u16) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(([127, 0, 0, 1], port).into()).await.unwrap()
}

/// Whether the listener closed `stream` within 10 s.
async fn closed_by_sluice(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte)).await;
    matches!(read, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn idle_connections_give_their_place_a_client_past_its_share_is_refused_and_rsyslog_loses_nothing()
 {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let (tcp_port, udp_port, input_port) = (free_port(false), free_port(true), free_port(false));
    harness.config(&format!(
        "[[sources]]\ntype = \"syslog\"\nlisten = \"tcp://127.0.0.1:{tcp_port}\"\n\
         max_connections = 3\nmax_connections_per_client = 1\nevict_idle_after = \"1s\"\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"100ms\" }")
    ));
    let run = start(&harness, receiver.token(), tcp_port).await;
    let _rsyslog = Rsyslog::start(input_port, tcp_port, udp_port);
    let mut input = Rsyslog::input(input_port).await;
    let mut say = async |n: u32| {
        let line = format!("<13>1 2026-12-06T10:00:00Z h app - - - {{\"n\":{n}}}\n");
        input.write_all(line.as_bytes()).await.unwrap();
        input.flush().await.unwrap();
    };
    say(1).await;
    assert_eq!(
        events(&receiver, 1).await.len(),
        1,
        "rsyslog's connection is open"
    );

    // Another client takes the second place; its second connection is past its share,
    // and its first has not been idle long enough to be replaced: closed at once.
    let mut hog = connect_from("127.0.0.2", tcp_port).await;
    let mut second = connect_from("127.0.0.2", tcp_port).await;
    assert!(closed_by_sluice(&mut second).await, "past a client's share");
    let third = connect_from("127.0.0.3", tcp_port).await;

    // Every place is taken; rsyslog's connection has been idle longest: a fourth client
    // gets it, and rsyslog, writing again after its grace, opens a new one, which
    // replaces the hog's (idle longest by then): nothing rsyslog sent is lost.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fourth = connect_from("127.0.0.4", tcp_port).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    say(2).await;
    assert!(
        closed_by_sluice(&mut hog).await,
        "the idle hog gave its place"
    );
    say(3).await;
    let indexed = events(&receiver, 3).await;
    drop((third, fourth));
    send_signal(&run, libc::SIGTERM);
    let output = exit_within(run, Duration::from_secs(60)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let numbers: Vec<_> = indexed.iter().map(|e| e["event"]["n"].clone()).collect();
    assert_eq!(numbers, [json!(1), json!(2), json!(3)], "{indexed:#?}");
    let log = transcript(&output);
    assert!(
        log.contains("1 connections from 127.0.0.2 are open"),
        "the refusal is said: {log}"
    );
    assert!(log.contains("closed to make room"), "{log}");
}

#[tokio::test]
async fn a_connection_held_back_by_a_full_pipeline_is_not_idle_and_loses_nothing() {
    // Far more than the pipeline holds (a queue of 100 events, a read block of 256 KiB).
    const MESSAGES: usize = 30_000;
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let port = free_port(false);
    harness.config(&format!(
        "[[sources]]\ntype = \"syslog\"\nlisten = \"tcp://127.0.0.1:{port}\"\n\
         max_connections = 4\nmax_connections_per_client = 1\nevict_idle_after = \"1s\"\n{}",
        splunk_destination(
            &receiver.endpoint(),
            "batch = { max_events = 50, max_wait = \"50ms\" }\nbuffer = { max_events = 100 }\n\
             retry = { initial_backoff = \"100ms\", max_backoff = \"200ms\", max_attempts = 1000 }\n\
             circuit_breaker = { failures = 1000, open_for = \"200ms\" }"
        )
    ));
    let run = start(&harness, receiver.token(), port).await;
    // The destination refuses everything: the pipeline fills, and Sluice stops reading
    // the sender, whose messages wait in the socket.
    receiver.make_busy(usize::MAX);
    let mut sender = connect_from("127.0.0.5", port).await;
    let (done, end) = tokio::sync::oneshot::channel::<()>();
    let writing = tokio::spawn(async move {
        let mut text = String::new();
        for n in 0..MESSAGES {
            text.push_str(&format!(
                "<13>1 2026-12-06T10:00:00Z h app - - - {{\"n\":{n}}}\n"
            ));
        }
        sender.write_all(text.as_bytes()).await.unwrap();
        let _ = end.await;
        sender.shutdown().await.unwrap();
        sender
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The same client again, at its share: the first connection has had no byte read
    // for seconds, but only because the pipeline is full; it is not idle.
    let mut second = connect_from("127.0.0.5", port).await;
    assert!(
        closed_by_sluice(&mut second).await,
        "past the client's share"
    );
    receiver.make_busy(0);
    done.send(()).unwrap();
    let _sender = writing.await.unwrap();
    let indexed = events(&receiver, MESSAGES).await;
    let log = crate::support::stop(run).await;
    let numbers: std::collections::BTreeSet<u64> = indexed
        .iter()
        .map(|e| e["event"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), MESSAGES, "every message, once each: {log}");
    assert!(
        log.contains("refused_connections=1 evicted_connections=0"),
        "refused, not made room for: {log}"
    );
}

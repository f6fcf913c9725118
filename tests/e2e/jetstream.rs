//! NATS JetStream, with a real nats-server: the `nats` destination publishes each
//! event as one message with its id as `Nats-Msg-Id`, on a subject made from the
//! event's fields, and a stream keeps each event once however often it is sent; the
//! `jetstream` source shares a durable consumer between hosts, acknowledging a message
//! only once its events are safe.

use std::time::Duration;

use serde_json::Value;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::nats::NatsServer;
use crate::support::{
    Harness, SAMPLE_FILES, data_file, exit_within, objects_in, send_signal, sorted,
    splunk_destination, stop, transcript, unstamped, write_events,
};

fn nats_destination(url: &str, settings: &str) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\n[[destinations]]\nname = \"broker\"\nmodule = \"nats\"\nendpoint = \"{url}\"\n{settings}"
    )
}

fn sample_events() -> Vec<Value> {
    SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&data_file(name)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_event_is_one_message_kept_once_however_often_it_is_sent() {
    let server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&nats_destination(&server.url(), ""));

    let first = harness.run_ok(&[]).await;
    let messages = server.messages("AUDIT").await;
    let payloads: Vec<Value> = messages
        .iter()
        .map(|(subject, payload, _)| {
            assert_eq!(subject, "audit.events", "the default subject");
            unstamped(serde_json::from_slice(payload).unwrap())
        })
        .collect();
    assert_eq!(
        sorted(payloads),
        sorted(sample_events()),
        "{}",
        transcript(&first)
    );
    let mut ids: Vec<&str> = messages
        .iter()
        .map(|(_, _, id)| id.as_deref().expect("every message has a Nats-Msg-Id"))
        .collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), messages.len(), "one id per event");

    // Everything again (no checkpoints): the stream recognises every id and keeps
    // nothing twice, and Sluice counts the duplicates delivered.
    let again = harness.run_ok(&[]).await;
    assert_eq!(server.messages("AUDIT").await.len(), messages.len());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(&format!("delivered={}", messages.len())),
        "{}",
        transcript(&again)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_subject_is_made_from_each_events_fields_one_clean_token_each() {
    let server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    let harness = Harness::new();
    harness.write(
        "data/events.jsonl",
        concat!(
            "{\"org\":\"acme\",\"actor\":{\"type\":\"user\"},\"n\":1}\n",
            "{\"org\":\"evil.*.>\",\"actor\":{\"type\":\"bot\"},\"n\":2}\n",
            "{\"actor\":{\"type\":\"user\"},\"n\":3}\n",
        ),
    );
    harness.config(&nats_destination(
        &server.url(),
        "settings = { subject = \"audit.{org}.{actor.type}\" }\n",
    ));

    let output = harness.run_ok(&[]).await;
    let mut subjects: Vec<(String, u64)> = server
        .messages("AUDIT")
        .await
        .into_iter()
        .map(|(subject, payload, _)| {
            let event: Value = serde_json::from_slice(&payload).unwrap();
            (subject, event["n"].as_u64().unwrap())
        })
        .collect();
    subjects.sort_by_key(|(_, n)| *n);
    assert_eq!(
        subjects,
        [
            ("audit.acme.user".to_owned(), 1),
            ("audit.evil____.bot".to_owned(), 2),
            ("audit.unknown.user".to_owned(), 3),
        ],
        "{}",
        transcript(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_connect_names_a_subject_no_stream_takes_and_a_refused_token() {
    let server = NatsServer::start_with_token(Some("s3cret-nats")).await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    // `check --connect` of a destination publishing to `subject`, with `token`.
    let check = async |subject: &str, token: &str| {
        harness.config(&nats_destination(
            &server.url(),
            &format!(
                "token = {{ env = \"NATS_TOKEN\" }}\nsettings = {{ subject = \"{subject}\" }}\n"
            ),
        ));
        let output = harness
            .sluice(
                &["check", "--connect", "-c", "sluice.toml"],
                &[("NATS_TOKEN", token)],
            )
            .await;
        (output.status.success(), transcript(&output))
    };

    let (taken, said) = check("audit.{org_id}", "s3cret-nats").await;
    assert!(taken, "{said}");
    assert!(
        said.contains("subject audit.* is kept by stream AUDIT"),
        "{said}"
    );

    let (taken, said) = check("logs.{org_id}", "s3cret-nats").await;
    assert!(
        !taken && said.contains("no stream takes subject logs.*"),
        "{said}"
    );

    let (taken, said) = check("audit.{org_id}", "wrong").await;
    assert!(!taken && said.contains("uthorization"), "{said}");
    assert!(
        !said.contains("wrong") && !said.contains("s3cret"),
        "{said}"
    );
}

/// A `jetstream` source on stream `AUDIT` through the shared consumer `core`.
fn core_config(server: &NatsServer, receiver: &HecReceiver) -> String {
    core_config_holding(server, receiver, CORE_MAX_ACK_PENDING, "")
}

/// [`core_config`] with the consumer's `max_ack_pending` and `batch` settings.
fn core_config_holding(
    server: &NatsServer,
    receiver: &HecReceiver,
    max_ack_pending: usize,
    batch: &str,
) -> String {
    format!(
        "[[sources]]\nname = \"tier\"\ntype = \"jetstream\"\nurl = \"{}\"\nstream = \"AUDIT\"\nconsumer = \"core\"\nmax_ack_pending = {max_ack_pending}\nack_wait = \"3s\"\nnak_delay = \"500ms\"\n\n{}",
        server.url(),
        splunk_destination(
            &receiver.endpoint(),
            &format!("batch = {{ max_wait = \"50ms\"{batch} }}"),
        )
    )
}

/// The consumer's bound on messages handed out and not yet acknowledged, across its
/// hosts: what one failure (a host killed, the server restarted) can make arrive twice.
const CORE_MAX_ACK_PENDING: usize = 200;

/// Each event the receiver indexed: its number and its id.
fn indexed(receiver: &HecReceiver) -> Vec<(u64, String)> {
    receiver
        .indexed()
        .iter()
        .map(|envelope| {
            (
                envelope["event"]["n"].as_u64().unwrap(),
                envelope["fields"]["sluice_event_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

/// Waits (at most a minute) until `receiver` has indexed `count` distinct events.
async fn wait_for_distinct(receiver: &HecReceiver, count: usize) -> usize {
    for _ in 0..600 {
        let mut numbers: Vec<u64> = indexed(receiver).into_iter().map(|(n, _)| n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.len() >= count {
            return numbers.len();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut numbers: Vec<u64> = indexed(receiver).into_iter().map(|(n, _)| n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edge_feeds_three_core_hosts_that_share_the_stream_through_a_kill_and_a_server_restart()
{
    const EVENTS: usize = 3000;
    let mut server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    let receiver = HecReceiver::start(HecConfig::default()).await;

    // The edge: a file into the stream.
    let edge = Harness::new();
    write_events(&edge, "data/events.jsonl", EVENTS);
    edge.config(&nats_destination(&server.url(), ""));
    let published = edge.run_ok(&[]).await;
    assert_eq!(
        server.messages("AUDIT").await.len(),
        EVENTS,
        "{}",
        transcript(&published)
    );

    // Three core hosts share the consumer; one is killed mid-stream, then the server
    // is restarted under the other two.
    let cores: Vec<Harness> = (0..3).map(|_| Harness::new()).collect();
    let mut running = Vec::new();
    for core in &cores {
        core.config(&core_config(&server, &receiver));
        running.push(core.spawn_run(receiver.token(), std::process::Stdio::null()));
    }
    wait_for_distinct(&receiver, EVENTS / 4).await;
    let killed = running.remove(0);
    send_signal(&killed, libc::SIGKILL);
    let _ = exit_within(killed, Duration::from_secs(10)).await;
    wait_for_distinct(&receiver, EVENTS / 2).await;
    server.restart().await;
    let arrived = wait_for_distinct(&receiver, EVENTS).await;

    let mut said = String::new();
    for core in running {
        said.push_str(&stop(core).await);
    }
    assert_eq!(arrived, EVENTS, "every event arrives: {said}");
    // A duplicate is the same event with the same id, and there are no more than the
    // two failures can make.
    let events = indexed(&receiver);
    let mut ids: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    for (n, id) in &events {
        let first = ids.entry(*n).or_insert_with(|| id.clone());
        assert_eq!(first, id, "event {n} arrived twice under two ids");
    }
    let duplicates = events.len() - EVENTS;
    assert!(
        duplicates <= 2 * CORE_MAX_ACK_PENDING,
        "{duplicates} duplicates: {said}"
    );
    // Each of the two that stayed took part.
    assert!(said.matches("delivered=").count() >= 2, "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edge_killed_mid_publish_leaves_no_event_twice_in_the_stream() {
    const EVENTS: usize = 20_000;
    let server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    let edge = Harness::new();
    write_events(&edge, "data/events.jsonl", EVENTS);
    // Checkpoints often, so the restart resumes part-way; what was published after
    // the last checkpoint is published again, with the same ids.
    edge.config(&format!(
        "data_dir = \"state\"\ncheckpoint_interval = \"50ms\"\n{}batch = {{ max_events = 100 }}\n",
        nats_destination(&server.url(), "")
    ));
    let run = edge.start_run();
    for _ in 0..400 {
        let stream = server
            .jetstream()
            .await
            .get_stream("AUDIT")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages;
        if stream >= 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_signal(&run, libc::SIGKILL);
    let killed = exit_within(run, Duration::from_secs(10)).await;
    let before = server.messages("AUDIT").await.len();
    assert!(
        before < EVENTS,
        "killed before the end: {}",
        transcript(&killed)
    );

    let resumed = edge.run_ok(&[]).await;
    let messages = server.messages("AUDIT").await;
    let mut numbers: Vec<u64> = messages
        .iter()
        .map(|(_, payload, _)| {
            serde_json::from_slice::<Value>(payload).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (0..EVENTS as u64).collect::<Vec<_>>(),
        "every event once: {}",
        transcript(&resumed)
    );
}

/// Publishes `count` small events into stream `AUDIT` through an edge run.
async fn fill_stream(server: &NatsServer, count: usize) {
    let edge = Harness::new();
    write_events(&edge, "data/events.jsonl", count);
    edge.config(&nats_destination(&server.url(), ""));
    edge.run_ok(&[]).await;
}

/// The receiver's events by number: how many times each arrived.
fn arrivals(receiver: &HecReceiver) -> std::collections::BTreeMap<u64, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for (n, _) in indexed(receiver) {
        *counts.entry(n).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_held_through_a_long_outage_are_not_delivered_again_as_copies() {
    const EVENTS: usize = 500;
    let server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    fill_stream(&server, EVENTS).await;
    let receiver = HecReceiver::start(HecConfig::default()).await;
    // Busy for longer than three times ack_wait (3 s): the host must keep telling the
    // server it holds the messages, or they come again as new copies.
    receiver.make_busy(40);
    let core = Harness::new();
    core.config(&format!(
        "{}retry = {{ initial_backoff = \"250ms\", max_backoff = \"250ms\", max_attempts = 1000 }}\ncircuit_breaker = {{ failures = 1000 }}\n",
        core_config(&server, &receiver)
    ));
    let run = core.spawn_run(receiver.token(), std::process::Stdio::null());
    let arrived = wait_for_distinct(&receiver, EVENTS).await;
    let said = stop(run).await;
    assert_eq!(arrived, EVENTS, "{said}");
    let copies: Vec<_> = arrivals(&receiver)
        .into_iter()
        .filter(|(_, times)| *times > 1)
        .collect();
    assert!(
        copies.is_empty(),
        "{} events arrived twice: {said}",
        copies.len()
    );
    assert!(!said.contains("redelivered="), "{said}");
}

/// A host behind a failing destination used to leave the messages its client had taken
/// for it unread and unclaimed; after `ack_wait` the server gave them to a healthy host,
/// and the first host delivered them too once its destination recovered.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_behind_a_failing_destination_makes_no_copies_and_leaves_the_rest_to_the_others() {
    const EVENTS: usize = 5000;
    let server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    fill_stream(&server, EVENTS).await;
    let failing = HecReceiver::start(HecConfig::default()).await;
    let healthy = HecReceiver::start(HecConfig::default()).await;
    failing.make_busy(30);
    // The consumer hands out every message at once, and the failing host's batches and
    // queue are small: most of what it is handed waits for room in its pipeline.
    let slow = Harness::new();
    slow.config(&format!(
        "{}retry = {{ initial_backoff = \"250ms\", max_backoff = \"250ms\", max_attempts = 1000 }}\ncircuit_breaker = {{ failures = 1000 }}\nbuffer = {{ max_events = 10 }}\nconcurrency = 1\n",
        core_config_holding(&server, &failing, EVENTS, ", max_events = 50")
    ));
    let slow_run = slow.spawn_run(failing.token(), std::process::Stdio::null());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let other = Harness::new();
    other.config(&core_config_holding(&server, &healthy, EVENTS, ""));
    let other_run = other.spawn_run(healthy.token(), std::process::Stdio::null());

    for _ in 0..900 {
        let mut numbers: Vec<u64> = indexed(&failing)
            .into_iter()
            .chain(indexed(&healthy))
            .map(|(n, _)| n)
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.len() == EVENTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let said = format!("{}{}", stop(slow_run).await, stop(other_run).await);
    let mut counts = arrivals(&failing);
    for (n, times) in arrivals(&healthy) {
        *counts.entry(n).or_insert(0) += times;
    }
    assert_eq!(counts.len(), EVENTS, "every event arrives: {said}");
    let copies = counts.values().filter(|times| **times > 1).count();
    assert_eq!(copies, 0, "events arrived twice: {said}");
    assert!(
        indexed(&healthy).len() > EVENTS / 2,
        "the healthy host took what the failing one could not hold: {said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_mid_stream_acknowledges_what_was_delivered_and_a_deleted_consumer_is_made_again() {
    const EVENTS: usize = 3000;
    let server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    fill_stream(&server, EVENTS).await;
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let core = Harness::new();
    // Slow enough to be stopped in the middle.
    core.config(&format!(
        "{}rate_limit = {{ requests_per_second = 10 }}\n",
        core_config(&server, &receiver).replace(
            "max_wait = \"50ms\"",
            "max_wait = \"50ms\", max_events = 50"
        )
    ));
    let run = core.spawn_run(receiver.token(), std::process::Stdio::null());
    wait_for_distinct(&receiver, 300).await;
    // The consumer is deleted under the running host: it makes it again and goes on.
    server.delete_consumer("AUDIT", "core").await;
    for _ in 0..300 {
        if server.has_consumer("AUDIT", "core").await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.has_consumer("AUDIT", "core").await, "made again");
    let before = arrivals(&receiver).len();
    wait_for_distinct(&receiver, before + 100).await;
    let said = stop(run).await;
    let first = arrivals(&receiver);
    let delivered: usize = first.values().sum();
    assert!(first.len() < EVENTS, "stopped before the end: {said}");
    // What was delivered was acknowledged before the host stopped: nothing is pending,
    // so nothing comes twice.
    assert_eq!(server.ack_pending("AUDIT", "core").await, 0, "{said}");

    let core = Harness::new();
    core.config(&core_config(&server, &receiver));
    let run = core.spawn_run(receiver.token(), std::process::Stdio::null());
    let arrived = wait_for_distinct(&receiver, EVENTS).await;
    let said = format!("{said}{}", stop(run).await);
    assert_eq!(arrived, EVENTS, "{said}");
    let twice = arrivals(&receiver)
        .values()
        .filter(|&&times| times > 1)
        .count();
    // The consumer made again starts over from the stream's first message: what was
    // delivered before it was deleted comes again, with the same ids (at least once),
    // and nothing else.
    assert!(twice <= delivered, "{twice} of {delivered}: {said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_restarted_mid_publish_leaves_every_event_in_the_stream() {
    const EVENTS: usize = 30_000;
    let mut server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    let edge = Harness::new();
    write_events(&edge, "data/events.jsonl", EVENTS);
    edge.config(&format!(
        "{}request_timeout = \"3s\"\nretry = {{ initial_backoff = \"100ms\", max_backoff = \"500ms\", max_attempts = 1000 }}\n",
        nats_destination(&server.url(), "")
    ));
    let run = edge.start_run();
    for _ in 0..400 {
        if server.messages_count("AUDIT").await >= 3000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.restart().await;
    let output = exit_within(run, Duration::from_secs(120)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let mut numbers: Vec<u64> = server
        .messages("AUDIT")
        .await
        .iter()
        .map(|(_, payload, _)| {
            serde_json::from_slice::<Value>(payload).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), EVENTS, "{}", transcript(&output));
}

#[tokio::test]
async fn check_refuses_what_a_nats_server_would_not_take_or_sluice_would_ignore() {
    let harness = Harness::new();
    let source = "[[sources]]\ntype = \"stdin\"\n";
    let cases = [
        (
            format!("{source}[[destinations]]\nname = \"b\"\nmodule = \"nats\"\nendpoint = \"nats://u:pw@10.0.0.1:4222\"\n"),
            "credentials go in token, basic_auth, nkey or nats_credentials, not in the URL",
        ),
        (
            format!("{source}[[destinations]]\nname = \"b\"\nmodule = \"nats\"\nendpoint = \"nats://127.0.0.1\"\noauth2 = {{ token_url = \"https://login.example/t\", client_id = \"c\", client_secret = {{ env = \"S\" }}, scope = \"x\" }}\n"),
            "not oauth2, aws or azure_shared_key",
        ),
        (
            format!("{source}[[destinations]]\nname = \"b\"\nmodule = \"nats\"\nendpoint = \"nats://127.0.0.1\"\nsettings = {{ subject = \"$JS.API.STREAM.PURGE.AUDIT\" }}\n"),
            "a subject of the server's own",
        ),
        (
            "[[sources]]\ntype = \"jetstream\"\nurl = \"tls://127.0.0.1\"\nstream = \"AUDIT\"\nconsumer = \"core\"\nca_file = \"missing-ca.pem\"\n[[destinations]]\nname = \"c\"\nmodule = \"http\"\nendpoint = \"capture:c\"\n".to_owned(),
            "ca_file: cannot read",
        ),
        (
            "[[sources]]\ntype = \"jetstream\"\nurl = \"nats://10.0.0.1:4222\"\nstream = \"AUDIT\"\nconsumer = \"core\"\ntoken = { env = \"S\" }\n[[destinations]]\nname = \"c\"\nmodule = \"http\"\nendpoint = \"capture:c\"\n".to_owned(),
            "would cross the network unencrypted",
        ),
        (
            format!("[[sources]]\ntype = \"jetstream\"\nurl = \"nats://127.0.0.1\"\nstream = \"{}\"\nconsumer = \"core\"\n[[destinations]]\nname = \"c\"\nmodule = \"http\"\nendpoint = \"capture:c\"\n", "A".repeat(256)),
            "is not a JetStream name (1 to 255 bytes",
        ),
    ];
    for (config, expected) in cases {
        let stderr = crate::support::check_fails(&harness, &config, &[("S", "secret")]).await;
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_exists_keeps_its_settings_and_the_host_says_so() {
    let server = NatsServer::start().await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    server
        .create_consumer("AUDIT", "core", Duration::from_secs(30))
        .await;
    fill_stream(&server, 10).await;
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let core = Harness::new();
    core.config(&core_config(&server, &receiver));
    let run = core.spawn_run(receiver.token(), std::process::Stdio::null());
    assert_eq!(wait_for_distinct(&receiver, 10).await, 10);
    let said = stop(run).await;
    assert!(
        said.contains("the consumer exists with its own ack_wait and max_ack_pending"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_connect_tests_a_jetstream_sources_credential_and_stream() {
    let server = NatsServer::start_with_token(Some("s3cret-nats")).await;
    server.create_stream("AUDIT", &["audit.>"]).await;
    let harness = Harness::new();
    let config = |stream: &str| {
        format!(
            "[[sources]]\nname = \"tier\"\ntype = \"jetstream\"\nurl = \"{}\"\nstream = \"{stream}\"\nconsumer = \"core\"\ntoken = {{ env = \"NATS_TOKEN\" }}\n[[destinations]]\nname = \"c\"\nmodule = \"http\"\nendpoint = \"capture:c\"\n",
            server.url()
        )
    };
    let check = async |stream: &str, token: &str| {
        harness.config(&config(stream));
        let output = harness
            .sluice(
                &["check", "--connect", "-c", "sluice.toml"],
                &[("NATS_TOKEN", token)],
            )
            .await;
        (output.status.success(), transcript(&output))
    };

    let (taken, said) = check("AUDIT", "s3cret-nats").await;
    assert!(taken, "{said}");
    assert!(
        said.contains("ok  source `tier`: connected to nats://127.0.0.1")
            && said.contains("consumer core is made at the first run"),
        "{said}"
    );
    let (taken, said) = check("AUDIT", "wrong").await;
    assert!(
        !taken && said.contains("sources[0]") && said.contains("uthorization"),
        "{said}"
    );
    assert!(
        !said.contains("s3cret") && !said.contains("wrong\""),
        "{said}"
    );
    let (taken, said) = check("MISSING", "s3cret-nats").await;
    assert!(
        !taken && said.contains("stream MISSING cannot be read"),
        "{said}"
    );
}

//! NATS JetStream, with a real nats-server: the `nats` destination publishes each
//! event as one message with its id as `Nats-Msg-Id`, on a subject made from the
//! event's fields, and a stream keeps each event once however often it is sent.

use serde_json::Value;

use crate::support::nats::NatsServer;
use crate::support::{Harness, SAMPLE_FILES, data_file, objects_in, sorted, transcript};

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
            serde_json::from_slice(payload).unwrap()
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
    let config = |subject: &str| {
        nats_destination(
            &server.url(),
            &format!(
                "token = {{ env = \"NATS_TOKEN\" }}\nsettings = {{ subject = \"{subject}\" }}\n"
            ),
        )
    };

    harness.config(&config("audit.{org_id}"));
    let taken = harness
        .sluice(
            &["check", "--connect", "-c", "sluice.toml"],
            &[("NATS_TOKEN", "s3cret-nats")],
        )
        .await;
    assert!(taken.status.success(), "{}", transcript(&taken));
    assert!(
        String::from_utf8_lossy(&taken.stdout)
            .contains("subject audit.unknown is kept by stream AUDIT"),
        "{}",
        transcript(&taken)
    );

    harness.config(&config("logs.{org_id}"));
    let nowhere = harness
        .sluice(
            &["check", "--connect", "-c", "sluice.toml"],
            &[("NATS_TOKEN", "s3cret-nats")],
        )
        .await;
    assert!(!nowhere.status.success());
    assert!(
        transcript(&nowhere).contains("no stream takes subject logs.unknown"),
        "{}",
        transcript(&nowhere)
    );

    harness.config(&config("audit.{org_id}"));
    let refused = harness
        .sluice(
            &["check", "--connect", "-c", "sluice.toml"],
            &[("NATS_TOKEN", "wrong")],
        )
        .await;
    assert!(!refused.status.success());
    let said = transcript(&refused);
    assert!(said.contains("uthorization"), "{said}");
    assert!(
        !said.contains("wrong") && !said.contains("s3cret"),
        "{said}"
    );
}

//! The dead-letter store as the last resort: an event counts as settled only once its
//! record is on disk, and a store that cannot take records is said so, loudly.
//!
//! The store is made unwritable by its directory's mode, with sluice running as an
//! unprivileged user (`nobody`, through `setpriv`, when the tests run as root, which
//! ignores modes), and, for `check`, by a regular file where the directory should be.

use std::process::Stdio;
use std::time::Duration;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    CAPTURE_DESTINATION, FILE_SOURCE, Harness, exit_within, send_signal, splunk_destination,
    summary_figure, transcript,
};

/// With the store unwritable, refused events used to be counted as dead-lettered and
/// settled, the summary named a file that did not exist, and the run exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn events_the_store_cannot_take_are_not_settled_and_the_run_says_so() {
    use std::os::unix::fs::PermissionsExt;

    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n{FILE_SOURCE}{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    // Readable by the unprivileged user; the dead-letter directory is not writable.
    std::fs::set_permissions(harness.path(""), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(harness.path("dead-letter")).unwrap();
    std::fs::set_permissions(
        harness.path("dead-letter"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    let mut command = unprivileged(&harness, &["run", "-c", "sluice.toml"]);
    command
        .env("HEC_TOKEN", "a-token-HEC-refuses")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot write to the dead-letter store; the events are kept")
            && stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert_eq!(summary_figure(&output, "dead_lettered"), 0, "{stderr}");
    assert_eq!(summary_figure(&output, "events_settled"), 0);
    assert_eq!(summary_figure(&output, "abandoned"), 50);
    assert!(receiver.indexed().is_empty());
}

/// `sluice` as a user directory modes apply to: `nobody` when the tests run as root.
fn unprivileged(harness: &Harness, args: &[&str]) -> tokio::process::Command {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return harness.command(args);
    }
    let mut command = tokio::process::Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(harness.path(""))
        .env("SLUICE_LOG", "info")
        .kill_on_drop(true);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn check_finds_an_unwritable_dead_letter_directory() {
    let harness = Harness::new();
    harness.write(
        "blocked",
        "a file where the dead-letter directory should be",
    );
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination("https://splunk.example.com:8088", "")
    ));
    let config = std::fs::read_to_string(harness.path("sluice.toml"))
        .unwrap()
        .replace(
            "dead_letter_dir = \"dead-letter\"",
            "dead_letter_dir = \"blocked/dlq\"",
        );
    harness.write("sluice.toml", config);
    let output = harness
        .sluice(&["check", "-c", "sluice.toml"], &[("HEC_TOKEN", "t")])
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sluice.toml: dead_letter_dir: cannot create dead-letter directory")
            && stderr.contains("blocked/dlq"),
        "{stderr}"
    );
}

/// The documented way to send dead-lettered events again: take the `event` of each
/// record (`jq -c 'select(.event) | .event'`) and read the result as a file.
#[tokio::test(flavor = "multi_thread")]
async fn dead_lettered_events_can_be_replayed() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    harness.run_expecting(3, &[("HEC_TOKEN", "refused")]).await;
    let replay: String = harness
        .dead_letters()
        .iter()
        .filter(|record| record["event"].is_object())
        .map(|record| format!("{}\n", record["event"]))
        .collect();
    std::fs::remove_file(harness.path("data/idp-audit.jsonl")).unwrap();
    harness.write("data/replay.jsonl", replay);
    harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;

    let sent: Vec<serde_json::Value> = receiver
        .indexed()
        .iter()
        .map(|envelope| envelope["event"].clone())
        .collect();
    let original = crate::support::objects_in(&crate::support::data_file("idp-audit.jsonl"));
    assert_eq!(
        crate::support::sorted(sent),
        crate::support::sorted(original)
    );
}

/// `dlq replay` beside a running sluice without `data_dir` used to rewrite the store
/// under it (records it appended meanwhile were lost): the store itself is locked. And
/// replay used to run the destination's filter module, removing the records of the
/// events it dropped, undelivered: replayed events are not filtered again.
#[tokio::test(flavor = "multi_thread")]
async fn dlq_replay_waits_for_the_store_and_does_not_filter_again() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let lines = (0..100).map(|n| {
        let domain = ["example.com", "contractor.example"][n % 2];
        format!(r#"{{"n":{n},"actor_email":"user{n}@{domain}"}}"#)
    });
    crate::support::append_lines(&harness.path("data/events.jsonl"), lines);
    harness.write(
        "modules/email-domain-filter.wasm",
        std::fs::read(crate::support::test_module("email-domain-filter")).unwrap(),
    );
    let config = |extra: &str| {
        format!(
            "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/events.jsonl\"]\n{}",
            splunk_destination(&receiver.endpoint(), extra)
        )
    };
    harness.config(&config("settings = { index = \"nonexistent\" }"));
    let token = [("HEC_TOKEN", receiver.token())];
    harness.run_expecting(3, &token).await;
    assert_eq!(harness.dead_letters().len(), 100);

    harness.config(&config(
        "settings = { index = \"audit\" }\nfilter_module = \"email-domain-filter\"\nfilter_settings = { domains = \"contractor.example\" }",
    ));
    let replay = [
        "dlq",
        "replay",
        "-c",
        "sluice.toml",
        "--destination",
        "splunk",
    ];
    // A run reading its standard input, holding the store.
    let running = harness.write(
        "running.toml",
        format!(
            "dead_letter_dir = \"dead-letter\"\n[[sources]]\ntype = \"stdin\"\n{}",
            splunk_destination(&receiver.endpoint(), "")
        ),
    );
    let mut command = harness.command(&["run", "-c", running.to_str().unwrap()]);
    command
        .env("HEC_TOKEN", receiver.token())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refused = harness.sluice(&replay, &token).await;
    assert_eq!(refused.status.code(), Some(2), "{}", transcript(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is in use by a running sluice"),
        "{}",
        transcript(&refused)
    );
    send_signal(&child, libc::SIGTERM);
    exit_within(child, Duration::from_secs(30)).await;
    assert_eq!(harness.dead_letters().len(), 100, "the store is as it was");

    let replayed = harness.sluice(&replay, &token).await;
    assert!(replayed.status.success(), "{}", transcript(&replayed));
    assert!(
        String::from_utf8_lossy(&replayed.stdout).contains("100 delivered"),
        "{}",
        transcript(&replayed)
    );
    assert_eq!(
        receiver.indexed().len(),
        100,
        "the filter module did not run"
    );
    assert!(harness.dead_letters().is_empty());
}

/// A record a failed write left half written (no end of line) is cut off before the
/// next record, which used to follow it on the same line; `dlq list` counts lines that
/// are not records.
#[tokio::test(flavor = "multi_thread")]
async fn a_torn_dead_letter_record_is_cut_before_the_next_and_list_counts_bad_lines() {
    let harness = Harness::new();
    harness.write(
        "dead-letter/dead-letter.jsonl",
        "not a record\n{\"time\":\"2026-01-01T00:00:00Z\",\"stage\":\"parse\",\"reas",
    );
    harness.config(&format!(
        "[[sources]]\ntype = \"stdin\"\n{CAPTURE_DESTINATION}"
    ));
    let output = harness
        .sluice_with_input(&["run", "-c", "sluice.toml"], &[], b"{\"a\":1}\nnot json\n")
        .await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let text = std::fs::read_to_string(harness.path("dead-letter/dead-letter.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "not a record");
    let record: serde_json::Value = serde_json::from_str(lines[1]).expect("a whole record");
    assert_eq!(record["line"], "not json");
    assert!(String::from_utf8_lossy(&output.stderr).contains("ends in a torn record"));

    let listed = harness
        .sluice(&["dlq", "list", "-c", "sluice.toml"], &[])
        .await;
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        stdout.contains("1 record(s)") && stdout.contains("1  line(s) that are not records"),
        "{stdout}"
    );
}

#[tokio::test]
async fn records_older_than_dead_letter_max_age_are_removed_and_counted() {
    let harness = Harness::new();
    harness.write("data/bad.jsonl", "not json\nnor this\n{\"ok\":1}\n");
    harness.config(&format!(
        "dead_letter_max_age = \"30m\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/bad.jsonl\"]\n{}",
        crate::support::CAPTURE_DESTINATION
    ));
    harness.run_expecting(3, &[]).await;
    assert_eq!(harness.dead_letters().len(), 2);
    // A second run: the store's file is young, and stays.
    let output = harness.run_expecting(3, &[]).await;
    assert_eq!(
        crate::support::summary_figure(&output, "dead_letters_removed"),
        0
    );
    assert_eq!(harness.dead_letters().len(), 4);
    // Written to an hour ago: every record in it is older than 30 minutes.
    let store = harness.path("dead-letter/dead-letter.jsonl");
    std::fs::File::options()
        .write(true)
        .open(&store)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let output = harness.run_expecting(3, &[]).await;
    assert_eq!(
        crate::support::summary_figure(&output, "dead_letters_removed"),
        4,
        "{}",
        crate::support::transcript(&output)
    );
    assert_eq!(
        harness.dead_letters().len(),
        2,
        "only this run's records are left"
    );
}

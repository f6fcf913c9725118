//! Signals and the shutdown deadline: `shutdown_timeout` is a promise whatever state
//! the queues and the receivers are in, and no signal loses or corrupts an event.

use std::process::Stdio;
use std::time::Duration;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, exit_within, send_signal, silent_endpoint, splunk_destination, summary_figure,
    transcript, write_events,
};

/// Generous: the promise under test is `shutdown_timeout` (1 to 2 s here).
const EXIT_LIMIT: Duration = Duration::from_secs(30);

/// SIGHUP used to kill the process with no flush and no summary; it reloads the
/// configuration and the modules now (here, both unchanged).
#[tokio::test(flavor = "multi_thread")]
async fn sighup_loses_nothing() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    write_events(&harness, "data/live.jsonl", 100);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"60s\" }")
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    tokio::time::sleep(Duration::from_millis(800)).await;
    send_signal(&child, libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(500)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, EXIT_LIMIT).await;

    assert!(output.status.success(), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SIGHUP: reloading the configuration")
            && stderr.contains("configuration unchanged")
            && stderr.contains("module unchanged"),
        "{stderr}"
    );
    assert_eq!(receiver.indexed().len(), 100, "{stderr}");
}

/// With stdin left open by its writer, SIGTERM used to flush and then hang for good.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_a_run_whose_stdin_stays_open() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.config(&format!(
        "[[sources]]\ntype = \"stdin\"\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"60s\" }")
    ));
    let mut child = harness.spawn_run(receiver.token(), Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"{\"n\":1}\n{\"n\":2}\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, EXIT_LIMIT).await;
    drop(stdin);

    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(receiver.indexed().len(), 2, "{}", transcript(&output));
}

/// With a receiver that never answers, a request in flight at the deadline used to run
/// its whole `request_timeout`; with a full queue the source never even saw the signal
/// (minutes, with `shutdown_timeout = "2s"`).
#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_holds_with_a_hung_receiver_and_full_queues() {
    let endpoint = silent_endpoint().await;
    let harness = Harness::new();
    write_events(&harness, "data/many.jsonl", 200_000);
    harness.config(&format!(
        "shutdown_timeout = \"2s\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/many.jsonl\"]\n{}",
        splunk_destination(
            &endpoint,
            "request_timeout = \"300s\"\nbatch = { max_events = 100 }\nconcurrency = 1\nbuffer = { max_bytes = 1048576 }"
        )
    ));
    let child = harness.spawn_run("token", Stdio::null());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, EXIT_LIMIT).await;

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let abandoned = summary_figure(&output, "abandoned");
    assert!(abandoned > 0, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "events_settled"), 0);
    // The batches the workers held are in the dead-letter store, marked as abandoned.
    let dead = harness.dead_letters();
    assert!(!dead.is_empty(), "{}", transcript(&output));
    assert!(
        dead.iter().all(|r| r["stage"] == "shutdown"),
        "{:?}",
        &dead[..1]
    );
}

/// Stopping a run in the middle of a file used to emit the cut end of the last read as
/// a line, which was dead-lettered as "not valid JSON" (7 of 7 tries).
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_in_the_middle_of_a_file_cuts_no_line() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    write_events(&harness, "data/many.jsonl", 300_000);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/many.jsonl\"]\n{}",
        splunk_destination(
            &receiver.endpoint(),
            // A small queue holds the reader back to the pace of delivery, so that the
            // signal comes in the middle of the file however fast the machine reads.
            "batch = { max_events = 100 }\nconcurrency = 1\nbuffer = { max_bytes = 1048576 }"
        )
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, EXIT_LIMIT).await;

    assert!(output.status.success(), "{}", transcript(&output));
    let read = summary_figure(&output, "events_read");
    assert!(read < 300_000, "the signal came before the end of the file");
    assert_eq!(
        summary_figure(&output, "lines_rejected"),
        0,
        "{}",
        transcript(&output)
    );
    assert!(harness.dead_letters().is_empty());
    assert_eq!(receiver.indexed().len() as u64, read);
}

/// A destination that never answers holds its own queue, not the others: the healthy
/// one receives everything while the hung one is still waiting. (Each read used to be
/// handed to the destinations in turn, the next read waiting for room in every
/// queue; with queues counted in reads, the hung one stopped the source after 16.)
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_destination_does_not_hold_back_the_others() {
    let hung = silent_endpoint().await;
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let events = 100_000;
    write_events(&harness, "data/many.jsonl", events);
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/many.jsonl\"]\n{}{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_events = 1000 }"),
        splunk_destination(&hung, "request_timeout = \"300s\"").replace("\"splunk\"", "\"hung\"")
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    let waited = tokio::time::timeout(EXIT_LIMIT, async {
        while receiver.indexed().len() < events {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, EXIT_LIMIT).await;

    assert!(
        waited.is_ok(),
        "the healthy destination got {} of {events}: {}",
        receiver.indexed().len(),
        transcript(&output)
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "the hung destination's events were abandoned: {}",
        transcript(&output)
    );
    assert_eq!(summary_figure(&output, "abandoned"), events as u64);
}

/// A module call that runs long (up to its own time limit, here two minutes) used to
/// hold the exit past the deadline, and a source waiting for room in that
/// destination's queue with it.
#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_holds_with_a_module_call_in_progress() {
    let harness = Harness::new();
    write_events(&harness, "data/many.jsonl", 50_000);
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n[limits]\nmodule_call_timeout = \"120s\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/many.jsonl\"]\n[[destinations]]\nname = \"slow\"\nmodule = {:?}\nendpoint = \"capture:captured\"\nsettings = {{ mode = \"loop\" }}\nconcurrency = 1\nbuffer = {{ max_bytes = 100000 }}\n",
        crate::support::test_module("misbehave").display().to_string()
    ));
    let child = harness.spawn_run("", Stdio::null());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, EXIT_LIMIT).await;

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(summary_figure(&output, "abandoned") > 0);
    assert!(
        summary_figure(&output, "events_read") < 50_000,
        "the source was held by the full queue"
    );
}

/// A second signal does not wait for the shutdown deadline.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once() {
    let endpoint = silent_endpoint().await;
    let harness = Harness::new();
    write_events(&harness, "data/some.jsonl", 1_000);
    harness.config(&format!(
        "shutdown_timeout = \"300s\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/some.jsonl\"]\n{}",
        splunk_destination(&endpoint, "request_timeout = \"300s\"")
    ));
    let child = harness.spawn_run("token", Stdio::null());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    send_signal(&child, libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_signal(&child, libc::SIGINT);
    // Far less than the 300 s the first signal allows.
    let output = exit_within(child, EXIT_LIMIT).await;

    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("second shutdown request; abandoning what is still queued"),
        "{stderr}"
    );
    assert_eq!(summary_figure(&output, "abandoned"), 1_000);
}

/// Past the deadline, thousands of abandoned batches are written to the dead-letter store
/// with one sync at the end, not one each (on a real disk, a sync each ran the shutdown
/// minutes past its deadline). Counted with strace, where the machine has it.
#[tokio::test(flavor = "multi_thread")]
async fn abandoned_batches_are_synced_once_not_each() {
    let strace = std::path::Path::new("/usr/bin/strace");
    if !strace.exists() {
        eprintln!(
            "strace is not installed: the syncs are not counted here (.ci/test-deps installs it)"
        );
        return;
    }
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 2_000);
    let endpoint = silent_endpoint().await;
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/events.jsonl\"]\nfollow = true\n\
         [[destinations]]\nname = \"stuck\"\nmodule = \"http\"\nendpoint = \"{endpoint}\"\nrequest_timeout = \"300s\"\n\
         batch = {{ max_events = 1 }}\n"
    ));
    let trace = harness.path("syncs.txt");
    let child = tokio::process::Command::new(strace)
        .args(["-f", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-c", "sluice.toml"])
        .current_dir(harness.path(""))
        .env("SLUICE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The events are queued behind the first batch, which never returns.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tracer = child.id().unwrap();
    let sluice = std::fs::read_to_string(format!("/proc/{tracer}/task/{tracer}/children"))
        .unwrap()
        .trim()
        .to_owned();
    // To sluice itself: strace would keep a signal to it for itself.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &sluice])
        .status();
    let output = exit_within(child, Duration::from_secs(60)).await;
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let abandoned = harness
        .dead_letters()
        .iter()
        .filter(|r| r["stage"] == "shutdown")
        .count();
    assert!(abandoned >= 1_900, "{abandoned} abandoned");
    let syncs = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|line| line.contains("sync(") && !line.contains("resumed"))
        .count();
    assert!(
        syncs < 50,
        "{syncs} syncs for {abandoned} abandoned batches"
    );
}

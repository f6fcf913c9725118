//! Files as logrotate and people treat them: renamed, recreated, truncated, deleted,
//! matched by several patterns. Each event is read once, none is lost.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    CAPTURE_DESTINATION, FILE_SOURCE, Harness, exit_within, send_signal, splunk_destination,
    summary_figure, transcript, write_events,
};

fn line(generation: &str, n: usize) -> String {
    format!("{{\"timestamp\":\"2026-11-20T08:00:00Z\",\"gen\":\"{generation}\",\"n\":{n}}}\n")
}

fn append(path: &Path, generation: &str, numbers: std::ops::Range<usize>) {
    let lines = numbers.map(|n| line(generation, n).trim_end().to_owned());
    crate::support::append_lines(path, lines);
}

/// `(gen, n)` of every event the receiver indexed, sorted.
fn received(receiver: &HecReceiver) -> Vec<(String, u64)> {
    let mut seen: Vec<(String, u64)> = receiver
        .indexed()
        .iter()
        .map(|e| {
            (
                e["event"]["gen"].as_str().unwrap().to_owned(),
                e["event"]["n"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    seen
}

fn expected(parts: &[(&str, std::ops::Range<usize>)]) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = parts
        .iter()
        .flat_map(|(generation, range)| range.clone().map(|n| (generation.to_string(), n as u64)))
        .collect();
    all.sort();
    all
}

/// A followed source over `data/*.jsonl`, batches closing quickly.
fn follow_config(harness: &Harness, receiver: &HecReceiver, extra: &str) {
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n{extra}\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"50ms\" }")
    ));
}

async fn stop(child: tokio::process::Child) -> std::process::Output {
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    output
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

/// One file behind two patterns of a source, a symbolic link and a second source used
/// to be shipped once per name: four times here.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_is_read_once_however_many_names_and_sources_reach_it() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    append(&harness.path("data/app.jsonl"), "a", 0..50);
    std::os::unix::fs::symlink("app.jsonl", harness.path("data/alias.jsonl")).unwrap();
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/app.jsonl\", \"data/*.jsonl\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/app.jsonl\"]\n{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    assert_eq!(
        received(&receiver),
        expected(&[("a", 0..50)]),
        "{}",
        transcript(&output)
    );
}

/// logrotate without copytruncate: the file is renamed and the writer, which still
/// holds it, appends a moment longer. Those lines used to be lost (576 of 10,000).
#[tokio::test(flavor = "multi_thread")]
async fn lines_appended_to_a_rotated_file_are_read_until_it_is_quiet() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let live = harness.path("data/app.jsonl");
    append(&live, "old", 0..100);
    follow_config(&harness, &receiver, "rotate_wait = \"3s\"");
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    settle().await;

    let mut writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .unwrap();
    std::fs::rename(&live, harness.path("data/app.jsonl.1")).unwrap();
    settle().await; // the rotation is seen before the late lines come
    for n in 100..150 {
        writer.write_all(line("old", n).as_bytes()).unwrap();
    }
    append(&live, "new", 0..20);
    settle().await;
    let output = stop(child).await;

    assert_eq!(
        received(&receiver),
        expected(&[("old", 0..150), ("new", 0..20)]),
        "{}",
        transcript(&output)
    );
}

/// A rotated copy the glob still matches (`app.jsonl` -> `app-1.jsonl` under
/// `*.jsonl`) used to be read again from its start.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_file_the_glob_still_matches_is_not_read_again() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let live = harness.path("data/app.jsonl");
    append(&live, "first", 0..30);
    follow_config(&harness, &receiver, "");
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    settle().await;

    std::fs::rename(&live, harness.path("data/app-1.jsonl")).unwrap();
    append(&live, "second", 0..10);
    append(&harness.path("data/app-1.jsonl"), "first", 30..35);
    settle().await;
    let output = stop(child).await;

    assert_eq!(
        received(&receiver),
        expected(&[("first", 0..35), ("second", 0..10)]),
        "{}",
        transcript(&output)
    );
}

/// A file truncated and written again between two polls, to more than was read
/// before, used to be read on from the old offset: 100 lines lost and one garbage line.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_truncated_and_refilled_within_one_poll_is_read_from_its_start() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let live = harness.path("data/app.jsonl");
    append(&live, "before", 0..100);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\nfollow = true\npoll_interval = \"1s\"\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"50ms\" }")
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.indexed().len(), 100, "read before the truncation");

    std::fs::write(&live, "").unwrap();
    append(&live, "after", 0..150);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let output = stop(child).await;

    assert_eq!(
        summary_figure(&output, "lines_rejected"),
        0,
        "{}",
        transcript(&output)
    );
    assert_eq!(
        received(&receiver),
        expected(&[("before", 0..100), ("after", 0..150)]),
        "{}",
        transcript(&output)
    );
}

/// A followed file that was deleted used to stay open, its disk space never freed.
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_file_is_closed() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let live = harness.path("data/app.jsonl");
    append(&live, "a", 0..10);
    follow_config(&harness, &receiver, "");
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    settle().await;
    std::fs::remove_file(&live).unwrap();
    settle().await;

    let fds = Path::new("/proc")
        .join(child.id().unwrap().to_string())
        .join("fd");
    let open: Vec<String> = std::fs::read_dir(fds)
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.contains("app.jsonl"))
        .collect();
    let output = stop(child).await;
    assert!(
        open.is_empty(),
        "still open: {open:?}\n{}",
        transcript(&output)
    );
    assert_eq!(received(&receiver), expected(&[("a", 0..10)]));
}

/// A file whose name is not UTF-8 cannot be named by a pattern: it is said, counted as an
/// input not read (exit 3), and named by `check`; it was skipped without a word.
#[tokio::test]
async fn a_file_name_that_is_not_utf8_is_said_not_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let harness = Harness::new();
    write_events(&harness, "data/good.jsonl", 2);
    let odd = harness
        .path("data")
        .join(std::ffi::OsStr::from_bytes(b"\xffodd.jsonl"));
    std::fs::write(&odd, "{\"n\":1}\n").unwrap();
    harness.config(&format!("{FILE_SOURCE}{CAPTURE_DESTINATION}"));
    let checked = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(said.contains("whose name is not UTF-8"), "{said}");
    let output = harness.run_expecting(3, &[]).await;
    assert_eq!(summary_figure(&output, "delivered"), 2);
    assert_eq!(summary_figure(&output, "read_errors"), 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("a file whose name is not UTF-8 is not read"),
        "{stderr}"
    );
}

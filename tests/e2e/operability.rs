//! What the operator is told while sluice runs: progress, failing and recovering
//! destinations, and a log filter that does not parse.

use std::process::Stdio;
use std::time::Duration;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    CAPTURE_DESTINATION, FILE_SOURCE, Harness, destination_summary, exit_within, send_signal,
    splunk_destination, summary_figure, transcript, write_events,
};

/// Nothing used to be logged between the start and the summary.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_run_logs_progress_per_destination() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    write_events(&harness, "data/live.jsonl", 120);
    harness.config(&format!(
        "progress_interval = \"200ms\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n{}",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"50ms\" }")
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" progress "))
        .collect();
    assert!(
        progress.iter().any(|l| l.contains("events_read=120")),
        "{stderr}"
    );
    assert!(
        progress.iter().any(|l| l.contains("destination=splunk")
            && l.contains("delivered=120")
            && l.contains("failing=false")
            && l.contains("queued_bytes=0")),
        "{stderr}"
    );
}

/// A destination that kept failing was only found in WARN lines, and its recovery in
/// none.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_destination_is_reported_at_error_and_its_recovery_at_info() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    receiver.make_busy(3);
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "failure_alert_after = \"0s\"\n{FILE_SOURCE}{}",
        splunk_destination(
            &receiver.endpoint(),
            "retry = { max_attempts = 5, initial_backoff = \"20ms\", max_backoff = \"50ms\" }"
        )
    ));
    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("ERROR") && l.contains("destination has been failing")),
        "{stderr}"
    );
    assert!(
        stderr.contains("destination delivered again after 3 failure(s)"),
        "{stderr}"
    );
}

/// A filter that did not parse used to be ignored (logging at `info`).
#[tokio::test(flavor = "multi_thread")]
async fn a_log_filter_that_does_not_parse_is_an_error() {
    let harness = Harness::new();
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination("capture:captured", "")
    ));
    let output = harness
        .sluice(
            &["check", "-c", "sluice.toml"],
            &[("SLUICE_LOG", "sluice=loud")],
        )
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("SLUICE_LOG: `sluice=loud` is not a tracing filter"),
        "{}",
        transcript(&output)
    );
}

/// A one-shot run at a terminal shows a progress bar (bytes of the input read, events
/// read and delivered); without a terminal, nothing but log lines. The terminal is a
/// pseudo-terminal from `script` (util-linux). A run that resumes at checkpoints counts
/// the bytes an earlier run read as done (the bar used to stop short of the total), and
/// the summary starts a line of its own (it was written on the bar's line).
#[tokio::test(flavor = "multi_thread")]
async fn a_one_shot_run_at_a_terminal_shows_its_progress() {
    let harness = Harness::new();
    harness.copy_data(&crate::support::SAMPLE_FILES);
    harness.config(&format!(
        "data_dir = \"state\"\n{FILE_SOURCE}[[destinations]]\nname = \"capture\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n"
    ));
    let plain = harness.run_ok(&[]).await;
    assert!(
        !String::from_utf8_lossy(&plain.stderr).contains(" read ("),
        "no bar without a terminal"
    );
    assert_eq!(summary_figure(&plain, "events_read"), 290);

    // Ten more events after the checkpoint of one file: the next run reads only them.
    let grown = harness.path(&format!("data/{}", crate::support::SAMPLE_FILES[0]));
    crate::support::append_lines(&grown, (0..10).map(|n| format!("{{\"n\":{n}}}")));
    let command = format!("{} run -c sluice.toml", env!("CARGO_BIN_EXE_sluice"));
    let at_terminal = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(harness.path(""))
            .env("SLUICE_LOG", "info")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let screen = String::from_utf8_lossy(&at_terminal.stdout);
    assert!(at_terminal.status.success(), "{screen}");
    let input: u64 = crate::support::SAMPLE_FILES
        .iter()
        .map(|name| {
            let path = harness.path(&format!("data/{name}"));
            std::fs::metadata(path).unwrap().len()
        })
        .sum();
    let size = format!("{:.2} KiB", input as f64 / 1024.0);
    assert!(
        screen.contains(&format!("{size}/{size} read"))
            && screen.contains("10 events, 10 delivered"),
        "{screen}"
    );
    let summary = screen
        .find("sluice stopped")
        .expect("the logs are there too");
    let line = &screen[screen[..summary].rfind('\n').unwrap_or(0)..summary];
    assert!(
        !line.contains(" read ("),
        "the summary is on the bar's line: {line:?}"
    );
}

/// A destination that refuses every request (a bad token: 403) is failing: its summary
/// said `failed_attempts=0 failing=false last_error=never` while every event was refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_destination_that_refuses_every_request_is_failing() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    let output = harness.run_expecting(3, &[("HEC_TOKEN", "wrong")]).await;
    let summary = destination_summary(&String::from_utf8_lossy(&output.stderr), "splunk");
    assert!(
        summary.contains("failing=true")
            && !summary.contains("failed_attempts=0 ")
            && !summary.contains("last_error=never"),
        "{summary}"
    );
}

/// Checkpoints that cannot be written (here a directory where the file goes) end the
/// run with exit 3 and say so: the next run would read everything again. It was exit 0.
#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_that_cannot_be_written_are_not_exit_0() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.write("state/checkpoints.json/in-the-way", "");
    harness.config(&format!(
        "data_dir = \"state\"\n{FILE_SOURCE}{CAPTURE_DESTINATION}"
    ));
    let output = harness.run_expecting(3, &[]).await;
    assert_eq!(
        summary_figure(&output, "checkpoints_unsaved"),
        1,
        "{}",
        transcript(&output)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write checkpoints"));
}

/// A pattern that matches a directory: `check` and the run say it is not read (check
/// said the pattern "matches no file").
#[tokio::test(flavor = "multi_thread")]
async fn a_directory_a_pattern_matches_is_said_not_read() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.write("data/archive.jsonl/old", "");
    harness.config(&format!("{FILE_SOURCE}{CAPTURE_DESTINATION}"));
    let check = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("matches data/archive.jsonl, which is not a regular file"),
        "{}",
        transcript(&check)
    );
    let output = harness.run_ok(&[]).await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a regular file"),
        "{}",
        transcript(&output)
    );

    // A pattern that matches only the directory gets that warning alone (it also got
    // "matches no file (yet)", which contradicted it).
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/archive.jsonl\"]\n{CAPTURE_DESTINATION}"
    ));
    let check = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("which is not a regular file") && !stdout.contains("matches no file"),
        "{}",
        transcript(&check)
    );
}

/// `check` with a dead-letter store that cannot take a block (a full disk; here the
/// file-size limit): it used to pass, as an empty file can still be made.
#[tokio::test(flavor = "multi_thread")]
async fn check_finds_a_dead_letter_store_that_cannot_take_a_block() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!("{FILE_SOURCE}{CAPTURE_DESTINATION}"));
    let mut command = harness.command(&["check", "-c", "sluice.toml"]);
    command.stdin(std::process::Stdio::null());
    // SAFETY: signal(2) and setrlimit(2) between fork and exec, on the child alone.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 1000,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let output = command.output().await.unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot write in dead-letter directory"),
        "{}",
        transcript(&output)
    );
}

/// `SLUICE_LOG=debug` (README's example) is Sluice's own debug: the libraries stay at
/// `warn` unless named. It used to flood the log with the compiler's internals.
#[tokio::test(flavor = "multi_thread")]
async fn a_bare_log_level_is_sluices_own() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!("{FILE_SOURCE}{CAPTURE_DESTINATION}"));
    let output = harness.run_ok(&[("SLUICE_LOG", "debug")]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // `TIME LEVEL target: message`
    let foreign: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            let mut fields = l.split_whitespace().skip(1);
            let (level, target) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
            matches!(level, "TRACE" | "DEBUG" | "INFO") && !target.starts_with("sluice")
        })
        .collect();
    assert!(
        foreign.is_empty(),
        "{} lines of other crates, such as {:?}",
        foreign.len(),
        foreign.first()
    );
    assert!(stderr.contains("sluice stopped"));
}

/// A log that cannot be written (stderr on a full disk; here `/dev/full`) loses log
/// lines, never the run: it panicked with exit 101 and delivered nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_log_that_cannot_be_written_does_not_stop_the_run() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\nbatch = {{ max_wait = \"50ms\" }}\n"
    ));
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut command = harness.command(&["run", "-c", "sluice.toml"]);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(full));
    let status = command.status().await.unwrap();
    assert_eq!(status.code(), Some(0));
    let captured: usize = std::fs::read_dir(harness.path("captured"))
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .matches("\"event\":")
                .count()
        })
        .sum();
    assert_eq!(captured, 50, "every event delivered");
}

//! The log as a collector reads it: `log_format = "json"` writes one JSON object per
//! line, and a flood of bad input writes a bounded number of lines whose counts still
//! add up to the summary.

use serde_json::Value;

use crate::support::{CAPTURE_DESTINATION, FILE_SOURCE, Harness, summary_figure, transcript};

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_bad_lines_is_a_few_json_log_lines_that_add_up() {
    let harness = Harness::new();
    let mut text = String::with_capacity(100_000 * 12);
    for n in 0..100_000 {
        text.push_str(&format!("bad line {n}\n"));
    }
    text.push_str("{\"action\":\"login\"}\n");
    harness.write("data/flood.jsonl", text);
    harness.config(&format!(
        "log_format = \"json\"\n{FILE_SOURCE}{CAPTURE_DESTINATION}"
    ));
    let output = harness.run_expecting(3, &[]).await;
    assert_eq!(summary_figure_json(&output, "lines_rejected"), 100_000);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
        })
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "message"] {
            assert!(line.get(field).is_some(), "no {field}: {line}");
        }
    }
    let rejected: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("line rejected") || m.starts_with("lines rejected"))
        })
        .collect();
    // The first, then the rest at the end (the run takes less than the ten seconds
    // between two such lines).
    assert!(
        (1..=3).contains(&rejected.len()),
        "{} lines of rejects: {}",
        rejected.len(),
        transcript(&output)
    );
    let counted: u64 = rejected.iter().map(|l| l["lines"].as_u64().unwrap()).sum();
    assert_eq!(counted, 100_000);
    assert!(lines.len() < 40, "{} log lines", lines.len());
    assert_eq!(harness.dead_letters().len(), 100_000);
}

/// A figure of the closing summary, written as JSON.
fn summary_figure_json(output: &std::process::Output, name: &str) -> u64 {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Value = stderr
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "sluice stopped")
        .expect("a closing summary");
    summary[name].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_format_is_text_or_json_and_nothing_else() {
    let harness = Harness::new();
    harness.write("data/one.jsonl", "{\"action\":\"login\"}\n");
    harness.config(&format!("{FILE_SOURCE}{CAPTURE_DESTINATION}"));
    let json = harness.run_ok(&[("SLUICE_LOG_FORMAT", "json")]).await;
    let stderr = String::from_utf8_lossy(&json.stderr);
    assert!(
        stderr
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{stderr}"
    );
    let text = harness.run_ok(&[]).await;
    assert_eq!(summary_figure(&text, "events_read"), 1);
    let refused = harness
        .sluice(
            &["check", "-c", "sluice.toml"],
            &[("SLUICE_LOG_FORMAT", "xml")],
        )
        .await;
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("SLUICE_LOG_FORMAT: `xml` is neither `text` nor `json`"),
        "{said}"
    );
}

/// Warnings count what reached the dead-letter store: with the store failing (a full
/// disk), rejected lines are not said to be there (they said so before the write).
#[tokio::test(flavor = "multi_thread")]
async fn warnings_count_only_what_the_store_took() {
    let harness = Harness::new();
    harness.write(
        "data/in.jsonl",
        "not json\nnor this\n{\"action\":\"login\"}\n",
    );
    std::fs::create_dir_all(harness.path("dead-letter")).unwrap();
    // Every write to the store fails as on a full disk.
    std::os::unix::fs::symlink("/dev/full", harness.path("dead-letter/dead-letter.jsonl")).unwrap();
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\nlog_format = \"json\"\n{FILE_SOURCE}{CAPTURE_DESTINATION}"
    ));
    let child = harness.start_run();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    crate::support::send_signal(&child, libc::SIGTERM);
    let output = crate::support::exit_within(child, std::time::Duration::from_secs(30)).await;
    // Lines lost: exit code 1, as events abandoned.
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(summary_figure_json(&output, "lines_rejected"), 0);
    assert_eq!(summary_figure_json(&output, "abandoned"), 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said: u64 = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains("rejected to the dead-letter store"))
        })
        .map(|line| line["lines"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(said, 0, "{stderr}");
}

/// With JSON logs, the error that stops sluice is a JSON line too.
#[tokio::test(flavor = "multi_thread")]
async fn the_error_that_stops_sluice_is_json_too() {
    let harness = Harness::new();
    harness.config(&format!(
        "log_format = \"json\"\n{FILE_SOURCE}[[destinations]]\nname = \"s\"\nmodule = \"splunk-hec\"\n\
         endpoint = \"https://splunk.example.com:8088\"\ntoken = {{ env = \"UNSET_TOKEN_VARIABLE\" }}\n"
    ));
    let output = harness.sluice(&["run", "-c", "sluice.toml"], &[]).await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let last = lines.last().expect("a line");
    assert_eq!(last["level"], "ERROR", "{stderr}");
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("UNSET_TOKEN_VARIABLE"),
        "{stderr}"
    );
}

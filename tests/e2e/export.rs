//! `sluice export`: a day out of a week of rotated files (plain, gzip, zstd), by each
//! event's own time, to a destination (a strict HEC receiver) and to a CSV file read
//! back by Python's `csv` module; files whose times lie outside the range left unread;
//! and an export killed with SIGKILL, resumed, with every event once in its output.

use std::io::Write;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{Harness, splunk_destination, transcript};

const DAY_MS: i64 = 86_400_000;
/// 2026-11-24T00:00:00Z, the first day of the week.
const WEEK_START_MS: i64 = 1_795_478_400_000;
const PER_DAY: usize = 480;

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// Day `day`'s events, one every three minutes: `{"timestamp", "actor", "action", "day", "n"}`;
/// the sixth of each day's actions is a spreadsheet formula.
fn day_lines(day: i64) -> Vec<String> {
    (0..PER_DAY as i64)
        .map(|n| {
            let at = WEEK_START_MS + day * DAY_MS + n * 180_000;
            let action = if n == 5 { "=HYPERLINK(\\\"x\\\")" } else { "login" };
            format!(
                r#"{{"timestamp":"{}","actor":{{"id":"u{}"}},"action":"{action}","day":{day},"n":{n}}}"#,
                rfc3339(at),
                n % 7
            )
        })
        .collect()
}

/// Writes a week as logrotate leaves it: `audit.jsonl` (the last day), `audit.jsonl.1`,
/// then `.2.gz`, `.3.zst`, `.4.gz`, `.5.zst`, `.6.gz`; each modified at the end of its
/// day. Day 3 also holds a line that is not JSON and an event without a time.
fn write_week(harness: &Harness) {
    for day in 0..7i64 {
        let mut lines = day_lines(day);
        if day == 3 {
            lines.insert(100, "not json at all".into());
            lines.insert(
                200,
                r#"{"actor":{"id":"timeless"},"action":"login"}"#.into(),
            );
        }
        let text = lines.join("\n") + "\n";
        let age = 6 - day;
        let (name, bytes) = match age {
            0 => ("logs/audit.jsonl".to_owned(), text.into_bytes()),
            1 => ("logs/audit.jsonl.1".to_owned(), text.into_bytes()),
            age if age % 2 == 0 => (format!("logs/audit.jsonl.{age}.gz"), gzip(&text)),
            age => (
                format!("logs/audit.jsonl.{age}.zst"),
                zstd::encode_all(text.as_bytes(), 3).unwrap(),
            ),
        };
        let path = harness.write(&name, bytes);
        let end_of_day = (WEEK_START_MS + (day + 1) * DAY_MS) as u64;
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_millis(end_of_day))
            .unwrap();
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn range_of_day(day: i64) -> (String, String) {
    let start = WEEK_START_MS + day * DAY_MS;
    (rfc3339(start), rfc3339(start + DAY_MS))
}

#[tokio::test]
async fn a_day_out_of_a_week_of_rotated_and_compressed_files_goes_to_a_destination_and_to_csv() {
    let harness = Harness::new();
    write_week(&harness);
    let receiver = HecReceiver::start(HecConfig::default()).await;
    harness.config(&format!(
        "data_dir = \"state\"\n\n[[sources]]\nname = \"audit\"\ntype = \"file\"\npaths = [\"logs/audit.jsonl\"]\n\n{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    let (from, to) = range_of_day(3);
    let token = [("HEC_TOKEN", receiver.token())];
    let export = |extra: &'static [&'static str]| {
        let mut args = vec!["export", "-c", "sluice.toml", "--from", &from, "--to", &to];
        args.extend(extra);
        args
    };
    let output = harness
        .sluice(&export(&["--destination", "splunk"]), &token)
        .await;
    // The line that is not JSON and the event without a time are in the dead-letter
    // store: finished, not complete.
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let days: Vec<i64> = receiver
        .indexed()
        .iter()
        .map(|envelope| envelope["event"]["day"].as_i64().unwrap())
        .collect();
    assert_eq!(days.len(), PER_DAY, "{}", transcript(&output));
    assert!(days.iter().all(|&day| day == 3), "{days:?}");
    let mut numbers: Vec<i64> = receiver
        .indexed()
        .iter()
        .map(|envelope| envelope["event"]["n"].as_i64().unwrap())
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), PER_DAY, "every event of the day once");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Days 0 and 1 end over an hour before the range; days 5 and 6 start over an hour
    // after it: four files are not read, whatever their compression.
    assert!(
        stderr.contains("files_read=3 files_skipped=4"),
        "{}",
        transcript(&output)
    );
    let dead: Vec<Value> = harness.dead_letters();
    let reasons: Vec<&str> = dead.iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(reasons[0].contains("not valid JSON"), "{reasons:?}");
    assert!(
        reasons[1].contains("no time field holds a time"),
        "{reasons:?}"
    );
    assert!(
        dead[0]["origin"]
            .as_str()
            .unwrap()
            .ends_with("audit.jsonl.3.zst:101"),
        "{dead:?}"
    );

    let csv_output = harness
        .sluice(
            &export(&[
                "--output",
                "day.csv",
                "--format",
                "csv",
                "--set",
                "columns=timestamp,actor.id,action,n",
            ]),
            &[],
        )
        .await;
    assert_eq!(
        csv_output.status.code(),
        Some(3),
        "{}",
        transcript(&csv_output)
    );
    let rows = crate::csv::rows_read_by_python(&harness.path("day.csv"));
    assert_eq!(rows[0], ["timestamp", "actor.id", "action", "n"]);
    assert_eq!(rows.len(), PER_DAY + 1, "a header and a row per event");
    assert_eq!(rows[1][0], rfc3339(WEEK_START_MS + 3 * DAY_MS));
    assert_eq!(
        rows[6][2], "'=HYPERLINK(\"x\")",
        "a formula is written as text"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(harness.path("day.csv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // The same output again is refused: the file exists.
    let again = harness
        .sluice(&export(&["--output", "day.csv", "--format", "jsonl"]), &[])
        .await;
    assert_eq!(again.status.code(), Some(2), "{}", transcript(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists"),
        "{}",
        transcript(&again)
    );
}

/// Events of day 0 to export, as many as make an export last seconds: it is killed
/// once its state shows a point saved before the end.
const MANY: usize = 400_000;

#[tokio::test]
async fn an_export_killed_midway_and_resumed_writes_every_event_once() {
    let harness = Harness::new();
    let lines: Vec<String> = (0..MANY)
        .map(|n| {
            let at = WEEK_START_MS + (n as i64) * (DAY_MS / MANY as i64);
            format!(r#"{{"timestamp":"{}","n":{n}}}"#, rfc3339(at))
        })
        .collect();
    let (first, second) = lines.split_at(MANY / 2);
    // A line that is not an event first: rejected by the run that is killed.
    let rotated = harness.write(
        "logs/audit.jsonl.1.gz",
        gzip(&format!("not an event\n{}\n", first.join("\n"))),
    );
    // Rotated an hour ago: read first.
    std::fs::File::options()
        .write(true)
        .open(&rotated)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    harness.write("logs/audit.jsonl", second.join("\n") + "\n");
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"logs/audit.jsonl\"]\n\n{}",
        crate::support::CAPTURE_DESTINATION
    ));
    let (from, to) = range_of_day(0);
    let args = [
        "export",
        "-c",
        "sluice.toml",
        "--from",
        &from,
        "--to",
        &to,
        "--output",
        "all.json",
        "--format",
        "json",
    ];
    let mut child = harness
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let state_path = harness.path("all.json.export-state.json");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let saved = loop {
        assert!(tokio::time::Instant::now() < deadline, "no state saved");
        // The state is saved before the first event goes out, then every second.
        if let Ok(text) = std::fs::read_to_string(&state_path)
            && let Ok(state) = serde_json::from_str::<Value>(&text)
            && state["exported"].as_u64() > Some(0)
        {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Killed between two saves: what it wrote after the first is not in its state.
    tokio::time::sleep(Duration::from_millis(300)).await;
    crate::support::send_signal(&child, libc::SIGKILL);
    let _ = child.wait().await;
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    assert_eq!(
        state["finished"], false,
        "the export ended before it could be killed: make MANY larger"
    );
    assert!(saved["exported"].as_u64().unwrap() > 0, "{saved}");
    let written = std::fs::metadata(harness.path("all.json")).unwrap().len();
    assert!(
        written > state["output_bytes"].as_u64().unwrap(),
        "the file holds more than the state counts"
    );

    // Rotated while stopped: the files are followed by identity.
    for (from, to) in [
        ("logs/audit.jsonl.1.gz", "logs/audit.jsonl.2.gz"),
        ("logs/audit.jsonl", "logs/audit.jsonl.1"),
    ] {
        std::fs::rename(harness.path(from), harness.path(to)).unwrap();
    }
    harness.write("logs/audit.jsonl", "");
    let resumed = harness
        .sluice(&[&args[..], &["--resume"]].concat(), &[])
        .await;
    // The killed run's rejected line counts for the export that finishes: exit 3.
    assert_eq!(resumed.status.code(), Some(3), "{}", transcript(&resumed));
    let text = std::fs::read_to_string(harness.path("all.json")).unwrap();
    let events: Vec<Value> = serde_json::from_str(&text).expect("one JSON array");
    let numbers: Vec<u64> = events.iter().map(|e| e["n"].as_u64().unwrap()).collect();
    // Strictly increasing, MANY of them out of 0..MANY: each once, in order.
    let out_of_order = numbers.windows(2).filter(|w| w[0] >= w[1]).count();
    assert_eq!(
        (numbers.len(), out_of_order),
        (MANY, 0),
        "every event once, in order"
    );
    // A finished export is not done twice.
    let again = harness
        .sluice(&[&args[..], &["--resume"]].concat(), &[])
        .await;
    assert!(again.status.success(), "{}", transcript(&again));
    assert_eq!(
        harness.dead_letters().len(),
        1,
        "the line once in the store"
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("finished already"));
}

//! Lines no event source should produce, which must neither crash a source nor take
//! the valid events around them down with it.

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{Harness, splunk_destination, summary_figure, transcript};

/// Lines of only non-ASCII whitespace once panicked the parser: the source task died,
/// every event of the file was lost (the valid ones before it too), nothing was
/// dead-lettered and the run exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_of_only_unicode_whitespace_is_dead_lettered_and_the_file_goes_on() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let blanks = ["\u{a0}", "\u{2028}", "\u{3000}", "\u{b}"];
    let mut text = String::new();
    for (i, blank) in blanks.iter().enumerate() {
        text.push_str(&format!("{{\"n\":{i}}}\n{blank}\n"));
    }
    text.push_str("{\"n\":\"last\"}\n");
    harness.write("data/odd.jsonl", text);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/odd.jsonl\"]\n{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    let output = harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;

    assert_eq!(receiver.indexed().len(), 5, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "lines_rejected"), 4);
    let dead = harness.dead_letters();
    let origins: Vec<&str> = dead.iter().map(|r| r["origin"].as_str().unwrap()).collect();
    for (i, origin) in origins.iter().enumerate() {
        assert!(
            origin.ends_with(&format!("odd.jsonl:{}", 2 * i + 2)),
            "{origins:?}"
        );
    }
    assert!(
        dead.iter().all(|r| r["reason"]
            .as_str()
            .unwrap()
            .starts_with("a line of only whitespace")),
        "{dead:?}"
    );
}

/// Runs the lines through `sluice run` into a capture directory with `events` settings,
/// and returns the run and the bodies the HEC module built, back to back.
async fn capture_lines(
    harness: &Harness,
    lines: &[&str],
    events: &str,
) -> (std::process::Output, String) {
    harness.write("data/lines.jsonl", lines.join("\n") + "\n");
    harness.config(&format!(
        "[events]\ntime_fields = [\"ts\"]\n{events}\n[[sources]]\ntype = \"file\"\npaths = [\"data/lines.jsonl\"]\n[[destinations]]\nname = \"capture\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n"
    ));
    let output = harness.sluice(&["run", "-c", "sluice.toml"], &[]).await;
    let mut body = String::new();
    if let Ok(entries) = std::fs::read_dir(harness.path("captured")) {
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(path).unwrap();
            body.push_str(text.split_once("\r\n\r\n").unwrap().1);
        }
    }
    (output, body)
}

/// The stacked envelopes of `body` (whose numbers serde_json can hold).
fn envelopes(body: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(body)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .collect()
}

/// Valid JSON used to be refused: numbers beyond f64's range ("number out of range")
/// and objects nested deeper than 128 ("recursion limit exceeded"). A lone surrogate
/// escape is refused, now with what it is.
#[tokio::test(flavor = "multi_thread")]
async fn huge_numbers_and_deep_nesting_are_json_and_a_lone_surrogate_is_named() {
    let deep = |levels: usize| format!("{{\"d\":{}1{}}}", "[".repeat(levels), "]".repeat(levels));
    let harness = Harness::new();
    let (output, body) = capture_lines(
        &harness,
        &[
            r#"{"n":1e400,"m":0.1e99999,"k":-1E+999}"#,
            &deep(150),
            r#"{"s":"\udfff"}"#,
        ],
        "",
    )
    .await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(body.matches(r#"{"time":"#).count(), 1, "{body}");
    assert!(
        body.contains(r#""event":{"n":1e400,"m":0.1e99999,"k":-1E+999}"#),
        "{body}"
    );
    let reasons: Vec<String> = harness
        .dead_letters()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        reasons[0].starts_with(
            "an object or array nested deeper than events.max_depth (128) allows, at line 1 column"
        ),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with(
            "a \\u escape of a lone UTF-16 surrogate (U+D800 to U+DFFF without its pair)"
        ),
        "{reasons:?}"
    );

    // The depth is a setting.
    let harness = Harness::new();
    let (output, body) = capture_lines(&harness, &[&deep(150)], "max_depth = 200").await;
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(body.matches(r#"{"time":"#).count(), 1, "{body}");
}

/// Implausible epoch values used to be taken for times (year 39 million; 1969 for -1).
/// What lies before `events.earliest_time` or more than `events.max_future` ahead is the
/// ingest time, the value kept and counted; so are impossible dates.
#[tokio::test(flavor = "multi_thread")]
async fn implausible_times_fall_back_to_the_ingest_time() {
    let harness = Harness::new();
    let lines = [
        r#"{"ts":1234567890123456789012345}"#,
        r#"{"ts":-1}"#,
        r#"{"ts":"9999-12-31T23:59:60Z"}"#,
        r#"{"ts":"2026-02-30T00:00:00Z"}"#,
        r#"{"ts":"3026-01-01T00:00:00Z"}"#,
        r#"{"ts":1763625603}"#,
    ];
    let (output, body) = capture_lines(&harness, &lines, "").await;
    let envelopes = envelopes(&body);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "time_unparsed"), 5);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for envelope in &envelopes[..5] {
        let time = envelope["time"].as_f64().unwrap();
        assert!((time - now).abs() < 600.0, "ingest time: {envelope}");
        assert_eq!(envelope["fields"]["sluice_time_source"], "ingest");
    }
    assert_eq!(envelopes[5]["time"], 1763625603);
    assert!(
        body.contains(r#""event":{"ts":1234567890123456789012345}"#),
        "kept: {body}"
    );
}

/// Times before 1970 with a fraction used to be off by up to a second (-1.5 was sent
/// as -2.500).
#[tokio::test(flavor = "multi_thread")]
async fn negative_times_keep_their_fraction() {
    let harness = Harness::new();
    let (output, body) = capture_lines(
        &harness,
        &[
            r#"{"ts":-1.5}"#,
            r#"{"ts":"1969-12-31T23:59:59.500Z"}"#,
            r#"{"ts":-1763625603500}"#,
        ],
        "earliest_time = \"1900-01-01T00:00:00Z\"",
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(envelopes(&body).len(), 3);
    assert!(body.contains(r#"{"time":-1.500,"#), "{body}");
    assert!(body.contains(r#"{"time":-0.500,"#), "{body}");
    assert!(body.contains(r#"{"time":-1763625603.500,"#), "{body}");
}

/// `preview` used to read lines without `run`'s bound: a long line was held whole.
#[tokio::test(flavor = "multi_thread")]
async fn preview_bounds_lines_as_run_does() {
    let harness = Harness::new();
    let long = format!("{{\"pad\":\"{}\"}}\n{{\"n\":1}}\n", "x".repeat(2 << 20));
    let output = harness
        .sluice_with_input(&["preview", "--module", "splunk-hec"], &[], long.as_bytes())
        .await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stdin:1: rejected: line of 2097162 bytes is longer than events.max_line_bytes (1048576)"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 events"));
}

//! Modules that trap, loop, hoard memory or give impossible answers fail their own
//! calls; the host and the other destinations go on.

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    FILE_SOURCE, Harness, splunk_destination, summary_figure, test_module, transcript,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_misbehaving_module_fails_only_its_own_calls() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    let misbehave = test_module("misbehave");
    let limits = "[limits]\nmodule_memory_bytes = 33554432\nmodule_call_timeout = \"2s\"\nmodule_output_bytes = 8388608\n";
    // (mode, what the reason of every one of its dead-lettered events says)
    let modes = [
        ("trap", "trapped"),
        ("loop", "ran past its time limit"),
        ("alloc", "trapped"),
        ("huge-output", "over the limit"),
        ("bad-piece", "a payload piece 0..4294967295 lies outside"),
        (
            "bad-event",
            "an impossible answer: event 4294967295 of a batch of",
        ),
        (
            "bad-path",
            "an impossible answer: HTTP path `@127.0.0.1:9/steal` does not start with `/`",
        ),
        (
            "bad-header",
            "an impossible answer: header `Content-Length` is the host's to set",
        ),
        (
            "bad-verdict",
            "an impossible answer: event 50 of a request of 50",
        ),
        ("twice", "an impossible answer: event 0 placed twice"),
        (
            "bad-method",
            "an impossible answer: HTTP method `GET /x HTTP/1.1\\r\\nHost: elsewhere\\r\\n\\r\\nPOST` is not a token",
        ),
    ];
    let mut config = format!(
        "{limits}{FILE_SOURCE}{}",
        splunk_destination(&receiver.endpoint(), "")
    );
    for (mode, _) in modes {
        // The receiver answers the requests that get sent (with 404: misbehave posts to
        // `/ingest`), so that `bad-verdict` has a response to classify.
        config.push_str(&format!(
            r#"
[[destinations]]
name = "{mode}"
module = {misbehave:?}
endpoint = "{}"
settings = {{ mode = "{mode}" }}
batch = {{ max_events = 50 }}
concurrency = 1
retry = {{ max_attempts = 2, initial_backoff = "10ms", max_backoff = "20ms" }}
"#,
            receiver.endpoint()
        ));
    }
    harness.config(&config);

    let output = harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;
    assert_eq!(
        receiver.indexed().len(),
        50,
        "the healthy destination got everything"
    );

    let dead = harness.dead_letters();
    let reasons = |destination: &str| -> Vec<String> {
        dead.iter()
            .filter(|r| r["destination"] == destination)
            .map(|r| r["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    for (mode, expected) in modes {
        let reasons = reasons(mode);
        assert_eq!(
            reasons.len(),
            50,
            "{mode}: every event dead-lettered once\n{}",
            transcript(&output)
        );
        assert!(
            reasons
                .iter()
                .all(|r| r.starts_with("gave up after 2 attempts") && r.contains(expected)),
            "{mode}: {}",
            reasons[0]
        );
    }
}

/// Runs the `misbehave` module in `mode` on the 50 events of one sample file, in batches
/// of `max_events`, its requests written to a capture directory; the run must exit
/// with `code`.
async fn run_captured(mode: &str, max_events: usize, code: i32) -> (Harness, std::process::Output) {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    harness.config(&format!(
        "{FILE_SOURCE}[[destinations]]\nname = {mode:?}\nmodule = {:?}\nendpoint = \"capture:captured\"\nsettings = {{ mode = {mode:?} }}\nbatch = {{ max_events = {max_events} }}\n",
        test_module("misbehave").display().to_string()
    ));
    let output = harness.run_expecting(code, &[]).await;
    (harness, output)
}

#[tokio::test(flavor = "multi_thread")]
async fn events_a_module_neither_sends_nor_refuses_are_dead_lettered() {
    let (harness, output) = run_captured("forget", 10, 3).await;

    // Five batches of ten: the module sends the first five events of each.
    assert_eq!(
        summary_figure(&output, "delivered"),
        25,
        "{}",
        transcript(&output)
    );
    assert_eq!(summary_figure(&output, "events_settled"), 50);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 25, "{}", transcript(&output));
    for record in &dead {
        assert_eq!(
            record["reason"],
            "module `misbehave` neither sent nor refused the event"
        );
        assert!(
            record["event"].is_object(),
            "the event itself is kept: {record}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_logs_a_hundred_messages_per_call_at_most() {
    let (_harness, output) = run_captured("chatty", 50, 0).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // One batch, so one call: a thousand messages, a hundred of them logged.
    assert_eq!(
        summary_figure(&output, "delivered"),
        50,
        "{}",
        transcript(&output)
    );
    assert_eq!(stderr.matches("chatty message").count(), 100, "{stderr}");
    assert!(stderr.contains("chatty message 99"), "{stderr}");
    assert!(
        stderr.contains("dropped=900")
            && stderr.contains("log messages over 100 in one call were dropped"),
        "{stderr}"
    );
}

/// A module's log message used to be written as it came: its line breaks started new
/// lines that looked like the host's own (a forged summary), its escapes could hide
/// them on a terminal.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_cannot_forge_host_log_lines() {
    let (_harness, output) = run_captured("forge", 50, 0).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(summary_figure(&output, "delivered"), 50, "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("sluice stopped"))
            .count(),
        2,
        "the escaped forgery inside the module's line, and the real summary: {stderr}"
    );
    let forged = stderr
        .lines()
        .find(|line| line.contains("innocent"))
        .expect("the module's message is logged");
    assert!(
        forged.contains("innocent\\n2026-01-01T00:00:00Z  INFO")
            && forged.contains("\\r\\u{1b}[2K\\u{2028}end"),
        "{forged}"
    );
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\r'),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_signs_with_a_key_it_never_sees() {
    use hmac::Mac;

    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    let destination = |name: &str, keys: &str| {
        format!(
            "[[destinations]]\nname = {name:?}\nmodule = {:?}\nendpoint = \"capture:captured-{name}\"\nsettings = {{ mode = \"sign\" }}\n{keys}\nretry = {{ max_attempts = 2, initial_backoff = \"10ms\" }}\n",
            test_module("misbehave").display().to_string()
        )
    };
    harness.config(&format!(
        "{FILE_SOURCE}{}{}",
        destination(
            "keyed",
            "signing_keys = { webhook = { env = \"WEBHOOK_KEY\" } }"
        ),
        destination("keyless", "")
    ));
    let output = harness
        .run_expecting(3, &[("WEBHOOK_KEY", "s3cret-key")])
        .await;
    assert!(!String::from_utf8_lossy(&output.stderr).contains("s3cret-key"));

    let captured = std::fs::read_dir(harness.path("captured-keyed"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(captured).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret-key").unwrap();
    mac.update(body.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    assert!(
        head.contains(&format!("\r\nX-Signature: {expected}\r\n")),
        "{head}"
    );

    // Without the key, the module's call fails and the events are dead-lettered with why.
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 50);
    assert!(dead.iter().all(|r| r["destination"] == "keyless"));
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no signing key named `webhook` is configured for this destination"),
        "{reason}"
    );
}

/// Response bodies used to be cut at 1 MiB without the module knowing: a long bulk
/// answer became unparsable. The bound is per destination, and the module is told.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_is_told_when_a_response_body_was_cut() {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    let mut config = FILE_SOURCE.to_owned();
    for (name, bytes, bound) in [("cut", 3 << 20, 1000), ("whole", 500, 1000)] {
        let endpoint = crate::support::long_answer_endpoint(bytes).await;
        config.push_str(&format!(
            "[[destinations]]\nname = {name:?}\nmodule = {:?}\nendpoint = {endpoint:?}\nsettings = {{ mode = \"measure\" }}\nmax_response_bytes = {bound}\nbatch = {{ max_events = 50 }}\n",
            test_module("misbehave").display().to_string()
        ));
    }
    harness.config(&config);
    let output = harness.run_expecting(3, &[]).await;

    let dead = harness.dead_letters();
    let reason = |destination: &str| {
        dead.iter()
            .find(|r| r["destination"] == destination)
            .unwrap_or_else(|| panic!("{destination}: {}", transcript(&output)))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(reason("cut"), "got 1000 bytes of the body, truncated: true");
    assert_eq!(
        reason("whole"),
        "got 500 bytes of the body, truncated: false"
    );
}

/// A module's panic says its message and where in the log, and the trap's reason is one
/// short line: it was a mangled 1.5 KB WebAssembly backtrace.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_panic_says_its_message_and_place() {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    let misbehave = test_module("misbehave");
    harness.config(&format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"trap\"\nmodule = {misbehave:?}\nendpoint = \"capture:captured\"\nsettings = {{ mode = \"trap\" }}\nretry = {{ max_attempts = 1 }}\n"
    ));
    let output = harness.run_expecting(3, &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("module panicked: misbehave: trap on purpose at ")
            && stderr.contains("src/lib.rs:"),
        "{stderr}"
    );
    let dead = harness.dead_letters();
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(reason.contains("trapped: wasm trap"), "{reason}");
    assert!(
        reason.len() < 300 && !reason.contains("backtrace"),
        "{reason}"
    );
}

//! Sources as users run them: stdin, a followed file, and graceful shutdown.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{Harness, data_file, splunk_destination, summary_figure, transcript};

fn destination(receiver: &HecReceiver, batch: &str) -> String {
    splunk_destination(&receiver.endpoint(), &format!("batch = {batch}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_is_read_until_it_closes() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.config(&format!(
        "[[sources]]\ntype = \"stdin\"\n{}",
        destination(&receiver, "{ max_events = 7 }")
    ));
    let input = std::fs::read(data_file("secrets-audit.jsonl")).unwrap();
    let output = harness
        .sluice_with_input(
            &["run", "-c", "sluice.toml"],
            &[("HEC_TOKEN", receiver.token())],
            &input,
        )
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(receiver.indexed().len(), 50);
    assert_eq!(
        receiver.requests(),
        8,
        "batches of 7 events: 7 full and one of 1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_longer_than_the_bound_is_dead_lettered_with_its_start() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let long = format!("{{\"pad\":\"{}\"}}", "x".repeat(10_000));
    harness.write("long.jsonl", format!("{{\"n\":1}}\n{long}\n{{\"n\":2}}\n"));
    harness.config(&format!(
        "[events]\nmax_line_bytes = 2048\n[[sources]]\ntype = \"file\"\npaths = [\"long.jsonl\"]\n{}",
        destination(&receiver, "{ max_events = 10 }")
    ));
    let output = harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;

    assert_eq!(receiver.indexed().len(), 2, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "lines_rejected"), 1);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1);
    let record = &dead[0];
    assert!(
        record["origin"].as_str().unwrap().ends_with("long.jsonl:2"),
        "{record}"
    );
    assert_eq!(
        record["reason"],
        format!(
            "line of {} bytes is longer than events.max_line_bytes (2048); its first 2048 bytes are kept here",
            long.len()
        )
    );
    assert_eq!(record["line"].as_str().unwrap(), &long[..2048]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_followed_file_is_tailed_and_sigterm_flushes_everything() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let log = harness.write("data/live.jsonl", "");
    // Batches wait up to a minute: only the shutdown flush can deliver them in time.
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n{}",
        destination(&receiver, "{ max_events = 1000, max_wait = \"60s\" }")
    ));
    let child = harness.spawn_run(receiver.token(), std::process::Stdio::null());

    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .await
        .unwrap();
    for n in 0..20 {
        file.write_all(
            format!("{{\"timestamp\":\"2026-11-20T08:00:00Z\",\"n\":{n}}}\n").as_bytes(),
        )
        .await
        .unwrap();
    }
    // The last line has no newline yet: a tail waits for it, and takes it at shutdown.
    file.write_all(b"{\"timestamp\":\"2026-11-20T08:00:00Z\",\"n\":20}")
        .await
        .unwrap();
    file.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Rotation: the old file is renamed away (its unterminated last line with it) and a new
    // one takes its name; both are read to the end.
    std::fs::rename(&log, harness.path("data/live.jsonl.1")).unwrap();
    let mut file = tokio::fs::File::create(&log).await.unwrap();
    for n in 21..25 {
        let line = format!("{{\"timestamp\":\"2026-11-20T08:00:00Z\",\"n\":{n}}}\n");
        file.write_all(line.as_bytes()).await.unwrap();
    }
    file.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        receiver.indexed().is_empty(),
        "nothing sent before the batch closes"
    );

    let pid = child.id().unwrap() as i32;
    // SAFETY: sending a signal to our own child process.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("exits promptly")
        .unwrap();
    assert!(output.status.success(), "{}", transcript(&output));
    let mut numbers: Vec<i64> = receiver
        .indexed()
        .iter()
        .map(|e| e["event"]["n"].as_i64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (0..25).collect::<Vec<_>>(),
        "every line once, the unterminated last one of the rotated file too"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shutdown_deadline_bounds_a_flush_that_cannot_finish() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    receiver.make_busy(usize::MAX);
    let harness = Harness::new();
    harness.copy_data(&["proxy-audit.jsonl"]);
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\nfollow = true\n{}",
        splunk_destination(&receiver.endpoint(), "retry = { max_attempts = 1000, initial_backoff = \"50ms\", max_backoff = \"100ms\" }")
    ));
    let child = harness.spawn_run(receiver.token(), std::process::Stdio::null());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.requests() > 0, "delivery is being retried");

    // SAFETY: sending a signal to our own child process.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id().unwrap() as i32, libc::SIGTERM);
    }
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the deadline ends the flush")
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("shutdown deadline passed"), "{stderr}");
    assert_eq!(summary_figure(&output, "abandoned"), 60, "{stderr}");
    assert_eq!(
        summary_figure(&output, "events_settled"),
        0,
        "no event is safe: nothing may be checkpointed"
    );
    assert_eq!(
        summary_figure(&output, "dead_lettered"),
        0,
        "abandoned events are not refused events"
    );
    let dead = harness.dead_letters();
    assert_eq!(
        dead.len(),
        60,
        "abandoned events are kept where an operator finds them"
    );
    assert!(
        dead.iter().all(|r| r["stage"] == "shutdown"),
        "{:?}",
        dead[0]
    );
}

/// A run whose input file did not exist, or whose every event was refused, used to
/// exit 0 like a run that delivered everything.
#[tokio::test(flavor = "multi_thread")]
async fn the_exit_code_says_whether_everything_was_delivered() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/missing.jsonl\"]\n{}",
        destination(&receiver, "{ max_events = 10 }")
    ));
    let output = harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;
    assert_eq!(summary_figure(&output, "read_errors"), 1);

    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{}",
        destination(&receiver, "{ max_events = 10 }")
    ));
    let output = harness.run_expecting(3, &[("HEC_TOKEN", "refused")]).await;
    assert_eq!(summary_figure(&output, "dead_lettered"), 50);
    let output = harness
        .run_expecting(0, &[("HEC_TOKEN", receiver.token())])
        .await;
    assert_eq!(summary_figure(&output, "delivered"), 50);

    let help = harness.sluice(&["run", "--help"], &[]).await;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("3  finished, but lines were rejected"),
        "{help}"
    );
}

/// A destination takes the events of the sources it names, the others all of them.
#[tokio::test(flavor = "multi_thread")]
async fn a_destination_takes_the_sources_it_names() {
    let proxy_receiver = HecReceiver::start(HecConfig::default()).await;
    let all_receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["proxy-audit.jsonl", "idp-audit.jsonl"]);
    let destination = |name: &str, receiver: &HecReceiver, sources: &str| {
        format!(
            "[[destinations]]\nname = {name:?}\nmodule = \"splunk-hec\"\nendpoint = {:?}\ntoken = {{ env = \"HEC_TOKEN\" }}\n{sources}\n",
            receiver.endpoint()
        )
    };
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\nname = \"proxy\"\npaths = [\"data/proxy-audit.jsonl\"]\n[[sources]]\ntype = \"file\"\nname = \"idp\"\npaths = [\"data/idp-audit.jsonl\"]\n{}{}",
        destination("proxy-only", &proxy_receiver, "sources = [\"proxy\"]"),
        destination("everything", &all_receiver, "")
    ));
    let output = harness
        .run_ok(&[("HEC_TOKEN", proxy_receiver.token())])
        .await;
    assert_eq!(
        proxy_receiver.indexed().len(),
        60,
        "{}",
        transcript(&output)
    );
    assert!(
        proxy_receiver
            .indexed()
            .iter()
            .all(|e| e["event"]["request_id"].is_string())
    );
    assert_eq!(all_receiver.indexed().len(), 110);

    // A name no source has, and a source no destination takes, are refused.
    let config = std::fs::read_to_string(harness.path("sluice.toml")).unwrap();
    harness.write(
        "sluice.toml",
        config.replace("sources = [\"proxy\"]", "sources = [\"proxi\"]"),
    );
    let output = harness
        .sluice(&["check", "-c", "sluice.toml"], &[("HEC_TOKEN", "t")])
        .await;
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("destinations[0] (`proxy-only`).sources: no source is named `proxi`"),
        "{}",
        transcript(&output)
    );
    let only_proxy = config.replace(
        "name = \"everything\"",
        "name = \"everything\"\nsources = [\"proxy\"]",
    );
    harness.write("sluice.toml", only_proxy);
    let output = harness
        .sluice(&["check", "-c", "sluice.toml"], &[("HEC_TOKEN", "t")])
        .await;
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("sources[1]: no destination takes its events"),
        "{}",
        transcript(&output)
    );
}

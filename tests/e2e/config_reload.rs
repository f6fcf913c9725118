//! Config reload while events stream from a followed file: a destination added takes
//! the events read from then on, one removed keeps what it was sent and delivers what
//! it holds, one changed goes on with its new settings; every event reaches every
//! destination that was there when it was read, exactly once. An invalid configuration
//! is refused with the message `sluice check` gives, and the running one stays. With
//! memory queues and with the spool.

use std::time::Duration;

use crate::support::{Harness, append_lines, captured_numbers, check_fails, send_signal, stop};

/// The `n` of every event captured for `destination`, sorted.
fn captured(harness: &Harness, destination: &str) -> Vec<u64> {
    captured_numbers(harness, &format!("captured-{destination}"))
}

fn events(harness: &Harness, range: std::ops::Range<u64>) {
    let lines = range.map(|n| format!("{{\"n\":{n}}}"));
    append_lines(&harness.path("data/live.jsonl"), lines);
}

fn config(top: &str, destinations: &[(&str, &str)]) -> String {
    let mut text = format!(
        "{top}\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n"
    );
    for (name, extra) in destinations {
        text.push_str(&format!(
            "[[destinations]]\nname = \"{name}\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured-{name}\"\nbatch = {{ max_wait = \"50ms\"{extra} }}\n"
        ));
    }
    text
}

/// Waits until each destination has captured as many events as given.
async fn until(harness: &Harness, wanted: &[(&str, usize)]) {
    for _ in 0..150 {
        if wanted.iter().all(|(d, n)| captured(harness, d).len() >= *n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Time for the watcher (0.5 s to settle) and the reload.
const RELOADED: Duration = Duration::from_millis(2500);

async fn add_remove_change_and_refuse(top: &str) {
    let harness = Harness::new();
    events(&harness, 0..20);
    harness.config(&config(top, &[("a", ""), ("b", "")]));
    let child = harness.start_run();
    until(&harness, &[("a", 20), ("b", 20)]).await;

    // b out, c in, a as it was: the file changed, no signal.
    harness.config(&config(top, &[("a", ""), ("c", "")]));
    tokio::time::sleep(RELOADED).await;
    events(&harness, 20..40);
    until(&harness, &[("a", 40), ("c", 20)]).await;

    // What `sluice check` refuses is refused, with its message; the running one stays.
    let invalid = config(top, &[("a", ", max_evnts = 5")]);
    let expected = check_fails(&harness, &invalid, &[]).await;
    harness.config(&invalid);
    tokio::time::sleep(RELOADED).await;
    events(&harness, 40..50);
    until(&harness, &[("a", 50), ("c", 30)]).await;

    // a changed, on SIGHUP.
    harness.config(&config(top, &[("a", ", max_events = 7"), ("c", "")]));
    send_signal(&child, libc::SIGHUP);
    tokio::time::sleep(RELOADED).await;
    events(&harness, 50..60);
    until(&harness, &[("a", 60), ("c", 40)]).await;

    let stderr = stop(child).await;
    assert_eq!(
        captured(&harness, "a"),
        (0..60).collect::<Vec<_>>(),
        "{stderr}"
    );
    assert_eq!(
        captured(&harness, "b"),
        (0..20).collect::<Vec<_>>(),
        "{stderr}"
    );
    assert_eq!(
        captured(&harness, "c"),
        (20..60).collect::<Vec<_>>(),
        "{stderr}"
    );
    let line = |what: &str| stderr.lines().any(|l| l.contains(what));
    assert!(line(r#"added=["c"] removed=["b"] changed=[]"#), "{stderr}");
    assert!(line(r#"added=[] removed=[] changed=["a"]"#), "{stderr}");
    let check_message = expected
        .lines()
        .find(|l| l.contains("unknown field"))
        .expect("check names the field")
        .trim_start_matches("sluice: error: ")
        .to_owned();
    assert!(
        stderr.lines().any(
            |l| l.contains("configuration refused; the running one stays")
                && l.contains("unknown field `max_evnts`")
        ),
        "refused with check's message ({check_message}):\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn destinations_are_added_removed_and_changed_with_memory_queues() {
    add_remove_change_and_refuse("").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn destinations_are_added_removed_and_changed_with_the_spool() {
    add_remove_change_and_refuse("data_dir = \"state\"").await;
}

/// Settings outside the destinations and filters are not changed by a reload: said so.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_that_needs_a_restart_is_said_so() {
    let harness = Harness::new();
    events(&harness, 0..5);
    harness.config(&config("", &[("a", "")]));
    let child = harness.start_run();
    until(&harness, &[("a", 5)]).await;
    harness.config(&config("shutdown_timeout = \"7s\"", &[("a", "")]));
    tokio::time::sleep(RELOADED).await;
    let stderr = stop(child).await;
    assert!(
        stderr.contains("settings outside [[sources]], [[destinations]] and [[filters]] changed; they take effect at the next start"),
        "{}",
        stderr
    );
}

/// Sources added and removed by a reload: one added is read from then on and routed by
/// its name; one removed stops reading (what it had read is delivered). Routes and the
/// spool know each source by an id of its own (`sources.json`), not its position.
async fn sources_added_and_removed(top: &str) {
    let harness = Harness::new();
    let lines = |file: &str, range: std::ops::Range<u64>| {
        let lines = range.map(|n| format!("{{\"n\":{n}}}"));
        append_lines(&harness.path(&format!("data/{file}")), lines);
    };
    let source = |name: &str| {
        format!(
            "[[sources]]\nname = \"{name}\"\ntype = \"file\"\npaths = [\"data/{name}.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n"
        )
    };
    let destination = |name: &str, takes: &str| {
        format!(
            "[[destinations]]\nname = \"{name}\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured-{name}\"\nbatch = {{ max_wait = \"50ms\" }}\n{takes}\n"
        )
    };
    lines("one.jsonl", 0..10);
    harness.config(&format!("{top}\n{}{}", source("one"), destination("a", "")));
    let child = harness.start_run();
    until(&harness, &[("a", 10)]).await;

    // `two` in, with a destination of its own.
    harness.config(&format!(
        "{top}\n{}{}{}{}",
        source("one"),
        source("two"),
        destination("a", ""),
        destination("b", "sources = [\"two\"]")
    ));
    tokio::time::sleep(RELOADED).await;
    lines("one.jsonl", 10..20);
    lines("two.jsonl", 100..110);
    until(&harness, &[("a", 30), ("b", 10)]).await;

    // `one` out: what is appended to its file is not read.
    harness.config(&format!(
        "{top}\n{}{}{}",
        source("two"),
        destination("a", ""),
        destination("b", "sources = [\"two\"]")
    ));
    tokio::time::sleep(RELOADED).await;
    lines("one.jsonl", 20..30);
    lines("two.jsonl", 110..120);
    until(&harness, &[("a", 40), ("b", 20)]).await;

    let stderr = stop(child).await;
    let mut a: Vec<u64> = (0..20).chain(100..120).collect();
    a.sort_unstable();
    assert_eq!(captured(&harness, "a"), a, "{stderr}");
    assert_eq!(
        captured(&harness, "b"),
        (100..120).collect::<Vec<_>>(),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"sources_added=["name:two"] sources_removed=[]"#)
            && stderr.contains(r#"sources_added=[] sources_removed=["name:one"]"#),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_are_added_and_removed_with_memory_queues() {
    sources_added_and_removed("").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_are_added_and_removed_with_the_spool() {
    sources_added_and_removed("data_dir = \"state\"").await;
}

/// A source renamed by a reload goes on reading its file where the old one stopped: the
/// file was "already read by another file source" until a restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_source_renamed_by_a_reload_goes_on_with_its_file() {
    for top in ["", "data_dir = \"state\""] {
        let harness = Harness::new();
        events(&harness, 0..20);
        harness.config(&config(top, &[("a", "")]));
        let child = harness.start_run();
        until(&harness, &[("a", 20)]).await;
        let renamed = config(top, &[("a", "")]).replace(
            "[[sources]]\ntype = \"file\"\n",
            "[[sources]]\ntype = \"file\"\nname = \"audit\"\n",
        );
        harness.config(&renamed);
        tokio::time::sleep(RELOADED).await;
        events(&harness, 20..40);
        until(&harness, &[("a", 40)]).await;
        let stderr = stop(child).await;
        assert_eq!(
            captured(&harness, "a"),
            (0..40).collect::<Vec<_>>(),
            "{top}: {stderr}"
        );
    }
}

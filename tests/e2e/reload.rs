//! SIGHUP reloads the modules: a changed `.wasm` replaces the running one between
//! batches once it passes the checks a start makes; a module that does not is refused,
//! and the running one goes on.

use std::time::Duration;

use crate::support::{Harness, rebuilt, send_signal, stop, test_module};

/// Appends events `first..first + count` to the followed file.
fn events(harness: &Harness, first: usize, count: usize) {
    let lines = (first..first + count).map(|n| format!("{{\"n\":{n}}}"));
    crate::support::append_lines(&harness.path("data/live.jsonl"), lines);
}

fn captured(harness: &Harness) -> usize {
    std::fs::read_dir(harness.path("captured"))
        .map(|entries| {
            entries
                .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
                .map(|text| text.matches("\"n\":").count())
                .sum()
        })
        .unwrap_or(0)
}

async fn until(what: impl Fn() -> bool) {
    for _ in 0..100 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a run that follows `data/live.jsonl` into the `probe` destination, whose
/// module is `module` in `modules/`, and waits for its first 10 events to be captured.
async fn start_with_probe(harness: &Harness, module: &[u8]) -> tokio::process::Child {
    harness.write("modules/probe.wasm", module);
    events(harness, 0, 10);
    harness.config(
        "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n[[destinations]]\nname = \"probe\"\nmodule = \"probe\"\nendpoint = \"capture:captured\"\nbatch = { max_wait = \"50ms\" }\n",
    );
    let child = harness.start_run();
    until(|| captured(harness) == 10).await;
    child
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_swaps_a_changed_module_and_refuses_a_broken_one() {
    let harness = Harness::new();
    let original = std::fs::read(test_module("misbehave")).unwrap();
    let child = start_with_probe(&harness, &original).await;

    // Other bytes: reloaded, and the next events go through the new module.
    harness.write("modules/probe.wasm", rebuilt(&original));
    send_signal(&child, libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    events(&harness, 10, 10);
    until(|| captured(&harness) == 20).await;

    // A module built for another contract: refused, the running one delivers on.
    harness.write(
        "modules/probe.wasm",
        std::fs::read(test_module("future-contract")).unwrap(),
    );
    send_signal(&child, libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    events(&harness, 20, 10);
    until(|| captured(&harness) == 30).await;

    let stderr = stop(child).await;
    assert!(
        stderr.lines().any(
            |l| l.contains("module reloaded; batches from now on use it")
                && l.contains("destination=probe")
                && l.contains("generation=2")
        ),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(
            |l| l.contains("module reload refused; the running module goes on")
                && l.contains("the module implements contract sluice:module@9.0.0")
        ),
        "{stderr}"
    );
    assert_eq!(
        captured(&harness),
        30,
        "every event delivered across the reloads"
    );
}

/// Without a signal: a module file written into a modules directory is picked up by the
/// watcher, checked, and swapped in (logged with its SHA-256); a broken one is refused and
/// the running one goes on; no event is lost across the changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_file_dropped_in_is_picked_up_without_a_signal() {
    use sha2::Digest;
    let harness = Harness::new();
    let original = std::fs::read(test_module("misbehave")).unwrap();
    let child = start_with_probe(&harness, &original).await;

    let new_version = rebuilt(&original);
    harness.write("modules/probe.wasm", &new_version);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    events(&harness, 10, 10);
    until(|| captured(&harness) == 20).await;
    harness.write(
        "modules/probe.wasm",
        std::fs::read(test_module("future-contract")).unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    events(&harness, 20, 10);
    until(|| captured(&harness) == 30).await;

    let stderr = stop(child).await;
    let sha256 = hex::encode(sha2::Sha256::digest(&new_version));
    assert!(
        stderr.lines().any(
            |l| l.contains("module reloaded; batches from now on use it")
                && l.contains("generation=2")
                && l.contains(&sha256)
        ),
        "{stderr}"
    );
    assert!(stderr.contains("a module file changed: reloading the modules"));
    assert!(stderr.contains("module reload refused; the running module goes on"));
    assert_eq!(
        captured(&harness),
        30,
        "every event delivered across the changes"
    );
}

/// A module file removed from the modules directory pauses the destination that uses
/// it: its events wait, none is lost or dead-lettered, and they go out once a module of
/// that name is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_removed_module_pauses_its_destination_until_it_is_back() {
    let harness = Harness::new();
    let original = std::fs::read(test_module("misbehave")).unwrap();
    let child = start_with_probe(&harness, &original).await;

    std::fs::remove_file(harness.path("modules/probe.wasm")).unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    events(&harness, 10, 10);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        captured(&harness),
        10,
        "nothing goes out while the module is gone"
    );

    harness.write("modules/probe.wasm", &original);
    until(|| captured(&harness) == 20).await;

    let stderr = stop(child).await;
    assert_eq!(captured(&harness), 20, "every event, once");
    assert!(
        stderr.contains("module gone: the destination is paused")
            && stderr.contains("module back: the destination takes batches again"),
        "{stderr}"
    );
    assert!(harness.dead_letters().is_empty(), "{stderr}");
}

/// Each event captured, by `n`, and whether the new version (`probe-v2`, which wraps
/// every event with `"v":2`) formatted it; sorted by `n`.
fn formatted_by(harness: &Harness) -> Vec<(u64, bool)> {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(harness.path("captured"))
        .into_iter()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").expect("a request with a body");
        let events: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
        for event in events {
            let v2 = event["v"] == 2;
            let n = if v2 {
                &event["event"]["n"]
            } else {
                &event["n"]
            };
            seen.push((n.as_u64().unwrap(), v2));
        }
    }
    seen.sort_unstable();
    seen
}

/// The whole story while events stream: a new version that adds a field is
/// swapped in, a broken one (it traps on the trial batch) is refused on one log line
/// (with the module's own panic message), the file is
/// removed (the destination waits) and the first version comes back. Every event is
/// delivered once, formatted by the version loaded when its batch started, and the log
/// says what happened.
#[tokio::test(flavor = "multi_thread")]
async fn replaced_refused_removed_and_back_while_events_stream() {
    let harness = Harness::new();
    let original = std::fs::read(test_module("misbehave")).unwrap();
    let child = start_with_probe(&harness, &original).await;

    harness.write(
        "modules/probe.wasm",
        std::fs::read(test_module("probe-v2")).unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    events(&harness, 10, 10);
    until(|| captured(&harness) == 20).await;

    harness.write(
        "modules/probe.wasm",
        std::fs::read(test_module("trapper")).unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    events(&harness, 20, 10);
    until(|| captured(&harness) == 30).await;

    std::fs::remove_file(harness.path("modules/probe.wasm")).unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    events(&harness, 30, 10);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        captured(&harness),
        30,
        "nothing goes out while the module is gone"
    );

    harness.write("modules/probe.wasm", &original);
    until(|| captured(&harness) == 40).await;

    let stderr = stop(child).await;
    let expected: Vec<(u64, bool)> = (0..40).map(|n| (n, (10..30).contains(&n))).collect();
    assert_eq!(formatted_by(&harness), expected, "{stderr}");
    let lines = |what: &str| stderr.lines().filter(|l| l.contains(what)).count();
    assert_eq!(
        lines("module reloaded; batches from now on use it"),
        2,
        "{stderr}"
    );
    assert!(
        stderr.lines().any(
            |l| l.contains("module reload refused; the running module goes on")
                && l.contains("wasm `unreachable` instruction executed")
        ),
        "{stderr}"
    );
    // Its panic, said by the module itself (the SDK's hook), where the backtrace was.
    assert!(
        stderr.contains(
            "module panicked: trapper: every batch traps at tests/modules/trapper/src/lib.rs:"
        ),
        "{stderr}"
    );
    assert_eq!(
        lines("module gone: the destination is paused"),
        1,
        "{stderr}"
    );
    assert_eq!(
        lines("module back: the destination takes batches again"),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("misbehave 2.0.0 from module"), "{stderr}");
    assert!(harness.dead_letters().is_empty(), "{stderr}");
}

/// A batch retrying on a module that traps is formatted by the fixed module once it is
/// swapped in: every attempt takes the newest. Its attempts used to run on the trapping
/// instance until a restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_module_rescues_a_batch_already_retrying() {
    let harness = Harness::new();
    harness.write(
        "modules/probe.wasm",
        std::fs::read(test_module("misbehave")).unwrap(),
    );
    events(&harness, 0, 10);
    harness.config(
        "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n[[destinations]]\nname = \"probe\"\nmodule = \"probe\"\nendpoint = \"capture:captured\"\nbatch = { max_wait = \"50ms\" }\nsettings = { mode = \"trap\" }\nretry = { max_attempts = 1000, initial_backoff = \"1s\", max_backoff = \"1s\" }\ncircuit_breaker = { failures = 0 }\n",
    );
    let child = harness.start_run();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(captured(&harness), 0, "the batch traps");
    harness.write(
        "modules/probe.wasm",
        std::fs::read(test_module("probe-v2")).unwrap(),
    );
    until(|| captured(&harness) == 10).await;
    let stderr = stop(child).await;
    assert_eq!(captured(&harness), 10, "{stderr}");
    assert!(formatted_by(&harness).iter().all(|&(_, v2)| v2), "{stderr}");
}

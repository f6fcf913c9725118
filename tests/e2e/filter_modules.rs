//! Filter modules (`filter_module`): the example one drops the events of listed e-mail
//! domains for its destination only; hostile ones (a loop, a memory bomb, a trap) fail
//! their own calls: their batches are tried again, then dead-lettered with why, and the
//! other destinations go on; `sluice check` refuses what cannot work.

use std::time::Duration;

use crate::support::{
    Harness, append_lines, captured_numbers, check_fails, rebuilt, stop, summary_figure,
    test_module, transcript,
};

/// Events `0..count`: `n`, and an address at a domain taken in turn from four.
fn events(harness: &Harness, count: u64) {
    let domains = [
        "example.com",
        "contractor.example",
        "Vendor.TEST",
        "example.org",
    ];
    let lines = (0..count).map(|n| {
        let domain = domains[n as usize % domains.len()];
        format!(r#"{{"n":{n},"actor_email":"user{n}@{domain}"}}"#)
    });
    append_lines(&harness.path("data/events.jsonl"), lines);
}

fn destination(name: &str, extra: &str) -> String {
    format!(
        "[[destinations]]\nname = \"{name}\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured-{name}\"\nbatch = {{ max_events = 10, max_wait = \"50ms\" }}\nretry = {{ max_attempts = 2, initial_backoff = \"10ms\", max_backoff = \"20ms\" }}\n{extra}\n"
    )
}

const SOURCE: &str =
    "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/events.jsonl\"]\n";

#[tokio::test(flavor = "multi_thread")]
async fn the_example_filter_module_drops_the_listed_domains_for_its_destination_only() {
    let harness = Harness::new();
    events(&harness, 40);
    harness.write(
        "modules/email-domain-filter.wasm",
        std::fs::read(test_module("email-domain-filter")).unwrap(),
    );
    harness.config(&format!(
        "{SOURCE}{}{}",
        destination(
            "filtered",
            "filter_module = \"email-domain-filter\"\nfilter_settings = { domains = \"contractor.example, vendor.test\" }"
        ),
        destination("all", ""),
    ));

    // `preview -c` asks the filter module too.
    let input = std::fs::read(harness.path("data/events.jsonl")).unwrap();
    let args = ["preview", "-c", "sluice.toml", "--destination", "filtered"];
    let preview = harness.sluice_with_input(&args, &[], &input).await;
    assert!(preview.status.success(), "{}", transcript(&preview));
    let shown = String::from_utf8_lossy(&preview.stdout);
    // In the destination's batches of 10, as `run` sends them.
    assert!(
        shown.contains("## batch 1 of 2: 10 events")
            && shown.contains("## batch 2 of 2: 10 events"),
        "{shown}"
    );
    assert!(!shown.contains("contractor.example"), "{shown}");

    let output = harness.run_ok(&[]).await;

    let kept: Vec<u64> = (0..40).filter(|n| n % 4 == 0 || n % 4 == 3).collect();
    assert_eq!(
        captured_numbers(&harness, "captured-filtered"),
        kept,
        "{}",
        transcript(&output)
    );
    assert_eq!(
        captured_numbers(&harness, "captured-all"),
        (0..40).collect::<Vec<_>>()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().any(|l| l.contains("destination summary")
            && l.contains("destination=filtered ")
            && l.contains("filtered=20 ")),
        "{stderr}"
    );
    assert!(
        harness.dead_letters().is_empty(),
        "dropped events are not dead letters"
    );

    let listed = harness.sluice(&["modules", "-c", "sluice.toml"], &[]).await;
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.lines().any(
            |l| l.starts_with("email-domain-filter 0.1.0  filter, contract 0.6.0")
                && l.ends_with("used by: filtered")
        ),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_filter_module_fails_its_own_calls_and_the_batch_is_kept() {
    let harness = Harness::new();
    events(&harness, 30);
    let misbehave = test_module("misbehave-filter").display().to_string();
    let modes = [
        ("loop", "ran past its time limit"),
        ("alloc", "trapped"),
        ("trap", "trapped"),
    ];
    let mut config = format!("{SOURCE}{}", destination("healthy", ""));
    for (mode, _) in modes {
        config.push_str(&destination(
            mode,
            &format!("filter_module = {misbehave:?}\nfilter_settings = {{ mode = \"{mode}\" }}\nconcurrency = 1"),
        ));
    }
    config.push_str(&destination(
        "odd",
        &format!("filter_module = {misbehave:?}\nfilter_settings = {{ mode = \"odd\" }}"),
    ));
    config.push_str("[limits]\nmodule_memory_bytes = 33554432\nmodule_call_timeout = \"1s\"\n");
    harness.config(&config);

    let output = harness.run_expecting(3, &[]).await;

    assert_eq!(
        captured_numbers(&harness, "captured-healthy"),
        (0..30).collect::<Vec<_>>(),
        "{}",
        transcript(&output)
    );
    let odd: Vec<u64> = (0..30).filter(|n| n % 2 == 1).collect();
    assert_eq!(captured_numbers(&harness, "captured-odd"), odd);
    let dead = harness.dead_letters();
    for (mode, expected) in modes {
        assert!(
            captured_numbers(&harness, &format!("captured-{mode}")).is_empty(),
            "{mode}: nothing sent unfiltered"
        );
        let reasons: Vec<&str> = dead
            .iter()
            .filter(|r| r["destination"] == mode)
            .map(|r| r["reason"].as_str().unwrap())
            .collect();
        assert_eq!(
            reasons.len(),
            30,
            "{mode}: every event kept once\n{}",
            transcript(&output)
        );
        assert!(
            reasons
                .iter()
                .all(|r| r.starts_with("gave up after 2 attempts")
                    && r.contains("filter module")
                    && r.contains(expected)),
            "{mode}: {}",
            reasons[0]
        );
    }
    assert_eq!(summary_figure(&output, "dead_lettered"), 90);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_a_formatter_as_filter_an_unknown_setting_settings_without_a_module_and_another_pin()
 {
    let harness = Harness::new();
    events(&harness, 1);
    let misbehave = test_module("misbehave-filter").display().to_string();
    let cases = [
        (
            "filter_module = \"splunk-hec\"",
            "this is a formatter module",
        ),
        (
            &*format!("filter_module = {misbehave:?}\nfilter_settings = {{ colour = \"red\" }}"),
            "filter_settings.colour: filter module `misbehave-filter` has no such setting (it accepts: mode)",
        ),
        (
            "filter_settings = { mode = \"odd\" }",
            "there is no filter_module to take them",
        ),
        (
            &*format!(
                "filter_module = {misbehave:?}\nfilter_module_sha256 = \"{}\"",
                "0".repeat(64)
            ),
            &*format!("but filter_module_sha256 pins {}", "0".repeat(64)),
        ),
    ];
    for (extra, expected) in cases {
        let stderr = check_fails(
            &harness,
            &format!("{SOURCE}{}", destination("d", extra)),
            &[],
        )
        .await;
        assert!(
            stderr.contains("destinations[0] (`d`)") && stderr.contains(expected),
            "{extra}: {stderr}"
        );
    }
}

/// A filter module file changed under a running host: one that takes the destination's
/// settings is swapped in; one that does not is refused, and the running one filters on.
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_filter_module_is_reloaded_and_a_refused_one_leaves_the_running_one() {
    let harness = Harness::new();
    let original = std::fs::read(test_module("misbehave-filter")).unwrap();
    harness.write("modules/picky.wasm", &original);
    events(&harness, 0);
    harness.config(&format!(
        "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/events.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n{}",
        destination("picky", "filter_module = \"picky\"\nfilter_settings = { mode = \"odd\" }")
    ));
    let child = harness.start_run();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Other bytes (a custom section appended), the same module: reloaded.
    harness.write("modules/picky.wasm", rebuilt(&original));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    // The example module does not take `mode`: refused.
    harness.write(
        "modules/picky.wasm",
        std::fs::read(test_module("email-domain-filter")).unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    events(&harness, 20);
    for _ in 0..100 {
        if captured_numbers(&harness, "captured-picky").len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = stop(child).await;

    let odd: Vec<u64> = (0..20).filter(|n| n % 2 == 1).collect();
    assert_eq!(
        captured_numbers(&harness, "captured-picky"),
        odd,
        "{stderr}"
    );
    assert!(
        stderr.lines().any(
            |l| l.contains("filter module reloaded; batches from now on use it")
                && l.contains("generation=2")
        ),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(
            |l| l.contains("filter module reload refused; the running one goes on")
                && l.contains("filter_settings.mode")
        ),
        "{stderr}"
    );
}

//! Modules in Python and JavaScript, built by the tests as their authors build them: the
//! Loki example in each passes its own tests, writes what the Rust one writes, and takes
//! over from it in a running host; `sluice module new --lang` writes projects that test,
//! build and preview as they are; and a module in either language that loops, hoards
//! memory or reaches for a file or a socket is held by the limits a Rust one is held by.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest;
use tokio::io::AsyncBufReadExt;

use crate::support::loki::LokiReceiver;
use crate::support::polyglot::{self, LANGS, Lang};
use crate::support::{
    FILE_SOURCE, Harness, SAMPLE_FILES, append_lines, data_file, exit_within, send_signal,
    test_module, transcript,
};

fn loki_example(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "examples/modules/loki-python",
        Lang::JavaScript => "examples/modules/loki-javascript",
    }
}

/// What `sluice preview` prints of `input` through a Loki destination whose module is the
/// file `module`, in batches of 100.
async fn preview_loki(harness: &Harness, module: &Path, input: &[u8]) -> Output {
    harness.config(&format!(
        "[[sources]]\ntype = \"stdin\"\n[[destinations]]\nname = \"loki\"\nmodule = {:?}\n\
         endpoint = \"http://127.0.0.1:9\"\nsettings = {{ job = \"audit\", tenant = \"secops\" }}\n\
         batch = {{ max_events = 100 }}\n",
        module.display().to_string()
    ));
    harness
        .sluice_with_input(&["preview", "-c", "sluice.toml"], &[], input)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_loki_example_in_python_and_javascript_passes_its_tests_and_writes_what_the_rust_one_writes()
 {
    let harness = Harness::new();
    let mut input = Vec::new();
    for name in SAMPLE_FILES.iter().chain(&["edge-cases.jsonl"]) {
        let bytes = std::fs::read(data_file(name)).unwrap();
        // The events without a time are timed as they are read: in each run otherwise.
        let timeless = |line: &[u8]| {
            [&b"\"no.timestamp\""[..], b"\"bad.timestamp\""]
                .iter()
                .any(|kind| line.windows(kind.len()).any(|w| w == *kind))
        };
        for line in bytes
            .split_inclusive(|byte| *byte == b'\n')
            .filter(|line| !timeless(line))
        {
            input.extend_from_slice(line);
        }
    }
    let rust = preview_loki(&harness, &test_module("loki"), &input).await;
    let rust_stdout = String::from_utf8_lossy(&rust.stdout).into_owned();
    assert!(
        rust_stdout.matches("### request ").count() > 3,
        "{}",
        transcript(&rust)
    );

    for lang in LANGS {
        let project = tempfile::tempdir().unwrap();
        polyglot::project_from(lang, loki_example(lang), project.path());
        let tests = polyglot::native_tests(lang, project.path());
        assert!(
            tests.contains("2 passed") || tests.contains("# pass 2"),
            "{lang:?}: {tests}"
        );

        let output =
            preview_loki(&harness, &polyglot::built(lang, loki_example(lang)), &input).await;
        assert_eq!(
            output.status.code(),
            rust.status.code(),
            "{}",
            transcript(&output)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        if let Some(at) = rust_stdout
            .bytes()
            .zip(stdout.bytes())
            .position(|(rust, other)| rust != other)
            .or((stdout.len() != rust_stdout.len()).then_some(stdout.len().min(rust_stdout.len())))
        {
            let around = |text: &str| {
                String::from_utf8_lossy(
                    &text.as_bytes()[at.saturating_sub(80)..(at + 80).min(text.len())],
                )
                .into_owned()
            };
            panic!(
                "{lang:?} writes otherwise than Rust from byte {at}:\n rust: {}\n {lang:?}: {}",
                around(&rust_stdout),
                around(&stdout)
            );
        }
    }
}

/// Each line the running host logs, as it logs it.
fn log_lines(child: &mut tokio::process::Child) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let kept = log.clone();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = kept.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    log
}

async fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_and_javascript_modules_take_over_from_a_rust_one_in_a_running_host() {
    let receiver = LokiReceiver::start("loki-token").await;
    let harness = Harness::new();
    harness.write(
        "modules/loki.wasm",
        std::fs::read(test_module("loki")).unwrap(),
    );
    let live = harness.path("data/live.jsonl");
    let events =
        |first: usize| append_lines(&live, (first..first + 10).map(|n| format!("{{\"n\":{n}}}")));
    events(0);
    harness.config(&format!(
        "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\n\
         follow = true\npoll_interval = \"50ms\"\n[[destinations]]\nname = \"loki\"\nmodule = \"loki\"\n\
         endpoint = {:?}\ntoken = {{ env = \"LOKI_TOKEN\" }}\nbatch = {{ max_wait = \"50ms\" }}\n",
        receiver.endpoint()
    ));
    let mut child = harness
        .command(&["run", "-c", "sluice.toml"])
        .env("LOKI_TOKEN", "loki-token")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = log_lines(&mut child);
    let delivered = || receiver.entries().len();
    wait_for("the Rust module's events", Duration::from_secs(30), || {
        delivered() == 10
    })
    .await;

    for (swap, lang) in LANGS.into_iter().enumerate() {
        // Swapped as a deployment would: written beside, then renamed over the running one.
        let module = std::fs::read(polyglot::built(lang, loki_example(lang))).unwrap();
        let sha256 = hex::encode(sha2::Sha256::digest(&module));
        harness.write("modules/loki.wasm.new", &module);
        std::fs::rename(
            harness.path("modules/loki.wasm.new"),
            harness.path("modules/loki.wasm"),
        )
        .unwrap();
        wait_for(
            &format!("the {lang:?} module to be swapped in"),
            Duration::from_secs(120),
            || {
                log.lock().unwrap().lines().any(|line| {
                    line.contains("module reloaded; batches from now on use it")
                        && line.contains(&sha256)
                })
            },
        )
        .await;
        events(10 * (swap + 1));
        let expected = 10 * (swap + 2);
        wait_for(
            &format!("the {lang:?} module's events"),
            Duration::from_secs(60),
            || delivered() == expected,
        )
        .await;
    }

    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    assert!(output.status.success(), "{}", log.lock().unwrap());
    let mut seen: Vec<u64> = receiver
        .entries()
        .iter()
        .map(|entry| {
            serde_json::from_str::<serde_json::Value>(&entry.line).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..30).collect::<Vec<u64>>(),
        "every event once, across both swaps"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sluice_module_new_writes_python_and_javascript_projects_that_test_build_and_preview() {
    for (lang, flag) in [(Lang::Python, "python"), (Lang::JavaScript, "javascript")] {
        let harness = Harness::new();
        let written = harness
            .sluice(&["module", "new", "audit-sink", "--lang", flag], &[])
            .await;
        assert!(written.status.success(), "{}", transcript(&written));
        let project = harness.path("audit-sink");
        let tests = polyglot::native_tests(lang, &project);
        assert!(
            tests.contains("2 passed") || tests.contains("# pass 2"),
            "{lang:?}: {tests}"
        );
        let module: PathBuf = polyglot::build(lang, &project, "audit-sink");

        let events = std::fs::read(project.join("events.jsonl")).unwrap();
        let module_arg = module.display().to_string();
        let preview = harness
            .sluice_with_input(&["preview", "--module", &module_arg], &[], &events)
            .await;
        assert!(preview.status.success(), "{}", transcript(&preview));
        let stdout = String::from_utf8_lossy(&preview.stdout);
        assert!(stdout.contains("POST /ingest HTTP/1.1"), "{stdout}");
        for event in String::from_utf8_lossy(&events).lines() {
            assert!(
                stdout.contains(event),
                "{lang:?}: every event, one per line: {stdout}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn modules_in_python_and_javascript_are_held_by_the_limits_of_a_rust_one() {
    // The destinations' endpoint, and the port the modules try to reach: nothing may
    // connect to it, since every module only misbehaves or fails to reach out.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    // (language, act, what the reason of each of its dead-lettered events says)
    let acts = [
        (Lang::Python, "loop", "ran past its time limit of 2s"),
        (Lang::Python, "memory", "MemoryError"),
        (Lang::Python, "file", "file blocked: FileNotFoundError"),
        (Lang::Python, "socket", "socket blocked: PermissionError"),
        (Lang::JavaScript, "loop", "ran past its time limit of 2s"),
        (Lang::JavaScript, "memory", "out of memory"),
        (Lang::JavaScript, "socket", "trapped"),
    ];
    let mut config = format!(
        "[limits]\nmodule_memory_bytes = 67108864\nmodule_call_timeout = \"2s\"\n{FILE_SOURCE}"
    );
    for (lang, act, _) in acts {
        let source = match lang {
            Lang::Python => "tests/modules/hostile-python",
            Lang::JavaScript => "tests/modules/hostile-javascript",
        };
        config.push_str(&format!(
            "[[destinations]]\nname = \"{lang:?}-{act}\"\nmodule = {:?}\nendpoint = \"http://127.0.0.1:{port}\"\n\
             settings = {{ act = \"{act}\", port = \"{port}\" }}\n\
             retry = {{ max_attempts = 2, initial_backoff = \"10ms\", max_backoff = \"20ms\" }}\n",
            polyglot::built(lang, source).display().to_string()
        ));
    }
    harness.config(&config);

    let output = harness.run_expecting(3, &[]).await;
    let dead = harness.dead_letters();
    for (lang, act, expected) in acts {
        let name = format!("{lang:?}-{act}");
        let reasons: Vec<&str> = dead
            .iter()
            .filter(|record| record["destination"] == name.as_str())
            .map(|record| record["reason"].as_str().unwrap())
            .collect();
        assert_eq!(
            reasons.len(),
            50,
            "{name}: every event dead-lettered once\n{}",
            transcript(&output)
        );
        assert!(
            reasons.iter().all(|reason| reason.contains(expected)),
            "{name}: {}",
            reasons[0]
        );
    }
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing reached the port the modules tried"
    );
}

/// componentize-py and componentize-js keep part of every answer in the module's memory
/// (`host/src/module/limiter.rs`): without the host renewing an instance whose memory grew
/// past half its limit, the Loki module in Python trapped after a few batches of 1,000 at
/// 32 MiB, and in JavaScript sooner; each failed call cost a retry.
#[tokio::test(flavor = "multi_thread")]
async fn python_and_javascript_modules_format_batch_after_batch_though_their_runtimes_leak() {
    let receiver = LokiReceiver::start("loki-token").await;
    let harness = Harness::new();
    let note = "x".repeat(400);
    append_lines(
        &harness.path("data/many.jsonl"),
        (0..50_000).map(|n| {
            format!("{{\"timestamp\":\"2026-11-20T08:00:00Z\",\"n\":{n},\"note\":\"{note}\"}}")
        }),
    );
    let mut config = format!("[limits]\nmodule_memory_bytes = 33554432\n{FILE_SOURCE}");
    for lang in LANGS {
        config.push_str(&format!(
            "[[destinations]]\nname = \"{lang:?}\"\nmodule = {:?}\nendpoint = {:?}\n\
             token = {{ env = \"LOKI_TOKEN\" }}\nsettings = {{ job = \"{lang:?}\" }}\nbatch = {{ max_events = 1000 }}\n",
            polyglot::built(lang, loki_example(lang)).display().to_string(),
            receiver.endpoint()
        ));
    }
    harness.config(&config);

    let output = harness.run_ok(&[("LOKI_TOKEN", "loki-token")]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("trapped"), "no call failed: {stderr}");
    let entries = receiver.entries();
    for lang in LANGS {
        let job = serde_json::json!({ "job": format!("{lang:?}") });
        let delivered = entries.iter().filter(|entry| entry.labels == job).count();
        assert_eq!(delivered, 50_000, "{lang:?}");
    }
}

//! The authoring guide of README ("Writing a module"), step by step, as a new user runs
//! it: `sluice module new`, the crate's own tests, one build command, `sluice preview`,
//! then the module in a modules directory of a running host, changed, rebuilt and
//! copied in again: the host swaps it without a restart and no event is lost.

use std::path::Path;
use std::time::Duration;

use crate::support::{Harness, append_lines, data_file, stop, transcript};

/// Runs cargo in the module's folder as a user would, with a target directory kept
/// between test runs (a first build takes a minute).
async fn cargo(crate_dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command =
        tokio::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    command.args(args).current_dir(crate_dir).env(
        "CARGO_TARGET_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-new"),
    );
    // What the outer `cargo test` set is for its own build, not a user's.
    for key in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(key);
    }
    let output = command.output().await.unwrap();
    assert!(
        output.status.success(),
        "cargo {args:?}: {}",
        transcript(&output)
    );
    output
}

/// The `.wasm` a release build of module `audit-sink` writes.
fn built() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-new/wasm32-wasip2/release/audit_sink.wasm")
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn captured_paths(harness: &Harness) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(harness.path("captured"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        // The request line; the body after it is gzip.
        .map(|file| std::fs::read(file).unwrap())
        .map(|bytes| {
            String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap())
                .trim_end()
                .to_owned()
        })
        .collect()
}

async fn until_captured(harness: &Harness, requests: usize) {
    for _ in 0..100 {
        if captured_paths(harness).len() >= requests {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events(harness: &Harness, first: usize, count: usize) {
    let lines = (first..first + count).map(|n| format!("{{\"n\":{n}}}"));
    append_lines(&harness.path("data/live.jsonl"), lines);
}

#[tokio::test(flavor = "multi_thread")]
async fn from_module_new_to_a_running_destination_with_hot_reload() {
    let harness = Harness::new();
    let new = harness
        .sluice(&["module", "new", "audit-sink", "--dir", "."], &[])
        .await;
    assert!(new.status.success(), "{}", transcript(&new));
    let crate_dir = harness.path("audit-sink");
    assert!(crate_dir.join("README.md").is_file());
    // The crate carries its SDK: nothing in it points into the checkout the binary was
    // built from, which a module author does not have.
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let checkout = checkout.canonicalize().unwrap().display().to_string();
    for file in files_under(&crate_dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains(&checkout),
            "{} names {checkout}",
            file.display()
        );
    }
    assert!(crate_dir.join("sluice-sdk/wit/sluice.wit").is_file());
    assert!(crate_dir.join("Cargo.lock").is_file());

    cargo(&crate_dir, &["test"]).await;
    cargo(
        &crate_dir,
        &["build", "--release", "--target", "wasm32-wasip2"],
    )
    .await;
    // README's step 4: the scaffold's own sample events.
    let input = std::fs::read(crate_dir.join("events.jsonl")).unwrap();
    let module = built().display().to_string();
    let preview = harness
        .sluice_with_input(&["preview", "--module", &module], &[], &input)
        .await;
    assert!(preview.status.success(), "{}", transcript(&preview));
    // Cargo's `audit_sink.wasm` is module `audit-sink`'s own file name: no warning.
    assert!(
        !String::from_utf8_lossy(&preview.stderr).contains("calls itself"),
        "{}",
        transcript(&preview)
    );
    let shown = String::from_utf8_lossy(&preview.stdout);
    assert!(
        shown.contains("POST /ingest")
            && shown.contains("Content-Type: application/x-ndjson")
            && shown.contains("### request 1 of 1: 5 events"),
        "{shown}"
    );

    // README's configuration of the module it builds.
    let readme = crate::readme::Readme::read();
    let authored = format!("module = \"{}\"", crate::readme::AUTHORED_MODULE);
    let (line, block) = readme
        .configurations
        .iter()
        .find(|(_, block)| block.contains(&authored))
        .expect("README configures the module it builds");
    let bytes = std::fs::read(built()).unwrap();
    readme
        .check(*line, block, &[(crate::readme::AUTHORED_MODULE, &bytes)])
        .await;

    // Into a modules directory, and a destination that names it.
    harness.write("modules/audit-sink.wasm", std::fs::read(built()).unwrap());
    events(&harness, 0, 5);
    harness.config(
        "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         [[destinations]]\nname = \"audit\"\nmodule = \"audit-sink\"\nendpoint = \"capture:captured\"\nbatch = { max_wait = \"50ms\" }\n",
    );
    let child = harness.start_run();
    until_captured(&harness, 1).await;

    // Changed, rebuilt with the same one command, copied in: swapped while running.
    let lib = crate_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    assert!(source.contains("Some(\"/ingest\")"));
    std::fs::write(
        &lib,
        source.replace("Some(\"/ingest\")", "Some(\"/v2/ingest\")"),
    )
    .unwrap();
    cargo(
        &crate_dir,
        &["build", "--release", "--target", "wasm32-wasip2"],
    )
    .await;
    harness.write("modules/audit-sink.wasm", std::fs::read(built()).unwrap());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    events(&harness, 5, 5);
    until_captured(&harness, 2).await;

    let stderr = stop(child).await;
    let paths = captured_paths(&harness);
    assert_eq!(
        paths,
        ["POST /ingest HTTP/1.1", "POST /v2/ingest HTTP/1.1"],
        "{stderr}"
    );
    assert!(
        stderr.contains("module reloaded; batches from now on use it"),
        "{stderr}"
    );
}

/// README's "The common tasks, in one module" is a whole `src/lib.rs`: it builds, its
/// tests pass, and it sends what it says (a custom auth header, the path from a
/// required setting, who did what from any known shape).
#[tokio::test(flavor = "multi_thread")]
async fn the_guides_module_builds_passes_its_tests_and_previews() {
    let blocks = crate::readme::fenced_blocks(&crate::readme::readme(), "rust");
    let [(_, guide)] = blocks.as_slice() else {
        panic!(
            "README has one Rust block, the guide's module: {}",
            blocks.len()
        )
    };
    let harness = Harness::new();
    let new = harness
        .sluice(&["module", "new", "acme", "--dir", "."], &[])
        .await;
    assert!(new.status.success(), "{}", transcript(&new));
    let crate_dir = harness.path("acme");
    std::fs::write(crate_dir.join("src/lib.rs"), guide).unwrap();
    // The scaffold's own test is of the scaffold's module.
    std::fs::remove_file(crate_dir.join("tests/format.rs")).unwrap();

    let tested = cargo(&crate_dir, &["test"]).await;
    let said = String::from_utf8_lossy(&tested.stdout);
    assert!(said.contains("test result: ok. 2 passed"), "{said}");
    cargo(
        &crate_dir,
        &["build", "--release", "--target", "wasm32-wasip2"],
    )
    .await;
    let module = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("module-new/wasm32-wasip2/release/acme.wasm")
        .display()
        .to_string();
    let input = std::fs::read(data_file("idp-audit.jsonl")).unwrap();
    let args = ["preview", "--module", &module, "--set", "workspace=secops"];
    let preview = harness.sluice_with_input(&args, &[], &input).await;
    assert!(preview.status.success(), "{}", transcript(&preview));
    let shown = String::from_utf8_lossy(&preview.stdout);
    assert!(
        shown.contains("POST /v1/workspaces/secops/events HTTP/1.1")
            && shown.contains("X-Acme-Key: ****")
            && shown.contains(r#"{"source":"sluice","who":"zo"#),
        "{shown}"
    );
    let unset = harness
        .sluice_with_input(&["preview", "--module", &module], &[], &input)
        .await;
    assert!(
        String::from_utf8_lossy(&unset.stderr).contains("--set workspace: required"),
        "{}",
        transcript(&unset)
    );
}

//! Hot reload latency: the time from writing a new module file into a watched modules
//! directory to the first batch formatted by it, while events stream in, with the
//! compile cache cold (a fresh `cache_dir`). `cargo bench --bench reload`
//!
//! The run starts with the `misbehave` test module (posting to `/ingest`) as `probe`,
//! then the largest HTTP reference module without a credential (`http`, the webhook,
//! posting to `/`) is written over it, then the first module again: each swap is timed
//! from the write to the first captured request of the new module. The time includes
//! the watcher's settling delay (0.2 s: a copy in progress is not loaded half-written).
//!
//! `SLUICE_BENCH_WEBHOOK=FILE` times another build of the webhook module instead, such
//! as an unoptimized one (`cargo build -p sluice-http --target wasm32-wasip2`: about
//! 1.4 MB of code, where the release build has 0.55 MB).

use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let modules = Path::new(env!("SLUICE_TEST_MODULES"));
    let first = std::fs::read(modules.join("misbehave.wasm")).expect("the misbehave test module");
    let webhook = match std::env::var_os("SLUICE_BENCH_WEBHOOK") {
        Some(file) => std::fs::read(&file).expect("SLUICE_BENCH_WEBHOOK names a module file"),
        None => std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/guest/wasm32-wasip2/guest/sluice_http.wasm"),
        )
        .expect("the http reference module, built with the host"),
    };
    std::fs::create_dir_all(root.join("modules")).unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("modules/probe.wasm"), &first).unwrap();
    std::fs::write(root.join("data/live.jsonl"), "").unwrap();
    std::fs::write(
        root.join("sluice.toml"),
        "modules_dirs = [\"modules\"]\ncache_dir = \"cache\"\n\
         [[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"10ms\"\n\
         [[destinations]]\nname = \"probe\"\nmodule = \"probe\"\nendpoint = \"capture:captured\"\nbatch = { max_wait = \"10ms\" }\n",
    )
    .unwrap();
    let mut sluice = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-c"])
        .arg(root.join("sluice.toml"))
        .env("SLUICE_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("sluice runs");

    let mut feeder = Feeder::new(root);
    feeder.until(root, "POST /ingest ", Instant::now()).await;
    for (name, bytes, path) in [
        ("http (webhook)", &webhook, "POST / "),
        ("misbehave", &first, "POST /ingest "),
    ] {
        let written = Instant::now();
        std::fs::write(root.join("modules/probe.wasm"), bytes).unwrap();
        let elapsed = feeder.until(root, path, written).await;
        println!(
            "{name:<16} {:>5} KiB  first batch formatted by it {:>6.0} ms after the file was written",
            bytes.len() / 1024,
            elapsed.as_secs_f64() * 1000.0
        );
    }
    sluice.kill().await.ok();
}

/// Appends an event every few milliseconds, and finds captured requests.
struct Feeder {
    file: std::fs::File,
    next: usize,
    /// Captured files already looked at.
    seen: std::collections::HashSet<std::path::PathBuf>,
}

impl Feeder {
    fn new(root: &Path) -> Self {
        Feeder {
            file: std::fs::OpenOptions::new()
                .append(true)
                .open(root.join("data/live.jsonl"))
                .unwrap(),
            next: 0,
            seen: Default::default(),
        }
    }

    /// Feeds events until a request starting with `request_line` is captured, written
    /// after `since`; returns how long after `since` it was written.
    async fn until(&mut self, root: &Path, request_line: &str, since: Instant) -> Duration {
        use std::io::Write;
        let deadline = since + Duration::from_secs(60);
        loop {
            writeln!(self.file, "{{\"action\":\"tick\",\"n\":{}}}", self.next).unwrap();
            self.next += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
            let captured = std::fs::read_dir(root.join("captured"))
                .into_iter()
                .flatten()
                .flatten();
            for entry in captured {
                let path = entry.path();
                if self.seen.contains(&path) {
                    continue;
                }
                let text = std::fs::read(&path).unwrap_or_default();
                // Still being written: looked at again next time.
                if text.is_empty() {
                    continue;
                }
                self.seen.insert(path);
                if text.starts_with(request_line.as_bytes()) {
                    let modified = entry.metadata().and_then(|m| m.modified()).unwrap();
                    let age = std::time::SystemTime::now()
                        .duration_since(modified)
                        .unwrap_or_default();
                    return since.elapsed().saturating_sub(age);
                }
            }
            assert!(
                Instant::now() < deadline,
                "no request `{request_line}` within a minute"
            );
        }
    }
}

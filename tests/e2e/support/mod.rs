//! The harness: a temporary directory per test, the real `sluice` binary, and the
//! receivers that stand in for SIEMs.

pub mod azure;
pub mod datadog;
pub mod es;
pub mod hec;
pub mod loki;
pub mod moto;
pub mod nats;
pub mod polyglot;
pub mod sumo;
pub mod syslog_daemon;
pub mod tls;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

/// Every sluice run of a test gives up after this long, so a hang fails instead of blocking CI.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The sample data copied from `shared/data` into the repository.
pub fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

/// A module built from `tests/modules/` by the host's build script.
pub fn test_module(name: &str) -> PathBuf {
    Path::new(env!("SLUICE_TEST_MODULES")).join(format!("{name}.wasm"))
}

/// The sample files with real-shaped events, all valid.
pub const SAMPLE_FILES: [&str; 5] = [
    "proxy-audit.jsonl",
    "devops-agent-audit.jsonl",
    "assistant-security-audit.jsonl",
    "idp-audit.jsonl",
    "secrets-audit.jsonl",
];

/// A file source over the test's `data/*.jsonl`.
pub const FILE_SOURCE: &str = "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n";

/// A destination named `c` that writes each request under `captured/`.
pub const CAPTURE_DESTINATION: &str =
    "[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n";

/// A Splunk HEC destination named `splunk` at `endpoint`, its token from `HEC_TOKEN`,
/// with `extra` lines (settings, batch, retry...) of the same table.
pub fn splunk_destination(endpoint: &str, extra: &str) -> String {
    format!(
        "[[destinations]]\nname = \"splunk\"\nmodule = \"splunk-hec\"\nendpoint = {endpoint:?}\ntoken = {{ env = \"HEC_TOKEN\" }}\n{extra}\n"
    )
}

pub struct Harness {
    dir: tempfile::TempDir,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Copies sample files into `data/`.
    pub fn copy_data(&self, names: &[&str]) {
        for name in names {
            self.write(
                &format!("data/{name}"),
                std::fs::read(data_file(name)).unwrap(),
            );
        }
    }

    /// Writes `sluice.toml`: the test's TOML after the settings every test shares
    /// (dead letters in the test's directory, the compiled-module cache shared by tests).
    pub fn config(&self, toml: &str) -> PathBuf {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
        let text = format!(
            "dead_letter_dir = \"dead-letter\"\ncache_dir = {:?}\n{toml}",
            cache.display().to_string()
        );
        self.write("sluice.toml", text)
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("SLUICE_LOG", "info")
            .kill_on_drop(true);
        command
    }

    /// Runs `sluice` with `args` and `env` to completion.
    pub async fn sluice(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args);
        command
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null());
        tokio::time::timeout(RUN_LIMIT, command.output())
            .await
            .expect("sluice finished in time")
            .unwrap()
    }

    /// `sluice run -c sluice.toml` to its end; fails the test unless it succeeds.
    pub async fn run_ok(&self, env: &[(&str, &str)]) -> Output {
        let output = self.sluice(&["run", "-c", "sluice.toml"], env).await;
        assert!(output.status.success(), "{}", transcript(&output));
        output
    }

    /// `sluice run -c sluice.toml` to its end; fails the test unless it exits with
    /// `code` (3: finished, with lines rejected or events dead-lettered).
    pub async fn run_expecting(&self, code: i32, env: &[(&str, &str)]) -> Output {
        let output = self.sluice(&["run", "-c", "sluice.toml"], env).await;
        assert_eq!(output.status.code(), Some(code), "{}", transcript(&output));
        output
    }

    /// Starts `sluice run -c sluice.toml` with `HEC_TOKEN` set to `token`, its output
    /// captured, for a test that signals it.
    pub fn spawn_run(&self, token: &str, stdin: std::process::Stdio) -> tokio::process::Child {
        let mut command = self.command(&["run", "-c", "sluice.toml"]);
        command
            .env("HEC_TOKEN", token)
            .stdin(stdin)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command.spawn().unwrap()
    }

    /// Starts `sluice run -c sluice.toml`, its output captured, for a test that changes
    /// files under it or signals it (then [`stop`]).
    pub fn start_run(&self) -> tokio::process::Child {
        let mut command = self.command(&["run", "-c", "sluice.toml"]);
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command.spawn().unwrap()
    }

    /// Runs `sluice` with `args`, writing `input` to its standard input.
    pub async fn sluice_with_input(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        input: &[u8],
    ) -> Output {
        let mut command = self.command(args);
        command
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, input)
            .await
            .unwrap();
        drop(stdin);
        tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
            .await
            .expect("sluice finished in time")
            .unwrap()
    }

    /// The dead-letter records written so far.
    pub fn dead_letters(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.path("dead-letter/dead-letter.jsonl")) {
            Ok(text) => text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Runs `check` on `config` and returns stderr, asserting it failed with exit code 2.
pub async fn check_fails(harness: &Harness, config: &str, env: &[(&str, &str)]) -> String {
    harness.config(config);
    let output = harness.sluice(&["check", "-c", "sluice.toml"], env).await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains("sluice.toml"),
        "the message names the file: {stderr}"
    );
    stderr
}

/// A loopback port free when asked, for a listener a test starts (`udp`: a UDP one).
pub fn free_port(udp: bool) -> u16 {
    match udp {
        true => std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        false => std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    }
}

/// Starts `sluice run -c sluice.toml` with `env`, its output captured, and waits until
/// it takes connections on `port` (a listening source's).
pub async fn start_listening(
    harness: &Harness,
    env: &[(&str, &str)],
    port: u16,
) -> tokio::process::Child {
    let mut command = harness.command(&["run", "-c", "sluice.toml"]);
    command
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = exit_within(child, Duration::from_secs(10)).await;
    panic!("nothing listened on port {port}: {}", transcript(&output));
}

/// Sends `signal` to a running `sluice`.
pub fn send_signal(child: &tokio::process::Child, signal: i32) {
    let pid = child.id().expect("still running") as i32;
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    #[allow(unsafe_code)]
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "signal {signal} sent");
}

/// Waits for a signalled `sluice` to exit, failing the test if it does not within
/// `limit` (a hang is the defect these tests look for, not a slow machine: the limit
/// is generous).
pub async fn exit_within(child: tokio::process::Child, limit: Duration) -> Output {
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("sluice exited after the signal")
        .unwrap()
}

/// A TCP server on loopback that accepts connections and reads them but never answers:
/// a hung SIEM. It lives as long as the test's runtime.
pub async fn silent_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut sink = vec![0u8; 64 * 1024];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut socket, &mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Appends `lines` to the file at `path` (made, with its folder, if missing), for a
/// test that feeds a followed file.
pub fn append_lines(path: &Path, lines: impl IntoIterator<Item = String>) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

/// The `n` of every event captured under `dir` (requests the built-in modules format,
/// each event with its `"n":N`), sorted.
pub fn captured_numbers(harness: &Harness, dir: &str) -> Vec<u64> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(harness.path(dir)).into_iter().flatten() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for after in text.split("\"n\":").skip(1) {
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            numbers.push(digits.parse().unwrap());
        }
    }
    numbers.sort_unstable();
    numbers
}

/// The `destination summary` log line of destination `name` in `stderr`.
pub fn destination_summary(stderr: &str, name: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("destination summary") && l.contains(&format!("destination={name} ")))
        .unwrap_or_else(|| panic!("no summary of {name}: {stderr}"))
        .to_owned()
}

/// `module` with a custom section appended: other bytes (another SHA-256), the same
/// module.
pub fn rebuilt(module: &[u8]) -> Vec<u8> {
    let mut bytes = module.to_vec();
    // Section id 0 (custom), 3 bytes: a name of 1 byte, `x`, then the payload `y`.
    bytes.extend_from_slice(&[0x00, 0x03, 0x01, b'x', b'y']);
    bytes
}

/// Stops a run with SIGTERM; returns its log once it exited cleanly.
pub async fn stop(child: tokio::process::Child) -> String {
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `count` small valid events, one per line, to `relative`.
pub fn write_events(harness: &Harness, relative: &str, count: usize) -> PathBuf {
    let mut text = String::with_capacity(count * 80);
    for n in 0..count {
        text.push_str(&format!(
            "{{\"timestamp\":\"2026-11-20T08:00:00Z\",\"action\":\"login\",\"n\":{n}}}\n"
        ));
    }
    harness.write(relative, text)
}

/// Both streams of a finished run, for assertion messages.
pub fn transcript(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A figure of the closing `sluice stopped` log line (`delivered=290`).
pub fn summary_figure(output: &Output, name: &str) -> u64 {
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The last such line: the summary is what sluice writes last.
    let line = stderr
        .lines()
        .rfind(|line| line.contains("sluice stopped"))
        .expect("a closing summary");
    let value = line
        .split_once(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name} in: {line}"))
        .1;
    value
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The events of a JSON Lines file that are JSON objects, as parsed values.
pub fn objects_in(path: &Path) -> Vec<Value> {
    std::fs::read(path)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            serde_json::from_slice::<Value>(line)
                .ok()
                .filter(Value::is_object)
        })
        .collect()
}

/// Sorts values by their JSON text, to compare multisets.
pub fn sorted(mut values: Vec<Value>) -> Vec<Value> {
    values.sort_by_cached_key(|v| v.to_string());
    values
}

/// An HTTP server on loopback that answers every request with `307` to `location`, as
/// a misconfigured proxy or a moved service would.
pub async fn redirecting_endpoint(location: String) -> String {
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, location)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// An HTTP server on loopback that answers every request with 200 and a body of
/// `bytes` bytes, as a bulk API reporting on every item would.
pub async fn long_answer_endpoint(bytes: usize) -> String {
    let app = axum::Router::new().fallback(move || async move { "x".repeat(bytes) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The built-in modules: the folders of `sinks/`.
pub fn builtins() -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../sinks"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    names.sort();
    names
}

/// An event as a module delivered it, without the host's enrichment: the `sluice`
/// member it must carry (README, "Enrichment").
pub fn unstamped(mut event: Value) -> Value {
    let stamp = event
        .as_object_mut()
        .and_then(|object| object.remove("sluice"));
    assert!(
        stamp.is_some_and(|stamp| stamp["event_id"].is_string()),
        "no sluice member in {event}"
    );
    event
}

//! The admin listener of a running host (`[admin]`): scraped while it streams, ready
//! until a destination fails longer than `failure_alert_after` and again once it
//! recovers, its status as JSON, and its token.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, append_lines, check_fails, exit_within, send_signal, splunk_destination, transcript,
    write_events,
};

/// A port free on loopback now (another process could take it before the host does;
/// on a test machine none does).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `GET` of `path` on the listener at `port`: the status and the body, or none while
/// the listener is not up yet.
pub(crate) async fn get(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String, String)> {
    let mut request = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Some((status, content_type, response.text().await.ok()?))
}

/// The value of the series `series` (name and labels, as exposed) in `exposition`.
pub(crate) fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `path` until `holds` says yes of its answer, for at most 20 s; the last answer.
pub(crate) async fn until(
    port: u16,
    path: &str,
    holds: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let mut last = (0, String::new());
    for _ in 0..200 {
        if let Some((status, _, body)) = get(port, path, &[]).await {
            if holds(status, &body) {
                return (status, body);
            }
            last = (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never held; last answer: {} {}", last.0, last.1)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streaming_host_is_scraped_and_says_when_a_destination_is_not_ready() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let events = write_events(&harness, "data/live.jsonl", 100);
    let port = free_port();
    harness.config(&format!(
        "failure_alert_after = \"1s\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n{}",
        splunk_destination(
            &receiver.endpoint(),
            "batch = { max_wait = \"50ms\" }\nretry = { max_attempts = 1000, initial_backoff = \"50ms\", max_backoff = \"100ms\" }\ncircuit_breaker = { failures = 0 }"
        )
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    let delivered = "sluice_destination_events_total{destination=\"splunk\",outcome=\"delivered\"}";

    let (_, metrics) = until(port, "/metrics", |_, body| {
        sample(body, delivered) == Some(100.0)
    })
    .await;
    assert_eq!(
        sample(&metrics, "sluice_events_read_total"),
        Some(100.0),
        "{metrics}"
    );
    let events_in = sample(
        &metrics,
        "sluice_destination_events_in_total{destination=\"splunk\"}",
    );
    assert_eq!(events_in, Some(100.0), "{metrics}");
    let backlog = sample(
        &metrics,
        "sluice_destination_backlog_events{destination=\"splunk\"}",
    );
    assert_eq!(backlog, Some(0.0), "{metrics}");
    let (status, body) = until(port, "/ready", |_, _| true).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"not_ready":[],"ready":true}"#)
    );
    let (_, status) = until(port, "/status", |_, _| true).await;
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["events_read"], 100, "{status}");
    assert_eq!(status["destinations"][0]["name"], "splunk", "{status}");
    assert_eq!(status["destinations"][0]["delivered"], 100, "{status}");
    assert_eq!(status["destinations"][0]["circuit"], "closed", "{status}");
    // OpenMetrics, when the scraper asks for it.
    let (_, content_type, open) = get(
        port,
        "/metrics",
        &[("accept", "application/openmetrics-text; version=1.0.0")],
    )
    .await
    .unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");

    // `sluice status` reads the same, as a table.
    let table = harness.sluice(&["status", "-c", "sluice.toml"], &[]).await;
    assert!(table.status.success(), "{}", transcript(&table));
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let row: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with("splunk "))
        .unwrap_or_else(|| panic!("{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[..5], ["splunk", "ok", "closed", "0", "-"], "{table}");
    assert_eq!(row[7], "100", "delivered: {table}");

    // HEC busy: the ten new events wait in retries, counted as backlog, and once the
    // destination has failed for longer than failure_alert_after, it is not ready.
    receiver.make_busy(usize::MAX);
    append_lines(&events, (100..110).map(|n| format!("{{\"n\":{n}}}")));
    let (_, body) = until(port, "/ready", |status, _| status == 503).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["not_ready"][0]["destination"], "splunk", "{body}");
    let why = body["not_ready"][0]["why"].as_str().unwrap();
    assert!(
        why.starts_with("failing for ") && why.contains("503"),
        "{why}"
    );
    let (_, metrics) = until(port, "/metrics", |_, _| true).await;
    assert_eq!(
        sample(
            &metrics,
            "sluice_destination_backlog_events{destination=\"splunk\"}"
        ),
        Some(10.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "sluice_destination_failing_seconds{destination=\"splunk\"}"
        )
        .unwrap()
            >= 1.0
    );
    let table = harness.sluice(&["status", "-c", "sluice.toml"], &[]).await;
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.lines().any(|line| line.starts_with("splunk")
            && line.contains(" failing ")
            && line.contains("HTTP 503")),
        "{table}"
    );

    // Back: ready again, and everything delivered.
    receiver.make_busy(0);
    until(port, "/ready", |status, _| status == 200).await;
    until(port, "/metrics", |_, body| {
        sample(body, delivered) == Some(110.0)
    })
    .await;

    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    assert!(output.status.success(), "{}", transcript(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_listener_takes_only_its_token_and_never_unguarded_off_loopback() {
    let harness = Harness::new();
    write_events(&harness, "data/live.jsonl", 5);
    let source = "[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\n";
    let destination =
        "[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:out\"\n";
    let stderr = check_fails(
        &harness,
        &format!("[admin]\nlisten = \"0.0.0.0:9464\"\n{source}{destination}"),
        &[],
    )
    .await;
    assert!(
        stderr.contains(
            "admin.listen: 0.0.0.0:9464 can be reached from other machines; set admin.token"
        ),
        "{stderr}"
    );

    let port = free_port();
    let with_token = format!(
        "[admin]\nlisten = \"127.0.0.1:{port}\"\ntoken = {{ env = \"ADMIN_TOKEN\" }}\n{source}{destination}"
    );
    // A token no bearer header could carry would shut the listener for good.
    let stderr = check_fails(&harness, &with_token, &[("ADMIN_TOKEN", "two words")]).await;
    assert!(stderr.contains("admin.token: "), "{stderr}");
    assert!(!stderr.contains("two words"), "{stderr}");
    harness.config(&with_token);
    let mut command = harness.command(&["run", "-c", "sluice.toml"]);
    command
        .env("ADMIN_TOKEN", "admin-secret")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let (status, _) = until(port, "/health", |_, _| true).await;
    assert_eq!(status, 401);
    let (status, _, _) = get(port, "/health", &[("authorization", "bearer admin-secret")])
        .await
        .unwrap();
    assert_eq!(status, 200, "the scheme's name is case-insensitive");
    for wrong in ["Bearer admin-secreT", "Bearer ", "admin-secret"] {
        let (status, _, _) = get(port, "/metrics", &[("authorization", wrong)])
            .await
            .unwrap();
        assert_eq!(status, 401, "{wrong}");
    }
    let (status, _, body) = get(port, "/health", &[("authorization", "Bearer admin-secret")])
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // The page holds no figure: it loads without the token, then asks for it.
    let (status, _, page) = get(port, "/", &[]).await.unwrap();
    assert_eq!(status, 200);
    assert!(!page.contains("admin-secret"));
    if let Some(dom) = rendered(&format!("http://127.0.0.1:{port}/")).await {
        assert!(
            dom.contains("<form id=\"token\" style=\"display: block;\">"),
            "{dom}"
        );
        assert!(dom.contains("the admin listener wants its token"), "{dom}");
    }
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert!(
        !transcript(&output).contains("admin-secret"),
        "the token is never logged"
    );
}

/// A client that never ends its request (or keeps its connection open) does not keep
/// the host from exiting: it held the exit for as long as it held the connection.
#[tokio::test(flavor = "multi_thread")]
async fn an_unfinished_admin_request_does_not_hold_the_exit() {
    use tokio::io::AsyncWriteExt;
    let harness = Harness::new();
    write_events(&harness, "data/live.jsonl", 5);
    let port = free_port();
    harness.config(&format!(
        "[admin]\nlisten = \"127.0.0.1:{port}\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\n\
         [[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:out\"\n"
    ));
    let child = harness.spawn_run("unused", Stdio::null());
    until(port, "/health", |status, _| status == 200).await;
    let mut held = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    held.write_all(b"GET /metrics HTTP/1.1\r\nHost: sluice\r\n")
        .await
        .unwrap();
    send_signal(&child, libc::SIGTERM);
    // The connection stays open for the whole wait.
    let output = exit_within(child, Duration::from_secs(20)).await;
    assert!(output.status.success(), "{}", transcript(&output));
    drop(held);
}

/// The DOM of `url` once its scripts ran for a few seconds, from headless Chromium; none
/// where the machine has no Chromium.
async fn rendered(url: &str) -> Option<String> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())?;
    let profile = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        // Virtual time: the page's timers run 3 s ahead, so it samples /status thrice.
        .args(["--virtual-time-budget=3000", "--dump-dom", url])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("chromium finished in time")
        .unwrap();
    assert!(output.status.success(), "{}", transcript(&output));
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The cells of the table row whose `data-name` is `name`, as text.
fn row(dom: &str, name: &str) -> Vec<String> {
    let start = dom
        .find(&format!("<tr data-name=\"{name}\">"))
        .unwrap_or_else(|| panic!("no row {name}: {dom}"));
    let row = &dom[start..start + dom[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let inner = &cell[cell.find('>').unwrap() + 1..];
            let inner = inner.split("</td>").next().unwrap();
            // Only the text: a chart cell holds an SVG.
            if inner.starts_with("<svg") {
                "chart".into()
            } else {
                inner.to_owned()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_every_destination_and_source_in_a_browser() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    write_events(&harness, "data/live.jsonl", 40);
    let port = free_port();
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [[sources]]\nname = \"app\"\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n{}\
         [[destinations]]\nname = \"down\"\nmodule = \"http\"\nendpoint = \"http://127.0.0.1:9\"\n\
         retry = {{ max_attempts = 1000, initial_backoff = \"50ms\", max_backoff = \"100ms\" }}\n",
        splunk_destination(&receiver.endpoint(), "batch = { max_wait = \"50ms\" }")
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());
    until(port, "/metrics", |_, body| {
        sample(
            body,
            "sluice_destination_events_total{destination=\"splunk\",outcome=\"delivered\"}",
        ) == Some(40.0)
            && sample(
                body,
                "sluice_destination_failed_attempts_total{destination=\"down\"}",
            ) >= Some(1.0)
    })
    .await;
    let Some(dom) = rendered(&format!("http://127.0.0.1:{port}/")).await else {
        eprintln!(
            "chromium is not installed: the page is not tested here (.ci/test-deps installs it)"
        );
        send_signal(&child, libc::SIGTERM);
        return;
    };
    // destination, state, circuit, backlog, oldest, in/s, out/s, chart, delivered,
    // dead-lettered, dropped, last error
    let splunk = row(&dom, "splunk");
    assert_eq!(splunk[0], "splunk");
    assert_eq!(splunk[1], "ok", "{splunk:?}");
    assert_eq!(splunk[2], "closed");
    assert_eq!(splunk[3], "0", "backlog {splunk:?}");
    assert_eq!(splunk[7], "chart");
    assert_eq!(splunk[8], "40", "delivered {splunk:?}");
    let down = row(&dom, "down");
    assert!(down[1].starts_with("failing"), "{down:?}");
    assert_eq!(down[3], "40", "backlog {down:?}");
    assert!(down[4].ends_with(" s"), "oldest unsettled {down:?}");
    assert!(down[11].contains("127.0.0.1:9"), "last error {down:?}");
    // source, state, events, events/s, lines rejected, files open, unread bytes
    let app = row(&dom, "app");
    assert_eq!(app[..3], ["app", "reading", "40"], "{app:?}");
    assert_eq!(app[5], "1", "files open {app:?}");
    assert!(dom.contains("40 events read"), "{dom}");
    send_signal(&child, libc::SIGTERM);
    let _ = exit_within(child, Duration::from_secs(30)).await;
}

/// Clients that open connections and never finish a request cannot hold them, nor take
/// more than the listener's share of the process's file descriptors (they took all
/// 20,000, and the sources and destinations could open nothing).
#[tokio::test(flavor = "multi_thread")]
async fn held_connections_are_bounded_and_timed_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let harness = Harness::new();
    let events = write_events(&harness, "data/live.jsonl", 5);
    let port = free_port();
    harness.config(&format!(
        "[admin]\nlisten = \"127.0.0.1:{port}\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         [[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:out\"\nbatch = {{ max_wait = \"50ms\" }}\n"
    ));
    let child = harness.spawn_run("unused", Stdio::null());
    let pid = child.id().unwrap();
    until(port, "/health", |status, _| status == 200).await;
    let fds = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    let before = fds();
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ").await;
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = fds();
    assert!(
        during <= before + 64 + 8,
        "{during} descriptors open with 300 held connections, {before} before"
    );
    // The pipeline goes on meanwhile.
    append_lines(&events, (5..10).map(|n| format!("{{\"n\":{n}}}")));
    // Past the header deadline, the listener has closed them.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut closed = 0;
    for stream in &mut held {
        let mut buffer = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await;
        // An end of stream, a reset, or the 408 hyper answers at the deadline.
        if read.is_ok() {
            closed += 1;
        }
    }
    assert_eq!(closed, held.len(), "connections still held open");
    until(port, "/metrics", |_, body| {
        sample(
            body,
            "sluice_destination_events_total{destination=\"c\",outcome=\"delivered\"}",
        ) == Some(10.0)
    })
    .await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    assert!(output.status.success(), "{}", transcript(&output));
}

/// A source held back by a destination that does not keep up shows how far behind its
/// file it is, as it reads (the figure stayed at the file's size from its first look).
#[tokio::test(flavor = "multi_thread")]
async fn a_held_back_source_shows_its_lag_as_it_reads() {
    let harness = Harness::new();
    let events = write_events(&harness, "data/big.jsonl", 40_000);
    let size = std::fs::metadata(&events).unwrap().len() as f64;
    let silent = crate::support::silent_endpoint().await;
    let port = free_port();
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [[sources]]\nname = \"big\"\ntype = \"file\"\npaths = [\"data/big.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         [[destinations]]\nname = \"stuck\"\nmodule = \"http\"\nendpoint = \"{silent}\"\nrequest_timeout = \"60s\"\n\
         buffer = {{ max_events = 10, max_bytes = 1024 }}\n"
    ));
    let child = harness.spawn_run("unused", Stdio::null());
    let read = "sluice_source_bytes_total{source=\"big\"}";
    let unread = "sluice_source_unread_bytes{source=\"big\"}";
    // Held back: reading has stopped short of the end.
    until(port, "/metrics", |_, body| {
        sample(body, read).is_some_and(|read| read > 0.0 && read < size)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, metrics) = until(port, "/metrics", |_, _| true).await;
    let (read, unread) = (
        sample(&metrics, read).unwrap(),
        sample(&metrics, unread).unwrap(),
    );
    assert!(read < size, "{metrics}");
    assert_eq!(read + unread, size, "{metrics}");
    send_signal(&child, libc::SIGTERM);
    let _ = exit_within(child, Duration::from_secs(30)).await;
}

/// A directory the source's patterns search but cannot read (files may hide there) is
/// said once, makes the source not ready, and `check` names it (it was a warning at
/// every poll, naming no source, and the source stayed ready). Run as `nobody`: root
/// reads every directory.
#[tokio::test(flavor = "multi_thread")]
async fn a_directory_the_patterns_cannot_search_makes_the_source_not_ready() {
    use std::os::unix::fs::PermissionsExt;
    let runuser = std::path::Path::new("/usr/sbin/runuser");
    // Only root can become `nobody`.
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"));
    if !root || !runuser.exists() {
        eprintln!("not root, or no runuser: the unreadable directory is not tested here");
        return;
    }
    let harness = Harness::new();
    std::fs::set_permissions(harness.path(""), std::fs::Permissions::from_mode(0o777)).unwrap();
    write_events(&harness, "logs/hidden/a.jsonl", 3);
    std::fs::set_permissions(
        harness.path("logs/hidden"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let binary = harness.path("sluice");
    std::fs::copy(env!("CARGO_BIN_EXE_sluice"), &binary).unwrap();
    let port = free_port();
    let config = harness.write(
        "nobody.toml",
        format!(
            "dead_letter_dir = \"dead-letter\"\ncache_dir = \"cache\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\
             [[sources]]\nname = \"g\"\ntype = \"file\"\npaths = [\"logs/*/*.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
             [[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:out\"\n"
        ),
    );
    let as_nobody = |args: &[&str]| {
        let mut command = tokio::process::Command::new(runuser);
        command
            .args(["-u", "nobody", "--"])
            .arg(&binary)
            .args(args)
            .arg(&config)
            .current_dir(harness.path(""))
            .kill_on_drop(true);
        command
    };
    let checked = as_nobody(&["check", "-c"]).output().await.unwrap();
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        said.contains("which cannot be read"),
        "{}",
        transcript(&checked)
    );
    let mut run = as_nobody(&["run", "-c"]);
    let child = run
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, body) = until(port, "/ready", |status, _| status == 503).await;
    assert_eq!(status, 503);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["not_ready"][0]["source"], "g", "{body}");
    assert!(
        body["not_ready"][0]["why"]
            .as_str()
            .unwrap()
            .contains("hidden"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("cannot read a directory").count(),
        1,
        "said once: {stderr}"
    );
    std::fs::set_permissions(
        harness.path("logs/hidden"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

/// While the dead-letter store cannot be written (a full disk), whoever has something for
/// it waits: the host is not ready, and says why, until a write works again.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_dead_letter_store_is_not_ready_until_it_takes_writes_again() {
    let harness = Harness::new();
    let events = write_events(&harness, "data/live.jsonl", 2);
    std::fs::create_dir_all(harness.path("dead-letter")).unwrap();
    let store = harness.path("dead-letter/dead-letter.jsonl");
    std::os::unix::fs::symlink("/dev/full", &store).unwrap();
    let port = free_port();
    harness.config(&format!(
        "[admin]\nlisten = \"127.0.0.1:{port}\"\n[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         [[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:out\"\n"
    ));
    let child = harness.spawn_run("unused", Stdio::null());
    until(port, "/ready", |status, _| status == 200).await;
    append_lines(&events, ["not json".to_owned()]);
    let (_, body) = until(port, "/ready", |status, _| status == 503).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    let why = body["not_ready"][0]["why"].as_str().unwrap();
    assert!(
        body["not_ready"][0]["dead_letter_store"].is_string(),
        "{body}"
    );
    assert!(why.contains("No space left on device"), "{body}");
    // Room again: the next try writes, and the host is ready.
    std::fs::remove_file(&store).unwrap();
    until(port, "/ready", |status, _| status == 200).await;
    let (_, metrics) = until(port, "/metrics", |_, _| true).await;
    assert_eq!(sample(&metrics, "sluice_lines_rejected_total"), Some(1.0));
    send_signal(&child, libc::SIGTERM);
    let _ = exit_within(child, Duration::from_secs(30)).await;
}

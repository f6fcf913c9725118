//! Scaling out through NATS JetStream, measured: one `sluice` publishes a file into a
//! stream (the `nats` module), then 1, 2 and 3 `sluice` hosts share a durable consumer of
//! that stream and deliver every event to a loopback receiver (the `http` module, NDJSON).
//!
//! `cargo bench --bench jetstream` (the nats-server of `.ci/test-deps`, or the one
//! `SLUICE_BENCH_NATS_SERVER` names). `SLUICE_BENCH_EVENTS` changes the count (300,000);
//! `SLUICE_BENCH_MAX_ACK_PENDING` sets the consumer's `max_ack_pending` (its default
//! otherwise).
//! Each row: events/s (wall time from start to the last event received), the sluice
//! processes' CPU per event (all of them together), the largest peak RSS among them, and
//! the nats-server's CPU per event meanwhile.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod support;

const HOSTS: [usize; 3] = [1, 2, 3];

fn nats_server_binary() -> PathBuf {
    std::env::var_os("SLUICE_BENCH_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/nats-venv/bin/nats-server")
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The CPU the process `pid` used so far (user + system), from `/proc`.
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no memory effects.
    #[allow(unsafe_code, reason = "libc call")]
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

/// A loopback HTTP receiver that counts the NDJSON lines of every body.
async fn counting_receiver() -> (String, Arc<AtomicU64>) {
    let received = Arc::new(AtomicU64::new(0));
    let counted = received.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let counted = counted.clone();
        async move {
            let lines = body.iter().filter(|&&b| b == b'\n').count();
            counted.fetch_add(lines as u64, Ordering::Relaxed);
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, received)
}

fn sluice(config: &Path, dir: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-c"])
        .arg(config)
        .current_dir(dir)
        .env("SLUICE_LOG", "warn")
        .spawn()
        .expect("sluice runs")
}

fn print_row(
    name: &str,
    events: usize,
    seconds: f64,
    cpu: Duration,
    rss_kib: i64,
    server: Duration,
) {
    println!(
        "{name:<12} {:>9.0} events/s  CPU {:>6.2} s ({:.2} µs/event)  peak RSS {:>6.1} MiB  wall {:.2} s  nats-server {:.2} µs/event",
        events as f64 / seconds,
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / events as f64,
        rss_kib as f64 / 1024.0,
        seconds,
        server.as_secs_f64() * 1e6 / events as f64,
    );
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let max_ack_pending = std::env::var("SLUICE_BENCH_MAX_ACK_PENDING")
        .map(|pending| format!("max_ack_pending = {pending}\n"))
        .unwrap_or_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut server = std::process::Command::new(nats_server_binary())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir.path().join("store"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server runs (bash .ci/test-deps, or SLUICE_BENCH_NATS_SERVER)");
    let url = format!("nats://127.0.0.1:{port}");
    let client = loop {
        match async_nats::connect(&url).await {
            Ok(client) => break client,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "AUDIT".into(),
            subjects: vec!["audit.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();

    let input = dir.path().join("events.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for n in 0..events {
        writeln!(file, "{}", support::event(n)).unwrap();
    }
    file.flush().unwrap();
    println!(
        "events       {events}, nats-server with JetStream (file storage) on loopback; consumer {}",
        if max_ack_pending.is_empty() {
            "max_ack_pending default".to_owned()
        } else {
            max_ack_pending.trim().to_owned()
        }
    );

    // The edge: the file into the stream.
    let edge = dir.path().join("edge");
    std::fs::create_dir_all(&edge).unwrap();
    std::fs::write(
        edge.join("sluice.toml"),
        format!(
            "dead_letter_dir = \"dead-letter\"\n[[sources]]\ntype = \"file\"\npaths = [{:?}]\n[[destinations]]\nname = \"stream\"\nmodule = \"nats\"\nendpoint = \"{url}\"\n",
            input.display().to_string()
        ),
    )
    .unwrap();
    let server_before = process_cpu(server.id());
    let start = Instant::now();
    let (status, usage) = support::wait_measured(sluice(&edge.join("sluice.toml"), &edge));
    let seconds = start.elapsed().as_secs_f64();
    assert!(status.success(), "the edge failed: {status}");
    let kept = stream.clone().info().await.unwrap().state.messages;
    assert_eq!(kept, events as u64, "every event in the stream");
    print_row(
        "publish",
        events,
        seconds,
        usage.cpu,
        usage.peak_rss_kib,
        process_cpu(server.id()) - server_before,
    );

    // The core tier: each row a fresh consumer of the whole stream.
    for hosts in HOSTS {
        let (endpoint, received) = counting_receiver().await;
        let server_before = process_cpu(server.id());
        let start = Instant::now();
        let children: Vec<_> = (0..hosts)
            .map(|host| {
                let core = dir.path().join(format!("core-{hosts}-{host}"));
                std::fs::create_dir_all(&core).unwrap();
                std::fs::write(
                    core.join("sluice.toml"),
                    format!(
                        "dead_letter_dir = \"dead-letter\"\n[[sources]]\ntype = \"jetstream\"\nurl = \"{url}\"\nstream = \"AUDIT\"\nconsumer = \"core-{hosts}\"\n{max_ack_pending}[[destinations]]\nname = \"receiver\"\nmodule = \"http\"\nendpoint = \"{endpoint}\"\nsettings = {{ format = \"ndjson\" }}\n"
                    ),
                )
                .unwrap();
                sluice(&core.join("sluice.toml"), &core)
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(600);
        while received.load(Ordering::Relaxed) < events as u64 {
            assert!(
                Instant::now() < deadline,
                "the core tier did not deliver in time"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let seconds = start.elapsed().as_secs_f64();
        let server_cpu = process_cpu(server.id()) - server_before;
        let mut cpu = Duration::ZERO;
        let mut rss_kib = 0;
        for child in children {
            // SAFETY: a signal to a child we started and have not waited for.
            #[allow(unsafe_code, reason = "libc call")]
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let (status, usage) = support::wait_measured(child);
            assert!(status.success(), "a core host failed: {status}");
            cpu += usage.cpu;
            rss_kib = rss_kib.max(usage.peak_rss_kib);
        }
        print_row(
            &format!("consume {hosts}x"),
            events,
            seconds,
            cpu,
            rss_kib,
            server_cpu,
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

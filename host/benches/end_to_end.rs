//! End to end: the `sluice` binary reads a JSON Lines file of 1,000,000 events of about
//! 400 bytes and delivers it through the Splunk HEC module to a loopback receiver that
//! only counts envelopes (so it is not the bottleneck). `cargo bench --bench end_to_end`
//!
//! Prints events/s, MiB/s, the CPU seconds and peak RSS of the sluice process.
//! `SLUICE_BENCH_EVENTS` changes the count; `SLUICE_BENCH_GZIP=1` has the module
//! compress its requests (the receiver then decompresses them, on its own thread);
//! `SLUICE_BENCH_FILES=2` splits the events over two files, read by two sources;
//! `SLUICE_BENCH_SPOOL=1` gives the run a `data_dir`, so every event goes through the
//! spool (`fsync` every 1 s, the default, or `SLUICE_BENCH_FSYNC`) and the files are
//! checkpointed;
//! `SLUICE_BENCH_OUTAGE_SECS=N` has the receiver answer 503 (HEC's "server busy") for
//! the first N seconds, so the events arrive during an outage (the peak RSS then says
//! whether memory is bounded by the configuration or grows with the events);
//! `SLUICE_BENCH_FILTER=1` applies a filter policy with the proxy users' rules (which
//! every bench event passes, so the same events arrive), to measure what a policy costs;
//! `SLUICE_BENCH_MODULE=elasticsearch` delivers through the Elasticsearch module to a
//! loopback `_bulk` endpoint instead; `SLUICE_BENCH_MODULE=syslog`, through the syslog
//! module over TCP (octet counting) to a loopback listener that counts frames.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let gzip = std::env::var("SLUICE_BENCH_GZIP").is_ok_and(|v| v == "1");
    let spool = std::env::var("SLUICE_BENCH_SPOOL").is_ok_and(|v| v == "1");
    // `SLUICE_BENCH_FSYNC` sets the spool's `fsync` policy (1s by default).
    let fsync = std::env::var("SLUICE_BENCH_FSYNC").unwrap_or_else(|_| "1s".into());
    let data_dir = if spool {
        format!("data_dir = \"state\"\n[spool]\nfsync = \"{fsync}\"\n")
    } else {
        String::new()
    };
    let outage: u64 = std::env::var("SLUICE_BENCH_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let files: usize = std::env::var("SLUICE_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let filter = std::env::var("SLUICE_BENCH_FILTER").is_ok_and(|v| v == "1");
    let filters = if filter {
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, BENCH_POLICY).unwrap();
        format!(
            "[[filters]]\nname = \"seed\"\npolicy = {:?}\n",
            policy.display().to_string()
        )
    } else {
        String::new()
    };
    let inputs: Vec<_> = (0..files)
        .map(|i| dir.path().join(format!("events-{i}.jsonl")))
        .collect();
    let mut bytes = 0usize;
    for (i, input) in inputs.iter().enumerate() {
        let mut file = std::io::BufWriter::new(std::fs::File::create(input).unwrap());
        for n in (i..events).step_by(files) {
            let line = support::event(n);
            bytes += line.len() + 1;
            writeln!(file, "{line}").unwrap();
        }
        file.flush().unwrap();
    }
    let sources: String = inputs
        .iter()
        .map(|input| {
            format!(
                "[[sources]]\ntype = \"file\"\npaths = [{:?}]\n",
                input.display().to_string()
            )
        })
        .collect();

    let module = std::env::var("SLUICE_BENCH_MODULE").unwrap_or_else(|_| "splunk-hec".into());
    let (endpoint, received, destination) = match module.as_str() {
        "syslog" => {
            let (endpoint, received) = syslog_receiver().await;
            (endpoint, received, "settings = {}".to_owned())
        }
        "elasticsearch" => http_receiver(&ELASTICSEARCH, outage, gzip).await,
        "splunk-hec" => http_receiver(&SPLUNK_HEC, outage, gzip).await,
        other => panic!("SLUICE_BENCH_MODULE: no bench receiver for `{other}`"),
    };
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"
dead_letter_dir = "dead-letter"
{data_dir}
{sources}
{filters}
[[destinations]]
name = "bench"
module = "{module}"
endpoint = "{endpoint}"
{destination}
retry = {{ initial_backoff = "100ms", max_backoff = "500ms", max_attempts = 1000 }}
circuit_breaker = {{ failures = 3, open_for = "200ms" }}
"#
        ),
    )
    .unwrap();

    let start = Instant::now();
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "-c"])
        .arg(&config)
        .env("HEC_TOKEN", "bench")
        .env("SLUICE_LOG", "warn")
        .status()
        .await
        .expect("sluice runs");
    let elapsed = start.elapsed();
    assert!(status.success(), "sluice failed: {status}");
    let child = support::usage(libc::RUSAGE_CHILDREN);
    let delivered = received.load(Ordering::Relaxed);
    assert_eq!(delivered, events as u64, "every event delivered");

    let seconds = elapsed.as_secs_f64();
    println!(
        "events          {events} in {files} file(s), {module}{}{}{}{}",
        if gzip { ", gzip" } else { "" },
        if spool { ", spooled" } else { "" },
        if filter { ", a filter policy" } else { "" },
        if outage > 0 {
            format!(", the receiver down for the first {outage} s")
        } else {
            String::new()
        }
    );
    println!("input           {:.1} MiB", support::mib(bytes as f64));
    println!("wall            {seconds:.2} s");
    println!("events/s        {:.0}", events as f64 / seconds);
    println!(
        "MiB/s           {:.1}",
        support::mib(bytes as f64) / seconds
    );
    println!(
        "CPU (sluice)    {:.2} s ({:.2} µs/event)",
        child.cpu.as_secs_f64(),
        child.cpu.as_secs_f64() * 1e6 / events as f64
    );
    println!(
        "peak RSS        {:.1} MiB",
        child.peak_rss_kib as f64 / 1024.0
    );
}

/// An HTTP receiver standing in for `vendor` on a loopback port: its endpoint, its
/// count of events, and the destination's lines for it (token, settings).
async fn http_receiver(
    vendor: &'static Vendor,
    outage: u64,
    gzip: bool,
) -> (String, Arc<AtomicU64>, String) {
    let receiver = Receiver {
        received: Arc::new(AtomicU64::new(0)),
        down_until: Instant::now() + std::time::Duration::from_secs(outage),
        vendor,
    };
    let received = receiver.received.clone();
    let app = axum::Router::new()
        .route(vendor.path, axum::routing::post(count_envelopes))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let destination = format!(
        "token = {{ env = \"HEC_TOKEN\" }}\nsettings = {{ index = \"audit\", gzip = {gzip} }}"
    );
    (endpoint, received, destination)
}

/// A TCP listener on a loopback port that reads octet-counted syslog frames and counts
/// them (each connection on its own task, as a collector's).
async fn syslog_receiver() -> (String, Arc<AtomicU64>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
    let received = Arc::new(AtomicU64::new(0));
    let counted = received.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = vec![0u8; 1 << 16];
                loop {
                    let read = stream.read(&mut chunk).await.unwrap_or(0);
                    if read == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    let mut start = 0;
                    // `LEN SP MESSAGE`, as many whole frames as the buffer holds.
                    while let Some(space) = buffer[start..].iter().position(|&b| b == b' ') {
                        let len: usize = std::str::from_utf8(&buffer[start..start + space])
                            .ok()
                            .and_then(|text| text.parse().ok())
                            .expect("an octet count");
                        let end = start + space + 1 + len;
                        if end > buffer.len() {
                            break;
                        }
                        counted.fetch_add(1, Ordering::Relaxed);
                        start = end;
                    }
                    buffer.drain(..start);
                }
            });
        }
    });
    (endpoint, received)
}

/// The proxy users' rules (`shared/seeds`), which every bench event passes: sanitized,
/// to a listed domain, not a health check, and a nested field read.
const BENCH_POLICY: &str = r#"
[keep]
all = [
  { field = "sanitized_count", gte = 1 },
  { field = "host", in = ["api.openai.com", "api.anthropic.com"] },
  { field = "actor.email", glob = "*@example.com" },
]
[drop]
any = [{ field = "path", in = ["/health", "/metrics"] }]
"#;

#[derive(Clone)]
struct Receiver {
    received: Arc<AtomicU64>,
    /// Until then it answers that it is busy.
    down_until: Instant,
    vendor: &'static Vendor,
}

/// How a bench receiver stands in for one vendor: where it listens, how it counts
/// events (by a marker each one's framing starts with), and what it answers.
struct Vendor {
    path: &'static str,
    marker: &'static [u8],
    delivered: (u16, &'static str),
    busy: (u16, &'static str),
}

const SPLUNK_HEC: Vendor = Vendor {
    path: "/services/collector/event",
    marker: b"{\"time\":",
    delivered: (200, r#"{"text":"Success","code":0}"#),
    busy: (503, r#"{"text":"Server is busy","code":9}"#),
};

const ELASTICSEARCH: Vendor = Vendor {
    path: "/_bulk",
    marker: b"{\"create\":",
    delivered: (200, r#"{"took":1,"errors":false,"items":[]}"#),
    busy: (
        429,
        r#"{"error":{"type":"es_rejected_execution_exception","reason":"busy"},"status":429}"#,
    ),
};

/// Counts events by their vendor's marker, in bodies compressed or not; answers like
/// the vendor.
async fn count_envelopes(
    State(receiver): State<Receiver>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, &'static str) {
    let vendor = receiver.vendor;
    let answer = |(status, body): (u16, &'static str)| {
        (
            axum::http::StatusCode::from_u16(status).expect("a status"),
            body,
        )
    };
    if Instant::now() < receiver.down_until {
        return answer(vendor.busy);
    }
    let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
            .expect("a gzip body");
        Bytes::from(plain)
    } else {
        body
    };
    let events = body
        .windows(vendor.marker.len())
        .filter(|w| *w == vendor.marker)
        .count();
    receiver
        .received
        .fetch_add(events as u64, Ordering::Relaxed);
    answer(vendor.delivered)
}

//! End to end: the `sluice` binary reads a JSON Lines file of 1,000,000 events of about
//! 400 bytes and delivers it through the Splunk HEC module to a loopback receiver that
//! only counts envelopes (so it is not the bottleneck); then syslog-ng (Debian's 3.38,
//! unpacked under the target directory the first time) does the same work with the same
//! events to the same kind of receiver, and both rows are printed with their ratio.
//! `cargo bench --bench end_to_end`
//!
//! Each row: events/s, MiB/s, the CPU seconds and peak RSS of that process (the
//! receiver, in the bench's own process, is not counted). A row whose receiver did not
//! count every event is void. `FLUENT_BIT=PATH` runs Fluent Bit (a `fluent-bit` binary)
//! as a second peer, after syslog-ng, on the same work. `SLUICE_BENCH_PEER=0` skips the
//! peers; `SLUICE_BENCH_ROUNDS=N` runs them N times, alternating;
//! `SLUICE_BENCH_PEER_PARSE=0` has the peers forward the lines unread (no JSON
//! validation, no event time).
//! `SLUICE_BENCH_BUFFER=BYTES` sets the destination's `buffer.max_bytes` (16 MiB by default).
//! `SLUICE_BENCH_WRAP="perf record -o FILE --"` runs sluice under a profiler (its row
//! then measures the profiler too).
//! `SLUICE_BENCH_SETTINGS` adds settings of an HTTP module (`enrichment = "none"`).
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
//! `SLUICE_BENCH_FILTER=time`, one with the export rules instead (a window of the events'
//! time, words searched in every string value, a required field), which every event
//! passes too;
//! `SLUICE_BENCH_MODULE=elasticsearch` delivers through the Elasticsearch module to a
//! loopback `_bulk` endpoint instead; `SLUICE_BENCH_MODULE=syslog`, through the syslog
//! module over TCP (octet counting) to a loopback listener that counts frames;
//! `SLUICE_BENCH_MODULE=archive`, through the archive module to a `file://` directory
//! (gzipped JSON Lines objects of the module's 10 MB batches; the bench counts their
//! lines once the run is over, outside the row's time). `SLUICE_BENCH_DESTINATIONS=3`
//! delivers every event to three destinations of that module, each with a receiver of
//! its own (the run ends when each has every event), against the row of one. The peer
//! runs only for the plain HEC row (gzip, the spool, filters, outages and the other
//! modules have no like-for-like syslog-ng configuration here). `SLUICE_BENCH_ADMIN=1`
//! opens the admin listener and scrapes `/metrics` ten times a second while the run
//! lasts (150 times as often as Prometheus's usual 15 s, so that a run of a second sees
//! scrapes at all): metrics on, against the row without it. `SLUICE_BENCH_SOURCE=http`
//! has the events POSTed to an HTTP source (`/v1/events`, 1,000 a request, by
//! `SLUICE_BENCH_PRODUCERS` concurrent producers in the bench's process, 16 by default)
//! instead of read from files: the row's time runs from the first request to the last
//! answer (each answered once its events are delivered, or in the spool), and the
//! producers' CPU is in the bench process's. `SLUICE_BENCH_SOURCE=syslog` has them sent
//! to a syslog source instead, over 4 TCP connections, octet-counted RFC 5424 messages
//! whose MSG is the event: the row's time runs from the first message to the receiver
//! counting the last event.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;

use support::fluent_bit::FluentBit;
use support::syslog_ng::{self, SyslogNg};

/// What one run is asked to do, from the `SLUICE_BENCH_*` variables.
struct Bench {
    events: usize,
    files: usize,
    gzip: bool,
    spool: bool,
    fsync: String,
    outage: u64,
    /// The filter policy applied, if any.
    filter: Option<&'static str>,
    module: String,
    rounds: usize,
    peer: bool,
    peer_parses: bool,
    /// The destination's `buffer.max_bytes`, when not the default.
    buffer_bytes: Option<usize>,
    /// The admin listener on, scraped ten times a second.
    admin: bool,
    /// How the events reach sluice.
    arrival: Arrival,
    /// Destinations that each take every event, each with its own receiver.
    destinations: usize,
}

/// How the events reach sluice.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// Read from the files.
    Files,
    /// POSTed to an HTTP source by this many producers at once.
    Http(usize),
    /// Sent to a syslog source over this many TCP connections.
    Syslog(usize),
}

impl Bench {
    fn from_env() -> Bench {
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let flag = |name: &str| std::env::var(name).is_ok_and(|v| v == "1");
        Bench {
            events: number("SLUICE_BENCH_EVENTS", 1_000_000),
            files: number("SLUICE_BENCH_FILES", 1).max(1),
            gzip: flag("SLUICE_BENCH_GZIP"),
            spool: flag("SLUICE_BENCH_SPOOL"),
            fsync: std::env::var("SLUICE_BENCH_FSYNC").unwrap_or_else(|_| "1s".into()),
            outage: number("SLUICE_BENCH_OUTAGE_SECS", 0) as u64,
            filter: match std::env::var("SLUICE_BENCH_FILTER").as_deref() {
                Ok("1") => Some(BENCH_POLICY),
                Ok("time") => Some(BENCH_TIME_POLICY),
                _ => None,
            },
            module: std::env::var("SLUICE_BENCH_MODULE").unwrap_or_else(|_| "splunk-hec".into()),
            rounds: number("SLUICE_BENCH_ROUNDS", 1).max(1),
            peer: std::env::var("SLUICE_BENCH_PEER").map_or(true, |v| v != "0"),
            peer_parses: std::env::var("SLUICE_BENCH_PEER_PARSE").map_or(true, |v| v != "0"),
            admin: flag("SLUICE_BENCH_ADMIN"),
            arrival: match std::env::var("SLUICE_BENCH_SOURCE").as_deref() {
                Ok("http") => Arrival::Http(number("SLUICE_BENCH_PRODUCERS", 16)),
                Ok("syslog") => Arrival::Syslog(SYSLOG_CONNECTIONS),
                _ => Arrival::Files,
            },
            destinations: number("SLUICE_BENCH_DESTINATIONS", 1).max(1),
            buffer_bytes: std::env::var("SLUICE_BENCH_BUFFER")
                .ok()
                .and_then(|v| v.parse().ok()),
        }
    }

    /// Why syslog-ng has no row for this run, if it has none.
    fn no_peer(&self) -> Option<&'static str> {
        if !self.peer {
            Some("SLUICE_BENCH_PEER=0")
        } else if self.module != "splunk-hec" {
            Some("only the HEC row has a peer configuration")
        } else if self.gzip {
            Some("syslog-ng 3.38's http() does not compress: the peers' rows are uncompressed")
        } else if self.admin {
            Some("the admin listener is Sluice's own: the row compares with the one without it")
        } else if self.destinations > 1 {
            Some("the peers' configurations have one destination")
        } else if self.arrival != Arrival::Files {
            Some("the peers read the files; here the events arrive over the network")
        } else if self.spool || self.filter.is_some() || self.outage > 0 {
            Some("the spool, filters and outages have no like-for-like peer configuration here")
        } else {
            None
        }
    }

    fn describe(&self) -> String {
        let from = match self.arrival {
            Arrival::Http(producers) => format!(
                "POSTed to an http source in requests of {EVENTS_PER_REQUEST} by {producers} producers"
            ),
            Arrival::Syslog(connections) => {
                format!("sent to a syslog source over {connections} TCP connections")
            }
            Arrival::Files => format!("in {} file(s)", self.files),
        };
        format!(
            "{} events {from}, {}{}{}{}{}{}{}{}",
            self.events,
            self.module,
            match self.destinations {
                1 => String::new(),
                n => format!(" x {n} destinations, each taking every event"),
            },
            if self.admin {
                ", /metrics scraped ten times a second"
            } else {
                ""
            },
            if self.gzip { ", gzip" } else { "" },
            if self.spool { ", spooled" } else { "" },
            match self.filter {
                Some(BENCH_TIME_POLICY) => ", a policy of time, text and a required field",
                Some(_) => ", a filter policy",
                None => "",
            },
            self.buffer_bytes
                .map(|bytes| format!(", buffer.max_bytes = {bytes}"))
                .unwrap_or_default(),
            if self.outage > 0 {
                format!(", the receiver down for the first {} s", self.outage)
            } else {
                String::new()
            }
        )
    }
}

/// What one process did with the events.
struct Row {
    seconds: f64,
    cpu: Duration,
    peak_rss_kib: i64,
    /// The bench process's CPU meanwhile: the receiver's (and the runtime's).
    receiver_cpu: Duration,
}

impl Row {
    fn events_per_second(&self, events: usize) -> f64 {
        events as f64 / self.seconds
    }

    fn print(&self, name: &str, events: usize, bytes: usize) {
        println!(
            "{name:<10} {:>9.0} events/s  {:>6.1} MiB/s  CPU {:>6.2} s ({:.2} µs/event)  peak RSS {:>6.1} MiB  wall {:.2} s  receiver CPU {:.2} µs/event",
            self.events_per_second(events),
            support::mib(bytes as f64) / self.seconds,
            self.cpu.as_secs_f64(),
            self.cpu.as_secs_f64() * 1e6 / events as f64,
            self.peak_rss_kib as f64 / 1024.0,
            self.seconds,
            self.receiver_cpu.as_secs_f64() * 1e6 / events as f64,
        );
    }
}

#[tokio::main]
async fn main() {
    let bench = Bench::from_env();
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs: Vec<_> = (0..bench.files)
        .map(|i| dir.path().join(format!("events-{i}.jsonl")))
        .collect();
    let mut bytes = 0usize;
    for (i, input) in inputs.iter().enumerate() {
        let mut file = std::io::BufWriter::new(std::fs::File::create(input).unwrap());
        for n in (i..bench.events).step_by(bench.files) {
            let line = support::event(n);
            bytes += line.len() + 1;
            writeln!(file, "{line}").unwrap();
        }
        file.flush().unwrap();
    }
    let mut peers = vec![("syslog-ng", SyslogNg::unpacked().map(Peer::SyslogNg))];
    if let Some(fluent_bit) = FluentBit::named() {
        peers.push(("fluent-bit", fluent_bit.map(Peer::FluentBit)));
    }
    if let Some(reason) = bench.no_peer() {
        peers.truncate(1);
        peers[0] = ("peers", Err(reason.to_owned()));
    }

    println!("events     {}", bench.describe());
    println!("input      {:.1} MiB", support::mib(bytes as f64));
    for (name, peer) in &peers {
        match peer {
            Err(reason) => println!("{name:<10} not run: {reason}"),
            Ok(peer) => println!("{name:<10} {}", peer.describe(bench.peer_parses)),
        }
    }
    for round in 0..bench.rounds {
        let sluice = run_sluice(&bench, &inputs, &dir.path().join(format!("sluice-{round}"))).await;
        sluice.print("sluice", bench.events, bytes);
        for (name, peer) in &peers {
            let Ok(peer) = peer else { continue };
            let work = dir.path().join(format!("{name}-{round}"));
            match run_peer(peer, &bench, &inputs, &work).await {
                Ok(row) => {
                    row.print(name, bench.events, bytes);
                    println!(
                        "ratio      sluice {:.2}x {name}'s events/s, {:.2}x its CPU per event",
                        sluice.events_per_second(bench.events)
                            / row.events_per_second(bench.events),
                        sluice.cpu.as_secs_f64() / row.cpu.as_secs_f64()
                    );
                }
                Err(void) => println!("{name:<10} void: {void}"),
            }
        }
    }
}

/// A log shipper measured beside sluice, on the same events, doing the same work.
enum Peer {
    SyslogNg(SyslogNg),
    FluentBit(FluentBit),
}

impl Peer {
    /// What it does with each event.
    fn describe(&self, parses: bool) -> &'static str {
        match (self, parses) {
            (Peer::SyslogNg(_), true) => "json-parser, date-parser, http()",
            (Peer::SyslogNg(_), false) => {
                "http() only: the lines unread (SLUICE_BENCH_PEER_PARSE=0)"
            }
            (Peer::FluentBit(_), true) => "tail, the json parser (time_key), the splunk output",
            (Peer::FluentBit(_), false) => {
                "tail and the splunk output only: the lines unread (SLUICE_BENCH_PEER_PARSE=0)"
            }
        }
    }

    /// Starts it on `inputs`, to the HEC receiver at `endpoint`, its files in `dir`.
    fn start(
        &self,
        inputs: &[PathBuf],
        endpoint: &str,
        parses: bool,
        dir: &Path,
    ) -> std::io::Result<std::process::Child> {
        match self {
            Peer::SyslogNg(peer) => {
                let config = dir.join("syslog-ng.conf");
                std::fs::write(&config, syslog_ng::config(inputs, endpoint, parses))?;
                peer.spawn(&config, dir)
            }
            Peer::FluentBit(peer) => peer.spawn(inputs, endpoint, parses, dir),
        }
    }
}

/// Runs `sluice run` on the inputs to a fresh receiver until the inputs end.
async fn run_sluice(bench: &Bench, inputs: &[PathBuf], dir: &Path) -> Row {
    std::fs::create_dir_all(dir).unwrap();
    let data_dir = if bench.spool {
        format!(
            "data_dir = \"state\"\n[spool]\nfsync = \"{}\"\n",
            bench.fsync
        )
    } else {
        String::new()
    };
    let filters = if let Some(text) = bench.filter {
        let policy = dir.join("policy.toml");
        std::fs::write(&policy, text).unwrap();
        format!(
            "[[filters]]\nname = \"seed\"\npolicy = {:?}\n",
            policy.display().to_string()
        )
    } else {
        String::new()
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sources: String = match bench.arrival {
        Arrival::Http(_) => {
            format!("[[sources]]\ntype = \"http\"\nlisten = \"127.0.0.1:{port}\"\n")
        }
        Arrival::Syslog(_) => {
            format!("[[sources]]\ntype = \"syslog\"\nlisten = \"tcp://127.0.0.1:{port}\"\n")
        }
        Arrival::Files => inputs
            .iter()
            .map(|input| {
                format!(
                    "[[sources]]\ntype = \"file\"\npaths = [{:?}]\n",
                    input.display().to_string()
                )
            })
            .collect(),
    };
    let buffer = bench
        .buffer_bytes
        .map(|bytes| format!("buffer = {{ max_bytes = {bytes} }}"))
        .unwrap_or_default();
    let module = &bench.module;
    let mut receivers = Vec::new();
    for copy in 1..=bench.destinations {
        receivers.push(match module.as_str() {
            "syslog" => {
                let (endpoint, received) = syslog_receiver().await;
                (endpoint, received, "settings = {}".to_owned())
            }
            "elasticsearch" => http_receiver(&ELASTICSEARCH, bench.outage, bench.gzip).await,
            "splunk-hec" => http_receiver(&SPLUNK_HEC, bench.outage, bench.gzip).await,
            "archive" => (
                format!("file://{}", dir.join(format!("archive-{copy}")).display()),
                Arc::default(),
                "settings = {}".to_owned(),
            ),
            other => panic!("SLUICE_BENCH_MODULE: no bench receiver for `{other}`"),
        });
    }
    let destinations: String = (receivers.iter().enumerate())
        .map(|(n, (endpoint, _, settings))| {
            let name = match n {
                0 => "bench".to_owned(),
                n => format!("bench-{}", n + 1),
            };
            format!(
                r#"
[[destinations]]
name = "{name}"
module = "{module}"
endpoint = "{endpoint}"
{settings}
{buffer}
retry = {{ initial_backoff = "100ms", max_backoff = "500ms", max_attempts = 1000 }}
circuit_breaker = {{ failures = 3, open_for = "200ms" }}
"#
            )
        })
        .collect();
    // A syslog run ends when the first destination's receiver has every event.
    let received = Arc::clone(&receivers[0].1);
    let admin_port = bench.admin.then(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    });
    let admin = admin_port
        .map(|port| format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n"))
        .unwrap_or_default();
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"
dead_letter_dir = "dead-letter"
{data_dir}
{admin}
{sources}
{filters}
{destinations}
"#
        ),
    )
    .unwrap();

    let receiver_before = support::usage(libc::RUSAGE_SELF).cpu;
    let start = Instant::now();
    let wrap = std::env::var("SLUICE_BENCH_WRAP").unwrap_or_default();
    let mut command = wrap
        .split_whitespace()
        .chain([env!("CARGO_BIN_EXE_sluice")]);
    let child = std::process::Command::new(command.next().expect("a program"))
        .args(command)
        .args(["run", "-c"])
        .arg(&config)
        .current_dir(dir)
        .env("HEC_TOKEN", "bench")
        .env("SLUICE_LOG", "warn")
        .spawn()
        .expect("sluice runs");
    let scraper = admin_port.map(|port| tokio::spawn(scrape_often(port)));
    let pid = child.id() as libc::pid_t;
    let waiting = tokio::task::spawn_blocking(move || support::wait_measured(child));
    let mut seconds = None;
    let mut peak_rss_kib = None;
    if bench.arrival != Arrival::Files {
        let took = match bench.arrival {
            Arrival::Http(producers) => post_all(port, inputs, producers).await,
            Arrival::Syslog(connections) => {
                stream_syslog(port, inputs, connections, &received, bench.events).await
            }
            Arrival::Files => unreachable!("read from the files"),
        };
        seconds = Some(took.as_secs_f64());
        // Its own high-water mark, read while it runs: the figure `wait4` gives counts
        // the memory of the process it was forked from too (here, the bench's, which
        // holds the posted bodies), before `exec` replaced it.
        peak_rss_kib = high_water_mark_kib(pid);
        // SAFETY: a signal to the child we started and have not waited for.
        #[allow(unsafe_code, reason = "libc call")]
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let (status, usage) = waiting.await.unwrap();
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    let seconds = seconds.unwrap_or_else(|| start.elapsed().as_secs_f64());
    // A profiler that wraps sluice is what the SIGTERM above reached, and it ends as it
    // ended, by the signal: the count of events delivered below still vouches for it.
    let wrapped_and_stopped = !wrap.is_empty() && bench.arrival != Arrival::Files;
    assert!(
        status.success() || wrapped_and_stopped,
        "sluice failed: {status}"
    );
    for (copy, (_, received, _)) in (1..).zip(&receivers) {
        if module == "archive" {
            let archive = dir.join(format!("archive-{copy}"));
            received.store(archived_lines(&archive), Ordering::Relaxed);
        }
        let delivered = received.load(Ordering::Relaxed);
        assert_eq!(
            delivered, bench.events as u64,
            "every event delivered to each"
        );
    }
    Row {
        seconds,
        cpu: usage.cpu,
        peak_rss_kib: peak_rss_kib.unwrap_or(usage.peak_rss_kib),
        receiver_cpu: support::usage(libc::RUSAGE_SELF).cpu - receiver_before,
    }
}

/// The lines of every gzipped object under `dir`.
fn archived_lines(dir: &Path) -> u64 {
    let mut lines = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            lines += archived_lines(&path);
            continue;
        }
        let mut text = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()),
            &mut text,
        )
        .unwrap();
        lines += memchr::memchr_iter(b'\n', &text).count() as u64;
    }
    lines
}

/// `VmHWM` of process `pid`, in KiB.
fn high_water_mark_kib(pid: libc::pid_t) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// TCP connections of the syslog source's row.
const SYSLOG_CONNECTIONS: usize = 4;

/// Writes the lines of `inputs` to the syslog source on `port` as octet-counted RFC 5424
/// messages (the line as MSG), spread over `connections`; the time from the first
/// message to the receiver counting `events`.
async fn stream_syslog(
    port: u16,
    inputs: &[PathBuf],
    connections: usize,
    received: &AtomicU64,
    events: usize,
) -> Duration {
    use tokio::io::AsyncWriteExt;
    let mut streams = vec![Vec::new(); connections];
    let mut next = 0;
    for input in inputs {
        for line in std::fs::read_to_string(input).unwrap().lines() {
            let message = format!("<14>1 2026-12-06T10:00:00Z bench app - - - {line}");
            write!(streams[next % connections], "{} {message}", message.len()).unwrap();
            next += 1;
        }
    }
    let mut sockets = Vec::new();
    for _ in 0..connections {
        loop {
            if let Ok(socket) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                sockets.push(socket);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let start = Instant::now();
    let writers: Vec<_> = sockets
        .into_iter()
        .zip(streams)
        .map(|(mut socket, bytes)| {
            tokio::spawn(async move {
                socket.write_all(&bytes).await.unwrap();
                socket.shutdown().await.unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let (mut counted, mut progress) = (0, Instant::now());
    while counted < events as u64 {
        assert!(
            progress.elapsed() < Duration::from_secs(30),
            "the receiver counted {counted} of {events} events and then nothing for 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = received.load(Ordering::Relaxed);
        if now > counted {
            (counted, progress) = (now, Instant::now());
        }
    }
    start.elapsed()
}

/// Events in one POST of the HTTP source's row.
const EVENTS_PER_REQUEST: usize = 1000;

/// POSTs the lines of `inputs` to the HTTP source on `port`, [`EVENTS_PER_REQUEST`] a
/// request, from `producers` tasks at once, each request sent again until it is
/// answered 200; the time from the first request (once the source answers) to the
/// last answer.
async fn post_all(port: u16, inputs: &[PathBuf], producers: usize) -> Duration {
    let mut bodies = Vec::new();
    for input in inputs {
        let text = std::fs::read_to_string(input).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for chunk in lines.chunks(EVENTS_PER_REQUEST) {
            bodies.push(Bytes::from(chunk.join("\n")));
        }
    }
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/events");
    let health = format!("http://127.0.0.1:{port}/services/collector/health");
    while client.get(&health).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|_| {
            let (client, url, bodies, next) =
                (client.clone(), url.clone(), bodies.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(body) = bodies.get(index) else {
                        return;
                    };
                    loop {
                        let answer = client
                            .post(&url)
                            .header("x-request-id", index.to_string())
                            .body(body.clone())
                            .send()
                            .await;
                        if answer.is_ok_and(|a| a.status() == 200) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

/// Scrapes `/metrics` on `port` ten times a second, until aborted; a scrape that fails (the listener not up yet, or gone) is not a failure.
async fn scrape_often(port: u16) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    loop {
        if let Ok(response) = client.get(&url).send().await {
            let _ = response.bytes().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a peer on the inputs to a fresh receiver until the receiver has counted every
/// event (it follows files, so it does not end by itself). Void when the count stops
/// short for 20 s.
async fn run_peer(
    peer: &Peer,
    bench: &Bench,
    inputs: &[PathBuf],
    dir: &Path,
) -> Result<Row, String> {
    const STALL: Duration = Duration::from_secs(20);
    std::fs::create_dir_all(dir).unwrap();
    let (endpoint, received, _) = http_receiver(&SPLUNK_HEC, 0, false).await;
    let receiver_before = support::usage(libc::RUSAGE_SELF).cpu;
    let start = Instant::now();
    let child = peer
        .start(inputs, &endpoint, bench.peer_parses, dir)
        .map_err(|e| format!("does not start: {e}"))?;
    let (mut counted, mut progress) = (0, Instant::now());
    while counted < bench.events as u64 && progress.elapsed() < STALL {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = received.load(Ordering::Relaxed);
        if now > counted {
            (counted, progress) = (now, Instant::now());
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let receiver_cpu = support::usage(libc::RUSAGE_SELF).cpu - receiver_before;
    // SAFETY: a signal to the child we started and have not waited for.
    #[allow(unsafe_code, reason = "libc call")]
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let (_, usage) = tokio::task::spawn_blocking(move || support::wait_measured(child))
        .await
        .unwrap();
    if counted != bench.events as u64 {
        return Err(format!(
            "the receiver counted {counted} of {} events",
            bench.events
        ));
    }
    Ok(Row {
        seconds,
        cpu: usage.cpu,
        peak_rss_kib: usage.peak_rss_kib,
        receiver_cpu,
    })
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
    // `SLUICE_BENCH_SETTINGS="enrichment = \"none\""`: more settings of the module.
    let more = std::env::var("SLUICE_BENCH_SETTINGS")
        .map(|more| format!(", {more}"))
        .unwrap_or_default();
    let destination = format!(
        "token = {{ env = \"HEC_TOKEN\" }}\nsettings = {{ index = \"audit\", gzip = {gzip}{more} }}"
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

/// The export rules of seeds 002 and 003: the events' day, words in any text value (the
/// bench events hold them in an array, past an escaped quote), a tenant present.
const BENCH_TIME_POLICY: &str = r#"
[keep]
all = [
  { after = "2026-11-20T00:00:00Z" },
  { before = "2026-11-21T00:00:00Z" },
  { search = "admin" },
]
[require]
fields = ["session_id"]
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
    let events = memchr::memmem::find_iter(&body, vendor.marker).count();
    receiver
        .received
        .fetch_add(events as u64, Ordering::Relaxed);
    answer(vendor.delivered)
}

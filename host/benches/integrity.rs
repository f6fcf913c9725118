//! The cost of `[integrity]` and the speed of `sluice export`. `cargo bench --bench integrity`
//!
//! - The chain: what the host does per event with `[integrity]` on (copy the event,
//!   hash it after the chain before it, write it back with the three members in front),
//!   with SHA-256 and HMAC-SHA-256, over the benchmarks' 400-byte events: µs per event,
//!   the median of several rounds.
//! - Export: `sluice export` (this build) of one day out of gzipped files holding two
//!   (a day in, a day out), to a `jsonl` file: events read per second, CPU seconds and
//!   peak RSS of the process. `SLUICE_BENCH_EVENTS` sets the events per day (200,000).

mod support;

use std::io::Write;
use std::time::Instant;

use sluice::integrity::chain::{Hasher, Tip};

const ROUNDS: usize = 7;

fn main() {
    chain_rows();
    export_row();
}

fn chain_rows() {
    let events: Vec<String> = (0..10_000).map(support::event).collect();
    for (name, hasher) in [
        ("sha256", Hasher::Sha256),
        ("hmac-sha256", Hasher::hmac(b"a key of the bench")),
    ] {
        let mut rounds = Vec::new();
        for _ in 0..ROUNDS {
            let mut tip = Tip::new("0123456789abcdef".into());
            let mut out = String::with_capacity(1 << 20);
            let started = Instant::now();
            for event in &events {
                // As the reader leaves it: the event at the end of its chunk.
                out.clear();
                out.push_str(event);
                tip.stamp(&hasher, &mut out, 0);
            }
            rounds.push(started.elapsed().as_secs_f64() * 1e6 / events.len() as f64);
        }
        rounds.sort_by(f64::total_cmp);
        let mut hashes = Vec::new();
        for _ in 0..ROUNDS {
            let mut chain = [0u8; 32];
            let started = Instant::now();
            for event in &events {
                chain = hasher.link(&chain, event.as_bytes());
            }
            std::hint::black_box(chain);
            hashes.push(started.elapsed().as_secs_f64() * 1e6 / events.len() as f64);
        }
        hashes.sort_by(f64::total_cmp);
        println!(
            "chain {name:<12} {:.3} µs/event, of which the hash {:.3} µs (medians of {ROUNDS} rounds of {} events of {} bytes)",
            rounds[ROUNDS / 2],
            hashes[ROUNDS / 2],
            events.len(),
            events[0].len()
        );
    }
}

fn export_row() {
    let per_day: usize = std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    // 2026-11-20 (out of the range) in one file, 2026-11-21 (in it) in the other.
    for (day, name) in [(20, "audit.jsonl.1.gz"), (21, "audit.jsonl.gz")] {
        let file = std::fs::File::create(dir.path().join(name)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        for n in 0..per_day {
            let event = support::event(n).replacen("2026-11-20T", &format!("2026-11-{day}T"), 1);
            writeln!(gz, "{event}").unwrap();
        }
        gz.finish().unwrap();
    }
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "dead_letter_dir = \"dl\"\n[[sources]]\ntype = \"file\"\npaths = [\"{}/audit.jsonl\"]\n[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:c\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let bytes: u64 = ["audit.jsonl.1.gz", "audit.jsonl.gz"]
        .iter()
        .map(|n| std::fs::metadata(dir.path().join(n)).unwrap().len())
        .sum();
    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["export", "-c"])
        .arg(&config)
        .args([
            "--from",
            "2026-11-21T00:00:00Z",
            "--to",
            "2026-11-22T00:00:00Z",
            "--output",
        ])
        .arg(dir.path().join("out.jsonl"))
        .args(["--format", "jsonl"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (status, usage) = support::wait_measured(child);
    let wall = started.elapsed();
    assert!(status.success(), "sluice export failed: {status}");
    let read = 2 * per_day;
    println!(
        "export gzip   {:>9.0} events read/s  ({} events, {:.1} MiB gzipped, half in the range)  CPU {:.2} s ({:.2} µs/event)  peak RSS {:.1} MiB  wall {:.2} s",
        read as f64 / wall.as_secs_f64(),
        read,
        bytes as f64 / (1 << 20) as f64,
        usage.cpu.as_secs_f64(),
        usage.cpu.as_secs_f64() * 1e6 / read as f64,
        usage.peak_rss_kib as f64 / 1024.0,
        wall.as_secs_f64(),
    );
}

//! Formatting throughput of the Splunk HEC module: the same code compiled to WebAssembly
//! (run by the host's runtime, including the copies across the sandbox boundary) and
//! natively. Both end with the request bodies as the host sends them: the module's
//! payloads assembled by the host's own code. `cargo bench --bench format`
//!
//! Prints events/s, MiB/s (of event JSON formatted), CPU seconds and the wasm/native ratio.

mod support;

use std::sync::Arc;
use std::time::Duration;

use sluice::buffer::Events;
use sluice::event::EventMeta;
use sluice::module::{Limits, ModuleSource, Runtime, Setup, payload, types};
use sluice_guest::{Batch, EventId, Formatter, Settings, TimeSource};
use sluice_splunk_hec::SplunkHec;

const BUDGET: Duration = Duration::from_secs(3);

fn main() {
    let settings = vec![("index".to_owned(), "audit".to_owned())];
    let enrichment = types::Enrichment {
        host_name: "bench-host".into(),
        machine_id: "0123456789abcdef".into(),
        sluice_version: "0.1.0".into(),
        tags: vec![("team".into(), "secops".into())],
    };

    let runtime = Runtime::new(Limits::default(), None).expect("runtime");
    let module = runtime
        .load_formatter(&ModuleSource::Builtin("splunk-hec"))
        .expect("built-in module");
    let mut instance = module
        .instantiate(Setup {
            settings: settings.clone(),
            enrichment: enrichment.clone(),
            ..Setup::default()
        })
        .expect("instance");
    let native = SplunkHec::new(
        &Settings::new(settings, SplunkHec::info().settings),
        &sluice_guest::Enrichment {
            host_name: enrichment.host_name.clone(),
            machine_id: enrichment.machine_id.clone(),
            sluice_version: enrichment.sluice_version.clone(),
            tags: enrichment.tags.clone(),
        },
    )
    .expect("settings");

    println!(
        "{:<8} {:>7} {:>12} {:>9} {:>11}",
        "engine", "batch", "events/s", "MiB/s", "CPU s"
    );
    for batch_size in [100usize, 1000] {
        let events: Vec<String> = (0..batch_size).map(support::event).collect();
        let bytes: usize = events.iter().map(String::len).sum();
        let time_ms = |i: usize| 1_795_161_600_000 + i as i64;

        let mut native_batch = Batch::new();
        for (i, event) in events.iter().enumerate() {
            native_batch.push(event, time_ms(i), TimeSource::Event, EventId(i as u128));
        }
        let native_text = native_batch.text().as_bytes();
        let native = measure("native", batch_size, bytes, || {
            let formatted = native.format(&native_batch).expect("formats");
            for request in formatted.requests {
                let sluice_guest::Request::Http(http) = request else {
                    unreachable!("HEC is HTTP")
                };
                let body = types::Payload {
                    text: http.body.text,
                    piece_starts: http.body.piece_starts,
                    piece_ends: http.body.piece_ends,
                };
                std::hint::black_box(payload::assemble(&body, native_text));
            }
        });

        let mut wasm_batch = Events::default();
        for (i, event) in events.iter().enumerate() {
            let meta = EventMeta {
                offset: 0,
                len: 0,
                time_ms: time_ms(i),
                ingest_time: false,
                id: i as u128,
            };
            wasm_batch.push(event, &meta);
        }
        let wasm_batch = Arc::new(wasm_batch);
        let wasm = measure("wasm", batch_size, bytes, || {
            let formatted = instance
                .format(&wasm_batch)
                .expect("call")
                .expect("formats");
            for request in formatted.requests {
                let types::Request::Http(http) = request else {
                    unreachable!("HEC is HTTP")
                };
                std::hint::black_box(payload::assemble(&http.body, wasm_batch.text.as_bytes()));
            }
        });
        println!(
            "{:<8} {:>7} {:>11.2}x  (wasm time / native time)",
            "ratio",
            batch_size,
            native / wasm
        );
    }
}

/// Prints one row and returns events per second.
fn measure(engine: &str, batch_size: usize, bytes: usize, work: impl FnMut()) -> f64 {
    let before = support::usage(libc::RUSAGE_SELF);
    let (iterations, elapsed) = support::time_loop(BUDGET, work);
    let after = support::usage(libc::RUSAGE_SELF);
    let events_per_second = (iterations as f64 * batch_size as f64) / elapsed.as_secs_f64();
    let mib_per_second = support::mib(iterations as f64 * bytes as f64) / elapsed.as_secs_f64();
    println!(
        "{engine:<8} {batch_size:>7} {events_per_second:>12.0} {mib_per_second:>9.1} {:>11.2}",
        (after.cpu - before.cpu).as_secs_f64()
    );
    events_per_second
}

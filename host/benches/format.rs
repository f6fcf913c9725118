//! Formatting throughput of the Splunk HEC module: the same code compiled to WebAssembly
//! (run by the host's runtime, including the copies across the sandbox boundary) and
//! natively. `cargo bench --bench format`
//!
//! Prints events/s, MiB/s (of event JSON formatted), CPU seconds and the wasm/native ratio.

mod support;

use std::time::Duration;

use sluice::buffer::Columns;
use sluice::event::EventMeta;
use sluice::module::types;
use sluice::module::{Limits, ModuleSource, Runtime, SigningKeys};
use sluice_guest::{Batch, EventId, Formatter, Settings, TimeSource};
use sluice_splunk_hec::SplunkHec;

const BUDGET: Duration = Duration::from_secs(3);

fn main() {
    let runtime = Runtime::new(Limits::default(), None).expect("runtime");
    let module = runtime
        .load_formatter(&ModuleSource::Builtin("splunk-hec"))
        .expect("built-in module");
    let mut instance = module
        .instantiate(SigningKeys::default())
        .expect("instance");
    let settings = vec![("index".to_owned(), "audit".to_owned())];
    let enrichment = types::Enrichment {
        host_name: "bench-host".into(),
        machine_id: "0123456789abcdef".into(),
        sluice_version: "0.1.0".into(),
        tags: vec![("team".into(), "secops".into())],
    };

    println!(
        "{:<8} {:>7} {:>12} {:>9} {:>11}",
        "engine", "batch", "events/s", "MiB/s", "CPU s"
    );
    for batch_size in [100usize, 1000] {
        let events: Vec<String> = (0..batch_size).map(support::event).collect();
        let bytes: usize = events.iter().map(String::len).sum();

        let mut native_batch = Batch::new(sluice_guest::Enrichment {
            host_name: enrichment.host_name.clone(),
            machine_id: enrichment.machine_id.clone(),
            sluice_version: enrichment.sluice_version.clone(),
            tags: enrichment.tags.clone(),
        });
        for (i, event) in events.iter().enumerate() {
            native_batch.push(
                event,
                1_795_161_600_000 + i as i64,
                TimeSource::Event,
                EventId(i as u128),
            );
        }
        let native_settings = Settings::new(settings.clone(), SplunkHec::info().settings);
        let native = measure("native", batch_size, bytes, || {
            let formatted = SplunkHec::format(&native_batch, &native_settings).expect("formats");
            std::hint::black_box(formatted);
        });

        let mut wasm_batch = types::Batch::with_enrichment(enrichment.clone());
        for (i, event) in events.iter().enumerate() {
            let meta = EventMeta {
                offset: 0,
                len: 0,
                time_ms: 1_795_161_600_000 + i as i64,
                ingest_time: false,
                id: i as u128,
            };
            wasm_batch.push_event(event, &meta);
        }
        let wasm = measure("wasm", batch_size, bytes, || {
            let formatted = instance
                .format(&wasm_batch, &settings)
                .expect("call")
                .expect("formats");
            std::hint::black_box(formatted);
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

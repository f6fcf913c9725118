//! Formatting throughput of the Splunk HEC module: the same code compiled to WebAssembly
//! (run by the host's runtime, including the copies across the sandbox boundary) and
//! natively. Both end with the request bodies as the host sends them: the module's
//! payloads assembled by the host's own code. `cargo bench --bench format`
//!
//! The machine is a shared VM whose speed drifts, so the two engines are measured in
//! alternating rounds and each reports its median round. Prints events/s, MiB/s (of
//! event JSON formatted), CPU seconds and the wasm/native ratio.
//!
//! It also times a call with a batch of no events: the fixed cost of crossing the
//! sandbox (entering and leaving the instance, passing the batch's columns and
//! the answer), paid once per batch whatever its size. Next to each ratio it prints the
//! ratio that this cost alone would give, were the module's code as fast as native.
//!
//! Then every built-in module, in WebAssembly, formats batches of 1,000 events (and
//! the host assembles what it returned): events/s and the milliseconds a batch of 1,000
//! takes, the figure seed 001 asks to stay under 100 ms. Compression, done by the host
//! after the module returns, is not in it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use sluice::event::EventMeta;
use sluice::event::Events;
use sluice::module::{Limits, ModuleSource, Runtime, Setup};
use sluice_contract::types;
use sluice_guest::{Batch, EventId, Formatter, Settings, TimeSource};
use sluice_splunk_hec::SplunkHec;

/// Rounds per engine and batch size, alternating between the engines.
const ROUNDS: usize = 7;

/// Every built-in module, with the settings it needs (and a schema row), for the
/// per-module rows.
const MODULES: [(&str, &[(&str, &str)]); 16] = [
    ("splunk-hec", &[("index", "audit")]),
    ("splunk-hec", &[("index", "audit"), ("payload", "cef")]),
    ("elasticsearch", &[("index", "audit")]),
    ("elasticsearch", &[("index", "audit"), ("schema", "ecs")]),
    ("datadog", &[]),
    (
        "sentinel",
        &[
            ("dcr_immutable_id", "dcr-0123456789abcdef0123456789abcdef"),
            ("stream", "Custom-SluiceAudit_CL"),
        ],
    ),
    (
        "sentinel",
        &[("api", "data-collector"), ("log_type", "SluiceAudit")],
    ),
    ("http", &[]),
    ("sumo-logic", &[]),
    (
        "cloudwatch-logs",
        &[("log_group", "audit"), ("log_stream", "bench")],
    ),
    ("archive", &[]),
    ("nats", &[]),
    ("syslog", &[]),
    ("cef", &[]),
    ("leef", &[]),
    (
        "csv",
        &[(
            "columns",
            "timestamp,actor.id,path,status_code,sluice.event_id",
        )],
    ),
];

/// Events in a batch of the per-module rows.
const MODULE_BATCH: usize = 1000;
const ROUND: Duration = Duration::from_millis(400);

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

    let no_events = Arc::new(Events::default());
    let mut empty_call = || {
        let formatted = instance.format(&no_events).expect("call").expect("formats");
        std::hint::black_box(formatted);
    };
    let [call_floor] = measure_alternately([&mut empty_call]);
    println!(
        "a wasm call with no events: {:.2} µs (paid once per batch)\n",
        call_floor.seconds_per_batch * 1e6
    );

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
        let mut native_work = || {
            let formatted = native.format(&native_batch).expect("formats");
            for request in formatted.requests {
                let sluice_guest::Request::Http(http) = request else {
                    unreachable!("HEC is HTTP")
                };
                let body = types::Payload {
                    text: http.body.text,
                    pieces: http.body.pieces,
                };
                std::hint::black_box(body.view().assemble(native_text));
            }
        };

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
        let mut wasm_work = || {
            let formatted = instance
                .format(&wasm_batch)
                .expect("call")
                .expect("formats");
            for request in formatted.requests {
                let types::Request::Http(http) = request else {
                    unreachable!("HEC is HTTP")
                };
                std::hint::black_box(http.body.view().assemble(wasm_batch.text.as_bytes()));
            }
        };
        let [native, wasm] = measure_alternately([&mut native_work, &mut wasm_work]);
        native.print("native", batch_size, bytes);
        wasm.print("wasm", batch_size, bytes);
        println!(
            "{:<8} {batch_size:>7} {:>11.2}x  (wasm time / native time; the call's fixed cost alone: {:.2}x)",
            "ratio",
            wasm.seconds_per_batch / native.seconds_per_batch,
            (native.seconds_per_batch + call_floor.seconds_per_batch) / native.seconds_per_batch,
        );
    }
    every_module(&runtime, &enrichment);
}

/// Each built-in module formats the same batch of [`MODULE_BATCH`] events in
/// WebAssembly, the host assembling its answer as it would send it.
fn every_module(runtime: &Runtime, enrichment: &types::Enrichment) {
    let batch = Arc::new(support::batch(MODULE_BATCH));
    let text = batch.text.as_bytes();
    println!(
        "\n{:<16} {:<34} {:>12} {:>14}",
        "module", "settings", "events/s", "ms per 1,000"
    );
    for (name, settings) in MODULES {
        let module = runtime
            .load_formatter(&ModuleSource::Builtin(name))
            .expect("built-in module");
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|&(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        let shown = settings
            .iter()
            .filter(|(key, _)| {
                !["index", "stream", "dcr_immutable_id", "log_stream"].contains(&key.as_str())
            })
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut instance = module
            .instantiate(Setup {
                settings,
                enrichment: enrichment.clone(),
                ..Setup::default()
            })
            .expect("instance");
        let mut work = || {
            let formatted = instance.format(&batch).expect("call").expect("formats");
            for request in formatted.requests {
                let assembled = match request {
                    types::Request::Http(http) => http.body.view().assemble(text),
                    types::Request::Messages(messages) => messages.messages.view().assemble(text),
                    types::Request::Publish(published) => {
                        published.messages.messages.view().assemble(text)
                    }
                };
                std::hint::black_box(assembled);
            }
        };
        let [measured] = measure_alternately([&mut work]);
        println!(
            "{name:<16} {shown:<34} {:>12.0} {:>14.2}",
            MODULE_BATCH as f64 / measured.seconds_per_batch,
            measured.seconds_per_batch * 1e3 * 1000.0 / MODULE_BATCH as f64
        );
    }
}

/// What one engine did: the time of a batch in its median round, and the CPU time of
/// all its rounds.
struct Measured {
    seconds_per_batch: f64,
    cpu_seconds: f64,
}

impl Measured {
    fn print(&self, engine: &str, batch_size: usize, bytes: usize) {
        let events_per_second = batch_size as f64 / self.seconds_per_batch;
        let mib_per_second = support::mib(bytes as f64 / self.seconds_per_batch);
        println!(
            "{engine:<8} {batch_size:>7} {events_per_second:>12.0} {mib_per_second:>9.1} {:>11.2}",
            self.cpu_seconds
        );
    }
}

/// Runs the engines in alternating rounds, so that a drift of the machine's speed
/// touches both alike.
fn measure_alternately<const N: usize>(mut engines: [&mut dyn FnMut(); N]) -> [Measured; N] {
    let mut batch_times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(ROUNDS));
    let mut cpu = [Duration::ZERO; N];
    for _ in 0..ROUNDS {
        for (engine, work) in engines.iter_mut().enumerate() {
            let before = support::usage(libc::RUSAGE_SELF);
            let (iterations, elapsed) = support::time_loop(ROUND, &mut **work);
            cpu[engine] += support::usage(libc::RUSAGE_SELF).cpu - before.cpu;
            batch_times[engine].push(elapsed.as_secs_f64() / iterations as f64);
        }
    }
    std::array::from_fn(|engine| {
        let rounds = &mut batch_times[engine];
        rounds.sort_by(f64::total_cmp);
        Measured {
            seconds_per_batch: rounds[ROUNDS / 2],
            cpu_seconds: cpu[engine].as_secs_f64(),
        }
    })
}

//! The Loki module written in Rust, Python and JavaScript (`examples/modules/`), side by
//! side in the host's runtime: what each costs to load and to run. The Python and
//! JavaScript modules are built first, with the toolchains `.ci/test-deps` installs.
//! `cargo bench --bench languages`
//!
//! Per language: the `.wasm`'s size; Cranelift's compile time (once per module and
//! machine: the compiled-module cache keeps it); an instantiation (every fresh instance:
//! at start, after a failed call, per worker); the least `module_memory_bytes` with which
//! it formats batches of 1,000 events; the time a batch of 1,000 takes per event; and a
//! call with one event (the fixed cost of a call, which a batch pays once).

#[path = "../../tests/e2e/support/polyglot.rs"]
#[allow(dead_code, reason = "the tests use more of it")]
mod polyglot;
mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::event::Events;
use sluice::module::{FormatterInstance, FormatterModule, Limits, ModuleSource, Runtime, Setup};
use sluice_contract::types;

const BATCH: usize = 1000;
const ROUND: Duration = Duration::from_millis(1500);

fn main() {
    let rust = Path::new(env!("SLUICE_TEST_MODULES")).join("loki.wasm");
    let modules = [
        ("Rust", rust),
        (
            "Python",
            polyglot::built(polyglot::Lang::Python, "examples/modules/loki-python"),
        ),
        (
            "JavaScript",
            polyglot::built(
                polyglot::Lang::JavaScript,
                "examples/modules/loki-javascript",
            ),
        ),
    ];
    let batch = events(BATCH);
    let one = events(1);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("languages-bench-cache");
    let _ = std::fs::remove_dir_all(&cache);

    println!(
        "{:<11} {:>9} {:>11} {:>15} {:>12} {:>14} {:>13}",
        "language",
        "size MiB",
        "compile s",
        "instantiate ms",
        "memory MiB",
        "µs per event",
        "µs per call"
    );
    for (language, path) in modules {
        let size = std::fs::metadata(&path).expect("built").len() as f64;
        let started = Instant::now();
        let runtime = Runtime::new(Limits::default(), Some(cache.clone())).expect("runtime");
        let module = runtime
            .load_formatter(&ModuleSource::File(path.clone()))
            .expect("loads");
        let compile = started.elapsed();

        let instantiations = 20;
        let started = Instant::now();
        for _ in 0..instantiations {
            std::hint::black_box(instance(&module));
        }
        let instantiate = started.elapsed() / instantiations;

        let mut instance = instance(&module);
        let per_batch = time_per_call(&mut instance, &batch);
        let per_call = time_per_call(&mut instance, &one);
        println!(
            "{language:<11} {:>9.1} {:>11.1} {:>15.1} {:>12} {:>14.2} {:>13.1}",
            support::mib(size),
            compile.as_secs_f64(),
            instantiate.as_secs_f64() * 1e3,
            least_memory_mib(&path, &cache, &batch),
            per_batch.as_secs_f64() * 1e6 / BATCH as f64,
            per_call.as_secs_f64() * 1e6,
        );
    }
}

/// `count` events of about 430 bytes, as a batch.
fn events(count: usize) -> Arc<Events> {
    Arc::new(support::batch(count))
}

fn instance(module: &FormatterModule) -> FormatterInstance {
    module
        .instantiate(Setup {
            settings: vec![("job".into(), "audit".into())],
            enrichment: types::Enrichment {
                host_name: "bench-host".into(),
                machine_id: String::new(),
                sluice_version: "0.1.0".into(),
                tags: Vec::new(),
            },
            ..Setup::default()
        })
        .expect("instance")
}

/// The median time of a `format` call on `batch` over a few rounds.
fn time_per_call(instance: &mut FormatterInstance, batch: &Arc<Events>) -> Duration {
    let mut rounds: Vec<Duration> = (0..5)
        .map(|_| {
            let (calls, elapsed) = support::time_loop(ROUND, || {
                let formatted = instance.format(batch).expect("call").expect("formats");
                std::hint::black_box(formatted);
            });
            elapsed / calls as u32
        })
        .collect();
    rounds.sort();
    rounds[rounds.len() / 2]
}

/// The least memory limit, in whole MiB, under which the module instantiates and formats
/// `batch` (found by halving the range between 1 and 256 MiB).
fn least_memory_mib(path: &Path, cache: &Path, batch: &Arc<Events>) -> u64 {
    let formats = |mib: u64| -> bool {
        let limits = Limits {
            memory_bytes: (mib << 20) as usize,
            ..Limits::default()
        };
        let runtime = Runtime::new(limits, Some(cache.to_path_buf())).expect("runtime");
        let Ok(module) = runtime.load_formatter(&ModuleSource::File(PathBuf::from(path))) else {
            return false;
        };
        let Ok(mut instance) = module.instantiate(Setup {
            settings: vec![("job".into(), "audit".into())],
            ..Setup::default()
        }) else {
            return false;
        };
        matches!(instance.format(batch), Ok(Ok(_)))
    };
    let (mut fails, mut works) = (0, 256);
    assert!(formats(works), "{} formats with 256 MiB", path.display());
    while works - fails > 1 {
        let middle = (fails + works) / 2;
        if formats(middle) {
            works = middle
        } else {
            fails = middle
        }
    }
    works
}

//! `/metrics`: the figures of [`Observed`] in the Prometheus text format (or
//! OpenMetrics), encoded by `prometheus-client` when scraped. Nothing is counted for
//! the exposition: a scrape reads the counters the stages keep anyway, so metrics cost
//! the hot path nothing. (Counters get their `_total` suffix from the encoder.)

use std::fmt::Error;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::observed::Observed;
use super::process::Process;
use crate::build_info;
use crate::deliver::{Figures, ModuleCall, RequestResult};
use crate::metrics::Counters;
use crate::pipeline::Reject;

/// The registry a scrape encodes: one collector over the run's figures.
pub fn registry(observed: Arc<Observed>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Figured(observed)));
    registry
}

#[derive(Debug)]
struct Figured(Arc<Observed>);

/// Labels of one series.
type Labels<'a> = Vec<(&'static str, &'a str)>;

/// A metric family: its series, each with its labels.
fn family<'a, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    (name, help, kind): (&str, &str, MetricType),
    series: impl IntoIterator<Item = (Labels<'a>, M)>,
) -> Result<(), Error> {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in series {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A metric with no labels.
fn single(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    metric: impl EncodeMetric,
) -> Result<(), Error> {
    let kind = metric.metric_type();
    family(encoder, (name, help, kind), [(Labels::new(), metric)])
}

fn counter(value: u64) -> ConstCounter {
    ConstCounter::new(value)
}

fn gauge(value: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

fn seconds(value: Option<std::time::Duration>) -> ConstGauge<f64> {
    ConstGauge::new(value.map_or(0.0, |d| d.as_secs_f64()))
}

const COUNTER: MetricType = MetricType::Counter;
const GAUGE: MetricType = MetricType::Gauge;
const HISTOGRAM: MetricType = MetricType::Histogram;

impl Collector for Figured {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let e = &mut encoder;
        run(e, &self.0)?;
        sources(e, &self.0)?;
        destinations(e, &self.0.destinations())?;
        modules(e, &self.0)?;
        if let Some(process) = Process::read(self.0.uptime()) {
            self::process(e, &process)?;
        }
        Ok(())
    }
}

/// The run's own figures: what was read, the stores, the build.
fn run(e: &mut DescriptorEncoder, observed: &Observed) -> Result<(), Error> {
    let c = &observed.counters;
    let build = vec![
        ("version", build_info::VERSION),
        ("commit", build_info::COMMIT),
        ("rustc", build_info::RUSTC),
        ("wasmtime", build_info::WASMTIME),
    ];
    family(
        e,
        ("sluice_build_info", "The running build", GAUGE),
        [(build, gauge(1))],
    )?;
    single(
        e,
        ("sluice_uptime_seconds", "Seconds since the run started"),
        seconds(Some(observed.uptime())),
    )?;
    for (name, help, counted) in [
        ("sluice_bytes_read", "Bytes the sources read", &c.bytes_read),
        (
            "sluice_events_read",
            "Events parsed and offered to the destinations",
            &c.events_in,
        ),
        (
            "sluice_lines_rejected",
            "Lines that were not events, written to the dead-letter store",
            &c.lines_rejected,
        ),
        (
            "sluice_events_filtered",
            "Events a global filter policy dropped",
            &c.filtered,
        ),
        (
            "sluice_events_abandoned",
            "Events of batches the shutdown deadline cut short, and rejected lines the dead-letter store could not take before the end",
            &c.abandoned,
        ),
        (
            "sluice_events_sent_again",
            "Events sent again because their destination did not confirm them",
            &c.sent_again_unconfirmed,
        ),
        (
            "sluice_read_errors",
            "Inputs that could not be read",
            &c.read_errors,
        ),
        (
            "sluice_spool_records_cut",
            "Torn spool records cut off at start, read again by their sources",
            &c.spool_records_cut,
        ),
        (
            "sluice_spool_records_lost",
            "Spool records missing or damaged that a checkpoint counted on",
            &c.spool_records_lost,
        ),
        (
            "sluice_dead_letters_removed",
            "Dead-letter records removed with the oldest files",
            &c.dead_letters_removed,
        ),
        (
            "sluice_checkpoint_writes",
            "Checkpoints (and spool positions) written",
            &c.checkpoint_writes,
        ),
    ] {
        single(e, (name, help), counter(Counters::get(counted)))?;
    }
    single(
        e,
        (
            "sluice_checkpoints_unsaved",
            "1 while the last checkpoint write failed",
        ),
        gauge(Counters::get(&c.checkpoints_unsaved)),
    )?;
    if let Some(bytes) = observed.spool_bytes() {
        single(
            e,
            ("sluice_spool_bytes", "Bytes of the spool on disk"),
            gauge(bytes),
        )?;
    }
    let dead_letter = &observed.dead_letter;
    single(
        e,
        (
            "sluice_dead_letter_bytes",
            "Bytes of the dead-letter store's files on disk",
        ),
        gauge(dead_letter.bytes()),
    )?;
    let written = dead_letter.written();
    family(
        e,
        (
            "sluice_dead_letter_records",
            "Records this run wrote to the dead-letter store, by destination (empty for lines that were not events) and stage",
            COUNTER,
        ),
        written.iter().map(|((destination, stage), n)| {
            (
                vec![("destination", destination.as_str()), ("stage", *stage)],
                counter(*n),
            )
        }),
    )?;
    family(
        e,
        (
            "sluice_config_reloads",
            "Reloads of the configuration file, by result (applied, unchanged, refused)",
            COUNTER,
        ),
        c.config_reloads
            .counts()
            .into_iter()
            .map(|(result, n)| (vec![("result", result)], counter(n))),
    )?;
    let module_reloads = c.module_reloads.counts();
    family(
        e,
        (
            "sluice_module_reloads",
            "Reloads of a destination's module, by the module its configuration names and result (reloaded, unchanged, refused, gone)",
            COUNTER,
        ),
        module_reloads.iter().map(|((module, result), n)| {
            (
                vec![("module", module.as_str()), ("result", *result)],
                counter(*n),
            )
        }),
    )
}

fn sources(e: &mut DescriptorEncoder, observed: &Observed) -> Result<(), Error> {
    let sources = observed.sources();
    let each = |value: fn(&crate::metrics::SourceFigures) -> u64| {
        sources
            .iter()
            .map(move |s| (vec![("source", s.label.as_str())], value(s)))
    };
    family(
        e,
        (
            "sluice_source_events",
            "Events a source read that the global filters passed on",
            COUNTER,
        ),
        each(|s| Counters::get(&s.events)).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        ("sluice_source_bytes", "Bytes a source read", COUNTER),
        each(|s| Counters::get(&s.bytes)).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        (
            "sluice_source_lines_rejected",
            "Lines of a source that were not events, by reason",
            COUNTER,
        ),
        sources.iter().flat_map(|s| {
            Reject::ALL.into_iter().map(|kind| {
                (
                    vec![("source", s.label.as_str()), ("reason", kind.label())],
                    counter(s.rejected_as(kind)),
                )
            })
        }),
    )?;
    family(
        e,
        (
            "sluice_source_files_open",
            "Files a source holds open",
            GAUGE,
        ),
        each(|s| Counters::get(&s.files_open)).map(|(l, n)| (l, gauge(n))),
    )?;
    family(
        e,
        (
            "sluice_source_unread_bytes",
            "Bytes in the files a source follows that it has not read yet: how far behind it is",
            GAUGE,
        ),
        each(|s| Counters::get(&s.unread_bytes)).map(|(l, n)| (l, gauge(n))),
    )?;
    family(
        e,
        (
            "sluice_source_refused_requests",
            "Requests an HTTP source answered 503 (their producers keep the events and send them again)",
            COUNTER,
        ),
        each(|s| Counters::get(&s.refused_requests)).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        (
            "sluice_source_refused_connections",
            "Connections a listening source closed unread at a bound (what they sent was never read)",
            COUNTER,
        ),
        each(|s| Counters::get(&s.refused_connections)).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        (
            "sluice_source_evicted_connections",
            "Idle connections a listening source closed to make room for a new one",
            COUNTER,
        ),
        each(|s| Counters::get(&s.evicted_connections)).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        (
            "sluice_source_redelivered",
            "Messages a broker delivered to a JetStream source again (their events keep their ids)",
            COUNTER,
        ),
        each(|s| Counters::get(&s.redelivered)).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        (
            "sluice_source_ready",
            "1 while a source reads all it should; 0 when a file cannot be opened or an error stopped it",
            GAUGE,
        ),
        sources.iter().map(|s| {
            let ready = s.problem().is_none();
            (vec![("source", s.label.as_str())], gauge(u64::from(ready)))
        }),
    )
}

fn destinations(e: &mut DescriptorEncoder, destinations: &[Figures]) -> Result<(), Error> {
    let each = |value: fn(&Figures) -> u64| {
        destinations
            .iter()
            .map(move |f| (vec![("destination", f.name.as_str())], value(f)))
    };
    family(
        e,
        (
            "sluice_destination_events",
            "Events offered to a destination, by what became of them (sent_again counts events sent once more, also counted in their final outcome)",
            COUNTER,
        ),
        destinations.iter().flat_map(|f| {
            [
                ("delivered", f.delivered),
                ("dead_lettered", f.dead_lettered),
                ("dropped", f.dropped_when_full),
                ("filtered", f.filtered),
                ("routed_away", f.routed_away),
                ("abandoned", f.abandoned),
                ("sent_again", f.sent_again),
            ]
            .map(|(outcome, n)| {
                (
                    vec![("destination", f.name.as_str()), ("outcome", outcome)],
                    counter(n),
                )
            })
        }),
    )?;
    family(
        e,
        (
            "sluice_destination_events_in",
            "Events offered to a destination: delivered + dead_lettered + dropped + filtered + routed_away + abandoned + the backlog",
            COUNTER,
        ),
        each(|f| f.events_in).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        (
            "sluice_destination_backlog_events",
            "Events a destination took and has not settled: queued, batched, retried or awaiting confirmation",
            GAUGE,
        ),
        each(|f| f.backlog).map(|(l, n)| (l, gauge(n))),
    )?;
    family(
        e,
        (
            "sluice_destination_oldest_unsettled_seconds",
            "How long the oldest event of the backlog has waited since the destination took it (0: none waits)",
            GAUGE,
        ),
        destinations.iter().map(|f| {
            (
                vec![("destination", f.name.as_str())],
                seconds(f.oldest_unsettled),
            )
        }),
    )?;
    family(
        e,
        (
            "sluice_destination_requests",
            "Requests sent, by how they ended: ok (taken, whole or in part), retried (the destination asked for it again), refused (as a whole), failed (no answer), timeout (none within request_timeout)",
            COUNTER,
        ),
        destinations.iter().flat_map(|f| {
            RequestResult::ALL.map(|result| {
                (
                    vec![("destination", f.name.as_str()), ("result", result.label())],
                    counter(f.requests.count(result)),
                )
            })
        }),
    )?;
    family(
        e,
        (
            "sluice_destination_request_duration_seconds",
            "From sending a request to reading its answer, or failing to",
            HISTOGRAM,
        ),
        destinations.iter().map(|f| {
            (
                vec![("destination", f.name.as_str())],
                f.requests.duration.clone(),
            )
        }),
    )?;
    family(
        e,
        (
            "sluice_module_call_duration_seconds",
            "Calls into a destination's module (filter: its filter module), by call",
            HISTOGRAM,
        ),
        destinations.iter().flat_map(|f| {
            ModuleCall::ALL.map(|call| -> (Labels<'_>, Histogram) {
                (
                    vec![("destination", f.name.as_str()), ("call", call.label())],
                    f.requests.calls(call).clone(),
                )
            })
        }),
    )?;
    family(
        e,
        (
            "sluice_destination_failed_attempts",
            "Attempts that failed, each retry and each give-up",
            COUNTER,
        ),
        each(|f| f.failed_attempts).map(|(l, n)| (l, counter(n))),
    )?;
    family(
        e,
        (
            "sluice_destination_circuit_state",
            "The circuit breaker: 0 closed, 1 half-open, 2 open",
            GAUGE,
        ),
        each(|f| match f.circuit {
            "closed" => 0,
            "half-open" => 1,
            _ => 2,
        })
        .map(|(l, n)| (l, gauge(n))),
    )?;
    family(
        e,
        (
            "sluice_destination_paused",
            "1 while the destination's module file is gone and it takes no batch",
            GAUGE,
        ),
        each(|f| u64::from(f.paused)).map(|(l, n)| (l, gauge(n))),
    )?;
    family(
        e,
        (
            "sluice_destination_failing_seconds",
            "How long the destination has been failing (0: it is not)",
            GAUGE,
        ),
        destinations.iter().map(|f| {
            (
                vec![("destination", f.name.as_str())],
                seconds(f.failing_for),
            )
        }),
    )?;
    family(
        e,
        (
            "sluice_destination_queued_events",
            "Events in a destination's memory queue",
            GAUGE,
        ),
        each(|f| f.queued_events as u64).map(|(l, n)| (l, gauge(n))),
    )?;
    family(
        e,
        (
            "sluice_destination_queued_bytes",
            "Bytes in a destination's memory queue",
            GAUGE,
        ),
        each(|f| f.queued_bytes as u64).map(|(l, n)| (l, gauge(n))),
    )?;
    family(
        e,
        (
            "sluice_destination_spool_records_pending",
            "Spool records a destination has not settled",
            GAUGE,
        ),
        destinations.iter().filter_map(|f| {
            let pending = f.spool_records_pending?;
            Some((vec![("destination", f.name.as_str())], gauge(pending)))
        }),
    )
}

fn modules(e: &mut DescriptorEncoder, observed: &Observed) -> Result<(), Error> {
    let modules = observed.modules();
    family(
        e,
        (
            "sluice_module_info",
            "The module each destination runs: its name, version, contract and SHA-256",
            GAUGE,
        ),
        modules.iter().map(|m| {
            let labels = vec![
                ("destination", m.destination.as_str()),
                ("module", m.name.as_str()),
                ("version", m.version.as_str()),
                ("contract", m.contract),
                ("sha256", m.sha256.as_str()),
            ];
            (labels, gauge(1))
        }),
    )
}

fn process(e: &mut DescriptorEncoder, process: &Process) -> Result<(), Error> {
    single(
        e,
        (
            "process_cpu_seconds",
            "CPU time the process used, user and system",
        ),
        ConstCounter::new(process.cpu_seconds),
    )?;
    single(
        e,
        ("process_resident_memory_bytes", "Resident memory"),
        gauge(process.resident_bytes),
    )?;
    single(
        e,
        ("process_open_fds", "Open file descriptors"),
        gauge(process.open_fds),
    )?;
    if let Some(max) = process.max_fds {
        single(
            e,
            ("process_max_fds", "The limit of open file descriptors"),
            gauge(max),
        )?;
    }
    single(
        e,
        (
            "process_start_time_seconds",
            "When the run started, in seconds since the Unix epoch",
        ),
        ConstGauge::new(process.start_time_seconds),
    )
}

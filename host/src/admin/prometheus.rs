//! `/metrics`: the figures of [`Observed`] in the Prometheus text format (or
//! OpenMetrics), encoded by `prometheus-client` when scraped. Nothing is counted for
//! the exposition: a scrape reads the counters the stages keep anyway, so metrics cost
//! the hot path nothing.

use std::fmt::Error;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::observed::Observed;
use crate::deliver::Figures;
use crate::metrics::Counters;

/// The registry a scrape encodes: one collector over the run's figures.
pub fn registry(observed: Arc<Observed>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Figured(observed)));
    registry
}

#[derive(Debug)]
struct Figured(Arc<Observed>);

/// A metric with no labels.
fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> Result<(), Error> {
    let kind = metric.metric_type();
    metric.encode(encoder.encode_descriptor(name, help, None, kind)?)
}

/// A metric per destination, `value` of its figures, labelled `destination` (and the
/// extra labels `value` gives, one series per entry).
fn per_destination<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    (name, help, kind): (&str, &str, MetricType),
    destinations: &[Figures],
    value: impl Fn(&Figures) -> Vec<(Option<(&'static str, &'static str)>, M)>,
) -> Result<(), Error> {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for figures in destinations {
        for (extra, metric) in value(figures) {
            let mut labels = vec![("destination", figures.name.as_str())];
            labels.extend(extra);
            metric.encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

fn counter(value: u64) -> ConstCounter {
    ConstCounter::new(value)
}

fn gauge(value: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Collector for Figured {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let observed = &self.0;
        let c = &observed.counters;
        let e = &mut encoder;
        let version = [("version", env!("CARGO_PKG_VERSION"))];
        let info = ConstGauge::new(1i64);
        info.encode(
            e.encode_descriptor(
                "sluice_build_info",
                "The running build",
                None,
                MetricType::Gauge,
            )?
            .encode_family(&version)?,
        )?;
        let uptime = observed.uptime().as_secs_f64();
        single(
            e,
            "sluice_uptime_seconds",
            "Seconds since the run started",
            ConstGauge::new(uptime),
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
                "Events of batches the shutdown deadline cut short",
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
        ] {
            single(e, name, help, counter(Counters::get(counted)))?;
        }
        let unsaved = Counters::get(&c.checkpoints_unsaved);
        single(
            e,
            "sluice_checkpoints_unsaved",
            "1 while the last checkpoint write failed",
            gauge(unsaved),
        )?;
        if let Some(bytes) = observed.spool_bytes() {
            single(
                e,
                "sluice_spool_bytes",
                "Bytes of the spool on disk",
                gauge(bytes),
            )?;
        }

        let destinations = observed.destinations();
        let counted = MetricType::Counter;
        let gauged = MetricType::Gauge;
        per_destination(
            e,
            (
                "sluice_destination_events",
                "Events offered to a destination, by what became of them",
                counted,
            ),
            &destinations,
            |f| {
                [
                    ("delivered", f.delivered),
                    ("dead_lettered", f.dead_lettered),
                    ("dropped", f.dropped_when_full),
                    ("filtered", f.filtered),
                    ("routed_away", f.routed_away),
                ]
                .into_iter()
                .map(|(outcome, n)| (Some(("outcome", outcome)), counter(n)))
                .collect()
            },
        )?;
        per_destination(
            e,
            (
                "sluice_destination_events_in",
                "Events offered to a destination",
                counted,
            ),
            &destinations,
            |f| vec![(None, counter(f.events_in))],
        )?;
        per_destination(
            e,
            (
                "sluice_destination_backlog_events",
                "Events a destination took and has not settled: queued, batched, retried or awaiting confirmation",
                gauged,
            ),
            &destinations,
            |f| vec![(None, gauge(f.backlog))],
        )?;
        per_destination(
            e,
            (
                "sluice_destination_failed_attempts",
                "Attempts that failed, each retry and each give-up",
                counted,
            ),
            &destinations,
            |f| vec![(None, counter(f.failed_attempts))],
        )?;
        per_destination(
            e,
            (
                "sluice_destination_circuit_state",
                "The circuit breaker: 0 closed, 1 half-open, 2 open",
                gauged,
            ),
            &destinations,
            |f| {
                let state = match f.circuit {
                    "closed" => 0,
                    "half-open" => 1,
                    _ => 2,
                };
                vec![(None, gauge(state))]
            },
        )?;
        per_destination(
            e,
            (
                "sluice_destination_paused",
                "1 while the destination's module file is gone and it takes no batch",
                gauged,
            ),
            &destinations,
            |f| vec![(None, gauge(u64::from(f.paused)))],
        )?;
        per_destination(
            e,
            (
                "sluice_destination_failing_seconds",
                "How long the destination has been failing (0: it is not)",
                gauged,
            ),
            &destinations,
            |f| {
                let failing = f.failing_for.map_or(0.0, |d| d.as_secs_f64());
                vec![(None, ConstGauge::new(failing))]
            },
        )?;
        per_destination(
            e,
            (
                "sluice_destination_queued_events",
                "Events in a destination's memory queue",
                gauged,
            ),
            &destinations,
            |f| vec![(None, gauge(f.queued_events as u64))],
        )?;
        per_destination(
            e,
            (
                "sluice_destination_queued_bytes",
                "Bytes in a destination's memory queue",
                gauged,
            ),
            &destinations,
            |f| vec![(None, gauge(f.queued_bytes as u64))],
        )?;
        let spooled: Vec<Figures> = destinations
            .into_iter()
            .filter(|f| f.spool_records_pending.is_some())
            .collect();
        per_destination(
            e,
            (
                "sluice_destination_spool_records_pending",
                "Spool records a destination has not settled",
                gauged,
            ),
            &spooled,
            |f| vec![(None, gauge(f.spool_records_pending.unwrap_or(0)))],
        )
    }
}

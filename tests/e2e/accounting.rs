//! Every way an event leaves the pipeline moves a counter by the exact count, and the
//! counters add up: a run with a parse reject of each kind, a global filter, a route, a
//! destination's own filter, events a destination refuses one by one and as a whole, a
//! full buffer that drops, and batches the shutdown deadline abandons. Each figure is
//! checked against what the receivers, the dead-letter store and the log say
//! independently; at the end, the summary equals the last scrape, and per destination
//! `events in = delivered + dead_lettered + dropped + filtered + routed_away + abandoned`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::admin::{free_port, sample, until};
use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, append_lines, destination_summary, exit_within, send_signal, silent_endpoint,
    transcript,
};

/// The figures a destination's summary line gives, by name.
fn figures(line: &str) -> BTreeMap<String, u64> {
    line.split_whitespace()
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// A destination's counter in a scrape.
fn scraped(metrics: &str, name: &str, destination: &str, outcome: Option<&str>) -> u64 {
    let series = match outcome {
        Some(outcome) => {
            format!("{name}{{destination=\"{destination}\",outcome=\"{outcome}\"}}")
        }
        None => format!("{name}{{destination=\"{destination}\"}}"),
    };
    sample(metrics, &series).unwrap_or_else(|| panic!("no {series} in {metrics}")) as u64
}

/// The outcomes of the summary line and their names in `/metrics`.
const OUTCOMES: [(&str, &str); 6] = [
    ("delivered", "delivered"),
    ("dead_lettered", "dead_lettered"),
    ("dropped_when_full", "dropped"),
    ("filtered", "filtered"),
    ("routed_away", "routed_away"),
    ("abandoned", "abandoned"),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_way_out_moves_its_counter_by_the_exact_count_and_the_counts_add_up() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    receiver.reject_poison();
    let silent = silent_endpoint().await;
    let harness = Harness::new();
    // Source a: 30 events, every fifth a heartbeat (the global filter drops 6, and the
    // source counts the 24 it passes on), n = 0, 10 and 20 poison (HEC refuses them one
    // by one), and four lines that are not events.
    let mut a: Vec<String> = (0..30)
        .map(|n| {
            let action = if n % 5 == 4 { "heartbeat" } else { "login" };
            let poison = n % 10 == 0;
            format!("{{\"action\":\"{action}\",\"n\":{n},\"poison\":{poison}}}")
        })
        .collect();
    a.extend([
        "not json".to_owned(),
        "this neither".to_owned(),
        "[1, 2]".to_owned(),
        format!("{{\"long\":\"{}\"}}", "x".repeat(2000)),
    ]);
    harness.write("data/a.jsonl", a.join("\n") + "\n");
    // Source b: 20 events of tenant b, routed to `cap` only; `cap` drops n >= 115.
    let b: Vec<String> = (100..120)
        .map(|n| format!("{{\"action\":\"login\",\"n\":{n},\"tenant\":\"b\"}}"))
        .collect();
    let b_path = harness.write("data/b.jsonl", b.join("\n") + "\n");
    harness.write(
        "filters/global.toml",
        "[drop]\nany = [{ field = \"action\", eq = \"heartbeat\" }]\n\
         [[route]]\nwhen = { field = \"tenant\", eq = \"b\" }\nto = [\"cap\"]\n",
    );
    harness.write(
        "filters/cap.toml",
        "[drop]\nany = [{ field = \"n\", gte = 115 }]\n",
    );
    let port = free_port();
    let hec = |name: &str, extra: &str| {
        format!(
            "[[destinations]]\nname = \"{name}\"\nmodule = \"splunk-hec\"\nendpoint = \"{}\"\n\
             token = {{ env = \"HEC_TOKEN\" }}\nbatch = {{ max_wait = \"50ms\" }}\n{extra}",
            receiver.endpoint()
        )
    };
    harness.config(&format!(
        "shutdown_timeout = \"1s\"\n[events]\nmax_line_bytes = 1024\n\
         [admin]\nlisten = \"127.0.0.1:{port}\"\n\
         [[filters]]\nname = \"global\"\npolicy = \"filters/global.toml\"\n\
         [[sources]]\nname = \"a\"\ntype = \"file\"\npaths = [\"data/a.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         [[sources]]\nname = \"b\"\ntype = \"file\"\npaths = [\"data/b.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         {}{}\
         [[destinations]]\nname = \"cap\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:out\"\n\
         filter = \"filters/cap.toml\"\nbatch = {{ max_wait = \"50ms\" }}\n\
         [[destinations]]\nname = \"tiny\"\nmodule = \"http\"\nendpoint = \"{silent}\"\n\
         request_timeout = \"60s\"\nbatch = {{ max_events = 2, max_wait = \"10ms\" }}\n\
         buffer = {{ max_events = 2, when_full = \"drop_newest\" }}\n\
         [[destinations]]\nname = \"tiny_oldest\"\nmodule = \"http\"\nendpoint = \"{silent}\"\n\
         request_timeout = \"60s\"\nbatch = {{ max_events = 2, max_wait = \"10ms\" }}\n\
         buffer = {{ max_events = 2, when_full = \"drop_oldest\" }}\n",
        hec("hec", ""),
        hec("wrongidx", "settings = { index = \"nope\" }\n"),
    ));
    let child = harness.spawn_run(receiver.token(), Stdio::null());

    // Three more reads of b (tenant c: to every destination), while `tiny` is stuck:
    // its full buffer drops.
    let settled = |body: &str| {
        sample(
            body,
            "sluice_destination_events_total{destination=\"cap\",outcome=\"delivered\"}",
        ) == Some(39.0)
    };
    until(port, "/metrics", |_, body| settled(body)).await;
    for round in 0..3 {
        append_lines(
            &b_path,
            (0..4).map(|i| {
                format!(
                    "{{\"action\":\"login\",\"n\":{},\"tenant\":\"c\"}}",
                    50 + round * 4 + i
                )
            }),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Everything but `tiny` settled: 24 of a and 12 more of b reached the others.
    let (_, metrics) = until(port, "/metrics", |_, body| {
        sample(
            body,
            "sluice_destination_events_total{destination=\"cap\",outcome=\"delivered\"}",
        ) == Some(51.0)
            && sample(
                body,
                "sluice_destination_backlog_events{destination=\"hec\"}",
            ) == Some(0.0)
            && sample(
                body,
                "sluice_destination_backlog_events{destination=\"wrongidx\"}",
            ) == Some(0.0)
    })
    .await;

    // Parse rejects, by source and reason, and in the dead-letter store.
    let rejected = |source: &str, reason: &str| {
        sample(
            &metrics,
            &format!(
                "sluice_source_lines_rejected_total{{source=\"{source}\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(rejected("a", "not_json"), Some(2.0), "{metrics}");
    assert_eq!(rejected("a", "not_object"), Some(1.0), "{metrics}");
    assert_eq!(rejected("a", "too_long"), Some(1.0), "{metrics}");
    assert_eq!(rejected("b", "not_json"), Some(0.0), "{metrics}");
    assert_eq!(sample(&metrics, "sluice_lines_rejected_total"), Some(4.0));
    assert_eq!(
        sample(&metrics, "sluice_source_events_total{source=\"a\"}"),
        Some(24.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "sluice_source_events_total{source=\"b\"}"),
        Some(32.0),
        "{metrics}"
    );
    // The global filter.
    assert_eq!(sample(&metrics, "sluice_events_filtered_total"), Some(6.0));
    // hec: the poison refused one by one, the rest indexed, b's tenant routed away.
    let indexed = receiver.indexed().len() as u64;
    assert_eq!(
        scraped(
            &metrics,
            "sluice_destination_events_total",
            "hec",
            Some("dead_lettered")
        ),
        3
    );
    assert_eq!(
        scraped(
            &metrics,
            "sluice_destination_events_total",
            "hec",
            Some("routed_away")
        ),
        20
    );
    // wrongidx: every request refused as a whole.
    assert_eq!(
        scraped(
            &metrics,
            "sluice_destination_events_total",
            "wrongidx",
            Some("dead_lettered")
        ),
        36
    );
    assert!(
        sample(
            &metrics,
            "sluice_destination_requests_total{destination=\"wrongidx\",result=\"refused\"}"
        ) >= Some(1.0),
        "{metrics}"
    );
    // cap: its own filter.
    assert_eq!(
        scraped(
            &metrics,
            "sluice_destination_events_total",
            "cap",
            Some("filtered")
        ),
        5
    );
    let dead_letters = harness.dead_letters();
    let stored = |destination: &str, stage: &str| {
        dead_letters
            .iter()
            .filter(|r| {
                r["stage"] == stage && r["destination"].as_str().unwrap_or_default() == destination
            })
            .count() as f64
    };
    for (destination, stage) in [("", "parse"), ("hec", "deliver"), ("wrongidx", "deliver")] {
        let series = format!(
            "sluice_dead_letter_records_total{{destination=\"{destination}\",stage=\"{stage}\"}}"
        );
        assert_eq!(
            sample(&metrics, &series),
            Some(stored(destination, stage)),
            "{series}"
        );
    }
    let tiny_dropped = scraped(
        &metrics,
        "sluice_destination_events_total",
        "tiny",
        Some("dropped"),
    );
    assert!(
        tiny_dropped > 0,
        "the full buffer dropped nothing: {metrics}"
    );

    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, Duration::from_secs(30)).await;
    // Events abandoned at the shutdown deadline: exit code 1.
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();

    // The summary equals the last scrape for the destinations that had settled, and
    // every destination's events in add up to their outcomes.
    for name in ["hec", "wrongidx", "cap", "tiny", "tiny_oldest"] {
        let summary = figures(&destination_summary(&stderr, name));
        let outcomes: u64 = OUTCOMES.iter().map(|(key, _)| summary[*key]).sum();
        assert_eq!(summary["events_in"], outcomes, "{name}: {summary:?}");
        assert_eq!(summary["backlog"], 0, "{name}: {summary:?}");
        if name.starts_with("tiny") {
            continue;
        }
        assert_eq!(
            summary["events_in"],
            scraped(&metrics, "sluice_destination_events_in_total", name, None),
            "{name}"
        );
        for (key, outcome) in OUTCOMES {
            let scrape = scraped(
                &metrics,
                "sluice_destination_events_total",
                name,
                Some(outcome),
            );
            assert_eq!(summary[key], scrape, "{name} {key}: {summary:?}");
        }
    }
    let hec = figures(&destination_summary(&stderr, "hec"));
    assert_eq!(hec["delivered"], indexed);
    assert_eq!(hec["delivered"], 33);
    // The tiny ones: what their full buffers dropped (the newest, or the oldest), as
    // their warnings add up, and what the deadline abandoned, as the dead-letter store
    // keeps it.
    let dead_letters = harness.dead_letters();
    for (name, scraped_drops) in [("tiny", Some(tiny_dropped)), ("tiny_oldest", None)] {
        let tiny = figures(&destination_summary(&stderr, name));
        let warned: u64 = stderr
            .lines()
            .filter(|l| l.contains("buffer full") && l.contains(&format!("destination={name} ")))
            .map(|l| figures(l)["events"])
            .sum();
        assert!(tiny["dropped_when_full"] > 0, "{name}: {stderr}");
        assert_eq!(tiny["dropped_when_full"], warned, "{name}: {stderr}");
        if let Some(scraped) = scraped_drops {
            assert_eq!(tiny["dropped_when_full"], scraped);
        }
        let abandoned = dead_letters
            .iter()
            .filter(|r| r["stage"] == "shutdown" && r["destination"] == name)
            .count() as u64;
        assert!(tiny["abandoned"] > 0, "{name}: {stderr}");
        assert_eq!(tiny["abandoned"], abandoned, "{name}: {stderr}");
        // Said in at most two lines (the first, and the rest at the end) that add up.
        let said: Vec<u64> = stderr
            .lines()
            .filter(|l| l.contains("abandoned") && l.contains(&format!("destination={name} ")))
            .filter(|l| !l.contains("destination summary"))
            .map(|l| figures(l)["events"])
            .collect();
        assert!((1..=2).contains(&said.len()), "{name}: {stderr}");
        assert_eq!(said.iter().sum::<u64>(), abandoned, "{name}: {stderr}");
        assert_eq!(tiny["delivered"], 0);
    }
}

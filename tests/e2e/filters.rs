//! Filter policies (`[[filters]]`): the proxy users' rules from the seeds, on the proxy
//! sample, through the real binary: only what the policy keeps is delivered, what it
//! drops is counted (per filter), never dead-lettered; a bad policy is refused by
//! `sluice check` with where it is wrong.

use serde_json::Value;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    Harness, check_fails, data_file, objects_in, sorted, splunk_destination, summary_figure,
    transcript,
};

/// Only sanitized requests to two AI providers, never a health check or metrics scrape.
const PROXY_POLICY: &str = r#"
[keep]
all = [
  { field = "sanitized_count", gte = 1 },
  { field = "host", in = ["api.openai.com", "api.anthropic.com"] },
]
[drop]
any = [{ field = "path", in = ["/health", "/metrics"] }]
"#;

fn config(receiver: &HecReceiver) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/proxy-audit.jsonl\"]\n\
         [[filters]]\nname = \"proxy-seed\"\npolicy = \"filters/proxy.toml\"\n{}",
        splunk_destination(&receiver.endpoint(), "")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn only_what_the_policy_keeps_is_delivered_and_the_rest_is_counted() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["proxy-audit.jsonl"]);
    harness.write("filters/proxy.toml", PROXY_POLICY);
    harness.config(&config(&receiver));

    let output = harness.run_ok(&[("HEC_TOKEN", receiver.token())]).await;

    // The rule, computed here apart from the policy language.
    let all = objects_in(&data_file("proxy-audit.jsonl"));
    let kept: Vec<Value> = all
        .iter()
        .filter(|e| {
            e["sanitized_count"].as_u64().is_some_and(|n| n >= 1)
                && ["api.openai.com", "api.anthropic.com"].contains(&e["host"].as_str().unwrap())
                && !["/health", "/metrics"].contains(&e["path"].as_str().unwrap())
        })
        .cloned()
        .collect();
    assert!(
        !kept.is_empty() && kept.len() < all.len(),
        "the sample exercises both ways"
    );
    let delivered: Vec<Value> = receiver
        .indexed()
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(
        sorted(delivered),
        sorted(kept.clone()),
        "{}",
        transcript(&output)
    );
    let dropped = (all.len() - kept.len()) as u64;
    assert_eq!(summary_figure(&output, "filtered"), dropped);
    assert_eq!(summary_figure(&output, "delivered"), kept.len() as u64);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().any(|l| l.contains("filter summary")
            && l.contains("filter=proxy-seed")
            && l.contains(&format!("dropped={dropped}"))),
        "{stderr}"
    );
    assert!(
        harness.dead_letters().is_empty(),
        "dropped events are not dead letters"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_a_policy_with_its_line_and_column() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["proxy-audit.jsonl"]);
    harness.write(
        "filters/proxy.toml",
        "[keep]\nall = [\n  { field = \"host\", eq = \"a\", ne = \"b\" },\n]\n",
    );
    let stderr = check_fails(&harness, &config(&receiver), &[("HEC_TOKEN", "t")]).await;
    assert!(
        stderr.contains("filters[0]: filter `proxy-seed`")
            && stderr.contains("proxy.toml")
            && stderr.contains("keep.all[0] (line 3, column 3)")
            && stderr.contains("one test"),
        "{stderr}"
    );
}

/// `sluice preview --filter FILE` prints the events a policy keeps, and says how many
/// it dropped; with `--module` too, only those are formatted.
#[tokio::test(flavor = "multi_thread")]
async fn preview_shows_what_a_policy_keeps() {
    let harness = Harness::new();
    let policy = harness.write("proxy.toml", PROXY_POLICY);
    let input = std::fs::read(data_file("proxy-audit.jsonl")).unwrap();
    let policy = policy.display().to_string();

    let output = harness
        .sluice_with_input(&["preview", "--filter", &policy], &[], &input)
        .await;

    assert!(output.status.success(), "{}", transcript(&output));
    let kept: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(kept.len(), 10, "{}", transcript(&output));
    assert!(
        kept.iter()
            .all(|e| e["sanitized_count"].as_u64().unwrap() >= 1
                && e["path"] != "/health"
                && e["path"] != "/metrics")
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the filter keeps 10 events and drops 50"),
        "{}",
        transcript(&output)
    );

    let formatted = harness
        .sluice_with_input(
            &["preview", "--filter", &policy, "--module", "splunk-hec"],
            &[],
            &input,
        )
        .await;
    assert!(formatted.status.success(), "{}", transcript(&formatted));
    assert!(
        String::from_utf8_lossy(&formatted.stdout).contains("### request 1 of 1: 10 events"),
        "{}",
        transcript(&formatted)
    );
}

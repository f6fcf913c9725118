//! Lines no event source should produce, which must neither crash a source nor take
//! the valid events around them down with it.

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{Harness, splunk_destination, summary_figure, transcript};

/// Lines of only non-ASCII whitespace once panicked the parser: the source task died,
/// every event of the file was lost (the valid ones before it too), nothing was
/// dead-lettered and the run exited 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_of_only_unicode_whitespace_is_dead_lettered_and_the_file_goes_on() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    let blanks = ["\u{a0}", "\u{2028}", "\u{3000}", "\u{b}"];
    let mut text = String::new();
    for (i, blank) in blanks.iter().enumerate() {
        text.push_str(&format!("{{\"n\":{i}}}\n{blank}\n"));
    }
    text.push_str("{\"n\":\"last\"}\n");
    harness.write("data/odd.jsonl", text);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/odd.jsonl\"]\n{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    let output = harness
        .run_expecting(3, &[("HEC_TOKEN", receiver.token())])
        .await;

    assert_eq!(receiver.indexed().len(), 5, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "lines_rejected"), 4);
    let dead = harness.dead_letters();
    let origins: Vec<&str> = dead.iter().map(|r| r["origin"].as_str().unwrap()).collect();
    for (i, origin) in origins.iter().enumerate() {
        assert!(
            origin.ends_with(&format!("odd.jsonl:{}", 2 * i + 2)),
            "{origins:?}"
        );
    }
    assert!(
        dead.iter().all(|r| r["reason"]
            .as_str()
            .unwrap()
            .starts_with("a line of only whitespace")),
        "{dead:?}"
    );
}

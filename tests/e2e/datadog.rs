//! The `datadog` module end to end, against the strict intake of `support/datadog.rs`.

use crate::support::datadog::DatadogIntake;
use crate::support::{Harness, SAMPLE_FILES, objects_in, sorted, transcript, write_events};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn destination(endpoint: &str, extra: &str) -> String {
    format!(
        "[[destinations]]\nname = \"datadog\"\nmodule = \"datadog\"\nendpoint = {endpoint:?}\ntoken = {{ env = \"DD_API_KEY\" }}\n{extra}\n"
    )
}

/// Every sample event arrives once, in `message`, with its source, host, service, an
/// epoch-millisecond timestamp and the status of the SDK's severity mapping; a 429 on
/// the way is waited out.
#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_arrives_with_its_status_and_time() {
    let intake = DatadogIntake::start(KEY).await;
    intake.make_busy(1);
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&format!(
        "[events]\ntags = {{ env = \"prod\" }}\n[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{}",
        destination(intake.endpoint(), "settings = { ddsource = \"acme-audit\", hostname = \"host1\" }")
    ));
    let output = harness.run_ok(&[("DD_API_KEY", KEY)]).await;

    let items = intake.items();
    let messages: Vec<serde_json::Value> = items
        .iter()
        .map(|item| serde_json::from_str(item["message"].as_str().unwrap()).unwrap())
        .collect();
    let expected: Vec<_> = SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&harness.path(&format!("data/{name}"))))
        .collect();
    assert_eq!(
        sorted(messages.clone()),
        sorted(expected),
        "{}",
        transcript(&output)
    );
    for (item, event) in items.iter().zip(&messages) {
        assert_eq!(item["ddsource"], "acme-audit");
        assert_eq!(item["hostname"], "host1");
        assert_eq!(item["ddtags"], "env:prod");
        assert!(
            item["timestamp"].as_u64().unwrap() > 1_700_000_000_000,
            "{item}"
        );
        // Spellings of the samples, as the SDK maps them: an explicit `severity`
        // first, then the words of the event's type (seed 003's rule), then `risk`, then
        // what happened (`status`, `result`), then an HTTP `status_code`.
        let text = |key: &str| event[key].as_str().map(str::to_ascii_lowercase);
        let kind = text("event_type").unwrap_or_default();
        let words: Vec<&str> = kind.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        let kind_says = if words.contains(&"error") || words.contains(&"failed") {
            Some("error")
        } else if words.contains(&"denied") || kind.contains("security_decision") {
            Some("warning")
        } else {
            None
        };
        let expected = match (
            text("severity"),
            text("risk"),
            text("status"),
            text("result"),
        ) {
            (Some(severity), ..) => severity,
            _ if kind_says.is_some() => kind_says.unwrap().to_owned(),
            (None, Some(risk), ..) => match risk.as_str() {
                "low" => "info",
                "medium" => "warning",
                _ => "error",
            }
            .to_owned(),
            (None, None, Some(status), _) | (None, None, None, Some(status)) => {
                match status.as_str() {
                    "denied" => "warning",
                    "error" | "failure" => "error",
                    _ => "info",
                }
                .to_owned()
            }
            (None, None, None, None) => match event["status_code"].as_u64() {
                Some(500..) => "error",
                Some(400..=499) => "warning",
                _ => "info",
            }
            .to_owned(),
        };
        assert_eq!(item["status"], expected.as_str(), "{event}");
    }
    assert!(intake.violations().is_empty(), "{:?}", intake.violations());
}

/// A batch larger than the intake takes (2,500 events, configured past the module's
/// default) goes in requests of at most 1,000 items; a log over 1 MB is dead-lettered
/// with the reason instead of being stored cut.
#[tokio::test(flavor = "multi_thread")]
async fn the_intake_limits_are_never_exceeded() {
    let intake = DatadogIntake::start(KEY).await;
    let harness = Harness::new();
    write_events(&harness, "data/many.jsonl", 2_500);
    harness.write(
        "data/huge.jsonl",
        format!("{{\"pad\":\"{}\"}}\n", "x".repeat(1_200_000)),
    );
    harness.config(&format!(
        "[events]\nmax_line_bytes = 2000000\n[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{}",
        destination(
            intake.endpoint(),
            "batch = { max_events = 3000, max_bytes = 10000000, max_wait = \"5s\" }"
        )
    ));
    let output = harness.run_expecting(3, &[("DD_API_KEY", KEY)]).await;

    assert_eq!(intake.items().len(), 2_500, "{}", transcript(&output));
    assert!(intake.violations().is_empty(), "{:?}", intake.violations());
    assert!(intake.requests() >= 3);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("1000000"),
        "{}",
        dead[0]
    );
}

/// A wrong key is refused (403) and the events dead-lettered with Datadog's answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_refused() {
    let intake = DatadogIntake::start(KEY).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{}",
        destination(intake.endpoint(), "")
    ));
    harness.run_expecting(3, &[("DD_API_KEY", "wrong")]).await;
    let dead = harness.dead_letters();
    assert!(!dead.is_empty());
    assert!(dead.iter().all(|r| {
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with("Datadog HTTP 403")
    }));
}

/// `site` names the intake among those the module lists in its description (the
/// default when neither it nor `endpoint` is given); a site not listed, or both a site
/// and an endpoint, is a `check` error; a module without such a list needs an endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn a_site_chooses_among_the_intakes_the_module_lists_and_nothing_else() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let check = |destination: String| {
        harness.config(&format!(
            "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{destination}"
        ));
        harness.sluice(&["check", "-c", "sluice.toml"], &[("DD_API_KEY", KEY)])
    };
    let without_endpoint = |settings: &str| {
        format!(
            "[[destinations]]\nname = \"datadog\"\nmodule = \"datadog\"\ntoken = {{ env = \"DD_API_KEY\" }}\n{settings}\n"
        )
    };
    for (settings, intake) in [
        (
            "settings = { site = \"datadoghq.eu\" }",
            "endpoint https://http-intake.logs.datadoghq.eu/ (site = datadoghq.eu)",
        ),
        (
            "",
            "endpoint https://http-intake.logs.datadoghq.com/ (site = datadoghq.com)",
        ),
    ] {
        let checked = check(without_endpoint(settings)).await;
        assert_eq!(checked.status.code(), Some(0), "{}", transcript(&checked));
        assert!(
            String::from_utf8_lossy(&checked.stdout).contains(intake),
            "{intake}: {}",
            transcript(&checked)
        );
    }
    // `preview` says where the requests would go, and refuses a site not listed.
    for (site, answer) in [
        (
            "site=datadoghq.eu",
            "### to the endpoint https://http-intake.logs.datadoghq.eu/ (site = datadoghq.eu)",
        ),
        (
            "site=evil.example",
            "settings.site: `evil.example` is not one of",
        ),
    ] {
        let previewed = harness
            .sluice_with_input(
                &["preview", "-m", "datadog", "--set", site],
                &[],
                br#"{"user":"bob"}"#,
            )
            .await;
        assert!(
            transcript(&previewed).contains(answer),
            "{answer}: {}",
            transcript(&previewed)
        );
    }
    for (destination, problem) in [
        (
            without_endpoint("settings = { site = \"evil.example\" }"),
            "settings.site: `evil.example` is not one of `datadoghq.com`, `us3.datadoghq.com`",
        ),
        (
            destination(
                "https://http-intake.logs.datadoghq.com",
                "settings = { site = \"datadoghq.eu\" }",
            ),
            "endpoint: give `endpoint` or `settings.site`, not both",
        ),
        (
            "[[destinations]]\nname = \"hook\"\nmodule = \"http\"\n".to_owned(),
            "endpoint: missing: give the URL the destination's requests go to",
        ),
    ] {
        let checked = check(destination).await;
        assert_eq!(checked.status.code(), Some(2), "{}", transcript(&checked));
        assert!(
            String::from_utf8_lossy(&checked.stderr).contains(problem),
            "{problem}: {}",
            transcript(&checked)
        );
    }
}

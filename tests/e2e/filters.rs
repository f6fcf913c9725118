//! Filter policies (`[[filters]]`): the proxy users' rules from the seeds, on the proxy
//! sample, through the real binary: only what the policy keeps is delivered, what it
//! drops is counted (per filter), never dead-lettered; a bad policy is refused by
//! `sluice check` with where it is wrong.

use serde_json::Value;

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    FILE_SOURCE, Harness, captured_numbers, check_fails, data_file, destination_summary,
    objects_in, sorted, splunk_destination, summary_figure, transcript,
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

/// Events `first..first + count`: tenant `acme` for every third, path `/health` for
/// every fifth, kind `a`, `b`, `c` in turn.
fn tenant_events(first: u64, count: u64) -> impl Iterator<Item = String> {
    (first..first + count).map(|n| {
        let tenant = if n % 3 == 0 { "acme" } else { "beta" };
        let path = if n % 5 == 0 { "/health" } else { "/x" };
        let kind = ["a", "b", "c"][n as usize % 3];
        format!(r#"{{"n":{n},"tenant":"{tenant}","path":"{path}","kind":"{kind}"}}"#)
    })
}

fn capture_destination(name: &str, extra: &str) -> String {
    format!(
        "[[destinations]]\nname = \"{name}\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured-{name}\"\nbatch = {{ max_wait = \"50ms\" }}\n{extra}\n"
    )
}

/// A global policy routes one tenant to its own destination, and the others (a last
/// route without `when`) to another destination, which has a filter of its own. Each gets exactly its events, and says what it left out.
#[tokio::test(flavor = "multi_thread")]
async fn routes_and_a_destinations_own_filter_pick_its_events() {
    let harness = Harness::new();
    crate::support::append_lines(&harness.path("data/tenants.jsonl"), tenant_events(0, 60));
    harness.write(
        "filters/tenants.toml",
        "[[route]]\nwhen = { field = \"tenant\", eq = \"acme\" }\nto = [\"acme\"]\n[[route]]\nto = [\"rest\"]\n",
    );
    harness.write(
        "filters/no-health.toml",
        "drop = { field = \"path\", eq = \"/health\" }\n",
    );
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/tenants.jsonl\"]\n\
         [[filters]]\nname = \"tenants\"\npolicy = \"filters/tenants.toml\"\n{}{}",
        capture_destination("acme", ""),
        capture_destination("rest", "filter = \"filters/no-health.toml\""),
    ));

    let output = harness.run_ok(&[]).await;

    let acme: Vec<u64> = (0..60).filter(|n| n % 3 == 0).collect();
    let rest: Vec<u64> = (0..60).filter(|n| n % 3 != 0 && n % 5 != 0).collect();
    assert_eq!(
        captured_numbers(&harness, "captured-acme"),
        acme,
        "{}",
        transcript(&output)
    );
    assert_eq!(captured_numbers(&harness, "captured-rest"), rest);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = |name: &str| destination_summary(&stderr, name);
    assert!(summary("acme").contains("routed_away=40 ") && summary("acme").contains("filtered=0 "));
    assert!(summary("rest").contains("routed_away=20 ") && summary("rest").contains("filtered=8 "));
    assert!(
        harness.dead_letters().is_empty(),
        "left-out events are not dead letters"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_a_route_to_no_destination_and_a_route_in_a_destination_filter() {
    // A route to a destination that does not take one of the sources: that source's
    // routed events would go nowhere (they used to be settled with exit 0).
    let harness = Harness::new();
    harness.write("data/tenants.jsonl", "");
    harness.write("filters/route.toml", "[[route]]\nto = [\"acme\"]\n");
    let two_sources = format!(
        "[[sources]]\ntype = \"file\"\nname = \"app\"\npaths = [\"data/tenants.jsonl\"]\n\
         [[sources]]\ntype = \"stdin\"\nname = \"pipe\"\n\
         [[filters]]\nname = \"r\"\npolicy = \"filters/route.toml\"\n{}{}",
        capture_destination("acme", "sources = [\"app\"]"),
        capture_destination("rest", "")
    );
    let stderr = check_fails(&harness, &two_sources, &[]).await;
    assert!(
        stderr.contains("sends events to `acme`, which does not take the events of sources[1]"),
        "{stderr}"
    );

    let harness = Harness::new();
    harness.write("data/tenants.jsonl", "");
    let route = "[[route]]\nto = [\"nowhere\"]\n";
    harness.write("filters/route.toml", route);
    let source = "[[sources]]\ntype = \"file\"\npaths = [\"data/tenants.jsonl\"]\n";
    let global = format!(
        "{source}[[filters]]\nname = \"r\"\npolicy = \"filters/route.toml\"\n{}",
        capture_destination("a", "")
    );
    let stderr = check_fails(&harness, &global, &[]).await;
    assert!(
        stderr.contains("filters[0] (")
            && stderr.contains("sends events to `nowhere`, but no destination has that name"),
        "{stderr}"
    );
    let own = format!(
        "{source}{}",
        capture_destination("a", "filter = \"filters/route.toml\"")
    );
    let stderr = check_fails(&harness, &own, &[]).await;
    assert!(
        stderr.contains("destinations[0] (`a`).filter")
            && stderr.contains("routes belong in a global [[filters]] policy"),
        "{stderr}"
    );
}

/// While events stream from a followed file, the global and a destination's policy
/// files change: events read after each change follow the new policies; a broken
/// policy is refused with where it is wrong, and the running one stays.
#[tokio::test(flavor = "multi_thread")]
async fn policy_files_are_reloaded_when_they_change() {
    use std::time::Duration;
    let harness = Harness::new();
    let live = harness.path("data/live.jsonl");
    let global = "filters/global.toml";
    let own = "filters/own.toml";
    harness.write(global, "drop = { field = \"kind\", eq = \"c\" }\n");
    harness.write(own, "drop = { field = \"kind\", eq = \"b\" }\n");
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/live.jsonl\"]\nfollow = true\npoll_interval = \"50ms\"\n\
         [[filters]]\nname = \"global\"\npolicy = \"{global}\"\n{}",
        capture_destination("probe", &format!("filter = \"{own}\""))
    ));
    let child = harness.start_run();
    let kinds = |first: u64, wanted: &[&str]| -> Vec<u64> {
        (first..first + 30)
            .filter(|n| wanted.contains(&["a", "b", "c"][*n as usize % 3]))
            .collect()
    };
    let mut expected = Vec::new();
    let mut phase = |first: u64, wanted: &[&str]| {
        crate::support::append_lines(&live, tenant_events(first, 30));
        expected.extend(kinds(first, wanted));
        expected.clone()
    };
    let until = |expected: Vec<u64>| {
        let harness = &harness;
        async move {
            for _ in 0..100 {
                if captured_numbers(harness, "captured-probe").len() >= expected.len() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    // Given time to start watching.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    until(phase(0, &["a"])).await;
    harness.write(own, "drop = { field = \"kind\", eq = \"a\" }\n");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    until(phase(30, &["b"])).await;
    harness.write(global, "keep = { field = \"kind\", exists = true }\n");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    until(phase(60, &["b", "c"])).await;
    harness.write(global, "[keep]\nfield = \"kind\"\nequals = \"a\"\n");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let expected = phase(90, &["b", "c"]);
    until(expected.clone()).await;

    let stderr = crate::support::stop(child).await;
    assert_eq!(
        captured_numbers(&harness, "captured-probe"),
        expected,
        "{stderr}"
    );
    let reloaded = |name: &str| {
        stderr
            .lines()
            .filter(|l| {
                l.contains("filter policy reloaded") && l.contains(&format!("filter={name} "))
            })
            .count()
    };
    assert_eq!((reloaded("probe"), reloaded("global")), (1, 1), "{stderr}");
    assert!(
        stderr.lines().any(
            |l| l.contains("filter policy refused; the running one stays")
                && l.contains("global.toml")
                && l.contains("unknown field `equals`")
                && l.contains("line 3")
        ),
        "{stderr}"
    );
}

/// `preview --filter` on a policy with routes prints, per event, where it goes.
#[tokio::test(flavor = "multi_thread")]
async fn preview_of_a_routing_policy_shows_each_events_destinations() {
    let harness = Harness::new();
    let policy = harness.write(
        "routes.toml",
        "[[route]]\nwhen = { field = \"tenant\", eq = \"acme\" }\nto = [\"acme\", \"archive\"]\n",
    );
    let input: String = tenant_events(0, 4).map(|line| line + "\n").collect();
    let output = harness
        .sluice_with_input(
            &["preview", "--filter", policy.to_str().unwrap()],
            &[],
            input.as_bytes(),
        )
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split(": {").next().unwrap().to_owned())
        .collect();
    assert_eq!(
        lines,
        [
            "to acme, archive",
            "to every destination (no route matches)",
            "to every destination (no route matches)",
            "to acme, archive",
        ],
        "{}",
        transcript(&output)
    );
}

/// `preview -c FILE --destination NAME` takes what the destination takes (global
/// routes, its own policy) and formats it with its module and settings, with no secret.
#[tokio::test(flavor = "multi_thread")]
async fn preview_of_a_configured_destination_follows_its_routes_filter_and_settings() {
    let harness = Harness::new();
    harness.write(
        "routes.toml",
        "[[route]]\nwhen = { field = \"tenant\", eq = \"acme\" }\nto = [\"acme\"]\n[[route]]\nto = [\"rest\"]\n",
    );
    harness.write(
        "no-health.toml",
        "[drop]\nany = [{ field = \"path\", eq = \"/health\" }]\n",
    );
    harness.config(&format!(
        "{FILE_SOURCE}[[filters]]\nname = \"routes\"\npolicy = \"routes.toml\"\n\
         [[destinations]]\nname = \"acme\"\nmodule = \"splunk-hec\"\nendpoint = \"https://splunk.example.com:8088\"\n\
         token = {{ env = \"HEC_TOKEN\" }}\nfilter = \"no-health.toml\"\nsettings = {{ index = \"acme\" }}\n\
         [[destinations]]\nname = \"rest\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:rest\"\n"
    ));
    let input: String = tenant_events(0, 30).map(|line| line + "\n").collect();
    let args = ["preview", "-c", "sluice.toml", "--destination", "acme"];
    // No HEC_TOKEN: preview reads no secret.
    let output = harness
        .sluice_with_input(&args, &[], input.as_bytes())
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Tenant acme is every third event, 10 of 30; two of them (0 and 15) are /health.
    assert!(stdout.contains("### request 1 of 1: 8 events"), "{stdout}");
    assert!(stdout.contains("Authorization: Splunk ****"), "{stdout}");
    assert_eq!(stdout.matches("\"index\":\"acme\"").count(), 8, "{stdout}");
    assert!(!stdout.contains("\"tenant\":\"beta\""), "{stdout}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "the destination's routes send 20 events elsewhere and its own filter drops 2"
        ),
        "{}",
        transcript(&output)
    );

    // With several destinations, the one to preview is asked for by name.
    let output = harness
        .sluice_with_input(&["preview", "-c", "sluice.toml"], &[], b"")
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--destination (one of: acme, rest)"),
        "{}",
        transcript(&output)
    );
}

/// Seed 002 and 003's export rules in one global policy: a window of time (two days of
/// a week, and the last day by a relative bound), words anywhere in the event's text
/// values, and a tenant every exported event must name. What the window or the search
/// leaves out is filtered; what they keep without a tenant goes to the dead-letter
/// store with the reason, and the run says so in its exit code. An event whose time
/// does not parse is judged by its ingest time, and counted, kept or not.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_selects_by_time_and_text_and_dead_letters_events_without_a_required_field() {
    let now = jiff::Timestamp::now();
    let week: jiff::Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    let mut unfit = Vec::new();
    for n in 0..400u64 {
        // Every 30 minutes from the 1st; the last 40 around now, 45 minutes apart from
        // 29 h 40 min ago (none within 20 minutes of the relative bound).
        let at = match n < 360 {
            true => week + jiff::SignedDuration::from_mins(30 * n as i64),
            false => {
                now - jiff::SignedDuration::from_mins(29 * 60 + 40)
                    + jiff::SignedDuration::from_mins(45 * (n as i64 - 360))
            }
        };
        // "ADMIN" in a nested value, spelled with an escape, as a key only, or absent.
        let (text, holds_words) = match n % 4 {
            0 => (r#""actor":{"roles":["viewer","ADMIN"]}"#, true),
            1 => (r#""path":"/v1/\u0061dmin/keys""#, true),
            2 => (r#""admin":false"#, false),
            _ => (r#""path":"/v1/keys""#, false),
        };
        let tenant = match n % 7 {
            0 => String::new(),
            1 => r#","tenant_id":"""#.to_owned(),
            _ => r#","tenant_id":"t-1""#.to_owned(),
        };
        lines.push(format!(r#"{{"n":{n},"timestamp":"{at}",{text}{tenant}}}"#));
        let in_window = ("2026-11-03T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
            ..("2026-11-05T00:00:00Z".parse().unwrap()))
            .contains(&at)
            || at >= now - jiff::SignedDuration::from_hours(24);
        if in_window && holds_words {
            match n % 7 {
                0 | 1 => unfit.push(n),
                _ => expected.push(n),
            }
        }
    }
    // Events whose time field holds no time are judged by their ingest time, and counted
    // so whether the policy keeps them or not.
    for n in 400..405u64 {
        lines.push(format!(
            r#"{{"n":{n},"timestamp":"at noon","path":"/v1/keys"}}"#
        ));
    }
    // In the window by its ingest time, without a tenant: dead-lettered, and counted.
    lines.push(r#"{"n":405,"timestamp":"at noon","path":"/v1/admin"}"#.to_owned());
    unfit.push(405);
    let harness = Harness::new();
    harness.write("data/audit.jsonl", lines.join("\n") + "\n");
    harness.write(
        "filters/export.toml",
        r#"
[keep]
all = [
  { any = [
      { all = [{ after = "2026-11-03T00:00:00Z" }, { before = "2026-11-05T00:00:00Z" }] },
      { after = "-24h" },
  ] },
  { search = "admin", case_insensitive = true },
]
[require]
fields = ["tenant_id"]
"#,
    );
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n\
         [[filters]]\nname = \"export\"\npolicy = \"filters/export.toml\"\n{}",
        capture_destination("siem", "")
    ));
    let output = harness.sluice(&["run", "-c", "sluice.toml"], &[]).await;
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let mut delivered = captured_numbers(&harness, "captured-siem");
    delivered.sort_unstable();
    assert!(
        expected.len() > 20 && unfit.len() > 5,
        "the sample exercises each way"
    );
    assert_eq!(delivered, expected, "{}", transcript(&output));
    let dead: Vec<(u64, String)> = harness
        .dead_letters()
        .iter()
        .map(|record| {
            let line: Value = serde_json::from_str(record["line"].as_str().unwrap()).unwrap();
            (
                line["n"].as_u64().unwrap(),
                record["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        dead.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        unfit,
        "{}",
        transcript(&output)
    );
    assert!(
        dead.iter().all(|(_, reason)| reason
            == "filter `export`: the policy requires `tenant_id`, which the event lacks (absent, null or empty)"),
        "{dead:?}"
    );
    assert_eq!(
        summary_figure(&output, "lines_rejected"),
        unfit.len() as u64
    );
    assert_eq!(
        summary_figure(&output, "filtered"),
        (lines.len() - expected.len() - unfit.len()) as u64
    );
    assert_eq!(summary_figure(&output, "time_unparsed"), 6);

    // A destination's own policy cannot dead-letter: [require] is refused there.
    let own = format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n{}",
        capture_destination("siem", "filter = \"filters/export.toml\"")
    );
    let stderr = check_fails(&harness, &own, &[]).await;
    assert!(
        stderr.contains("destinations[0] (`siem`).filter")
            && stderr.contains("has a [require] table"),
        "{stderr}"
    );
}

/// A field read by a time field and by two policies is read for each: the policies read
/// their values, and every event keeps its own time. (Each field had one slot per
/// place it was named: the last took it, so the first policy saw every tenant missing
/// and dead-lettered every event, and a policy reading `timestamp` made every event
/// take its ingest time.) A dotted name is a key of the top level before it is a path.
#[tokio::test(flavor = "multi_thread")]
async fn a_field_read_by_a_time_field_and_two_policies_is_read_for_each() {
    let harness = Harness::new();
    let lines = (0..30u64).map(|n| {
        let tenant = match n % 3 {
            0 => r#","tenant":"acme""#,
            1 => r#","tenant":"beta""#,
            _ => r#","actor.tenant":"acme""#,
        };
        format!(r#"{{"n":{n},"timestamp":"2026-11-01T00:00:{n:02}Z"{tenant}}}"#)
    });
    crate::support::append_lines(&harness.path("data/audit.jsonl"), lines);
    harness.write("filters/tenant.toml", "[require]\nfields = [\"tenant\"]\n");
    harness.write(
        "filters/beta.toml",
        "[drop]\nany = [{ field = \"tenant\", eq = \"beta\" }, { field = \"timestamp\", prefix = \"2025\" }, { field = \"actor.tenant\", eq = \"acme\" }]\n",
    );
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/audit.jsonl\"]\n\
         [[filters]]\nname = \"beta\"\npolicy = \"filters/beta.toml\"\n\
         [[filters]]\nname = \"tenant\"\npolicy = \"filters/tenant.toml\"\n{}",
        capture_destination("siem", "")
    ));
    let output = harness.run_ok(&[]).await;
    let mut times = Vec::new();
    for entry in std::fs::read_dir(harness.path("captured-siem")).unwrap() {
        let request = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let body = request.split_once("\r\n\r\n").unwrap().1;
        for envelope in serde_json::Deserializer::from_str(body).into_iter::<Value>() {
            let envelope = envelope.unwrap();
            let n = envelope["event"]["n"].as_u64().unwrap();
            times.push((n, envelope["time"].as_f64().unwrap()));
        }
    }
    times.sort_by_key(|(n, _)| *n);
    let expected: Vec<(u64, f64)> = (0..30)
        .filter(|n| n % 3 == 0)
        .map(|n| (n, 1_793_491_200.0 + n as f64))
        .collect();
    assert_eq!(times, expected, "{}", transcript(&output));
    assert_eq!(summary_figure(&output, "filtered"), 20);
    assert_eq!(summary_figure(&output, "time_unparsed"), 0);
}

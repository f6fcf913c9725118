//! `sluice check`, `sluice preview` and the start of `sluice run` as a user runs them.

use crate::support::{
    CAPTURE_DESTINATION, FILE_SOURCE, Harness, check_fails, data_file, splunk_destination,
    summary_figure, test_module, transcript, write_events,
};

fn valid() -> String {
    format!(
        "{FILE_SOURCE}{}",
        splunk_destination(
            "https://splunk.example.com:8088",
            "settings = { index = \"audit\" }"
        )
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn check_accepts_a_valid_config() {
    let harness = Harness::new();
    harness.config(&valid());
    let output = harness
        .sluice(&["check", "-c", "sluice.toml"], &[("HEC_TOKEN", "t")])
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .contains("ok  destination `splunk`: splunk-hec 0.1.0 (built-in module `splunk-hec`)"),
        "{stdout}"
    );

    let help = harness.sluice(&["check", "--help"], &[]).await;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("-c, --config <CONFIG>") && help.contains("Configuration file (TOML)"),
        "{help}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_refuses_to_start_with_a_setting_the_module_refuses() {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    harness.config(&valid().replace("index = \"audit\"", "gzip = \"maybe\""));
    let output = harness
        .sluice(&["run", "-c", "sluice.toml"], &[("HEC_TOKEN", "t")])
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "sluice.toml: destinations[0] (`splunk`): settings.gzip: `maybe` is not a boolean"
        ),
        "the file, the destination, the key and the problem: {stderr}"
    );
    assert!(
        harness.dead_letters().is_empty(),
        "no event was read, so none was dead-lettered"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_names_the_key_and_the_problem() {
    type Env = &'static [(&'static str, &'static str)];
    let token: Env = &[("HEC_TOKEN", "t")];
    // (what to change in the valid config, its environment, what the message must say)
    let cases: [(&str, &str, Env, &str); 11] = [
        (
            "name = \"splunk\"",
            "name = \"splunk\"\nbatchsize = 5",
            token,
            "unknown field `batchsize`",
        ),
        (
            "",
            "",
            &[],
            "destinations[0] (`splunk`).token: environment variable HEC_TOKEN is not set",
        ),
        (
            "index = \"audit\"",
            "indx = \"audit\"",
            token,
            "destinations[0] (`splunk`): settings.indx: module `splunk-hec` has no such setting",
        ),
        (
            "index = \"audit\"",
            "gzip = \"maybe\"",
            token,
            "destinations[0] (`splunk`): settings.gzip: `maybe` is not a boolean",
        ),
        (
            "token = { env = \"HEC_TOKEN\" }\n",
            "",
            &[],
            "destinations[0] (`splunk`): token: module `splunk-hec` authenticates with the `Authorization` header",
        ),
        (
            "\"splunk-hec\"",
            "\"splonk\"",
            token,
            "destinations[0] (`splunk`).module: no module named `splonk`",
        ),
        (
            "token = { env = \"HEC_TOKEN\" }",
            "token = \"tok-123\"",
            token,
            "literal secrets are refused, so that a config file never holds a credential: give the name of an environment variable, { env = \"NAME\" }, or of a file, { file = \"PATH\" }",
        ),
        (
            "name = \"splunk\"",
            "name = \"splunk\"\nbatch = { max_events = 0 }",
            token,
            "destinations[0] (`splunk`).batch.max_events: must be at least 1",
        ),
        (
            "type = \"file\"",
            "type = \"file\"\npoll_interval = \"0s\"",
            token,
            "sources[0].poll_interval: 0ns would poll without pause; use at least 10ms",
        ),
        (
            "type = \"file\"",
            "type = \"stdin\"",
            token,
            "`paths` is for file sources, not stdin",
        ),
        // An unknown key, inside [[sources]].
        (
            "type = \"file\"",
            "type = \"file\"\nfolow = true",
            token,
            "unknown field `folow`",
        ),
    ];
    for (from, to, env, expected) in cases {
        let config = if from.is_empty() {
            valid()
        } else {
            valid().replace(from, to)
        };
        let stderr = check_fails(&Harness::new(), &config, env).await;
        assert!(
            stderr.contains(expected),
            "expected `{expected}` in: {stderr}"
        );
    }
}

/// A file that is not WebAssembly used to be reported with wasmtime's words and a hex
/// dump of its first bytes.
#[tokio::test(flavor = "multi_thread")]
async fn check_says_in_one_line_that_a_file_is_not_webassembly() {
    let harness = Harness::new();
    harness.write("modules/text.wasm", "this is a README, not a module\n");
    let stderr = check_fails(
        &harness,
        &valid().replace("\"splunk-hec\"", "\"modules/text.wasm\""),
        &[("HEC_TOKEN", "t")],
    )
    .await;
    assert!(
        stderr.contains(
            "text.wasm: not a WebAssembly file (it does not start with the `\\0asm` magic bytes)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// A path that matches nothing used to pass `check` without a word.
#[tokio::test(flavor = "multi_thread")]
async fn check_warns_of_a_source_path_that_matches_nothing() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&valid().replace(
        "paths = [\"data/*.jsonl\"]",
        "paths = [\"data/*.jsonl\", \"logs/audit.jsonl\"]",
    ));
    let output = harness
        .sluice(&["check", "-c", "sluice.toml"], &[("HEC_TOKEN", "t")])
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("sources[0].paths[1]: `")
            && stdout.contains("logs/audit.jsonl` matches no file (yet)"),
        "{stdout}"
    );
    assert!(!stdout.contains("paths[0]"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_what_is_not_a_formatter_module() {
    let harness = Harness::new();
    harness.write("modules/fake.wasm", b"\0asm\x01\0\0\0");
    let stderr = check_fails(
        &harness,
        &valid().replace("\"splunk-hec\"", "\"modules/fake.wasm\""),
        &[("HEC_TOKEN", "t")],
    )
    .await;
    assert!(
        stderr.contains("destinations[0] (`splunk`).module: loading module "),
        "{stderr}"
    );
    assert!(stderr.contains("fake.wasm"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_prints_the_requests_a_module_would_send() {
    let harness = Harness::new();
    let input = std::fs::read(data_file("proxy-audit.jsonl")).unwrap();
    let args = [
        "preview",
        "--module",
        "splunk-hec",
        "--set",
        "index=audit",
        "--set",
        "max_request_bytes=20000",
    ];
    let output = harness.sluice_with_input(&args, &[], &input).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("### request 1 of "), "{stdout}");
    assert!(stdout.contains("POST /services/collector/event HTTP/1.1\nContent-Type: application/json\nAuthorization: Splunk ****"));
    assert!(stdout.contains(r#""index":"audit","event":{"request_id": "req_00000""#));
    let requests = stdout.matches("### request").count();
    assert!(
        requests >= 2,
        "20 KB requests split the 60 events: {requests}"
    );

    // The test module works with preview too, by path.
    let module = test_module("misbehave");
    let args = ["preview", "--module", module.to_str().unwrap()];
    let output = harness
        .sluice_with_input(&args, &[], b"{\"a\":1}\nnot json\n")
        .await;
    // A line rejected: 3, as `run` exits.
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("[{\"a\":1}]"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("stdin:2: rejected: not valid JSON"));

    // A module that forgets events is told which.
    let args = [
        "preview",
        "--module",
        module.to_str().unwrap(),
        "--set",
        "mode=forget",
    ];
    let output = harness
        .sluice_with_input(&args, &[], b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n")
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("event 1: neither sent nor refused")
            && stderr.contains("event 2: neither sent nor refused")
            && !stderr.contains("event 0:"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_a_module_built_for_another_contract_version() {
    let module = test_module("future-contract");
    let stderr = check_fails(
        &Harness::new(),
        &valid().replace(
            "\"splunk-hec\"",
            &format!("{:?}", module.display().to_string()),
        ),
        &[("HEC_TOKEN", "t")],
    )
    .await;
    assert!(
        stderr.contains(&format!(
            "the module implements contract sluice:module@9.0.0, but this host serves sluice:module@{}",
            sluice::module::SERVED_VERSIONS.join(" and @")
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_in_modules_dirs_overrides_the_built_in_of_the_same_name() {
    let harness = Harness::new();
    harness.write(
        "modules/splunk-hec.wasm",
        std::fs::read(test_module("misbehave")).unwrap(),
    );
    harness.config(&format!(
        "modules_dirs = [\"modules\"]\n{}",
        valid().replace(
            "token = { env = \"HEC_TOKEN\" }\nsettings = { index = \"audit\" }",
            ""
        )
    ));
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ok  destination `splunk`: misbehave 0.1.0 (module "),
        "{stdout}"
    );
    assert!(stdout.contains("modules/splunk-hec.wasm)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_modules_are_cached_and_a_damaged_artifact_is_replaced() {
    let harness = Harness::new();
    harness.write("sluice.toml", format!("cache_dir = \"cache\"\n{}", valid()));
    let check = || harness.sluice(&["check", "-c", "sluice.toml"], &[("HEC_TOKEN", "t")]);
    let artifacts = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(harness.path("cache"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect()
    };

    let output = check().await;
    assert!(output.status.success(), "{}", transcript(&output));
    let cached = artifacts();
    assert_eq!(cached.len(), 1, "one artifact for the one module");
    // Dated far back, so that a rewrite shows whatever the clock's resolution.
    let long_ago = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
    std::fs::File::options()
        .write(true)
        .open(&cached[0])
        .unwrap()
        .set_modified(long_ago)
        .unwrap();

    let output = check().await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(
        std::fs::metadata(&cached[0]).unwrap().modified().unwrap(),
        long_ago,
        "reused, not rewritten"
    );

    std::fs::write(&cached[0], b"not an artifact").unwrap();
    let output = check().await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("refusing a cached module artifact: it is not an artifact this cache wrote")
    );
    assert!(
        std::fs::read(&cached[0]).unwrap().len() > 1000,
        "compiled again and stored"
    );
}

/// Secret files were read relative to the working directory, unlike every other path
/// of a config file (and unlike the README).
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_file_is_relative_to_the_config_file() {
    let harness = Harness::new();
    harness.write("conf/hec.token", "token-from-a-file\n");
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    harness.write(
        "conf/sluice.toml",
        format!(
            "cache_dir = {:?}\n{FILE_SOURCE}[[destinations]]\nname = \"splunk\"\nmodule = \"splunk-hec\"\nendpoint = \"https://splunk.example.com:8088\"\ntoken = {{ file = \"hec.token\" }}\n",
            cache.display().to_string()
        ),
    );
    let output = harness
        .sluice(&["check", "-c", "conf/sluice.toml"], &[])
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
}

/// A bad token used to be found only once events flowed, and a dead endpoint after
/// minutes of retries.
#[tokio::test(flavor = "multi_thread")]
async fn check_connect_reaches_each_endpoint_and_tests_the_credential() {
    let receiver = crate::support::hec::HecReceiver::start(Default::default()).await;
    let harness = Harness::new();
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination(&receiver.endpoint(), "")
    ));
    let connect = ["check", "--connect", "-c", "sluice.toml"];

    let output = harness
        .sluice(&connect, &[("HEC_TOKEN", receiver.token())])
        .await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "; reached, credential accepted (POST /services/collector/event answered HTTP 400"
        ) && stdout.contains("No data")
            && stdout
                .lines()
                .filter(|l| l.starts_with("ok  destination"))
                .count()
                == 1,
        "one verdict per destination: {stdout}"
    );
    assert!(receiver.indexed().is_empty(), "no event was sent");

    let output = harness.sluice(&connect, &[("HEC_TOKEN", "wrong")]).await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("destinations[0] (`splunk`): the credential was refused: HTTP 403")
            && stderr.contains("Invalid token")
            && stderr.contains("1 destination(s) or source(s) failed the connection check"),
        "{stderr}"
    );
    // No `ok` after a failure: neither for the destination nor for the file.
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("ok  "),
        "{}",
        transcript(&output)
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    harness.config(&format!("{FILE_SOURCE}{}", splunk_destination(&dead, "")));
    let output = harness.sluice(&connect, &[("HEC_TOKEN", "t")]).await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot reach the endpoint"),
        "{}",
        transcript(&output)
    );
}

/// Every reference module previews every sample file: every event placed in a request,
/// and each body framed as its destination reads it (stacked envelopes, NDJSON pairs, a
/// JSON array, one syslog, CEF or LEEF message per line).
#[tokio::test(flavor = "multi_thread")]
async fn preview_shows_every_module_on_every_sample_file() {
    let harness = Harness::new();
    let modules: [(&str, &[&str]); 5] = [
        ("splunk-hec", &["index=audit"]),
        ("elasticsearch", &["index=logs-audit-default"]),
        ("datadog", &[]),
        ("http", &[]),
        (
            "sentinel",
            &[
                "dcr_immutable_id=dcr-0123456789abcdef0123456789abcdef",
                "stream=Custom-SluiceAudit_CL",
            ],
        ),
    ];
    for name in crate::support::SAMPLE_FILES {
        let input = std::fs::read(data_file(name)).unwrap();
        let lines = input
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        for (module, settings) in modules {
            let mut args = vec!["preview", "--module", module];
            for setting in settings {
                args.extend(["--set", setting]);
            }
            let output = harness.sluice_with_input(&args, &[], &input).await;
            assert!(
                output.status.success(),
                "{module} {name}: {}",
                transcript(&output)
            );
            let stdout = String::from_utf8_lossy(&output.stdout);
            let mut placed = 0;
            for request in stdout.split("### request ").skip(1) {
                let (head, body) = request.split_once("\n\n").expect("headers, then the body");
                let events: usize = head
                    .split(": ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .expect("the request's event count");
                placed += events;
                let body = body.strip_suffix('\n').unwrap_or(body);
                let framed = match module {
                    "splunk-hec" => serde_json::Deserializer::from_str(body)
                        .into_iter::<serde_json::Value>()
                        .filter(|v| v.as_ref().is_ok_and(|v| v["event"].is_object()))
                        .count(),
                    "elasticsearch" => {
                        assert!(body.ends_with('\n'), "{module}: the final newline");
                        body.lines().count() / 2
                    }
                    _ => serde_json::from_str::<Vec<serde_json::Value>>(body)
                        .map(|items| items.len())
                        .unwrap_or(0),
                };
                assert_eq!(framed, events, "{module} {name}: {head}");
            }
            assert_eq!(placed, lines, "{module} {name}: every event placed");
        }
        // Modules of messages: one line per message, each the format's own.
        for (module, start) in [("syslog", "<"), ("cef", "CEF:0|"), ("leef", "LEEF:2.0|")] {
            let output = harness
                .sluice_with_input(&["preview", "--module", module], &[], &input)
                .await;
            assert!(
                output.status.success(),
                "{module} {name}: {}",
                transcript(&output)
            );
            let stdout = String::from_utf8_lossy(&output.stdout);
            let (head, messages) = stdout.split_once('\n').expect("a request");
            assert_eq!(
                head,
                format!("### request 1 of 1: {lines} messages"),
                "{module} {name}"
            );
            let messages: Vec<&str> = messages.lines().collect();
            assert_eq!(messages.len(), lines, "{module} {name}: a line per event");
            assert!(
                messages.iter().all(|m| m.starts_with(start)),
                "{module} {name}: {stdout}"
            );
        }
    }
}

/// `sluice modules` lists what the configuration loads, with each module's SHA-256; a
/// `module_sha256` that does not match is refused at start, naming both hashes.
#[tokio::test(flavor = "multi_thread")]
async fn modules_are_listed_with_their_hash_and_a_pin_is_enforced() {
    use sha2::Digest;
    let harness = Harness::new();
    let module = std::fs::read(test_module("misbehave")).unwrap();
    harness.write("modules/probe.wasm", &module);
    let sha256 = hex::encode(sha2::Sha256::digest(&module));
    let config = |pin: &str| {
        format!(
            "modules_dirs = [\"modules\"]\n[[sources]]\ntype = \"stdin\"\n[[destinations]]\nname = \"a\"\nmodule = \"probe\"\nendpoint = \"capture:captured\"\n{pin}\n[[destinations]]\nname = \"b\"\nmodule = \"probe\"\nendpoint = \"capture:captured\"\n"
        )
    };
    harness.config(&config(&format!("module_sha256 = {sha256:?}")));
    let output = harness.sluice(&["modules", "-c", "sluice.toml"], &[]).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "one module, two users: {stdout}");
    assert!(
        stdout.contains(&format!("sha256 {sha256}")) && stdout.contains("used by: a, b"),
        "{stdout}"
    );

    harness.config(&config(&format!("module_sha256 = \"{}\"", "0".repeat(64))));
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("destinations[0] (`a`).module") && stderr.contains(&sha256),
        "{stderr}"
    );
}

/// The commands that only look (`modules`, `dlq list`) need no secret: they failed when
/// the token's variable was unset. The commands that send still need it.
#[tokio::test(flavor = "multi_thread")]
async fn read_only_commands_need_no_secret() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination("https://splunk.example.invalid:8088", "")
    ));
    let modules = harness.sluice(&["modules", "-c", "sluice.toml"], &[]).await;
    assert!(
        modules.status.success()
            && String::from_utf8_lossy(&modules.stdout).contains("used by: splunk"),
        "{}",
        transcript(&modules)
    );
    let list = harness
        .sluice(&["dlq", "list", "-c", "sluice.toml"], &[])
        .await;
    assert!(list.status.success(), "{}", transcript(&list));
    let check = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert_eq!(check.status.code(), Some(2), "{}", transcript(&check));
    assert!(
        String::from_utf8_lossy(&check.stderr)
            .contains("environment variable HEC_TOKEN is not set"),
        "{}",
        transcript(&check)
    );
}

/// A `modules_dirs` entry that does not exist is said by `check` (a typo otherwise
/// showed only as "no module named ...").
#[tokio::test(flavor = "multi_thread")]
async fn check_warns_of_a_modules_dir_that_does_not_exist() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "modules_dirs = [\"modulez\"]\n{FILE_SOURCE}{CAPTURE_DESTINATION}"
    ));
    let check = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(check.status.success(), "{}", transcript(&check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("warn  ")
            && stdout.contains("modules_dirs[0]:")
            && stdout.contains("modulez is not a directory"),
        "{stdout}"
    );
}

/// Every missing required setting is named at once, by `check` and by `preview -c`,
/// rather than one per attempt.
#[tokio::test(flavor = "multi_thread")]
async fn missing_required_settings_are_named_together() {
    let harness = Harness::new();
    let config = format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"sentinel\"\nmodule = \"sentinel\"\nendpoint = \"capture:out\"\n"
    );
    let said =
        "destinations[0] (`sentinel`): settings.dcr_immutable_id: required (missing too: `stream`)";
    let stderr = check_fails(&harness, &config, &[]).await;
    assert!(stderr.contains(said), "{stderr}");
    let output = harness
        .sluice_with_input(&["preview", "-c", "sluice.toml"], &[], b"{\"a\":1}\n")
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(said),
        "{}",
        transcript(&output)
    );
}

/// `run` refuses at start a destination whose module cannot format the sample event
/// `check` formats: it used to start, and dead-letter every batch.
#[tokio::test(flavor = "multi_thread")]
async fn run_refuses_at_start_what_check_refuses() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.write(
        "modules/broken.wasm",
        std::fs::read(test_module("trapper")).unwrap(),
    );
    harness.config(&format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"broken\"\nmodule = \"modules/broken.wasm\"\nendpoint = \"capture:out\"\n"
    ));
    let check = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert_eq!(check.status.code(), Some(2), "{}", transcript(&check));
    let run = harness.run_expecting(2, &[]).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("destinations[0] (`broken`)")
            && stderr.contains("trapper: every batch traps"),
        "{stderr}"
    );
    assert!(!stderr.contains("sluice running"), "{stderr}");
    assert!(harness.dead_letters().is_empty());
}

#[tokio::test]
async fn enabled_false_leaves_a_source_or_destination_out_and_says_so() {
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 3);
    let off_source =
        "[[sources]]\ntype = \"file\"\nenabled = false\npaths = [\"elsewhere/*.jsonl\"]\n";
    let off_destination = "[[destinations]]\nname = \"off\"\nenabled = false\nmodule = \"splunk-hec\"\n\
                           endpoint = \"https://splunk.example.com:8088\"\ntoken = { env = \"UNSET_TOKEN\" }\n";
    harness.config(&format!(
        "{off_source}{FILE_SOURCE}{off_destination}{CAPTURE_DESTINATION}"
    ));
    // Its secret's variable is not set: a disabled destination's secrets are not read.
    let checked = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(checked.status.success(), "{}", transcript(&checked));
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        said.contains("sources[0] (`elsewhere/*.jsonl`): enabled = false, not read"),
        "{said}"
    );
    assert!(
        said.contains("destination `off`: enabled = false, left out"),
        "{said}"
    );
    assert!(said.contains("1 source(s), 1 destination(s)"), "{said}");
    let output = harness.run_ok(&[]).await;
    assert_eq!(summary_figure(&output, "delivered"), 3);

    // Messages name the tables where they are in the file, disabled ones counted.
    let stderr = check_fails(
        &harness,
        &format!("{off_source}{FILE_SOURCE}poll_interval = \"1ms\"\n{CAPTURE_DESTINATION}"),
        &[],
    )
    .await;
    assert!(stderr.contains("sources[1].poll_interval"), "{stderr}");

    // So is a destination that takes only a disabled source.
    let stderr = check_fails(
        &harness,
        &format!(
            "[[sources]]\nname = \"old\"\ntype = \"stdin\"\nenabled = false\n{FILE_SOURCE}\
             [[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\nsources = [\"old\"]\n"
        ),
        &[],
    )
    .await;
    assert!(
        stderr.contains("sources: the source `old` is disabled (`enabled = false`)"),
        "{stderr}"
    );

    // A route to a disabled destination is refused as such.
    harness.write(
        "filters/route.toml",
        "[[route]]\nwhen = { field = \"n\", eq = 1 }\nto = [\"off\"]\n",
    );
    let stderr = check_fails(
        &harness,
        &format!(
            "[[filters]]\nname = \"r\"\npolicy = \"filters/route.toml\"\n{FILE_SOURCE}{off_destination}{CAPTURE_DESTINATION}"
        ),
        &[],
    )
    .await;
    assert!(
        stderr.contains("a [[route]] sends events to `off`, which is disabled (`enabled = false`)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn completions_complete_the_commands_and_version_names_the_build() {
    let harness = Harness::new();
    let script = harness.sluice(&["completions", "bash"], &[]).await;
    assert!(script.status.success(), "{}", transcript(&script));
    let path = harness.write("sluice.bash", &script.stdout);
    // What bash offers after `sluice ch<TAB>`.
    let offered = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(sluice ch); COMP_CWORD=1; _sluice sluice ch sluice; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&offered.stdout).trim(),
        "check",
        "{}",
        transcript(&offered)
    );
    for shell in ["zsh", "fish"] {
        let script = harness.sluice(&["completions", shell], &[]).await;
        assert!(script.status.success(), "{}", transcript(&script));
        assert!(String::from_utf8_lossy(&script.stdout).contains("preview"));
    }
    let version = harness.sluice(&["--version"], &[]).await;
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(version.starts_with("sluice 0."), "{version}");
    for part in ["(commit ", "rustc 1.", "wasmtime "] {
        assert!(version.contains(part), "{version}");
    }
}

#[tokio::test]
async fn variables_in_string_values_are_expanded_but_never_in_secrets() {
    let harness = Harness::new();
    write_events(&harness, "in/events.jsonl", 2);
    let config = "[[sources]]\ntype = \"file\"\npaths = [\"${INPUT_DIR:-data}/*.jsonl\"]\n\
                  [[destinations]]\nname = \"${DESTINATION}\"\nmodule = \"splunk-hec\"\n\
                  endpoint = \"capture:${OUT:-captured}\"\n";
    harness.config(config);
    let env = [("INPUT_DIR", "in"), ("DESTINATION", "from-env")];
    let output = harness.run_ok(&env).await;
    assert_eq!(summary_figure(&output, "delivered"), 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("destination=from-env"), "{stderr}");
    assert!(harness.path("captured").is_dir());

    let stderr = check_fails(&harness, config, &[]).await;
    assert!(
        stderr.contains("destinations[0].name: ${DESTINATION} is not set"),
        "{stderr}"
    );
    let secret = format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"s\"\nmodule = \"splunk-hec\"\n\
         endpoint = \"https://splunk.example.com:8088\"\ntoken = {{ env = \"${{TOKEN_VAR}}\" }}\n"
    );
    let stderr = check_fails(&harness, &secret, &[("TOKEN_VAR", "X")]).await;
    assert!(
        stderr.contains("destinations[0].token.env: `${...}` is not expanded in a secret"),
        "{stderr}"
    );
}

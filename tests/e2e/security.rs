//! No way in for a module or a local user: what sluice writes is private, the module
//! cache and modules directories trust no one else, a module's waits, requests and
//! words are bounded, and secrets are neither echoed nor sent in clear text.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::support::hec::{HecConfig, HecReceiver};
use crate::support::{
    FILE_SOURCE, Harness, check_fails, exit_within, send_signal, splunk_destination,
    summary_figure, test_module, transcript,
};

/// A configuration of `before` (top-level settings, `[limits]`), then the sample files
/// and one destination `name` running the `misbehave` module in `mode`, to `endpoint`,
/// trying `attempts` times.
fn misbehave(before: &str, mode: &str, endpoint: &str, attempts: u32) -> String {
    format!(
        "{before}{FILE_SOURCE}[[destinations]]\nname = \"{mode}\"\nmodule = {:?}\nendpoint = \"{endpoint}\"\nsettings = {{ mode = \"{mode}\" }}\nretry = {{ max_attempts = {attempts}, initial_backoff = \"10ms\" }}\n",
        test_module("misbehave").display().to_string()
    )
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Every file and directory under `dir`, depth first.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(tree(&path));
        }
        found.push(path);
    }
    found
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Spool segments, checkpoints, dead letters, captured requests and the module cache
/// used to be created with the umask (0644 under 022): readable by every local user.
#[tokio::test(flavor = "multi_thread")]
async fn what_sluice_writes_is_readable_by_its_user_only() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.write("data/bad.jsonl", "{\"user\": \"a\"}\nnot json\n");
    harness.write(
        "sluice.toml",
        format!(
            "dead_letter_dir = \"state/dead-letter\"\ndata_dir = \"state/data\"\ncache_dir = \"state/cache\"\n{FILE_SOURCE}[[destinations]]\nname = \"capture\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:state/captured\"\n"
        ),
    );
    // Under the usual umask, which let every file be read by all.
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && exec {} run -c sluice.toml",
            env!("CARGO_BIN_EXE_sluice")
        ))
        .current_dir(harness.path(""))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));

    let written = tree(&harness.path("state"));
    let names = |suffix: &str| {
        written
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .count()
    };
    assert!(names(".http") > 0, "captured requests: {written:?}");
    assert!(names(".cwasm") > 0, "a cached module: {written:?}");
    assert!(names("dead-letter.jsonl") == 1, "dead letters: {written:?}");
    assert!(
        names("checkpoints.json") + names("positions.json") > 0,
        "{written:?}"
    );
    for path in written {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
}

/// The artifact of another module renamed to a module's cache entry used to be run as
/// that module (native code, outside the sandbox), `module_sha256` notwithstanding.
#[tokio::test(flavor = "multi_thread")]
async fn an_artifact_planted_in_the_cache_is_refused() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let destination = |name: &str, module: &str| {
        format!(
            "[[destinations]]\nname = \"{name}\"\nmodule = \"{module}\"\nendpoint = \"capture:captured-{name}\"\n"
        )
    };
    harness.write(
        "sluice.toml",
        format!(
            "cache_dir = \"cache\"\n{FILE_SOURCE}{}{}",
            destination("splunk", "splunk-hec"),
            destination("elastic", "elasticsearch")
        ),
    );
    let modules = || harness.sluice(&["modules", "-c", "sluice.toml"], &[]);
    let output = modules().await;
    assert!(output.status.success(), "{}", transcript(&output));
    let mut artifacts: Vec<PathBuf> = tree(&harness.path("cache"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    artifacts.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");
    // The smaller artifact planted under the other's name.
    std::fs::copy(&artifacts[0], &artifacts[1]).unwrap();

    let output = modules().await;
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let listed: Vec<&str> = stdout
        .lines()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert!(
        listed.contains(&"splunk-hec") && listed.contains(&"elasticsearch"),
        "each destination runs its own module: {stdout}"
    );
    assert!(
        stderr(&output).contains("refusing a cached module artifact")
            && stderr(&output).contains("its seal does not match"),
        "{}",
        transcript(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_directory_others_can_write_is_not_used() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    std::fs::create_dir(harness.path("cache")).unwrap();
    set_mode(&harness.path("cache"), 0o777);
    // Links planted under names a temporary file of the cache could have had.
    let victim = harness.write("victim", "precious");
    for n in 0..64 {
        std::os::unix::fs::symlink(&victim, harness.path(&format!("cache/.tmp-{n}"))).unwrap();
    }
    harness.write(
        "sluice.toml",
        format!(
            "cache_dir = \"cache\"\n{FILE_SOURCE}[[destinations]]\nname = \"capture\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n"
        ),
    );
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let warnings: Vec<String> = stderr(&output)
        .lines()
        .filter(|l| l.contains("not using the module cache"))
        .map(str::to_owned)
        .collect();
    assert_eq!(warnings.len(), 1, "{}", transcript(&output));
    assert!(
        warnings[0].contains("can be written by its group or by others (mode 0777)"),
        "{}",
        warnings[0]
    );
    assert_eq!(
        std::fs::read_dir(harness.path("cache")).unwrap().count(),
        64
    );
    assert_eq!(std::fs::read_to_string(victim).unwrap(), "precious");
}

/// A world-writable modules directory or module file was loaded and hot-reloaded
/// without a word, and a file named after a built-in replaced it silently.
#[tokio::test(flavor = "multi_thread")]
async fn module_files_others_could_write_are_refused() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let module = harness.write(
        "modules/splunk-hec.wasm",
        std::fs::read(test_module("misbehave")).unwrap(),
    );
    set_mode(&harness.path("modules"), 0o755);
    set_mode(&module, 0o644);
    let config = |extra: &str| {
        format!(
            "{extra}modules_dirs = [\"modules\"]\n{FILE_SOURCE}[[destinations]]\nname = \"capture\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n"
        )
    };
    harness.config(&config(""));
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(output.status.success(), "{}", transcript(&output));
    let said = stderr(&output);
    assert!(
        said.contains("this file overrides the built-in module `splunk-hec`")
            && said.contains("the module in this file calls itself `misbehave`"),
        "{said}"
    );

    set_mode(&harness.path("modules"), 0o777);
    let refused = check_fails(&harness, &config(""), &[]).await;
    assert!(
        refused.contains("modules can be written by its group or by others (mode 0777)")
            && refused.contains("insecure_module_paths"),
        "{refused}"
    );
    set_mode(&harness.path("modules"), 0o755);
    set_mode(&module, 0o666);
    let refused = check_fails(&harness, &config(""), &[]).await;
    assert!(
        refused.contains("splunk-hec.wasm can be written by its group or by others (mode 0666)"),
        "{refused}"
    );

    harness.config(&config("insecure_module_paths = \"warn\"\n"));
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert!(
        stderr(&output).contains("loading it although"),
        "{}",
        transcript(&output)
    );

    // A link to a module in a directory others can write, and a module below one.
    set_mode(&module, 0o644);
    let open = harness.path("open");
    std::fs::create_dir_all(open.join("inner")).unwrap();
    let real = open.join("inner/real.wasm");
    std::fs::rename(&module, &real).unwrap();
    set_mode(&open, 0o777);
    std::os::unix::fs::symlink(&real, &module).unwrap();
    let refused = check_fails(&harness, &config(""), &[]).await;
    assert!(
        refused.contains("open can be written by its group or by others (mode 0777)"),
        "{refused}"
    );
    set_mode(&open, 0o755);
    std::fs::remove_file(&module).unwrap();
    std::fs::rename(&real, &module).unwrap();

    // Owned by another user: only root can make one here.
    if is_root() {
        for owned in [&module, &harness.path("modules")] {
            std::os::unix::fs::chown(owned, Some(65534), None).unwrap();
            let refused = check_fails(&harness, &config(""), &[]).await;
            assert!(
                refused.contains("is owned by uid 65534, not by the user running sluice"),
                "{refused}"
            );
            std::os::unix::fs::chown(owned, Some(0), None).unwrap();
        }
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// A reason a module gives (a refusal, a verdict) used to be logged as it came: a line
/// break in it started a line that passed for the host's own.
#[tokio::test(flavor = "multi_thread")]
async fn a_modules_reasons_cannot_forge_host_log_lines() {
    let receiver = HecReceiver::start(HecConfig::default()).await;
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    harness.config(&misbehave("", "forge-reason", &receiver.endpoint(), 2));
    let output = harness.run_expecting(3, &[]).await;
    let said = stderr(&output);
    assert_eq!(summary_figure(&output, "dead_lettered"), 50, "{said}");
    assert!(
        !said
            .lines()
            .any(|line| line.starts_with("2026-01-01T00:00:00Z")),
        "a forged line: {said}"
    );
    assert!(!said.contains('\u{1b}') && !said.contains('\r'), "{said}");
    assert!(
        said.contains("innocent\\n2026-01-01T00:00:00Z  INFO"),
        "the reason is logged, escaped: {said}"
    );
    let reasons: Vec<String> = harness
        .dead_letters()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("innocent\\n2026") && !r.contains('\n')),
        "{reasons:?}"
    );
}

/// A module that slept for a day in `format` held its destination until shutdown (the
/// time limit was checked only after the sleep), and at shutdown its events were
/// dead-lettered twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_module_that_sleeps_fails_its_call_at_once() {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    harness.config(&misbehave(
        "[limits]\nmodule_call_timeout = \"2s\"\n",
        "sleep",
        "capture:captured",
        2,
    ));
    let started = std::time::Instant::now();
    let output = harness.run_expecting(3, &[]).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{}",
        transcript(&output)
    );
    assert_eq!(summary_figure(&output, "dead_lettered"), 50);
    assert_eq!(summary_figure(&output, "abandoned"), 0);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 50, "each event once: {}", transcript(&output));
    assert!(
        dead.iter().all(|r| r["reason"]
            .as_str()
            .unwrap()
            .contains("ran past its time limit of 2s")),
        "{dead:?}"
    );
}

/// A batch cut short by the shutdown deadline during a module call was dead-lettered
/// by the retry ("gave up") and again as abandoned: twice in the store, counted twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_cut_short_during_a_module_call_is_settled_once() {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    harness.config(&misbehave(
        "shutdown_timeout = \"1s\"\n[limits]\nmodule_call_timeout = \"20s\"\n",
        "loop",
        "capture:captured",
        1,
    ));
    let child = harness.start_run();
    // The module is in its endless call by then.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    send_signal(&child, libc::SIGTERM);
    let output = exit_within(child, std::time::Duration::from_secs(60)).await;
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(
        summary_figure(&output, "abandoned"),
        50,
        "{}",
        transcript(&output)
    );
    assert_eq!(summary_figure(&output, "dead_lettered"), 0);
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 50, "each event once: {dead:?}");
    assert!(dead.iter().all(|r| r["stage"] == "shutdown"), "{dead:?}");
}

/// An answer made the host copy what it pointed at as often as it pointed at it
/// (refusals whose reasons all point at one large string), before the output limit
/// was checked on what had been copied.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_is_bounded_as_it_is_copied() {
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    harness.config(&misbehave(
        "[limits]\nmodule_output_bytes = 8388608\n",
        "alias",
        "capture:captured",
        2,
    ));
    let output = harness.run_expecting(3, &[]).await;
    assert_eq!(summary_figure(&output, "dead_lettered"), 50);
    let dead = harness.dead_letters();
    assert!(
        dead.iter().all(|r| r["reason"]
            .as_str()
            .unwrap()
            .contains("too much data is being copied between the host and the guest")),
        "stopped while copying, not after: {}",
        dead[0]["reason"]
    );
}

/// A module turned a batch of 3 events into 20,000 requests.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_without_events_fails_the_call() {
    let harness = Harness::new();
    harness.write("data/three.jsonl", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    harness.config(&misbehave("", "flood", "capture:captured", 2));
    let output = harness.run_expecting(3, &[]).await;
    assert_eq!(summary_figure(&output, "dead_lettered"), 3);
    let captured = std::fs::read_dir(harness.path("captured"))
        .map(|dir| dir.count())
        .unwrap_or(0);
    assert_eq!(captured, 0, "no request sent");
    let reason = harness.dead_letters()[0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("request 1 carries no event"), "{reason}");
}

/// A token sent over plain HTTP to another host used to go without a word.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_not_sent_in_clear_text_to_another_host() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let env = [("HEC_TOKEN", "hec-SECRET-111")];
    let refused = check_fails(
        &harness,
        &format!(
            "{FILE_SOURCE}{}",
            splunk_destination("http://splunk.example.com:8088", "")
        ),
        &env,
    )
    .await;
    assert!(
        refused.contains(
            "destinations[0] (`splunk`).endpoint: its credential would cross the network unencrypted to splunk.example.com"
        ),
        "{refused}"
    );

    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination(
            "http://splunk.example.com:8088",
            "allow_plaintext_credentials = true"
        )
    ));
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &env).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert!(
        stderr(&output).contains("a credential is sent without encryption"),
        "{}",
        transcript(&output)
    );

    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination("http://127.0.0.1:8088", "")
    ));
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &env).await;
    assert!(output.status.success(), "{}", transcript(&output));
    assert!(
        stderr(&output).contains("a credential is sent without encryption"),
        "loopback: a warning: {}",
        transcript(&output)
    );

    let oauth2 = "[destinations.oauth2]\ntoken_url = \"http://login.example.com/token\"\nclient_id = \"id\"\nclient_secret = { env = \"SECRET\" }\nscope = \"s\"\n";
    let refused = check_fails(
        &harness,
        &format!(
            "{FILE_SOURCE}[[destinations]]\nname = \"sentinel\"\nmodule = \"sentinel\"\nendpoint = \"https://dce.example.com\"\nsettings = {{ dcr_immutable_id = \"dcr-0123456789abcdef0123456789abcdef\", stream = \"Custom-SluiceAudit_CL\" }}\n{oauth2}"
        ),
        &[("SECRET", "s")],
    )
    .await;
    assert!(
        refused.contains("oauth2.token_url: the client secret would cross the network unencrypted to login.example.com"),
        "{refused}"
    );

    let refused = check_fails(
        &harness,
        &format!(
            "{FILE_SOURCE}{}",
            splunk_destination(
                "https://splunk.example.com:8088",
                "client_cert = \"cert.pem\"\nclient_key = { file = \"key.pem\" }"
            )
        ),
        &env,
    )
    .await;
    assert!(
        refused.contains(
            "client_cert: a client certificate is presented on tls:// and relp+tls:// streams only"
        ),
        "{refused}"
    );
}

/// A literal secret was refused, with the line that holds it quoted in the message.
#[tokio::test(flavor = "multi_thread")]
async fn a_literal_secret_is_refused_without_being_echoed() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let config = format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"splunk\"\nmodule = \"splunk-hec\"\nendpoint = \"https://splunk.example.com:8088\"\ntoken = \"hec-SECRET-LITERAL\"\n"
    );
    let refused = check_fails(&harness, &config, &[]).await;
    assert!(!refused.contains("hec-SECRET-LITERAL"), "{refused}");
    // A number was quoted back by serde's own message.
    let number = config.replace("\"hec-SECRET-LITERAL\"", "12345678901234");
    let refused = check_fails(&harness, &number, &[]).await;
    assert!(
        !refused.contains("12345678901234") && refused.contains("literal secrets are refused"),
        "{refused}"
    );
    // The config file gets two lines of shared settings first (Harness::config).
    let line = 2 + config.lines().position(|l| l.starts_with("token")).unwrap() + 1;
    assert!(
        refused.contains(&format!(
            "sluice.toml:{line}:9: literal secrets are refused"
        )),
        "{refused}"
    );
}

/// A token endpoint's answer was read whole, however long.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_answer_is_read_within_a_bound() {
    let token_url = crate::support::long_answer_endpoint(10 << 20).await;
    let harness = Harness::new();
    harness.copy_data(&["secrets-audit.jsonl"]);
    harness.config(&format!(
        "{FILE_SOURCE}[[destinations]]\nname = \"sentinel\"\nmodule = \"sentinel\"\nendpoint = \"https://dce.example.com\"\noauth2 = {{ token_url = \"{token_url}/token\", client_id = \"id\", client_secret = {{ env = \"SECRET\" }}, scope = \"s\" }}\nsettings = {{ dcr_immutable_id = \"dcr-0123456789abcdef0123456789abcdef\", stream = \"Custom-SluiceAudit_CL\" }}\nretry = {{ max_attempts = 1 }}\n"
    ));
    let output = harness.run_expecting(3, &[("SECRET", "s")]).await;
    let reason = harness.dead_letters()[0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("answered more than 65536 bytes: not a token"),
        "{reason}: {}",
        transcript(&output)
    );
}

/// `check --connect` printed the start of an endpoint's answer raw: its escape
/// sequences reached the terminal.
#[tokio::test(flavor = "multi_thread")]
async fn check_connect_shows_an_answer_escaped() {
    let app = axum::Router::new().fallback(|| async { "ok\r\n\u{1b}[31mforged" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let harness = Harness::new();
    harness.config(&format!(
        "{FILE_SOURCE}{}",
        splunk_destination(&endpoint, "")
    ));
    let output = harness
        .sluice(
            &["check", "--connect", "-c", "sluice.toml"],
            &[("HEC_TOKEN", "t")],
        )
        .await;
    let said = transcript(&output);
    assert!(said.contains("ok\\r\\n\\u{1b}[31mforged"), "{said}");
    assert!(!said.contains('\u{1b}'), "{said}");
}

/// A secret that no HTTP header can carry passed `check`, and every request failed;
/// a secret table with both keys was taken without a word; a FIFO named as a secret
/// file blocked `check` until it was killed.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_check_cannot_pass_or_hang_on_a_bad_secret() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let config = |token: &str| {
        format!(
            "{FILE_SOURCE}{}",
            splunk_destination("https://splunk.example.com:8088", "")
                .replace("{ env = \"HEC_TOKEN\" }", token)
        )
    };
    let refused = check_fails(
        &harness,
        &config("{ env = \"HEC_TOKEN\" }"),
        &[("HEC_TOKEN", "SECRETX\nabc")],
    )
    .await;
    assert!(
        refused.contains("token: environment variable HEC_TOKEN holds a control character")
            && !refused.contains("SECRETX"),
        "{refused}"
    );
    let refused = check_fails(
        &harness,
        &config("{ env = \"HEC_TOKEN\", file = \"token\" }"),
        &[("HEC_TOKEN", "t")],
    )
    .await;
    assert!(refused.contains("give one of"), "{refused}");
    let fifo = harness.path("token.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let refused = check_fails(&harness, &config("{ file = \"token.fifo\" }"), &[]).await;
    assert!(refused.contains("not a regular file"), "{refused}");
}

/// A secret file other users can read, and an HMAC key shorter than the hash, were
/// taken without a word.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_file_others_can_read_and_a_short_chain_key_are_said() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let token = harness.path("token");
    std::fs::write(&token, "hec-token-value\n").unwrap();
    harness.config(&format!(
        "data_dir = \"state\"\n{FILE_SOURCE}{}\n[integrity]\nchain = \"hmac-sha256\"\nkey = {{ env = \"CHAIN_KEY\" }}\n",
        splunk_destination("https://splunk.example.com:8088", "")
            .replace("{ env = \"HEC_TOKEN\" }", "{ file = \"token\" }")
    ));
    let check = |key: &'static str| {
        let harness = &harness;
        async move {
            let output = harness
                .sluice(&["check", "-c", "sluice.toml"], &[("CHAIN_KEY", key)])
                .await;
            assert!(output.status.success(), "{}", transcript(&output));
            stderr(&output)
        }
    };
    set_mode(&token, 0o644);
    let said = check("short-key").await;
    assert!(
        said.contains("a secret file other users can read or write: make it 0600")
            && said.contains("mode=\"644\"")
            && said.contains("integrity.key is shorter than 32 bytes")
            && !said.contains("hec-token-value")
            && !said.contains("short-key"),
        "{said}"
    );
    set_mode(&token, 0o600);
    let said = check("a-key-of-thirty-two-bytes-or-more").await;
    assert!(
        !said.contains("other users can read") && !said.contains("shorter than"),
        "{said}"
    );
}

//! The `http` (webhook) module end to end: signed by the host with a key the module
//! never sees, checked by a receiver that refuses a bad signature or a stale timestamp.

use crate::support::webhook::WebhookReceiver;
use crate::support::{Harness, SAMPLE_FILES, objects_in, sorted, transcript, unstamped};

const KEY: &str = "a-webhook-secret-of-some-length";

fn config(endpoint: &str, extra: &str) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"hook\"\nmodule = \"http\"\nendpoint = {endpoint:?}\nsigning_keys = {{ hook = {{ env = \"HOOK_KEY\" }} }}\nsettings = {{ path = \"/hook\", signing_key = \"hook\", headers = \"X-Source: sluice\" }}\nbatch = {{ max_events = 50 }}\n{extra}\n"
    )
}

/// Every sample event arrives, unchanged, in signed requests the receiver
/// verified; one 429 on the way is waited out.
#[tokio::test(flavor = "multi_thread")]
async fn signed_batches_arrive_whole_and_verified() {
    let receiver = WebhookReceiver::start(Some(KEY.as_bytes())).await;
    receiver.make_busy(1);
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&config(receiver.endpoint(), ""));
    let output = harness.run_ok(&[("HOOK_KEY", KEY)]).await;

    let expected: Vec<_> = SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&harness.path(&format!("data/{name}"))))
        .collect();
    assert_eq!(
        sorted(receiver.events().into_iter().map(unstamped).collect()),
        sorted(expected),
        "{}",
        transcript(&output)
    );
    assert!(
        receiver.requests() > 290 / 50,
        "one 429 answered and retried"
    );
    assert!(
        !transcript(&output).contains(KEY),
        "the key is never logged"
    );
}

/// A key the receiver does not share: every request is refused (401) and its events
/// dead-lettered with the receiver's words.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_refused_and_the_events_dead_lettered() {
    let receiver = WebhookReceiver::start(Some(b"another key")).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&config(receiver.endpoint(), ""));
    let output = harness.run_expecting(3, &[("HOOK_KEY", KEY)]).await;

    assert!(receiver.events().is_empty());
    let dead = harness.dead_letters();
    assert!(!dead.is_empty(), "{}", transcript(&output));
    assert!(
        dead.iter()
            .all(|r| r["reason"] == "HTTP 401: signature mismatch"),
        "{:?}",
        dead[0]
    );
}

/// A `signing_key` that names no key of the destination is a `check` error, not a
/// failure of every batch.
#[tokio::test(flavor = "multi_thread")]
async fn a_signing_key_that_is_not_configured_is_a_check_error() {
    let receiver = WebhookReceiver::start(None).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(
        &config(receiver.endpoint(), "")
            .replace("signing_key = \"hook\"", "signing_key = \"missing\""),
    );
    let output = harness
        .sluice(&["check", "-c", "sluice.toml"], &[("HOOK_KEY", KEY)])
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("signing_key") && stderr.contains("missing"),
        "{stderr}"
    );
}

/// Three receivers, each wanting its own credential: a bearer `token`, `basic_auth`,
/// and a key in a header of its own (`secret_headers`). Each gets every event, `check
/// --connect` says each credential was taken, and none of them is ever printed.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_basic_credentials_or_a_secret_header_reach_the_receiver_that_wants_each() {
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("svc:pass-789")
    );
    let bearer = WebhookReceiver::start_with(None, Some(("authorization", "Bearer tok-123"))).await;
    let basic = WebhookReceiver::start_with(None, Some(("authorization", &basic))).await;
    let keyed = WebhookReceiver::start_with(None, Some(("x-api-key", "key-456"))).await;
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let destination = |name: &str, endpoint: &str, credential: &str| {
        format!(
            "[[destinations]]\nname = \"{name}\"\nmodule = \"http\"\nendpoint = {endpoint:?}\n{credential}\nsettings = {{ path = \"/hook\" }}\n"
        )
    };
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n{}{}{}",
        destination(
            "bearer",
            bearer.endpoint(),
            "token = { env = \"HOOK_TOKEN\" }"
        ),
        destination(
            "basic",
            basic.endpoint(),
            "basic_auth = { user = \"svc\", password = { env = \"HOOK_PASSWORD\" } }"
        ),
        destination(
            "keyed",
            keyed.endpoint(),
            "secret_headers = { \"X-Api-Key\" = { env = \"HOOK_API_KEY\" } }"
        ),
    ));
    let secrets = [
        ("HOOK_TOKEN", "tok-123"),
        ("HOOK_PASSWORD", "pass-789"),
        ("HOOK_API_KEY", "key-456"),
    ];

    let checked = harness
        .sluice(&["check", "--connect", "-c", "sluice.toml"], &secrets)
        .await;
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(0), "{}", transcript(&checked));
    assert_eq!(
        stdout
            .matches("credential accepted (POST /hook answered HTTP 200")
            .count(),
        3,
        "{stdout}"
    );
    assert!(
        bearer.events().is_empty(),
        "the check's empty batch carries no event"
    );

    let output = harness.run_ok(&secrets).await;
    let expected = sorted(objects_in(&harness.path("data/idp-audit.jsonl")));
    for receiver in [&bearer, &basic, &keyed] {
        assert_eq!(
            sorted(receiver.events().into_iter().map(unstamped).collect()),
            expected,
            "{}",
            transcript(&output)
        );
    }
    for (_, secret) in secrets {
        for shown in [transcript(&checked), transcript(&output)] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
    }

    let wrong = harness
        .sluice(
            &["check", "--connect", "-c", "sluice.toml"],
            &[
                ("HOOK_TOKEN", "tok-wrong"),
                ("HOOK_PASSWORD", "pass-789"),
                ("HOOK_API_KEY", "key-wrong"),
            ],
        )
        .await;
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{}", transcript(&wrong));
    assert_eq!(
        stderr
            .matches("the credential was refused: HTTP 401: missing or wrong credential")
            .count(),
        2,
        "{stderr}"
    );
    // The receiver quotes the credential it was sent: masked before the answer is cut.
    assert!(
        !stderr.contains("tok-w") && !stderr.contains("key-w"),
        "{stderr}"
    );

    // The same in a run: the reasons of the dead-lettered events never hold a piece of
    // the credential (the module, which cuts the reason, never sees it).
    let refused = harness
        .run_expecting(
            3,
            &[
                ("HOOK_TOKEN", "tok-wrong"),
                ("HOOK_PASSWORD", "pass-789"),
                ("HOOK_API_KEY", "key-wrong"),
            ],
        )
        .await;
    let records =
        std::fs::read_to_string(harness.path("dead-letter/dead-letter.jsonl")).unwrap_or_default();
    assert!(
        records.contains("missing or wrong credential"),
        "{}",
        transcript(&refused)
    );
    for shown in [records, transcript(&refused)] {
        assert!(
            !shown.contains("tok-w") && !shown.contains("key-w"),
            "{shown}"
        );
    }
}

/// A secret header replaces a module header of the same name and shows as `****` in a
/// capture; one the host frames, or on an endpoint that carries no headers, is a `check`
/// error.
#[tokio::test(flavor = "multi_thread")]
async fn secret_headers_are_masked_in_captures_and_checked() {
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    let config = |endpoint: &str, header: &str| {
        format!(
            "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"hook\"\nmodule = \"http\"\nendpoint = {endpoint:?}\nsecret_headers = {{ {header:?} = {{ env = \"HOOK_API_KEY\" }} }}\nsettings = {{ path = \"/hook\", headers = \"X-Api-Key: public\" }}\n"
        )
    };
    let secret = [("HOOK_API_KEY", "key-456")];
    harness.config(&config("capture:captured", "X-Api-Key"));
    let output = harness.run_ok(&secret).await;
    let captured = std::fs::read_dir(harness.path("captured"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect::<Vec<_>>();
    assert!(!captured.is_empty(), "{}", transcript(&output));
    for request in &captured {
        let head = request.split("\r\n\r\n").next().unwrap();
        assert_eq!(head.matches("X-Api-Key").count(), 1, "{head}");
        assert!(head.contains("X-Api-Key: ****"), "{head}");
        assert!(
            !head.contains("Authorization"),
            "no credential, no header: {head}"
        );
        assert!(!request.contains("key-456"), "{request}");
    }
    // `preview` shows the headers as they are sent: the secret one masked, once, and no
    // credential header the destination does not give.
    let previewed = harness
        .sluice_with_input(
            &["preview", "-c", "sluice.toml"],
            &secret,
            br#"{"user":"bob"}"#,
        )
        .await;
    let shown = String::from_utf8_lossy(&previewed.stdout);
    assert_eq!(
        shown.matches("X-Api-Key").count(),
        1,
        "{}",
        transcript(&previewed)
    );
    assert!(
        shown.contains("X-Api-Key: ****") && !shown.contains("Authorization"),
        "{shown}"
    );

    harness.config(&config("capture:captured", "X-Api-Key").replace(
        "{ env = \"HOOK_API_KEY\" } }",
        "{ env = \"HOOK_API_KEY\" }, \"x-api-key\" = { env = \"HOOK_API_KEY\" } }",
    ));
    let twice = harness
        .sluice(&["check", "-c", "sluice.toml"], &secret)
        .await;
    assert_eq!(twice.status.code(), Some(2), "{}", transcript(&twice));
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("given twice (header names ignore case)"),
        "{}",
        transcript(&twice)
    );

    for (endpoint, header, problem) in [
        (
            "capture:captured",
            "Content-Length",
            "secret_headers.Content-Length: the host sets that header",
        ),
        (
            "capture:captured",
            "Bad Name",
            "secret_headers.\"Bad Name\": not a header name",
        ),
        (
            "capture:captured",
            "Upgrade",
            "secret_headers.Upgrade: a header of the connection",
        ),
        (
            "tcp://127.0.0.1:6514",
            "X-Api-Key",
            "secret_headers: only HTTP requests carry headers",
        ),
    ] {
        harness.config(&config(endpoint, header));
        let checked = harness
            .sluice(&["check", "-c", "sluice.toml"], &secret)
            .await;
        let stderr = String::from_utf8_lossy(&checked.stderr);
        assert_eq!(checked.status.code(), Some(2), "{}", transcript(&checked));
        assert!(stderr.contains(problem), "{problem}: {stderr}");
    }
}

//! The `sumo-logic` module, its collector URL a secret of the host (`endpoint = { env
//! = ... }`), against the Sumo Logic source of `support/sumo.rs`: the URL's code is never
//! shown, whatever goes wrong.

use serde_json::Value;

use crate::support::sumo::SumoSource;
use crate::support::{Harness, SAMPLE_FILES, data_file, objects_in, sorted, transcript, unstamped};

const CODE: &str = "ZaVnC4dhaV2ZW1hgHfSbnNDOA8mFqIcUvLBoEaj0Lq-secret-code";

fn config() -> String {
    "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"sumo\"\nmodule = \"sumo-logic\"\nendpoint = { env = \"SUMO_URL\" }\nsettings = { category = \"prod/audit\" }\nretry = { max_attempts = 2, initial_backoff = \"50ms\" }\n".to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_the_secret_collector_url_which_is_never_shown() {
    let sumo = SumoSource::start(CODE).await;
    let harness = Harness::new();
    harness.copy_data(&SAMPLE_FILES);
    harness.config(&config());

    let output = harness.run_ok(&[("SUMO_URL", &sumo.url(CODE))]).await;
    let messages = sumo.messages();
    assert!(
        messages
            .iter()
            .all(|(_, category)| category.as_deref() == Some("prod/audit"))
    );
    let arrived: Vec<Value> = messages
        .iter()
        .map(|(line, _)| unstamped(serde_json::from_str(line).unwrap()))
        .collect();
    let expected: Vec<Value> = SAMPLE_FILES
        .iter()
        .flat_map(|name| objects_in(&data_file(name)))
        .collect();
    assert_eq!(sorted(arrived), sorted(expected), "{}", transcript(&output));
    assert!(!transcript(&output).contains(CODE));

    // A wrong code: refused (401) and dead-lettered; nowhere answering: retried, then
    // dead-lettered. Neither says the URL.
    for url in [
        sumo.url("wrong-code-of-another-source"),
        format!("http://127.0.0.1:9/receiver/v1/http/{CODE}"),
    ] {
        let harness = Harness::new();
        harness.copy_data(&["idp-audit.jsonl"]);
        harness.config(&config());
        let failed = harness.run_expecting(3, &[("SUMO_URL", &url)]).await;
        let said = transcript(&failed);
        let dead: String = harness
            .dead_letters()
            .iter()
            .map(Value::to_string)
            .collect();
        assert!(!dead.is_empty(), "{said}");
        for text in [&said, &dead] {
            assert!(
                !text.contains(CODE) && !text.contains("wrong-code"),
                "{text}"
            );
        }
        assert!(dead.contains("SUMO_URL") || dead.contains("401"), "{dead}");
    }

    let refused = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    assert!(
        transcript(&refused).contains("SUMO_URL is not set"),
        "{}",
        transcript(&refused)
    );
}

/// A collector in the way that quotes what it was sent: a 404 page with the path, a
/// redirect to a URL with the same code, an AWS-like error that quotes the session
/// token. What they say reaches logs and dead letters masked.
#[tokio::test(flavor = "multi_thread")]
async fn answers_that_quote_the_secrets_are_masked() {
    use axum::http::{HeaderMap, StatusCode, Uri, header};
    let app = axum::Router::new()
        .route(
            "/echo/{*rest}",
            axum::routing::any(|uri: Uri| async move {
                (StatusCode::NOT_FOUND, format!("Cannot POST {}", uri.path()))
            }),
        )
        .route(
            "/moved/{*rest}",
            axum::routing::any(|uri: Uri| async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("https://endpoint9.example{}", uri.path()))],
                )
            }),
        )
        .route(
            "/",
            axum::routing::any(|headers: HeaderMap| async move {
                let token = headers
                    .get("x-amz-security-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (
                    StatusCode::BAD_REQUEST,
                    format!(
                        r#"{{"__type":"InvalidSignatureException","message":"The Canonical String was x-amz-security-token:{token}"}}"#
                    ),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    for url in [
        format!("{base}/echo/receiver/v1/http/{CODE}"),
        format!("{base}/moved/receiver/v1/http/{CODE}"),
    ] {
        let harness = Harness::new();
        harness.copy_data(&["idp-audit.jsonl"]);
        harness.config(&config());
        let failed = harness.run_expecting(3, &[("SUMO_URL", &url)]).await;
        let connect = harness
            .sluice(
                &["check", "--connect", "-c", "sluice.toml"],
                &[("SUMO_URL", &url)],
            )
            .await;
        let dead: String = harness
            .dead_letters()
            .iter()
            .map(Value::to_string)
            .collect();
        for text in [transcript(&failed), transcript(&connect), dead] {
            assert!(!text.contains(CODE), "{text}");
        }
    }

    let token = "FwoGZXIvYXdzEBQaDEXAMPLESESSIONTOKEN";
    let harness = Harness::new();
    harness.copy_data(&["idp-audit.jsonl"]);
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n[[destinations]]\nname = \"cw\"\nmodule = \"cloudwatch-logs\"\nendpoint = \"{base}\"\naws = {{ region = \"us-east-1\", service = \"logs\", access_key_id = {{ env = \"K\" }}, secret_access_key = {{ env = \"S\" }}, session_token = {{ env = \"T\" }} }}\nsettings = {{ log_group = \"g\", log_stream = \"s\" }}\n"
    ));
    let env = [
        ("K", "AKIDEXAMPLE"),
        ("S", "secret-access-key-value"),
        ("T", token),
    ];
    let failed = harness.run_expecting(3, &env).await;
    let dead: String = harness
        .dead_letters()
        .iter()
        .map(Value::to_string)
        .collect();
    assert!(dead.contains("InvalidSignatureException"), "{dead}");
    for text in [transcript(&failed), dead] {
        assert!(!text.contains(token), "{text}");
    }
}

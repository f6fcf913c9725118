//! The Loki module natively: the push body Loki reads, and its settings.

use sluice_guest::testing::{batch, configure};
use sluice_guest::{Formatter, Request};
use sluice_loki::Loki;

#[test]
fn a_batch_is_one_stream_of_time_and_event_pairs() {
    let batch = batch(&[r#"{"a":"x\ny"}"#, r#"{"b":2}"#]);
    let loki: Loki = configure(&[("tenant", "acme")]).unwrap();
    let formatted = loki.format(&batch).unwrap();
    let Request::Http(request) = &formatted.requests[0] else {
        panic!("an HTTP request")
    };
    assert_eq!(request.path, "/loki/api/v1/push");
    assert!(
        request
            .headers
            .contains(&("X-Scope-OrgID".into(), "acme".into()))
    );
    assert_eq!(request.events, [0, 1]);
    let body: serde_json::Value = serde_json::from_slice(&request.body.assemble(&batch)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"streams": [{
            "stream": {"job": "sluice"},
            "values": [
                ["1700000000000000000", r#"{"a":"x\ny"}"#],
                ["1700000001000000000", r#"{"b":2}"#],
            ],
        }]})
    );
}

#[test]
fn an_empty_job_label_is_refused_at_check_time() {
    let error = configure::<Loki>(&[("job", " ")]).unwrap_err();
    assert!(format!("{error:?}").contains("job"), "{error:?}");
}

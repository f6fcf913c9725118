//! Amazon CloudWatch Logs: the reference Sluice module for `PutLogEvents`.
//!
//! Each event's JSON is a log event's `message`, its time the `timestamp`. A request
//! holds events in time order (CloudWatch refuses a request that is not), at most 10,000
//! of them and 1,048,576 bytes counted as CloudWatch counts them (each message's UTF-8
//! bytes plus 26), and spans at most 24 hours. The host signs every request with AWS
//! Signature V4 (the destination's `aws` table): the module never sees a key.
//!
//! Answers: 200 delivered, but for the events `rejectedLogEventsInfo` names (too new,
//! too old, expired), refused; throttling, `ServiceUnavailableException`, 5xx and 429
//! retried; `ResourceNotFoundException` (the log group or stream does not exist yet)
//! retried too, so that the events wait until it is created or the retry policy gives
//! up; the sequence-token errors of the API's older revisions (sequence tokens are
//! ignored now, and these no longer returned): `InvalidSequenceTokenException` retried
//! (the request carries no token, so a resend is all it can do) and
//! `DataAlreadyAcceptedException` delivered (CloudWatch has the batch); any other error
//! refused with its type and message.

pub mod request;

use sluice_guest::enrich::Stamp;
use sluice_guest::{
    AuthHeader, Batch, BatchLimits, ConnectionCheck, Enrichment, FormatError, Formatted,
    HttpResponse, Info, PartialFailure, Query, Refusal, SentRequest, SettingDoc, Settings, Verdict,
};

/// The CloudWatch Logs formatter of one destination.
pub struct CloudWatchLogs {
    group: String,
    stream: String,
    stamp: Stamp,
}

/// What the JSON API calls each operation.
const PUT_LOG_EVENTS: &str = "Logs_20140328.PutLogEvents";
const DESCRIBE_LOG_STREAMS: &str = "Logs_20140328.DescribeLogStreams";

fn headers(target: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/x-amz-json-1.1".into()),
        ("X-Amz-Target".into(), target.into()),
    ]
}

impl sluice_guest::Formatter for CloudWatchLogs {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 10_000,
                max_bytes: 1_000_000,
            },
            // The host signs with the destination's `aws` keys in this header.
            auth: Some(AuthHeader::header("Authorization", "")),
            settings: vec![
                Stamp::doc(),
                SettingDoc {
                    name: "log_group",
                    description: "the log group (it must exist)",
                    default: None,
                },
                SettingDoc {
                    name: "log_stream",
                    description: "the log stream of the group (it must exist)",
                    default: None,
                },
            ],
            ..Info::http("cloudwatch-logs", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        settings.require(&["log_group", "log_stream"])?;
        Ok(CloudWatchLogs {
            group: settings.text("log_group").unwrap_or_default(),
            stream: settings.text("log_stream").unwrap_or_default(),
            stamp: Stamp::from_settings(settings, enrichment)?,
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        Ok(request::put_log_events(
            batch,
            (&self.group, &self.stream),
            &self.stamp,
            |body, events| {
                sluice_guest::Request::Http(sluice_guest::HttpRequest {
                    method: "POST".into(),
                    path: "/".into(),
                    headers: headers(PUT_LOG_EVENTS),
                    body,
                    compression: sluice_guest::Compression::None,
                    events,
                })
            },
        ))
    }

    fn classify(&self, response: &HttpResponse, request: &SentRequest) -> Verdict {
        classify(response, request.event_count)
    }

    fn connection_check(&self) -> Option<ConnectionCheck> {
        let mut body = b"{\"logGroupName\":".to_vec();
        sluice_guest::json::write_str(&mut body, &self.group);
        body.extend_from_slice(b",\"logStreamNamePrefix\":");
        sluice_guest::json::write_str(&mut body, &self.stream);
        body.push(b'}');
        Some(ConnectionCheck {
            query: Query {
                method: "POST".into(),
                path: "/".into(),
                headers: headers(DESCRIBE_LOG_STREAMS),
                body,
            },
            accepted: vec![200],
            unauthorized: vec![403],
        })
    }
}

/// An error's type, as the JSON API names it (`__type`, maybe after a `#`), and message.
fn error_of(response: &HttpResponse) -> (String, String) {
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let kind = body["__type"].as_str().unwrap_or_default();
    let kind = kind.rsplit('#').next().unwrap_or(kind).to_owned();
    // moto (and AWS's query APIs) answer some errors in XML: its start says which.
    let message = match body["message"].as_str().or(body["Message"].as_str()) {
        Some(message) => message.to_owned(),
        None => response.body_start(),
    };
    (kind, message)
}

/// What an answer to a `PutLogEvents` of `count` events says of them.
fn classify(response: &HttpResponse, count: u32) -> Verdict {
    if response.status == 200 {
        if !response.is_json_or_empty() {
            return Verdict::retry(response, "a 200 whose body is not CloudWatch's JSON");
        }
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        return rejected(&body["rejectedLogEventsInfo"], count);
    }
    let (kind, message) = error_of(response);
    let reason = format!("HTTP {} {kind}: {message}", response.status);
    match kind.as_str() {
        "ThrottlingException"
        | "ServiceUnavailableException"
        | "ResourceNotFoundException"
        | "InvalidSequenceTokenException" => Verdict::retry(response, reason),
        "DataAlreadyAcceptedException" => Verdict::Delivered,
        _ if matches!(response.status, 429 | 500..=599) => Verdict::retry(response, reason),
        _ if response.status == 413 => Verdict::TooLarge,
        _ => Verdict::Refused(reason),
    }
}

/// The events of a delivered request that `rejectedLogEventsInfo` names, refused.
fn rejected(info: &serde_json::Value, count: u32) -> Verdict {
    let index = |key: &str| info[key].as_u64().map(|i| i.min(u64::from(count)) as u32);
    let mut refused = Vec::new();
    let mut refuse = |range: std::ops::Range<u32>, why: &str| {
        for event in range {
            if !refused.iter().any(|r: &Refusal| r.event == event) {
                refused.push(Refusal {
                    event,
                    reason: format!("CloudWatch Logs rejected the event: {why}"),
                });
            }
        }
    };
    if let Some(start) = index("tooNewLogEventStartIndex") {
        refuse(start..count, "more than 2 hours in the future");
    }
    if let Some(end) = index("tooOldLogEventEndIndex") {
        refuse(0..end, "older than 14 days");
    }
    if let Some(end) = index("expiredLogEventEndIndex") {
        refuse(0..end, "older than the log group's retention");
    }
    match refused.is_empty() {
        true => Verdict::Delivered,
        false => Verdict::Partial(PartialFailure {
            retry: Vec::new(),
            refused,
        }),
    }
}

sluice_guest::export_formatter!(CloudWatchLogs);

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn rejected_events_are_refused_and_the_rest_delivered() {
        let verdict = classify(
            &response(
                200,
                r#"{"nextSequenceToken":"1","rejectedLogEventsInfo":{"tooOldLogEventEndIndex":2,"tooNewLogEventStartIndex":4}}"#,
            ),
            5,
        );
        let Verdict::Partial(partial) = verdict else {
            panic!("{verdict:?}")
        };
        let events: Vec<u32> = partial.refused.iter().map(|r| r.event).collect();
        assert_eq!(events, [4, 0, 1]);
        assert!(matches!(
            classify(&response(200, "{}"), 5),
            Verdict::Delivered
        ));
        assert!(matches!(
            classify(&response(200, "<html>"), 5),
            Verdict::Retry(_)
        ));
    }

    #[test]
    fn throttling_and_a_missing_stream_are_retried_other_errors_refused() {
        for kind in [
            "ThrottlingException",
            "com.amazonaws.logs#ServiceUnavailableException",
            "ResourceNotFoundException",
            "InvalidSequenceTokenException",
        ] {
            let body = format!(r#"{{"__type":"{kind}","message":"m"}}"#);
            assert!(
                matches!(classify(&response(400, &body), 1), Verdict::Retry(_)),
                "{kind}"
            );
        }
        let accepted = r#"{"__type":"DataAlreadyAcceptedException","message":"m"}"#;
        assert!(matches!(
            classify(&response(400, accepted), 1),
            Verdict::Delivered
        ));
        let refused = classify(
            &response(
                400,
                r#"{"__type":"InvalidParameterException","message":"bad"}"#,
            ),
            1,
        );
        let Verdict::Refused(reason) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(reason, "HTTP 400 InvalidParameterException: bad");
    }
}

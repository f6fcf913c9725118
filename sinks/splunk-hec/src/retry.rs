//! Reading HEC answers: every code Splunk documents for HEC mapped to a verdict.

use serde_json::Value;
use sluice_guest::{HttpResponse, PartialFailure, Refusal, SentRequest, Verdict};

/// The JSON body HEC always answers with.
struct HecReply {
    /// Whether the body is a JSON object at all: a 2xx that is not came from something
    /// else in the way (a captive portal, a misrouted proxy).
    json: bool,
    code: Option<i64>,
    text: String,
    invalid_event: Option<u32>,
    /// The `ackId`, with indexer acknowledgement on.
    ticket: Option<String>,
}

impl HecReply {
    fn parse(response: &HttpResponse) -> Self {
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        HecReply {
            json: body.is_object(),
            code: body.get("code").and_then(Value::as_i64),
            text: body
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| response.body_text().chars().take(200).collect()),
            invalid_event: body
                .get("invalid-event-number")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
            ticket: crate::ack::ticket(&body),
        }
    }

    fn reason(&self, status: u16) -> String {
        match self.code {
            Some(code) => format!("HEC code {code} (HTTP {status}): {}", self.text),
            None => format!("HTTP {status}: {}", self.text),
        }
    }
}

/// HEC's own codes (Splunk's documentation; 21-27 from a secondary source). Any
/// other `code` comes from something in front of HEC (a proxy, a load balancer that
/// echoes the status as `"code": 503`): its HTTP status says more.
const HEC_CODES: std::ops::RangeInclusive<i64> = 0..=27;

/// The verdict on `response`; with indexer acknowledgement on (`ack`), a success with
/// an `ackId` is pending until HEC confirms it. (A success without one: the token does
/// not use acknowledgement, and 200 is all HEC will say.)
pub fn classify(response: &HttpResponse, request: &SentRequest, ack: bool) -> Verdict {
    let reply = HecReply::parse(response);
    let reason = reply.reason(response.status);
    let code = reply.code.filter(|code| HEC_CODES.contains(code));
    match (response.status, code) {
        // HEC's answer to a request it took is an object with its integer `code`: 0, or
        // 24 and 25 (accepted, queues filling). Anything else in a 2xx (an HTML page, a
        // proxy's own JSON, `{}`) came from something in the way.
        (200..=299, code) if !reply.json || !matches!(code, Some(0 | 24 | 25)) => Verdict::retry(
            response,
            format!(
                "HTTP {} with an answer that is not HEC's JSON (a proxy or a captive portal in the way?): {}",
                response.status,
                response.body_start()
            ),
        ),
        (200..=299, _) => match reply.ticket.filter(|_| ack) {
            Some(ticket) => Verdict::Pending(ticket),
            None => Verdict::Delivered,
        },
        // Server errors, busy, unhealthy, shutting down, at capacity (8, 9, 18-20, 23, 26, 27).
        (_, Some(8 | 9 | 18 | 19 | 20 | 23 | 26 | 27)) => Verdict::retry(response, reason),
        // One bad object stops HEC: those before it are indexed, the rest are not.
        (_, Some(6 | 12 | 13 | 15)) => match reply.invalid_event {
            Some(bad) if bad < request.event_count => {
                partial_failure(bad, request.event_count, reason)
            }
            _ => Verdict::Refused(reason),
        },
        // Auth (1-4, 21, 22), no data (5), incorrect index (7: every event of the request
        // names the same index), channel (10, 11), ack (14), query-string auth (16).
        (_, Some(_)) => Verdict::Refused(reason),
        // No HEC code: a proxy or a load balancer answered. 429 and 5xx are retried,
        // 413 split.
        _ => match Verdict::from_status(response) {
            Verdict::Refused(_) => Verdict::Refused(reason),
            verdict => verdict,
        },
    }
}

fn partial_failure(bad: u32, event_count: u32, reason: String) -> Verdict {
    Verdict::Partial(PartialFailure {
        retry: (bad + 1..event_count).collect(),
        refused: vec![Refusal { event: bad, reason }],
    })
}

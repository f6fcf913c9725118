//! Reading `_bulk` answers (Elastic's `_bulk` API documentation): HTTP 200 even when items failed,
//! so the items are read one by one, in request order, when `errors` is true.

use serde::Deserialize;
use sluice_guest::{HttpResponse, PartialFailure, Refusal, SentRequest, Verdict};

use crate::config::Action;

/// `{"took":..,"errors":..,"items":[{"create":{"status":..,"error":{..}}},..]}`
#[derive(Debug, Deserialize)]
struct BulkAnswer {
    errors: bool,
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, Item>>,
}

#[derive(Debug, Deserialize)]
struct Item {
    status: u16,
    error: Option<ItemError>,
}

#[derive(Debug, Deserialize)]
struct ItemError {
    #[serde(rename = "type")]
    kind: Option<String>,
    reason: Option<String>,
}

/// An error answer to the whole request: `{"error":{"type":..,"reason":..},"status":..}`.
#[derive(Debug, Deserialize)]
struct RequestError {
    error: serde_json::Value,
}

pub fn classify(response: &HttpResponse, request: &SentRequest, action: Action) -> Verdict {
    match response.status {
        200..=299 => read_items(response, request, action),
        // Not our documents: the request. 413 is split, 429 and 5xx retried.
        _ => match Verdict::from_status(response) {
            Verdict::Refused(_) => Verdict::Refused(request_error(response)),
            verdict => verdict,
        },
    }
}

fn read_items(response: &HttpResponse, request: &SentRequest, action: Action) -> Verdict {
    // The fast path: ES writes `errors` right after `took`; a clean answer is not
    // parsed item by item.
    let head = &response.body[..response.body.len().min(64)];
    if head.windows(15).any(|w| w == b"\"errors\":false") {
        return Verdict::Delivered;
    }
    if response.truncated {
        return Verdict::Retry(sluice_guest::RetryAdvice {
            reason: "the bulk answer was cut at max_response_bytes, so the failed items are unknown: raise max_response_bytes".into(),
            after_ms: None,
        });
    }
    let answer: BulkAnswer = match serde_json::from_slice(&response.body) {
        Ok(answer) => answer,
        Err(error) => {
            return Verdict::retry(response, format!("unreadable bulk answer: {error}"));
        }
    };
    if !answer.errors {
        return Verdict::Delivered;
    }
    if answer.items.len() != request.event_count as usize {
        return Verdict::retry(
            response,
            format!(
                "the bulk answer has {} items for {} documents",
                answer.items.len(),
                request.event_count
            ),
        );
    }
    let mut partial = PartialFailure {
        retry: Vec::new(),
        refused: Vec::new(),
    };
    for (position, item) in answer.items.iter().enumerate() {
        let Some(item) = item.values().next() else {
            continue;
        };
        let position = position as u32;
        match item.status {
            200..=299 => {}
            // The document exists: an earlier attempt wrote it (ids come from events).
            409 if action == Action::Create => {}
            429 | 500..=599 => partial.retry.push(position),
            status => partial.refused.push(Refusal {
                event: position,
                reason: item_reason(status, item.error.as_ref()),
            }),
        }
    }
    if partial.retry.is_empty() && partial.refused.is_empty() {
        Verdict::Delivered
    } else {
        Verdict::Partial(partial)
    }
}

/// `HTTP 400 document_parsing_exception: failed to parse field [n]...`
fn item_reason(status: u16, error: Option<&ItemError>) -> String {
    let kind = error.and_then(|e| e.kind.as_deref()).unwrap_or("error");
    let reason = error.and_then(|e| e.reason.as_deref()).unwrap_or("");
    format!("Elasticsearch item status {status}, {kind}: {reason}")
}

fn request_error(response: &HttpResponse) -> String {
    let error = serde_json::from_slice::<RequestError>(&response.body)
        .ok()
        .map(|answer| match answer.error {
            serde_json::Value::Object(error) => format!(
                "{}: {}",
                error
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("error"),
                error.get("reason").and_then(|t| t.as_str()).unwrap_or("")
            ),
            other => other.to_string(),
        })
        .unwrap_or_else(|| response.body_text().chars().take(200).collect());
    format!("HTTP {}: {error}", response.status)
}

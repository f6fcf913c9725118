//! `PutLogEvents` bodies under CloudWatch's limits.

use sluice_guest::enrich::Stamp;
use sluice_guest::{Batch, Formatted, Payload, PayloadBuilder, Refusal, Request};

/// Most events in one request.
pub const MAX_EVENTS: usize = 10_000;
/// Most bytes of one request, as CloudWatch counts them: each message's UTF-8 bytes and
/// [`EVENT_OVERHEAD`].
pub const MAX_BYTES: usize = 1_048_576;
/// What CloudWatch counts per event besides its message.
pub const EVENT_OVERHEAD: usize = 26;
/// The largest message sent. The current documentation allows 1 MB per event, older
/// revisions 256 KB; which regions still hold the older limit is not documented
/// (UNCONFIRMED), so the older one is kept: a larger event is refused here.
pub const MAX_MESSAGE_BYTES: usize = 262_144 - EVENT_OVERHEAD;
/// Longest span of event times in one request.
pub const MAX_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

/// The batch's events as requests, each in time order and under the limits; `request`
/// makes a request of a body and the events it carries.
pub fn put_log_events(
    batch: &Batch<'_>,
    (group, stream): (&str, &str),
    stamp: &Stamp,
    request: impl Fn(Payload, Vec<u32>) -> Request,
) -> Formatted {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&index| batch.event(index).time_ms());
    let mut head = b"{\"logGroupName\":".to_vec();
    sluice_guest::json::write_str(&mut head, group);
    head.extend_from_slice(b",\"logStreamName\":");
    sluice_guest::json::write_str(&mut head, stream);
    head.extend_from_slice(b",\"logEvents\":[");
    let mut formatted = Formatted::default();
    let mut open: Option<Open> = None;
    for index in order {
        let event = batch.event(index);
        // The message: the event, with the host's enrichment when it applies.
        let enriched = stamp
            .applies(&event)
            .then(|| stamp.extend_document(&event, event.json().as_bytes().to_vec()));
        let message = match &enriched {
            Some(document) => std::str::from_utf8(document).expect("JSON text is UTF-8"),
            None => event.json(),
        };
        let size = message.len() + EVENT_OVERHEAD;
        if message.len() > MAX_MESSAGE_BYTES {
            formatted.refused.push(Refusal {
                event: index as u32,
                reason: format!(
                    "the event is {} bytes, over CloudWatch Logs' {MAX_MESSAGE_BYTES} per message",
                    message.len()
                ),
            });
            continue;
        }
        if let Some(current) = &open
            && (current.events.len() == MAX_EVENTS
                || current.counted + size > MAX_BYTES
                || event.time_ms() - current.first_ms > MAX_SPAN_MS)
        {
            let done = open.take().expect("checked above");
            formatted.requests.push(done.finish(&request));
        }
        let current = open.get_or_insert_with(|| Open {
            body: {
                let mut body = PayloadBuilder::with_capacity(batch, 64, 4);
                body.push(&head);
                body
            },
            events: Vec::new(),
            counted: 0,
            first_ms: event.time_ms(),
        });
        if !current.events.is_empty() {
            current.body.push(b",");
        }
        current.body.push_with(|out| {
            out.extend_from_slice(b"{\"timestamp\":");
            out.extend_from_slice(itoa::Buffer::new().format(event.time_ms()).as_bytes());
            out.extend_from_slice(b",\"message\":");
            sluice_guest::json::write_str(out, message);
            out.push(b'}');
        });
        current.events.push(index as u32);
        current.counted += size;
    }
    if let Some(done) = open {
        formatted.requests.push(done.finish(&request));
    }
    formatted
}

/// A request being filled.
struct Open {
    body: PayloadBuilder,
    events: Vec<u32>,
    /// Bytes as CloudWatch counts them.
    counted: usize,
    first_ms: i64,
}

impl Open {
    fn finish(mut self, request: &impl Fn(Payload, Vec<u32>) -> Request) -> Request {
        self.body.push(b"]}");
        request(self.body.finish(), self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::{EventId, TimeSource};

    fn format(events: &[(&str, i64)]) -> (Formatted, Batch<'static>) {
        let mut batch = Batch::new();
        for (n, (json, time)) in events.iter().enumerate() {
            let json: &'static str = Box::leak(json.to_string().into_boxed_str());
            batch.push(json, *time, TimeSource::Event, EventId(n as u128));
        }
        let formatted = put_log_events(&batch, ("g", "s"), &Stamp::off(), |body, events| {
            Request::Http(sluice_guest::HttpRequest {
                method: "POST".into(),
                path: "/".into(),
                headers: Vec::new(),
                body,
                compression: sluice_guest::Compression::None,
                events,
            })
        });
        (formatted, batch)
    }

    fn bodies(formatted: &Formatted, batch: &Batch<'_>) -> Vec<serde_json::Value> {
        formatted
            .requests
            .iter()
            .map(|request| {
                let Request::Http(http) = request else {
                    panic!("an HTTP request")
                };
                serde_json::from_slice(&http.body.assemble(batch)).unwrap()
            })
            .collect()
    }

    #[test]
    fn events_go_in_time_order_each_message_the_events_json() {
        let (formatted, batch) = format(&[
            (r#"{"n":1,"q":"\""}"#, 3000),
            (r#"{"n":2}"#, 1000),
            (r#"{"n":3}"#, 2000),
        ]);
        let body = &bodies(&formatted, &batch)[0];
        assert_eq!(body["logGroupName"], "g");
        let times: Vec<i64> = body["logEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["timestamp"].as_i64().unwrap())
            .collect();
        assert_eq!(times, [1000, 2000, 3000]);
        assert_eq!(body["logEvents"][2]["message"], r#"{"n":1,"q":"\""}"#);
        let Request::Http(http) = &formatted.requests[0] else {
            panic!()
        };
        assert_eq!(http.events, [1, 2, 0], "the request's events in body order");
    }

    #[test]
    fn a_request_spans_at_most_a_day_and_counts_26_bytes_an_event() {
        let (formatted, _) = format(&[("{}", 0), ("{}", MAX_SPAN_MS), ("{}", MAX_SPAN_MS + 1)]);
        assert_eq!(formatted.requests.len(), 2);
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(200_000));
        let events: Vec<(&str, i64)> = (0..6).map(|_| (big.as_str(), 0)).collect();
        let (formatted, _) = format(&events);
        // 5 x (200,008 + 26) fits in 1,048,576; a sixth does not.
        assert_eq!(formatted.requests.len(), 2);
        let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_MESSAGE_BYTES));
        let (formatted, _) = format(&[(huge.as_str(), 0)]);
        assert!(formatted.requests.is_empty());
        assert_eq!(formatted.refused.len(), 1);
    }
}

//! Checks of what a module answers to `format` and `classify`, before the host acts on
//! it: a module is untrusted, and a wrong index or piece must fail its call, not the
//! host.

use crate::http::{is_field_value, is_framing_header, is_token};

use crate::types::{
    Formatted, FramedMessages, HttpRequest, PublishedMessages, Query, Request, Verdict,
};

/// Checks that every event index and every payload piece of `formatted` exists in a
/// batch of `events` events and `event_text_len` bytes of text, that each event is
/// placed once (in one request, or refused), that every request carries at least one
/// event (so a batch makes at most one request per event: a module cannot turn three
/// events into thousands of requests), and that every HTTP request stays on the
/// destination's endpoint and leaves framing and the credential (sent in
/// `credential_header`, if the module has one) to the host; returns the bytes the
/// answer asks the host to hold (assembled payloads, headers and refusal reasons).
pub fn check(
    formatted: &Formatted,
    events: usize,
    event_text_len: usize,
    credential_header: Option<&str>,
) -> Result<usize, String> {
    let mut is_placed = vec![false; events];
    for index in placed(formatted) {
        match is_placed.get_mut(index as usize) {
            None => return Err(format!("event {index} of a batch of {events}")),
            // Sent twice, or sent and refused: it would be counted twice, and settled
            // by whichever answer came first.
            Some(true) => return Err(format!("event {index} placed twice")),
            Some(seen) => *seen = true,
        }
    }
    let mut total = formatted
        .refused
        .iter()
        .map(|refusal| refusal.reason.len())
        .sum::<usize>();
    for (number, request) in formatted.requests.iter().enumerate() {
        if request_events(request).is_empty() {
            return Err(format!(
                "request {number} carries no event (every request is made for events)"
            ));
        }
        total = total.saturating_add(match request {
            Request::Http(http) => {
                check_http(http, credential_header)?;
                http.body
                    .view()
                    .check(event_text_len)
                    .map_err(|e| e.to_string())?
                    + http
                        .headers
                        .iter()
                        .map(|(name, value)| name.len() + value.len())
                        .sum::<usize>()
            }
            Request::Messages(framed) => check_messages(framed, event_text_len)?,
            Request::Publish(published) => {
                check_subjects(published)?;
                check_messages(&published.messages, event_text_len)?
                    + published.subjects.iter().map(String::len).sum::<usize>()
            }
        });
    }
    Ok(total)
}

/// Checks the pieces and ends of messages; returns their assembled length.
fn check_messages(framed: &FramedMessages, event_text_len: usize) -> Result<usize, String> {
    let assembled = framed
        .messages
        .view()
        .check(event_text_len)
        .map_err(|e| e.to_string())?;
    check_message_ends(framed, assembled)?;
    Ok(assembled)
}

/// The longest subject a module may publish to (NATS has no fixed limit; subjects are
/// names, and a longer one is a module writing event text where a name belongs).
pub const MAX_SUBJECT_BYTES: usize = 256;

/// Checks that each message has a subject, and that each subject is one a message can
/// be published to: dot-separated, non-empty tokens of printable ASCII, without the
/// wildcards `*` and `>` (which only subscriptions use). A subject made of event text
/// the module did not clean fails the call here, not the broker's connection.
fn check_subjects(published: &PublishedMessages) -> Result<(), String> {
    let messages = published.messages.events.len();
    if published.subject_of.len() != messages {
        return Err(format!(
            "{} subject indices for {messages} messages",
            published.subject_of.len()
        ));
    }
    if let Some(&index) = published
        .subject_of
        .iter()
        .find(|&&index| index as usize >= published.subjects.len())
    {
        return Err(format!(
            "subject {index} of {} subjects",
            published.subjects.len()
        ));
    }
    for subject in &published.subjects {
        check_subject(subject).map_err(|problem| format!("subject {subject:?}: {problem}"))?;
    }
    Ok(())
}

/// Checks one subject (see [`check_subjects`]).
pub fn check_subject(subject: &str) -> Result<(), &'static str> {
    check_subject_tokens(subject, false)
}

/// Checks a subject filter: a subject whose tokens may be the wildcards `*` (any one
/// token) and, last, `>` (any rest), as a connection check names the subjects a template
/// makes.
pub fn check_subject_filter(filter: &str) -> Result<(), &'static str> {
    check_subject_tokens(filter, true)
}

fn check_subject_tokens(subject: &str, wildcards: bool) -> Result<(), &'static str> {
    if subject.len() > MAX_SUBJECT_BYTES {
        return Err("longer than 256 bytes");
    }
    if !subject.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err("only printable ASCII without spaces");
    }
    if subject.split('.').any(str::is_empty) {
        return Err("an empty token (a subject is dot-separated names)");
    }
    if !wildcards && subject.split('.').any(|token| token == "*" || token == ">") {
        return Err("a wildcard (only subscriptions take them)");
    }
    // `$JS.API.STREAM.PURGE.X` would purge a stream: the server's own APIs, and the
    // replies of other clients, are no place for events.
    if subject.starts_with('$') || subject.starts_with("_INBOX.") {
        return Err("a subject of the server's own ($...) or of replies (_INBOX.)");
    }
    Ok(())
}

/// Checks that messages split the assembled payload (`assembled` bytes) into one
/// non-empty message per event: ends ascending, the last at the payload's end. A
/// transport writes each message as one frame or datagram, and counts it for its event.
fn check_message_ends(framed: &FramedMessages, assembled: usize) -> Result<(), String> {
    let ends = &framed.message_ends;
    if ends.len() != framed.events.len() {
        return Err(format!(
            "{} message ends for {} events",
            ends.len(),
            framed.events.len()
        ));
    }
    let mut start = 0u32;
    for &end in ends {
        if end <= start {
            return Err(format!(
                "message ends not ascending: {end} after {start} (a message is not empty)"
            ));
        }
        start = end;
    }
    match ends.last() {
        Some(&last) if last as usize != assembled => Err(format!(
            "the last message ends at {last}, the messages at {assembled}"
        )),
        None if assembled != 0 => Err(format!("{assembled} bytes of messages and no message")),
        _ => Ok(()),
    }
}

/// Checks that a request is well formed, stays on the endpoint and leaves framing to
/// the host. The path is appended to the endpoint: without its leading `/`, it could
/// change the host (`.evil.example`, `@evil.example`) and take the credential the host
/// adds there. A malformed method or header fails the call here, rather than every
/// attempt to send it later, as if the network had failed.
fn check_http(http: &HttpRequest, credential_header: Option<&str>) -> Result<(), String> {
    check_request_line(&http.method, &http.path, &http.headers, credential_header)
}

/// Checks a module's query (a connection check, an acknowledgement poll) as
/// [`check_http`] checks a request.
pub fn check_query(query: &Query, credential_header: Option<&str>) -> Result<(), String> {
    check_request_line(
        &query.method,
        &query.path,
        &query.headers,
        credential_header,
    )
}

/// The method, the path and the headers of a request from a module.
fn check_request_line(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    credential_header: Option<&str>,
) -> Result<(), String> {
    if !is_token(method) {
        return Err(format!(
            "HTTP method `{}` is not a token",
            method.escape_debug()
        ));
    }
    if !path.starts_with('/') {
        return Err(format!("HTTP path `{path}` does not start with `/`"));
    }
    if let Some((name, _)) = headers
        .iter()
        .find(|(name, value)| !is_token(name) || !is_field_value(value))
    {
        return Err(format!(
            "header `{}` is malformed (its name or its value)",
            name.escape_debug()
        ));
    }
    // The credential too: the host adds it, and a module's own would take its place
    // (or be dropped, leaving the module to believe it was sent).
    let hosts = |name: &str| {
        is_framing_header(name) || credential_header.is_some_and(|c| c.eq_ignore_ascii_case(name))
    };
    match headers.iter().find(|(name, _)| hosts(name)) {
        Some((name, _)) => Err(format!("header `{name}` is the host's to set")),
        None => Ok(()),
    }
}

/// The longest ticket a `pending` verdict may hold: the host keeps every ticket until
/// it is confirmed, so a module must not make it hold much.
pub const MAX_TICKET_BYTES: usize = 256;

/// Checks that a `partial` verdict for a request of `event_count` events names each of
/// them at most once, to retry or to refuse, and that a `pending` ticket is one the
/// host can keep.
pub fn check_verdict(verdict: &Verdict, event_count: u32) -> Result<(), String> {
    let partial = match verdict {
        Verdict::Partial(partial) => partial,
        Verdict::Pending(ticket) if ticket.is_empty() || ticket.len() > MAX_TICKET_BYTES => {
            return Err(format!(
                "a pending ticket of {} bytes (1 to {MAX_TICKET_BYTES})",
                ticket.len()
            ));
        }
        _ => return Ok(()),
    };
    let mut named = vec![false; event_count as usize];
    let positions = partial
        .retry
        .iter()
        .chain(partial.refused.iter().map(|refusal| &refusal.event));
    for &position in positions {
        match named.get_mut(position as usize) {
            None => {
                return Err(format!("event {position} of a request of {event_count}"));
            }
            Some(true) => return Err(format!("event {position} named twice")),
            Some(seen) => *seen = true,
        }
    }
    Ok(())
}

/// Checks that an answer to `read-acks` has one state per ticket asked about.
pub fn check_ack_states<T>(states: &[T], tickets: usize) -> Result<(), String> {
    if states.len() == tickets {
        Ok(())
    } else {
        Err(format!(
            "{} acknowledgement states for {tickets} tickets",
            states.len()
        ))
    }
}

/// The events of a checked answer for a batch of `events` that it neither sends nor
/// refuses: the host dead-letters them rather than count them as settled.
pub fn forgotten(formatted: &Formatted, events: usize) -> Vec<u32> {
    let mut is_placed = vec![false; events];
    for index in placed(formatted) {
        is_placed[index as usize] = true;
    }
    (0..events as u32)
        .filter(|&index| !is_placed[index as usize])
        .collect()
}

/// The events the answer sends in a request or refuses, in no particular order.
fn placed(formatted: &Formatted) -> impl Iterator<Item = u32> + '_ {
    let sent = formatted.requests.iter().flat_map(request_events);
    let refused = formatted.refused.iter().map(|refusal| &refusal.event);
    sent.chain(refused).copied()
}

fn request_events(request: &Request) -> &[u32] {
    match request {
        Request::Http(http) => &http.events,
        Request::Messages(framed) => &framed.events,
        Request::Publish(published) => &published.messages.events,
    }
}

/// The longest name or version a module may give itself: they are logged and listed.
pub const MAX_NAME_BYTES: usize = 64;

/// Checks a module's name and version (from `describe`): 1 to [`MAX_NAME_BYTES`]
/// printable ASCII characters without spaces, and a name of letters, digits, `-`, `_`
/// and `.`, so they can be logged and listed as they are.
pub fn check_identity(name: &str, version: &str) -> Result<(), String> {
    let fits = |text: &str| !text.is_empty() && text.len() <= MAX_NAME_BYTES;
    if !fits(name)
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "module name `{}` is not 1 to {MAX_NAME_BYTES} letters, digits, `-`, `_` or `.`",
            name.escape_debug()
        ));
    }
    if !fits(version) || !version.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "module version `{}` is not 1 to {MAX_NAME_BYTES} printable characters",
            version.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{PartialFailure, Refusal};

    fn partial(retry: &[u32], refused: &[u32]) -> Verdict {
        Verdict::Partial(PartialFailure {
            retry: retry.to_vec(),
            refused: refused
                .iter()
                .map(|&event| Refusal {
                    event,
                    reason: "bad".into(),
                })
                .collect(),
        })
    }

    #[test]
    fn a_partial_verdict_names_each_event_of_the_request_at_most_once() {
        assert_eq!(check_verdict(&partial(&[0, 2], &[1]), 3), Ok(()));
        assert_eq!(check_verdict(&Verdict::Delivered, 0), Ok(()));
        assert_eq!(
            check_verdict(&partial(&[3], &[]), 3),
            Err("event 3 of a request of 3".into())
        );
        assert_eq!(
            check_verdict(&partial(&[1], &[1]), 3),
            Err("event 1 named twice".into())
        );
    }

    #[test]
    fn messages_split_their_payload_one_per_event() {
        let framed = |text: &str, ends: &[u32], events: &[u32]| FramedMessages {
            messages: crate::types::Payload {
                text: text.as_bytes().to_vec(),
                pieces: Vec::new(),
            },
            message_ends: ends.to_vec(),
            events: events.to_vec(),
        };
        let check =
            |framed: FramedMessages| check_message_ends(&framed, framed.messages.text.len());
        assert_eq!(check(framed("ab\ncd\n", &[3, 6], &[0, 1])), Ok(()));
        assert_eq!(check(framed("", &[], &[])), Ok(()));
        assert_eq!(
            check(framed("abcd", &[2, 4], &[0])),
            Err("2 message ends for 1 events".into())
        );
        assert_eq!(
            check(framed("abcd", &[3, 3], &[0, 1])),
            Err("message ends not ascending: 3 after 3 (a message is not empty)".into())
        );
        assert_eq!(
            check(framed("abcd", &[2, 3], &[0, 1])),
            Err("the last message ends at 3, the messages at 4".into())
        );
        assert_eq!(
            check(framed("abcd", &[2, 9], &[0, 1])),
            Err("the last message ends at 9, the messages at 4".into())
        );
    }

    #[test]
    fn a_published_message_has_one_subject_a_message_can_go_to() {
        let published = |subjects: &[&str], subject_of: &[u32]| PublishedMessages {
            messages: FramedMessages {
                messages: crate::types::Payload {
                    text: b"ab".to_vec(),
                    pieces: Vec::new(),
                },
                message_ends: vec![1, 2],
                events: vec![0, 1],
            },
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            subject_of: subject_of.to_vec(),
        };
        assert_eq!(
            check_subjects(&published(&["audit.acme", "audit.x"], &[1, 0])),
            Ok(())
        );
        assert!(check_subjects(&published(&["audit"], &[0])).is_err());
        assert!(check_subjects(&published(&["audit"], &[0, 1])).is_err());
        for bad in [
            "",
            "audit..x",
            "audit.*",
            "audit.>",
            "audit x",
            "audit.\u{e9}",
            ".a",
        ] {
            let problem = check_subjects(&published(&[bad], &[0, 0])).unwrap_err();
            assert!(problem.contains("subject"), "{bad}: {problem}");
        }
        assert!(check_subjects(&published(&[&"a".repeat(257)], &[0, 0])).is_err());
        for reserved in ["$JS.API.STREAM.PURGE.AUDIT", "$SYS.x", "_INBOX.abc"] {
            assert!(
                check_subjects(&published(&[reserved], &[0, 0])).is_err(),
                "{reserved}"
            );
        }
    }

    #[test]
    fn a_pending_ticket_is_short_and_not_empty() {
        assert_eq!(check_verdict(&Verdict::Pending("17".into()), 3), Ok(()));
        assert!(check_verdict(&Verdict::Pending(String::new()), 3).is_err());
        let long = "7".repeat(MAX_TICKET_BYTES + 1);
        assert_eq!(
            check_verdict(&Verdict::Pending(long), 3),
            Err(format!(
                "a pending ticket of 257 bytes (1 to {MAX_TICKET_BYTES})"
            ))
        );
    }

    #[test]
    fn an_acknowledgement_answer_has_one_state_per_ticket() {
        assert_eq!(check_ack_states(&[1, 2], 2), Ok(()));
        assert_eq!(
            check_ack_states(&[1], 2),
            Err("1 acknowledgement states for 2 tickets".into())
        );
    }

    /// A module header named as the module's credential header used to be dropped
    /// silently by the transport, while a framing header failed the call: both fail it.
    #[test]
    fn the_credential_header_is_the_hosts_to_set_like_framing() {
        let request = |name: &str| HttpRequest {
            method: "POST".into(),
            path: "/x".into(),
            headers: vec![(name.into(), "v".into())],
            body: Default::default(),
            compression: crate::types::Compression::None,
            events: Vec::new(),
        };
        let credential = Some("Authorization");
        assert_eq!(
            check_http(&request("authorization"), credential),
            Err("header `authorization` is the host's to set".into())
        );
        assert_eq!(
            check_http(&request("Content-Length"), credential),
            Err("header `Content-Length` is the host's to set".into())
        );
        assert_eq!(check_http(&request("X-Trace"), credential), Ok(()));
        assert_eq!(check_http(&request("Authorization"), None), Ok(()));
    }
}

//! Checks of what a module answers to `format`, before the host acts on it: a module is
//! untrusted, and a wrong index or piece must fail its call, not the host.

use super::payload;
use super::types::{Formatted, Request};

/// Checks that every event index and every payload piece of `formatted` exists in a
/// batch of `events` events and `event_text_len` bytes of text, and that every HTTP
/// path stays on the destination's endpoint; returns the bytes the answer asks the host
/// to hold (assembled payloads and headers).
pub fn check(formatted: &Formatted, events: usize, event_text_len: usize) -> Result<usize, String> {
    if let Some(index) = placed(formatted).find(|&index| index as usize >= events) {
        return Err(format!("event {index} of a batch of {events}"));
    }
    let mut total = 0usize;
    for request in &formatted.requests {
        total = total.saturating_add(match request {
            Request::Http(http) => {
                // The path is appended to the endpoint: without its leading `/`, it could
                // change the host (`.evil.example`, `@evil.example`) and take the
                // credential the host adds there.
                if !http.path.starts_with('/') {
                    return Err(format!("HTTP path `{}` does not start with `/`", http.path));
                }
                payload::assembled_len(&http.body, event_text_len)?
                    + http
                        .headers
                        .iter()
                        .map(|(name, value)| name.len() + value.len())
                        .sum::<usize>()
            }
            Request::Messages(framed) => payload::assembled_len(&framed.messages, event_text_len)?,
        });
    }
    Ok(total)
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
    let sent = formatted.requests.iter().flat_map(|request| match request {
        Request::Http(http) => &http.events,
        Request::Messages(framed) => &framed.events,
    });
    let refused = formatted.refused.iter().map(|refusal| &refusal.event);
    sent.chain(refused).copied()
}

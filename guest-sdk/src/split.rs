//! Filling request bodies up to a size limit, the way every HTTP sink does: each event
//! is written straight into the body; one that would take the body past the limit is
//! taken out again and written into the next body; one too large for a body alone is
//! refused with the reason. Modules say how to start a body, write an event and finish
//! a request; this loop is the same for all. (Generic, not `dyn`: the module's writing
//! of an event is inlined into it.)

use crate::{Batch, Event, Formatted, PayloadBuilder, Refusal, Request};

/// A request body being filled: its payload, whatever else the module keeps with it.
pub trait Body {
    /// The payload being written.
    fn payload(&mut self) -> &mut PayloadBuilder;
}

/// How big a body may get.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// Most bytes of a body, as the host sends it (before compression).
    pub max_bytes: usize,
    /// Bytes the request's end adds after the last event (a closing `]`).
    pub closing: usize,
}

/// Every event of `batch` in requests of bodies within `limit`, or refused:
/// `new_body` starts a body (its fixed opening written), `write` writes one event
/// (`first` when the body has none yet, for separators), `finish` makes the request of
/// a full body and its events, `too_large` says why an event of that many bytes fits
/// no body.
pub fn fill<B: Body>(
    batch: &Batch<'_>,
    limit: BodyLimit,
    mut new_body: impl FnMut() -> B,
    mut write: impl FnMut(&mut B, &Event<'_>, bool),
    mut finish: impl FnMut(B, Vec<u32>) -> Request,
    too_large: impl Fn(usize) -> String,
) -> Formatted {
    let mut formatted = Formatted::default();
    let mut body = new_body();
    let mut events: Vec<u32> = Vec::with_capacity(batch.len());
    for (index, event) in batch.events().enumerate() {
        loop {
            let mark = body.payload().mark();
            let start = body.payload().len();
            write(&mut body, &event, events.is_empty());
            let payload = body.payload();
            let size = payload.len() - start;
            if payload.len() + limit.closing <= limit.max_bytes {
                events.push(index as u32);
            } else if events.is_empty() {
                payload.truncate(mark);
                formatted.refused.push(Refusal {
                    event: index as u32,
                    reason: too_large(size),
                });
            } else {
                payload.truncate(mark);
                let full = std::mem::replace(&mut body, new_body());
                formatted
                    .requests
                    .push(finish(full, std::mem::take(&mut events)));
                continue;
            }
            break;
        }
    }
    if !events.is_empty() {
        formatted.requests.push(finish(body, events));
    }
    formatted
}

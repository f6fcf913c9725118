//! Payloads as modules return them: pieces of one byte space that holds the batch's
//! event text and then the payload's own text. The host checks them once, after the
//! call, and assembles the bytes only where it writes them (into the request body or
//! the gzip encoder), so an event the module passed on unchanged is copied once.

use super::types::Payload;

/// Checks that every piece of `payload` lies in its byte space, the `event_text_len`
/// bytes of the batch's text then its own text; returns the assembled length.
pub fn assembled_len(payload: &Payload, event_text_len: usize) -> Result<usize, String> {
    if payload.piece_starts.len() != payload.piece_ends.len() {
        return Err(format!(
            "a payload has {} piece starts but {} piece ends",
            payload.piece_starts.len(),
            payload.piece_ends.len()
        ));
    }
    if payload.piece_starts.is_empty() {
        return Ok(payload.text.len());
    }
    let space = event_text_len + payload.text.len();
    // One pass without an early exit, so that it vectorizes; the error is rare. The
    // sum of lengths wraps on reversed pieces, which are refused anyway.
    let (reversed, furthest, total) = payload.piece_starts.iter().zip(&payload.piece_ends).fold(
        (false, 0u32, 0u64),
        |(reversed, furthest, total), (&start, &end)| {
            (
                reversed | (start > end),
                furthest.max(end),
                total.wrapping_add(u64::from(end.wrapping_sub(start))),
            )
        },
    );
    if reversed || furthest as usize > space {
        let (start, end) = payload
            .piece_starts
            .iter()
            .zip(&payload.piece_ends)
            .find(|&(&start, &end)| start > end || end as usize > space)
            .expect("a piece is outside");
        return Err(format!(
            "a payload piece {start}..{end} lies outside its {space} bytes \
             ({event_text_len} of events, {} of its own)",
            payload.text.len()
        ));
    }
    Ok(usize::try_from(total).unwrap_or(usize::MAX))
}

/// Hands the bytes of a checked `payload` to `write`, in order, as slices of
/// `event_text` and of its own text.
pub fn for_each_piece(payload: &Payload, event_text: &[u8], mut write: impl FnMut(&[u8])) {
    if payload.piece_starts.is_empty() {
        write(&payload.text);
        return;
    }
    let split = event_text.len();
    for (&start, &end) in payload.piece_starts.iter().zip(&payload.piece_ends) {
        let (start, end) = (start as usize, end as usize);
        if end <= split {
            write(&event_text[start..end]);
        } else if start >= split {
            write(&payload.text[start - split..end - split]);
        } else {
            // A piece may run from the events into the text.
            write(&event_text[start..]);
            write(&payload.text[..end - split]);
        }
    }
}

/// The bytes of a checked `payload`, assembled.
pub fn assemble(payload: &Payload, event_text: &[u8]) -> Vec<u8> {
    let mut len = 0;
    for_each_piece(payload, event_text, |piece| len += piece.len());
    let mut out = Vec::with_capacity(len);
    for_each_piece(payload, event_text, |piece| out.extend_from_slice(piece));
    out
}

#[allow(clippy::derivable_impls, reason = "the type is generated from the WIT")]
impl Default for Payload {
    fn default() -> Self {
        Payload {
            text: Vec::new(),
            piece_starts: Vec::new(),
            piece_ends: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(text: &str, pieces: &[(u32, u32)]) -> Payload {
        Payload {
            text: text.as_bytes().to_vec(),
            piece_starts: pieces.iter().map(|p| p.0).collect(),
            piece_ends: pieces.iter().map(|p| p.1).collect(),
        }
    }

    #[test]
    fn pieces_address_the_events_then_the_text() {
        let events = b"{\"a\":1}{\"b\":2}";
        // [ {"b":2} , {"a":1} ] with the text "[,]" at 14..17.
        let framed = payload("[,]", &[(14, 15), (7, 14), (15, 16), (0, 7), (16, 17)]);
        assert_eq!(assembled_len(&framed, events.len()), Ok(17));
        assert_eq!(assemble(&framed, events), b"[{\"b\":2},{\"a\":1}]".to_vec());
        // One piece across the border; and a payload without pieces is its text.
        let across = payload("!", &[(7, 15)]);
        assert_eq!(assemble(&across, events), b"{\"b\":2}!".to_vec());
        assert_eq!(assemble(&payload("as is", &[]), events), b"as is".to_vec());
    }

    #[test]
    fn pieces_outside_the_space_are_refused() {
        let events = b"{}";
        for (bad, expected) in [
            (
                payload("ab", &[(3, 5)]),
                "piece 3..5 lies outside its 4 bytes",
            ),
            (payload("ab", &[(2, 1)]), "piece 2..1 lies outside"),
            (
                Payload {
                    text: Vec::new(),
                    piece_starts: vec![0],
                    piece_ends: Vec::new(),
                },
                "1 piece starts but 0 piece ends",
            ),
        ] {
            let error = assembled_len(&bad, events.len()).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}

//! Payloads as modules return them: pieces of one byte space that holds the batch's
//! event text and then the payload's own text. The host checks them once, after the
//! call, and assembles the bytes only where it writes them (into the request body or
//! the gzip encoder), so an event the module passed on unchanged is copied once.

use super::types::Payload;

/// Splits a piece into its start (high 32 bits) and end (low 32 bits).
fn unpack(piece: u64) -> (usize, usize) {
    ((piece >> 32) as usize, (piece as u32) as usize)
}

/// Checks that every piece of `payload` lies in its byte space, the `event_text_len`
/// bytes of the batch's text then its own text; returns the assembled length.
pub fn assembled_len(payload: &Payload, event_text_len: usize) -> Result<usize, String> {
    if payload.pieces.is_empty() {
        return Ok(payload.text.len());
    }
    let space = (event_text_len + payload.text.len()) as u64;
    // One pass without an early exit or a comparison, so that it vectorizes (a request
    // has four pieces per event): with start and end below 2^32, `end - start` and
    // `space - end` wrap to a number with the top bit set exactly when the piece is
    // reversed or runs past the space. The error is rare; it is located afterwards.
    let (outside, total) = payload
        .pieces
        .iter()
        .fold((0u64, 0u64), |(outside, total), &piece| {
            let (start, end) = (piece >> 32, piece & u64::from(u32::MAX));
            let len = end.wrapping_sub(start);
            (
                outside | len | space.wrapping_sub(end),
                total.wrapping_add(len),
            )
        });
    if outside >> 63 == 1 {
        let (start, end) = payload
            .pieces
            .iter()
            .map(|&piece| unpack(piece))
            .find(|&(start, end)| start > end || end as u64 > space)
            .expect("a piece is outside");
        return Err(format!(
            "a payload piece {start}..{end} lies outside its {space} bytes \
             ({event_text_len} of events, {} of its own)",
            payload.text.len()
        ));
    }
    Ok(total as usize)
}

/// Hands the bytes of a checked `payload` to `write`, in order, as slices of
/// `event_text` and of its own text; stops at the first error `write` returns.
pub fn try_for_each_piece<E>(
    payload: &Payload,
    event_text: &[u8],
    mut write: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    if payload.pieces.is_empty() {
        return write(&payload.text);
    }
    let split = event_text.len();
    for &piece in &payload.pieces {
        let (start, end) = unpack(piece);
        if end <= split {
            write(&event_text[start..end])?;
        } else if start >= split {
            write(&payload.text[start - split..end - split])?;
        } else {
            // A piece may run from the events into the text.
            write(&event_text[start..])?;
            write(&payload.text[..end - split])?;
        }
    }
    Ok(())
}

/// The bytes of a checked `payload`, assembled.
pub fn assemble(payload: &Payload, event_text: &[u8]) -> Vec<u8> {
    let len = if payload.pieces.is_empty() {
        payload.text.len()
    } else {
        // A plain sum that vectorizes: no checked piece ends before it starts.
        payload
            .pieces
            .iter()
            .map(|&piece| (piece as u32 - (piece >> 32) as u32) as usize)
            .sum()
    };
    let mut out = Vec::with_capacity(len);
    let Ok(()) = try_for_each_piece(payload, event_text, |piece| {
        out.extend_from_slice(piece);
        Ok::<(), std::convert::Infallible>(())
    });
    out
}

#[allow(clippy::derivable_impls, reason = "the type is generated from the WIT")]
impl Default for Payload {
    fn default() -> Self {
        Payload {
            text: Vec::new(),
            pieces: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(text: &str, pieces: &[(u32, u32)]) -> Payload {
        Payload {
            text: text.as_bytes().to_vec(),
            pieces: pieces
                .iter()
                .map(|&(start, end)| (u64::from(start) << 32) | u64::from(end))
                .collect(),
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
                payload("ab", &[(0, 4), (0, u32::MAX)]),
                "piece 0..4294967295 lies outside",
            ),
        ] {
            let error = assembled_len(&bad, events.len()).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}

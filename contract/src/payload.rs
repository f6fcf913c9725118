//! Payloads: a request body (or a run of framed messages) as a module returns it, the
//! module's own text plus pieces to assemble.
//!
//! Each piece is a byte range of one space: the batch's event text first, then the
//! payload's own text. A piece is packed in a `u64`, its start in the high 32 bits and
//! its end in the low 32 bits. A payload without pieces is its text. A module places an
//! event it passes on unchanged by its range, so the event is copied once, by the host,
//! where the body is written.

use std::fmt;

/// Packs the byte range `start..end` of a payload's space into a piece.
#[inline(always)]
pub fn pack(start: u32, end: u32) -> u64 {
    (u64::from(start) << 32) | u64::from(end)
}

/// The byte range a piece stands for.
#[inline(always)]
pub fn unpack(piece: u64) -> (u32, u32) {
    ((piece >> 32) as u32, piece as u32)
}

/// A payload as either side holds it, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct PayloadRef<'a> {
    /// The module's own bytes.
    pub text: &'a [u8],
    /// Packed pieces of the space (event text, then `text`), in order.
    pub pieces: &'a [u64],
}

/// A piece that reaches outside its payload's space, or ends before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceOutside {
    /// The piece's start.
    pub start: u32,
    /// The piece's end.
    pub end: u32,
    /// Bytes of the batch's event text, the first part of the space.
    pub event_text_len: usize,
    /// Bytes of the payload's own text, the rest of the space.
    pub own_text_len: usize,
}

impl fmt::Display for PieceOutside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a payload piece {}..{} lies outside its {} bytes ({} of events, {} of its own)",
            self.start,
            self.end,
            self.event_text_len + self.own_text_len,
            self.event_text_len,
            self.own_text_len
        )
    }
}

impl std::error::Error for PieceOutside {}

impl<'a> PayloadRef<'a> {
    /// Checks that every piece lies in the space of `event_text_len` bytes of events
    /// then the payload's own text; returns the assembled length.
    pub fn check(&self, event_text_len: usize) -> Result<usize, PieceOutside> {
        if self.pieces.is_empty() {
            return Ok(self.text.len());
        }
        let space = (event_text_len + self.text.len()) as u64;
        // One pass without an early exit or a comparison, so that it vectorizes (a
        // request has four pieces per event): with start and end below 2^32,
        // `end - start` and `space - end` wrap to a number with the top bit set exactly
        // when the piece is reversed or runs past the space. The error is rare; it is
        // located afterwards.
        let (outside, total) = self
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
        if outside >> 63 == 0 {
            return Ok(total as usize);
        }
        let (start, end) = self
            .pieces
            .iter()
            .map(|&piece| unpack(piece))
            .find(|&(start, end)| start > end || u64::from(end) > space)
            .expect("a piece is outside");
        Err(PieceOutside {
            start,
            end,
            event_text_len,
            own_text_len: self.text.len(),
        })
    }

    /// Hands the bytes of a [checked](Self::check) payload to `write`, in order, as
    /// slices of `event_text` and of its own text; stops at the first error `write`
    /// returns.
    pub fn try_for_each_piece<E>(
        &self,
        event_text: &[u8],
        mut write: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.pieces.is_empty() {
            return write(self.text);
        }
        let split = event_text.len();
        for &piece in self.pieces {
            let (start, end) = unpack(piece);
            let (start, end) = (start as usize, end as usize);
            if end <= split {
                write(&event_text[start..end])?;
            } else if start >= split {
                write(&self.text[start - split..end - split])?;
            } else {
                // A piece may run from the events into the text.
                write(&event_text[start..])?;
                write(&self.text[..end - split])?;
            }
        }
        Ok(())
    }

    /// The bytes of a [checked](Self::check) payload, assembled.
    pub fn assemble(&self, event_text: &[u8]) -> Vec<u8> {
        let len = if self.pieces.is_empty() {
            self.text.len()
        } else {
            // A plain sum that vectorizes: no checked piece ends before it starts.
            self.pieces
                .iter()
                .map(|&piece| (piece as u32 - (piece >> 32) as u32) as usize)
                .sum()
        };
        let mut out = Vec::with_capacity(len);
        let Ok(()) = self.try_for_each_piece(event_text, |piece| {
            out.extend_from_slice(piece);
            Ok::<(), std::convert::Infallible>(())
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(ranges: &[(u32, u32)]) -> Vec<u64> {
        ranges
            .iter()
            .map(|&(start, end)| pack(start, end))
            .collect()
    }

    #[test]
    fn pieces_address_the_events_then_the_text() {
        let events = b"{\"a\":1}{\"b\":2}";
        // [ {"b":2} , {"a":1} ] with the text "[,]" at 14..17.
        let framing = pieces(&[(14, 15), (7, 14), (15, 16), (0, 7), (16, 17)]);
        let framed = PayloadRef {
            text: b"[,]",
            pieces: &framing,
        };
        assert_eq!(framed.check(events.len()), Ok(17));
        assert_eq!(framed.assemble(events), b"[{\"b\":2},{\"a\":1}]".to_vec());
        // One piece across the border; and a payload without pieces is its text.
        let border = pieces(&[(7, 15)]);
        let across = PayloadRef {
            text: b"!",
            pieces: &border,
        };
        assert_eq!(across.assemble(events), b"{\"b\":2}!".to_vec());
        let plain = PayloadRef {
            text: b"as is",
            pieces: &[],
        };
        assert_eq!(plain.assemble(events), b"as is".to_vec());
    }

    #[test]
    fn pieces_outside_the_space_are_refused() {
        let events = b"{}";
        for (bad, expected) in [
            (
                vec![(3, 5)],
                "piece 3..5 lies outside its 4 bytes (2 of events, 2 of its own)",
            ),
            (vec![(2, 1)], "piece 2..1 lies outside"),
            (
                vec![(0, 4), (0, u32::MAX)],
                "piece 0..4294967295 lies outside",
            ),
        ] {
            let packed = pieces(&bad);
            let payload = PayloadRef {
                text: b"ab",
                pieces: &packed,
            };
            let error = payload.check(events.len()).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn pack_and_unpack_are_inverse() {
        for (start, end) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (7, u32::MAX)] {
            assert_eq!(unpack(pack(start, end)), (start, end));
        }
    }
}

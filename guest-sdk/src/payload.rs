//! Payloads: request bodies and messages that the host assembles from pieces.
//!
//! A module writes only its own bytes (framing, metadata, reformatted events) and places
//! events by their range in the batch's text, so passing an event on unchanged copies
//! nothing inside the sandbox and nothing out of it. Bytes the same for every event are
//! written once with [`PayloadBuilder::write`] and the [`Piece`] it returns is placed as
//! often as needed.

use std::sync::Arc;

use sluice_contract::payload::{PayloadRef, pack, unpack};

use crate::{Batch, Event};

/// The contract's payload: the module's text and the pieces to assemble.
pub use crate::wit::sluice::module::types::Payload;

/// Builds a [`Payload`] in order, piece by piece.
#[derive(Debug)]
pub struct PayloadBuilder {
    /// Where the module's text starts in the pieces' byte space: after the batch's text.
    text_base: u32,
    text: Vec<u8>,
    /// The contract's packed pieces: start in the high 32 bits, end in the low.
    pieces: Vec<u64>,
    /// Bytes of the assembled payload so far.
    assembled: usize,
    /// What [`push_repeated`](Self::push_repeated) wrote: the bytes, held so that their
    /// address names them as long as the payload is built, and their piece.
    repeated: Vec<(Arc<[u8]>, Piece)>,
}

/// A range of a payload's byte space, to be placed any number of times in that payload:
/// bytes the module wrote into it, or an event's JSON.
#[derive(Debug, Clone, Copy)]
pub struct Piece {
    start: u32,
    end: u32,
}

impl Piece {
    /// An event's JSON, exactly as the host validated it.
    #[inline(always)]
    pub fn event(event: &Event<'_>) -> Piece {
        let range = event.range();
        Piece {
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    /// An event's members: its JSON after the opening `{`, up to and with the closing
    /// `}`. Placed after a module's own `{"key":value,`, the event gains members ahead of
    /// its own without being copied. `None` for an object without members (`{}`), after
    /// which a comma would not be JSON.
    pub fn event_members(event: &Event<'_>) -> Option<Piece> {
        let json = event.json().as_bytes();
        let open = json.iter().position(|&b| b == b'{')?;
        let rest = &json[open + 1..];
        let first = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        if rest[first] == b'}' {
            return None;
        }
        let range = event.range();
        Some(Piece {
            start: (range.start + open + 1) as u32,
            end: range.end as u32,
        })
    }

    fn len(self) -> usize {
        (self.end - self.start) as usize
    }
}

/// A point in a payload to come back to with [`PayloadBuilder::truncate`].
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    text: usize,
    pieces: usize,
    /// The piece before the mark as it was: a later `push` may extend it in place.
    last_piece: Option<u64>,
    assembled: usize,
}

impl PayloadBuilder {
    /// An empty payload for events of `batch`, with room for `text` bytes of the
    /// module's own text and `pieces` pieces (each push is at most one piece).
    pub fn with_capacity(batch: &Batch<'_>, text: usize, pieces: usize) -> Self {
        PayloadBuilder {
            text_base: batch.text_len() as u32,
            text: Vec::with_capacity(text),
            pieces: Vec::with_capacity(pieces),
            assembled: 0,
            repeated: Vec::new(),
        }
    }

    /// Bytes of the payload once assembled.
    pub fn len(&self) -> usize {
        self.assembled
    }

    /// Whether the assembled payload has no bytes.
    pub fn is_empty(&self) -> bool {
        self.assembled == 0
    }

    /// Appends the module's own bytes.
    #[inline(always)]
    pub fn push(&mut self, bytes: &[u8]) {
        self.push_with(|text| text.extend_from_slice(bytes));
    }

    /// Appends whatever `write` writes (a number, a timestamp) to the payload.
    #[inline(always)]
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.text_position();
        write(&mut self.text);
        let end = self.text_position();
        // Consecutive writes of the module's own bytes make one piece.
        match self.pieces.last_mut() {
            Some(last) if *last as u32 == start => {
                *last = pack(unpack(*last).0, end);
                self.assembled += (end - start) as usize;
            }
            _ => self.push_pieces([Piece { start, end }]),
        }
    }

    /// Appends an event's JSON exactly as the host validated it, without copying it.
    #[inline(always)]
    pub fn push_event(&mut self, event: &Event<'_>) {
        self.push_pieces([Piece::event(event)]);
    }

    /// Appends `bytes` that a module places many times (its enrichment, say): written
    /// into the text the first time, placed as that piece after, so the payload holds
    /// them once however many events carry them. Known by their address, without
    /// comparing them: shared bytes cannot change, and the payload holds a clone, so
    /// no other bytes can take that address while it is built.
    pub fn push_repeated(&mut self, bytes: &Arc<[u8]>) {
        let kept = self
            .repeated
            .iter()
            .find(|(held, _)| Arc::ptr_eq(held, bytes))
            .map(|&(_, piece)| piece);
        let piece = match kept {
            Some(piece) => piece,
            None => {
                let piece = self.write(bytes);
                self.repeated.push((Arc::clone(bytes), piece));
                piece
            }
        };
        self.push_pieces([piece]);
    }

    /// Writes `bytes` into the payload's text without placing them; place them with
    /// [`push_pieces`](Self::push_pieces).
    pub fn write(&mut self, bytes: &[u8]) -> Piece {
        self.write_with(|text| text.extend_from_slice(bytes))
    }

    /// Writes whatever `write` writes into the payload's text without placing it.
    #[inline(always)]
    pub fn write_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Piece {
        let start = self.text_position();
        write(&mut self.text);
        Piece {
            start,
            end: self.text_position(),
        }
    }

    /// Appends pieces written earlier into this payload, or events, in order. A fixed
    /// number at once, as one store: a format that frames every event the same way
    /// places each event's pieces with one call.
    #[inline(always)]
    pub fn push_pieces<const N: usize>(&mut self, pieces: [Piece; N]) {
        self.assembled += pieces.iter().map(|piece| piece.len()).sum::<usize>();
        self.pieces
            .extend_from_slice(&pieces.map(|piece| pack(piece.start, piece.end)));
    }

    /// The current end, to undo what follows with [`truncate`](Self::truncate).
    pub fn mark(&self) -> Mark {
        Mark {
            text: self.text.len(),
            pieces: self.pieces.len(),
            last_piece: self.pieces.last().copied(),
            assembled: self.assembled,
        }
    }

    /// Undoes everything appended since `mark`. Pieces written since are undone too.
    pub fn truncate(&mut self, mark: Mark) {
        self.text.truncate(mark.text);
        self.pieces.truncate(mark.pieces);
        let end = self.text_base as usize + mark.text;
        self.repeated.retain(|(_, piece)| piece.end as usize <= end);
        if let (Some(last), Some(was)) = (self.pieces.last_mut(), mark.last_piece) {
            *last = was;
        }
        self.assembled = mark.assembled;
    }

    /// The payload, for a request's body or messages.
    pub fn finish(self) -> Payload {
        Payload {
            text: self.text,
            pieces: self.pieces,
        }
    }

    #[inline(always)]
    fn text_position(&self) -> u32 {
        self.text_base + self.text.len() as u32
    }
}

impl From<Vec<u8>> for Payload {
    /// A payload of the module's own bytes only (no pieces: the text is the payload).
    fn from(text: Vec<u8>) -> Self {
        Payload {
            text,
            pieces: Vec::new(),
        }
    }
}

impl Payload {
    /// The bytes the host sends, for tests and native benchmarks: the pieces assembled
    /// against `batch`'s text with the host's own code.
    ///
    /// # Panics
    ///
    /// On a piece outside the payload's byte space, with the host's reason: the host
    /// fails the call that returns such a payload.
    pub fn assemble(&self, batch: &Batch<'_>) -> Vec<u8> {
        let payload = PayloadRef {
            text: &self.text,
            pieces: &self.pieces,
        };
        let events = batch.text().as_bytes();
        if let Err(outside) = payload.check(events.len()) {
            panic!("the host would refuse this payload: {outside}");
        }
        payload.assemble(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventId, TimeSource};

    /// A `push` right after a mark extends the piece before it in place; truncating to
    /// the mark used to leave that piece extended, so the undone bytes (or bytes
    /// outside the text, which the host refuses) came back.
    #[test]
    fn truncate_undoes_a_push_merged_into_the_piece_before_the_mark() {
        let mut batch = Batch::new();
        batch.push("{\"n\":1}", 0, TimeSource::Event, EventId(1));
        let mut payload = PayloadBuilder::with_capacity(&batch, 16, 4);
        payload.push(b"[");
        payload.push_event(&batch.event(0));
        payload.push(b",");
        let mark = payload.mark();
        payload.push(b"undone");
        payload.truncate(mark);
        payload.push(b"]");
        let len = payload.len();
        let assembled = payload.finish().assemble(&batch);
        assert_eq!(String::from_utf8(assembled).unwrap(), "[{\"n\":1},]");
        assert_eq!(len, "[{\"n\":1},]".len());
    }

    /// Repeated bytes are written once and placed each time; other bytes, equal or
    /// not, or a piece a truncation undid, are written anew.
    #[test]
    fn repeated_bytes_are_written_once() {
        let batch = Batch::new();
        let mut payload = PayloadBuilder::with_capacity(&batch, 64, 8);
        let fixed: Arc<[u8]> = Arc::from(&b"<fixed>"[..]);
        payload.push_repeated(&fixed);
        payload.push(b"|");
        payload.push_repeated(&Arc::clone(&fixed));
        let mark = payload.mark();
        let other: Arc<[u8]> = Arc::from(&b"<other>"[..]);
        payload.push_repeated(&other);
        payload.truncate(mark);
        payload.push_repeated(&other);
        payload.push_repeated(&Arc::from(&b"<fixed>"[..]));
        let len = payload.len();
        let finished = payload.finish();
        assert_eq!(
            String::from_utf8(finished.text.clone()).unwrap(),
            "<fixed>|<other><fixed>"
        );
        let assembled = String::from_utf8(finished.assemble(&batch)).unwrap();
        assert_eq!(assembled, "<fixed>|<fixed><other><fixed>");
        assert_eq!(len, assembled.len());
    }

    #[test]
    fn an_event_gains_members_ahead_of_its_own_and_an_empty_one_has_none() {
        let mut batch = Batch::new();
        batch.push("{\"n\":1}", 0, TimeSource::Event, EventId(1));
        batch.push(" { } ", 0, TimeSource::Event, EventId(2));
        let mut payload = PayloadBuilder::with_capacity(&batch, 16, 4);
        payload.push(b"{\"t\":0,");
        let members = Piece::event_members(&batch.event(0)).expect("one member");
        payload.push_pieces([members]);
        assert!(Piece::event_members(&batch.event(1)).is_none());
        let assembled = payload.finish().assemble(&batch);
        assert_eq!(String::from_utf8(assembled).unwrap(), "{\"t\":0,\"n\":1}");
    }
}

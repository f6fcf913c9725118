//! Payloads: request bodies and messages that the host assembles from pieces.
//!
//! A module writes only its own bytes (framing, metadata, reformatted events) and places
//! events by their range in the batch's text, so passing an event on unchanged copies
//! nothing inside the sandbox and nothing out of it. Bytes the same for every event are
//! written once with [`PayloadBuilder::write`] and the [`Piece`] it returns is placed as
//! often as needed.

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

    fn len(self) -> usize {
        (self.end - self.start) as usize
    }
}

/// A point in a payload to come back to with [`PayloadBuilder::truncate`].
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    text: usize,
    pieces: usize,
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
        }
    }

    /// Bytes of the payload once assembled.
    pub fn len(&self) -> usize {
        self.assembled
    }

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
            assembled: self.assembled,
        }
    }

    /// Undoes everything appended since `mark`. Pieces written since are undone too.
    pub fn truncate(&mut self, mark: Mark) {
        self.text.truncate(mark.text);
        self.pieces.truncate(mark.pieces);
        self.assembled = mark.assembled;
    }

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

#[inline(always)]
fn pack(start: u32, end: u32) -> u64 {
    (u64::from(start) << 32) | u64::from(end)
}

#[inline(always)]
fn unpack(piece: u64) -> (u32, u32) {
    ((piece >> 32) as u32, piece as u32)
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
    /// against `batch`'s text. Panics on a piece outside the byte space, which the
    /// host refuses.
    pub fn assemble(&self, batch: &Batch<'_>) -> Vec<u8> {
        if self.pieces.is_empty() {
            return self.text.clone();
        }
        let events = batch.text().as_bytes();
        let mut out = Vec::new();
        for &piece in &self.pieces {
            let (start, end) = unpack(piece);
            let (start, end) = (start as usize, end as usize);
            for (space, base) in [(events, 0), (&self.text[..], events.len())] {
                let from = start.clamp(base, base + space.len()) - base;
                let to = end.clamp(base, base + space.len()) - base;
                out.extend_from_slice(&space[from..to]);
            }
        }
        out
    }
}

//! Payloads: request bodies and messages that the host assembles from pieces.
//!
//! A module writes only its own bytes (framing, metadata, reformatted events) and places
//! events by their range in the batch's text, so passing an event on unchanged copies
//! nothing inside the sandbox and nothing out of it. A fragment the same for every event
//! is written once with [`PayloadBuilder::fragment`] and placed as often as needed.

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

/// Bytes written once into a payload's text, to be placed any number of times in the
/// same payload.
#[derive(Debug, Clone, Copy)]
pub struct Fragment {
    start: u32,
    end: u32,
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
            _ => self.place(start, end),
        }
    }

    /// Appends an event's JSON exactly as the host validated it, without copying it.
    #[inline(always)]
    pub fn push_event(&mut self, event: &Event<'_>) {
        let range = event.range();
        self.place(range.start as u32, range.end as u32);
    }

    /// Writes `bytes` into the payload's text without placing them; place them with
    /// [`push_fragment`](Self::push_fragment).
    pub fn fragment(&mut self, bytes: &[u8]) -> Fragment {
        let start = self.text_position();
        self.text.extend_from_slice(bytes);
        Fragment {
            start,
            end: self.text_position(),
        }
    }

    /// Appends a fragment written earlier into this payload.
    #[inline(always)]
    pub fn push_fragment(&mut self, fragment: Fragment) {
        self.place(fragment.start, fragment.end);
    }

    /// The current end, to undo what follows with [`truncate`](Self::truncate).
    pub fn mark(&self) -> Mark {
        Mark {
            text: self.text.len(),
            pieces: self.pieces.len(),
            assembled: self.assembled,
        }
    }

    /// Undoes everything appended since `mark`. Fragments written since are undone too.
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

    #[inline(always)]
    fn place(&mut self, start: u32, end: u32) {
        self.assembled += (end - start) as usize;
        self.pieces.push(pack(start, end));
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

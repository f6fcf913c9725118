//! Splitting a byte stream into LF-terminated lines, across reads, with a bound on the
//! bytes one line may hold in memory.

use crate::Line;

/// Position of a line in its stream.
#[derive(Debug, Clone, Copy)]
pub struct LinePosition {
    /// 1-based.
    pub number: u64,
    /// Byte offset of the line's first byte.
    pub offset: u64,
}

/// A line buffer grown past this (by a long line) is not kept for the lines after it.
const KEEP_BUFFER_BELOW: usize = 256 * 1024;

/// Bytes of a line too long to keep that are kept for the dead-letter record.
const TOO_LONG_KEPT: usize = 4096;

/// Carries the unterminated end of one read over to the next.
#[derive(Debug)]
pub struct LineSplitter {
    max_line_bytes: usize,
    /// The start of the current line, up to `max_line_bytes`.
    pending: Vec<u8>,
    /// Bytes of the current line past `pending`, not kept.
    overflow: u64,
    next: u64,
    offset: u64,
}

impl LineSplitter {
    pub fn new(max_line_bytes: usize) -> Self {
        LineSplitter {
            max_line_bytes,
            pending: Vec::new(),
            overflow: 0,
            next: 0,
            offset: 0,
        }
    }

    /// A splitter for a stream read from `resume`: the byte after line `number`, as a
    /// checkpoint kept them ([`consumed`](Self::consumed) and [`lines`](Self::lines)).
    pub fn resuming(max_line_bytes: usize, resume: LinePosition) -> Self {
        LineSplitter {
            next: resume.number,
            offset: resume.offset,
            ..LineSplitter::new(max_line_bytes)
        }
    }

    /// Lines emitted so far, counting from the start of the stream.
    pub fn lines(&self) -> u64 {
        self.next
    }

    /// Calls `emit` for every line completed by `block`.
    pub fn feed(&mut self, block: &[u8], mut emit: impl FnMut(LinePosition, Line<'_>)) {
        let mut rest = block;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if self.pending.is_empty() && self.overflow == 0 {
                let line = &rest[..end];
                let position = self.advance(end as u64 + 1);
                emit(position, self.bounded(line, line.len() as u64));
            } else {
                self.keep(&rest[..end]);
                self.emit_pending(1, &mut emit);
            }
            rest = &rest[end + 1..];
        }
        self.keep(rest);
    }

    /// The byte after the last line emitted: where a reader resumes without cutting or
    /// repeating a line.
    pub fn consumed(&self) -> u64 {
        self.offset
    }

    /// Emits the last line when the stream ended without a final LF.
    pub fn finish(&mut self, mut emit: impl FnMut(LinePosition, Line<'_>)) {
        if !self.pending.is_empty() || self.overflow > 0 {
            self.emit_pending(0, &mut emit);
        }
    }

    /// Adds bytes to the current line, keeping at most `max_line_bytes` of it.
    fn keep(&mut self, bytes: &[u8]) {
        let room = self.max_line_bytes.saturating_sub(self.pending.len());
        let kept = bytes.len().min(room);
        self.pending.extend_from_slice(&bytes[..kept]);
        self.overflow += (bytes.len() - kept) as u64;
    }

    /// Emits the current line, `terminator` bytes long after its content.
    fn emit_pending(&mut self, terminator: u64, emit: &mut impl FnMut(LinePosition, Line<'_>)) {
        let len = self.pending.len() as u64 + self.overflow;
        let position = self.advance(len + terminator);
        emit(position, self.bounded(&self.pending, len));
        self.pending.clear();
        self.overflow = 0;
        // A long line's buffer is not kept for the lines after it.
        if self.pending.capacity() > KEEP_BUFFER_BELOW {
            self.pending = Vec::new();
        }
    }

    /// `line` whole, or its start if the line (`len` bytes) is over the bound.
    fn bounded<'a>(&self, line: &'a [u8], len: u64) -> Line<'a> {
        if len <= self.max_line_bytes as u64 {
            Line::Complete(line)
        } else {
            Line::TooLong {
                start: &line[..line.len().min(TOO_LONG_KEPT).min(self.max_line_bytes)],
                len,
            }
        }
    }

    /// The position of the next line, which takes `bytes` of the stream.
    fn advance(&mut self, bytes: u64) -> LinePosition {
        self.next += 1;
        let position = LinePosition {
            number: self.next,
            offset: self.offset,
        };
        self.offset += bytes;
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Seen {
        Line(Vec<u8>),
        TooLong(Vec<u8>, u64),
    }

    fn split(max: usize, blocks: &[&[u8]]) -> Vec<(u64, u64, Seen)> {
        let mut splitter = LineSplitter::new(max);
        let mut lines = Vec::new();
        let mut record = |p: LinePosition, line: Line<'_>| {
            let seen = match line {
                Line::Complete(bytes) => Seen::Line(bytes.to_vec()),
                Line::TooLong { start, len } => Seen::TooLong(start.to_vec(), len),
            };
            lines.push((p.number, p.offset, seen));
        };
        for block in blocks {
            splitter.feed(block, &mut record);
        }
        splitter.finish(&mut record);
        lines
    }

    #[test]
    fn lines_span_reads_and_the_last_needs_no_newline() {
        let lines = split(1 << 20, &[b"ab\nc", b"d\n\nef"]);
        assert_eq!(
            lines,
            vec![
                (1, 0, Seen::Line(b"ab".to_vec())),
                (2, 3, Seen::Line(b"cd".to_vec())),
                (3, 6, Seen::Line(b"".to_vec())),
                (4, 7, Seen::Line(b"ef".to_vec()))
            ]
        );
    }

    #[test]
    fn a_line_over_the_bound_keeps_its_start_and_its_length() {
        // Over the bound within one read, across reads, and unterminated at the end;
        // the lines after each are whole and where they should be.
        let lines = split(4, &[b"abcdef\nok\nlon", b"ger\nyes\nstill-open"]);
        assert_eq!(
            lines,
            vec![
                (1, 0, Seen::TooLong(b"abcd".to_vec(), 6)),
                (2, 7, Seen::Line(b"ok".to_vec())),
                (3, 10, Seen::TooLong(b"long".to_vec(), 6)),
                (4, 17, Seen::Line(b"yes".to_vec())),
                (5, 21, Seen::TooLong(b"stil".to_vec(), 10)),
            ]
        );
    }

    #[test]
    fn a_resumed_splitter_numbers_lines_as_a_whole_read_would() {
        let whole = split(1 << 20, &[b"ab\ncd\nef\n"]);
        let mut resumed = LineSplitter::resuming(
            1 << 20,
            LinePosition {
                number: 2,
                offset: 6,
            },
        );
        let mut seen = Vec::new();
        resumed.feed(b"ef\n", |position, _| {
            seen.push((position.number, position.offset))
        });
        assert_eq!(seen, vec![(whole[2].0, whole[2].1)]);
        assert_eq!((resumed.lines(), resumed.consumed()), (3, 9));
    }
}

//! Splitting a byte stream into LF-terminated lines, across reads.

/// Position of a line in its stream.
#[derive(Debug, Clone, Copy)]
pub struct LinePosition {
    /// 1-based.
    pub number: u64,
    /// Byte offset of the line's first byte.
    pub offset: u64,
}

/// Carries the unterminated end of one read over to the next.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    next: u64,
    offset: u64,
}

impl LineSplitter {
    /// Calls `emit` for every line completed by `block` (without its LF).
    pub fn feed(&mut self, block: &[u8], mut emit: impl FnMut(LinePosition, &[u8])) {
        let mut rest = block;
        while let Some(end) = memchr(rest) {
            let position = self.advance(self.pending.len() + end + 1);
            if self.pending.is_empty() {
                emit(position, &rest[..end]);
            } else {
                self.pending.extend_from_slice(&rest[..end]);
                emit(position, &self.pending);
                self.pending.clear();
            }
            rest = &rest[end + 1..];
        }
        self.pending.extend_from_slice(rest);
    }

    /// Emits the last line when the stream ended without a final LF.
    pub fn finish(&mut self, mut emit: impl FnMut(LinePosition, &[u8])) {
        if !self.pending.is_empty() {
            let position = self.advance(self.pending.len());
            emit(position, &self.pending);
            self.pending.clear();
        }
    }

    fn advance(&mut self, bytes: usize) -> LinePosition {
        self.next += 1;
        let position = LinePosition {
            number: self.next,
            offset: self.offset,
        };
        self.offset += bytes as u64;
        position
    }
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(blocks: &[&[u8]]) -> Vec<(u64, u64, Vec<u8>)> {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        for block in blocks {
            splitter.feed(block, |p, l| lines.push((p.number, p.offset, l.to_vec())));
        }
        splitter.finish(|p, l| lines.push((p.number, p.offset, l.to_vec())));
        lines
    }

    #[test]
    fn lines_span_reads_and_the_last_needs_no_newline() {
        let lines = split(&[b"ab\nc", b"d\n\nef"]);
        assert_eq!(
            lines,
            vec![
                (1, 0, b"ab".to_vec()),
                (2, 3, b"cd".to_vec()),
                (3, 6, b"".to_vec()),
                (4, 7, b"ef".to_vec())
            ]
        );
    }
}

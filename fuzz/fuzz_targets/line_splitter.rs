//! The line splitter across arbitrary read boundaries: the lines it emits, joined by
//! the newlines it consumed, are the input (a line over the bound keeps its start and
//! its true length), and positions count every byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_reader::Line;
use sluice_reader::lines::LineSplitter;

fuzz_target!(|input: (u16, Vec<u8>, Vec<u8>)| {
    let (bound, cuts, bytes) = input;
    let max_line_bytes = usize::from(bound).max(1);
    let mut splitter = LineSplitter::new(max_line_bytes);
    let mut rebuilt = Vec::new();
    let mut next_offset = 0u64;
    let mut next_number = 1u64;
    let mut check = |position: sluice_reader::lines::LinePosition, line: Line<'_>| {
        assert_eq!(position.offset, next_offset, "lines are contiguous");
        assert_eq!(position.number, next_number);
        next_number += 1;
        let len = match line {
            Line::Complete(text) => {
                assert!(text.len() <= max_line_bytes);
                assert!(!text.contains(&b'\n'));
                rebuilt.extend_from_slice(text);
                text.len() as u64
            }
            Line::TooLong { start, len } => {
                assert!(len > max_line_bytes as u64 && start.len() <= max_line_bytes);
                // What was dropped is the rest of the line; put back what the input had.
                let from = position.offset as usize;
                rebuilt.extend_from_slice(&bytes[from..from + len as usize]);
                assert_eq!(&bytes[from..from + start.len()], start);
                len
            }
        };
        next_offset += len;
        if (next_offset as usize) < bytes.len() {
            assert_eq!(bytes[next_offset as usize], b'\n');
            rebuilt.push(b'\n');
            next_offset += 1;
        }
    };
    // Reads end where the fuzzer says.
    let mut rest = &bytes[..];
    for &cut in &cuts {
        let (read, after) = rest.split_at((cut as usize).min(rest.len()));
        splitter.feed(read, &mut check);
        rest = after;
    }
    splitter.feed(rest, &mut check);
    splitter.finish(&mut check);
    assert_eq!(
        rebuilt, bytes,
        "every byte of the input is in a line or a newline"
    );
    assert_eq!(splitter.consumed(), bytes.len() as u64);
});

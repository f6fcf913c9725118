//! A whole read as a source hands it over: split into bounded lines, each parsed into
//! one chunk. Every line is an event, a blank or a rejection; the events' ranges tile
//! the chunk's text in order, each a JSON object; no panic whatever the bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_reader::lines::LineSplitter;
use sluice_reader::{ChunkBuilder, Line, LineParser, Parsed, TimeBounds};

fuzz_target!(|input: (u16, &[u8])| {
    let (bound, bytes) = input;
    let parser = LineParser::new(vec!["ts".into()], TimeBounds::default(), 32);
    let mut splitter = LineSplitter::new(usize::from(bound).max(16));
    let mut chunk = ChunkBuilder::default();
    let (mut lines, mut events, mut blanks, mut rejected) = (0, 0, 0, 0);
    let mut parse = |_, line: Line<'_>| {
        lines += 1;
        match line {
            Line::Complete(text) => match parser.parse(text, 7, 1_800_000_000_000, &mut chunk) {
                Parsed::Event { .. } => events += 1,
                Parsed::Blank => blanks += 1,
                Parsed::Rejected(_, reason) => {
                    assert!(!reason.is_empty());
                    rejected += 1;
                }
                Parsed::Filtered { .. } | Parsed::Unfit { .. } => {
                    panic!("an event filtered by a parser without filters")
                }
            },
            Line::TooLong { .. } => rejected += 1,
        }
    };
    splitter.feed(bytes, &mut parse);
    splitter.finish(&mut parse);
    assert_eq!(lines, events + blanks + rejected);
    assert_eq!(chunk.events.len(), events);
    let mut end = 0;
    for meta in &chunk.events {
        assert_eq!(meta.offset as usize, end, "events tile the chunk's text");
        let json = meta.json_in(&chunk.data);
        assert!(json.starts_with('{') && json.ends_with('}'));
        end += json.len();
    }
    assert_eq!(end, chunk.data.len());
});

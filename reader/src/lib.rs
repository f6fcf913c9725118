//! From bytes to events: what Sluice does to every line it reads, apart from where the
//! bytes come from and where the events go. A crate of its own, with no I/O and no
//! runtime, so that it is tested, benchmarked and fuzzed alone (`fuzz/`).
//!
//! - [`lines`]: splitting a byte stream into lines across reads, each line bounded;
//! - [`parse`]: a line to an event (the rules of `shared/data/README.md`): validation
//!   without building a tree, repeated keys normalized, the event time and id, and the
//!   filter policies, decided on the fields they name, captured in the same pass;
//! - [`scan`]: the one pass over a line's JSON under [`parse`]: a plain loop for
//!   ordinary events, serde_json's visitors for the rest (and for the error's words);
//! - [`select`]: what one destination takes (its own filter, the routes).

pub mod lines;
mod normalize;
pub mod parse;
pub mod scan;
pub mod select;
mod time;

pub use parse::{ChunkBuilder, EventMeta, LineParser, Parsed, Reject, TimeBounds};
pub use select::{Selector, Skip};

/// A line as a source read it, without its LF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    Complete(&'a [u8]),
    /// Longer than the bound: only its start was kept, so that one endless line cannot
    /// exhaust memory.
    TooLong {
        start: &'a [u8],
        len: u64,
    },
}

/// Parses `text` without serde_json's nesting limit of 128: every event is checked
/// against the parser's own depth limit when it is read.
pub fn from_str_unbounded<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = T::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

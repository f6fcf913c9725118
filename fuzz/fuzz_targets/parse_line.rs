//! One line through the reader (scan, normalization, time), checked against a second
//! JSON implementation: serde_json validating the whole text (numbers by their syntax,
//! as `RawValue` does) and building a whole tree where its numbers fit an f64.
//!
//! - it never panics;
//! - a line it accepts is a JSON object for the reference, with the same fields (the
//!   last value of a repeated key), and the event's text is the line itself, byte for
//!   byte, unless keys repeat (then it is the normalized object);
//! - a line it refuses is refused by the reference too, or nests deeper than the
//!   limit, or holds a lone surrogate escape (which the reference lets through);
//! - the event time lies within the bounds or is the ingest time.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sluice_reader::{ChunkBuilder, LineParser, Parsed, TimeBounds};

const NOW: i64 = 1_800_000_000_000;
const MAX_DEPTH: u32 = 64;

fuzz_target!(|line: &[u8]| {
    let parser = LineParser::new(
        vec!["timestamp".into(), "ts".into(), "time".into()],
        TimeBounds::default(),
        MAX_DEPTH,
    );
    let mut chunk = ChunkBuilder::default();
    let parsed = parser.parse(line, 1, NOW, &mut chunk);
    let text = std::str::from_utf8(line).ok();
    let trimmed = text.map(|t| {
        let t = t.strip_suffix('\r').unwrap_or(t);
        let t = t.strip_prefix('\u{feff}').unwrap_or(t);
        t.trim_matches([' ', '\t', '\n', '\r'])
    });
    let is_object = trimmed
        .and_then(|t| unbounded::<&serde_json::value::RawValue>(t))
        .is_some_and(|raw| raw.get().starts_with('{'));
    let reference: Option<Value> = trimmed.and_then(unbounded);
    match parsed {
        Parsed::Blank => assert!(
            line.iter().all(u8::is_ascii_whitespace)
                || (line.starts_with(b"\xEF\xBB\xBF")
                    && line[3..].iter().all(u8::is_ascii_whitespace))
        ),
        Parsed::Event { .. } => {
            assert!(is_object, "the reader accepted what is not a JSON object");
            let meta = chunk.events[0];
            let event = meta.json_in(&chunk.data);
            // Numbers beyond f64's range have no tree here: compare where they fit.
            if let Some(Value::Object(expected)) = reference {
                let actual: Map<String, Value> = unbounded(event).expect("the event is JSON");
                assert_eq!(actual, expected, "the same fields");
            }
            if !has_repeated_keys(trimmed.unwrap()) {
                assert_eq!(event, trimmed.unwrap(), "byte for byte");
            }
            assert!(
                meta.ingest_time && meta.time_ms == NOW
                    || (0..=NOW + 86_400_000).contains(&meta.time_ms),
                "time {} out of bounds",
                meta.time_ms
            );
        }
        Parsed::Rejected(_, reason) => {
            let explained = reason.contains("events.max_depth")
                || reason.contains("lone UTF-16 surrogate")
                || reason.starts_with("a line of only whitespace");
            assert!(
                explained || !is_object,
                "the reader refused an object the reference accepts: {reason}"
            );
        }
        Parsed::Filtered { .. } | Parsed::Unfit { .. } => {
            panic!("an event filtered by a parser without filters")
        }
    }
});

/// `text` parsed whole, without a nesting limit.
fn unbounded<'a, T: serde::Deserialize<'a>>(text: &'a str) -> Option<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = T::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(value)
}

/// Whether some object in `text` (valid JSON) repeats a key, by a tree that keeps them.
fn has_repeated_keys(text: &str) -> bool {
    fn walk(value: &serde_json::value::RawValue) -> bool {
        let text = value.get();
        match text.as_bytes().first() {
            Some(b'{') => {
                let entries: Vec<(String, &serde_json::value::RawValue)> =
                    serde_json::from_str::<Entries>(text).unwrap().0;
                let mut keys = std::collections::HashSet::new();
                entries.iter().any(|(key, _)| !keys.insert(key.clone()))
                    || entries.iter().any(|(_, value)| walk(value))
            }
            Some(b'[') => serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text)
                .unwrap()
                .into_iter()
                .any(walk),
            _ => false,
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let raw: &serde_json::value::RawValue =
        serde::Deserialize::deserialize(&mut deserializer).unwrap();
    walk(raw)
}

/// An object's entries in order, repeats included.
struct Entries<'a>(Vec<(String, &'a serde_json::value::RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries<'a>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

//! One pass over a JSON line that validates it completely without building a tree:
//! the top level must be an object, the configured time fields are captured, and
//! duplicated keys (at any depth) are noticed so the event can be normalized.
//!
//! Building a `serde_json::Value` costs several times more than this scan; the line's
//! bytes are forwarded as they are, so numbers keep their exact text.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

mod raw;

/// A time field's value, as far as time parsing cares.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeValue {
    Text(String),
    Integer(i128),
    Float(f64),
    /// Present but neither a string nor a number.
    Other,
}

#[derive(Debug, Default)]
pub struct Scan {
    /// The configured time fields present at the top level, as (index in the list,
    /// value), in the order of the line; a repeated field holds its last value.
    pub times: Vec<(usize, TimeValue)>,
    /// Some object in the event repeats a key.
    pub has_duplicate_keys: bool,
}

impl Scan {
    /// Keeps `value` for the time field at `rank`; a repeated field keeps its last.
    fn capture_time(&mut self, rank: usize, value: TimeValue) {
        match self.times.iter_mut().find(|(seen, _)| *seen == rank) {
            Some(repeated) => repeated.1 = value,
            None => self.times.push((rank, value)),
        }
    }
}

/// Scans one line (already known to be UTF-8), objects and arrays nested at most
/// `max_depth` deep. The error says what is wrong and where.
pub fn scan(line: &str, time_fields: &[String], max_depth: u32) -> Result<Scan, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    // The depth is bounded by `Nested`, with the limit the configuration sets.
    deserializer.disable_recursion_limit();
    let scanned = TopLevel {
        time_fields,
        depth: Depth(max_depth),
    }
    .deserialize(&mut deserializer)
    .and_then(|scan| deserializer.end().map(|()| scan));
    match scanned {
        // serde_json turns every number into a binary one; a number beyond f64's range
        // (`1e400`) is valid JSON all the same, and its text is kept as it is.
        Err(error) if error.to_string().starts_with("number out of range") => {
            raw::scan(line, time_fields, max_depth)
        }
        scanned => scanned,
    }
}

/// How much deeper values may nest.
#[derive(Debug, Clone, Copy)]
struct Depth(u32);

impl Depth {
    /// One level down, or the error that says the event is too deep.
    fn enter<E: de::Error>(self) -> Result<Depth, E> {
        match self.0.checked_sub(1) {
            Some(left) => Ok(Depth(left)),
            None => Err(E::custom(TOO_DEEP)),
        }
    }
}

/// The start of the error for an event nested deeper than the limit.
pub const TOO_DEEP: &str = "nested deeper than events.max_depth";

struct TopLevel<'c> {
    time_fields: &'c [String],
    depth: Depth,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = Scan;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scan, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Scan;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scan, A::Error> {
        let depth = self.depth.enter()?;
        let mut scan = Scan::default();
        let mut keys: Vec<Key<'de>> = Vec::with_capacity(16);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let wanted = self.time_fields.iter().position(|field| *field == *key.0);
            match wanted {
                Some(rank) => {
                    let value = map.next_value_seed(TimeCaptureSeed(depth))?;
                    scan.has_duplicate_keys |= value.duplicates;
                    scan.capture_time(rank, value.value);
                }
                None => scan.has_duplicate_keys |= map.next_value_seed(Nested(depth))?,
            }
            keys.push(key);
        }
        scan.has_duplicate_keys |= repeats(&mut keys);
        Ok(scan)
    }
}

/// A key, borrowed from the line unless it contains escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

fn repeats(keys: &mut [Key<'_>]) -> bool {
    if keys.len() < 2 {
        return false;
    }
    keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    keys.windows(2).any(|pair| pair[0].0 == pair[1].0)
}

/// Any nested value: validated, and true when some object in it repeats a key.
struct Nested(Depth);

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let depth = self.0.enter()?;
        let mut keys: Vec<Key<'de>> = Vec::new();
        let mut duplicates = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            duplicates |= map.next_value_seed(Nested(depth))?;
            keys.push(key);
        }
        Ok(duplicates | repeats(&mut keys))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let depth = self.0.enter()?;
        let mut duplicates = false;
        while let Some(nested) = seq.next_element_seed(Nested(depth))? {
            duplicates |= nested;
        }
        Ok(duplicates)
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// A time field's value, plus whether it (being an object) repeats keys.
struct TimeCapture {
    value: TimeValue,
    duplicates: bool,
}

/// Captures a time field's value, nested at most as deep as the depth left.
struct TimeCaptureSeed(Depth);

impl<'de> DeserializeSeed<'de> for TimeCaptureSeed {
    type Value = TimeCapture;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<TimeCapture, D::Error> {
        deserializer.deserialize_any(TimeCaptureVisitor(self.0))
    }
}

struct TimeCaptureVisitor(Depth);

impl TimeCaptureVisitor {
    fn plain<E>(value: TimeValue) -> Result<TimeCapture, E> {
        Ok(TimeCapture {
            value,
            duplicates: false,
        })
    }
}

impl<'de> Visitor<'de> for TimeCaptureVisitor {
    type Value = TimeCapture;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<TimeCapture, E> {
        Self::plain(TimeValue::Text(v.to_owned()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<TimeCapture, E> {
        Self::plain(TimeValue::Integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<TimeCapture, E> {
        Self::plain(TimeValue::Integer(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<TimeCapture, E> {
        Self::plain(TimeValue::Float(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<TimeCapture, E> {
        Self::plain(TimeValue::Other)
    }
    fn visit_unit<E>(self) -> Result<TimeCapture, E> {
        Self::plain(TimeValue::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TimeCapture, A::Error> {
        let duplicates = Nested(self.0).visit_map(map)?;
        Ok(TimeCapture {
            value: TimeValue::Other,
            duplicates,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TimeCapture, A::Error> {
        let duplicates = Nested(self.0).visit_seq(seq)?;
        Ok(TimeCapture {
            value: TimeValue::Other,
            duplicates,
        })
    }
}

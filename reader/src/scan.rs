//! One pass over a JSON line that validates it completely without building a tree:
//! the top level must be an object, the fields wanted (the configured time fields, the
//! fields filter policies read, by dotted path) are captured, and duplicated keys (at
//! any depth) are noticed so the event can be normalized.
//!
//! Building a `serde_json::Value` costs several times more than this scan; the line's
//! bytes are forwarded as they are, so numbers keep their exact text.
//!
//! Two scans give the same answers: the plain one (`plain.rs`, a loop over the bytes) for
//! ordinary events, and the one through serde_json's visitors (here) for the lines the
//! plain one leaves, which also words what is wrong with an invalid line.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;

mod plain;
mod raw;

/// A captured field's value, as far as time parsing and filters care.
#[derive(Debug, Clone, PartialEq)]
pub enum Captured {
    Text(String),
    Integer(i128),
    Float(f64),
    Bool(bool),
    Null,
    /// An object or an array.
    Other,
}

/// The fields a scan captures, as a tree of keys: each wanted path ends at a node with
/// a slot, the index of its value in [`Scan::captured`].
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    root: Node,
    slots: usize,
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(String, Node)>,
    /// A bit per length of the children's names (modulo 64): most keys of an event are
    /// told apart from every wanted name by their length alone.
    lengths: u64,
    slot: Option<usize>,
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        if self.lengths & length_bit(key) == 0 {
            return None;
        }
        self.children
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, node)| node)
    }
}

fn length_bit(name: &str) -> u64 {
    1 << (name.len() % 64)
}

impl Wanted {
    /// Wants each path (keys from the top level down), all different: path `i` fills
    /// slot `i`.
    pub fn new(paths: &[Vec<String>]) -> Self {
        let mut wanted = Wanted::default();
        for (i, path) in paths.iter().enumerate() {
            let slot = wanted.slot(path);
            debug_assert_eq!(slot, i, "a path wanted twice");
        }
        wanted
    }

    /// Wants `path`: the slot its value fills, the one it had if it was wanted already
    /// (a value fills one slot: the time field a policy also reads, or a field two
    /// policies read, is one slot).
    pub fn slot(&mut self, path: &[String]) -> usize {
        let mut node = &mut self.root;
        for key in path {
            let at = match node.children.iter().position(|(name, _)| name == key) {
                Some(at) => at,
                None => {
                    node.children.push((key.clone(), Node::default()));
                    node.lengths |= length_bit(key);
                    node.children.len() - 1
                }
            };
            node = &mut node.children[at].1;
        }
        *node.slot.get_or_insert_with(|| {
            self.slots += 1;
            self.slots - 1
        })
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// The value of each wanted path present, by slot; a repeated key holds its last.
    /// Inline up to the default time fields: no allocation per event for them.
    pub captured: SmallVec<[Option<Captured>; 8]>,
    /// Some object in the event repeats a key.
    pub has_duplicate_keys: bool,
}

impl Scan {
    /// Nothing captured yet, nothing repeated.
    fn new(wanted: &Wanted) -> Scan {
        Scan {
            captured: smallvec::smallvec![None; wanted.slots],
            has_duplicate_keys: false,
        }
    }
}

/// Scans one line (already known to be UTF-8), objects and arrays nested at most
/// `max_depth` deep. The error says what is wrong and where.
pub fn scan(line: &str, wanted: &Wanted, max_depth: u32) -> Result<Scan, serde_json::Error> {
    match plain::scan(line, wanted, max_depth) {
        Some(scan) => Ok(scan),
        None => serde_scan(line, wanted, max_depth),
    }
}

/// The plain scan alone, or `None` where it leaves the line to the serde scan (for the
/// fuzz target that holds the two to the same answers).
pub use plain::scan as plain_scan;

/// The scan through serde_json's visitors: the reference, which decides every line the
/// plain scan leaves, and names what is wrong with an invalid one.
pub fn serde_scan(line: &str, wanted: &Wanted, max_depth: u32) -> Result<Scan, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    // The depth is bounded by `Nested`, with the limit the configuration sets.
    deserializer.disable_recursion_limit();
    let mut scan = Scan::new(wanted);
    let mut keys = Keys::with_capacity(COMPARED_PAIRWISE);
    let scanned = TopLevel {
        node: &wanted.root,
        depth: Depth(max_depth),
        captured: &mut scan.captured,
        keys: &mut keys,
    }
    .deserialize(&mut deserializer)
    .and_then(|duplicates| deserializer.end().map(|()| duplicates));
    match scanned {
        // serde_json turns every number into a binary one; a number beyond f64's range
        // (`1e400`) is valid JSON all the same, and its text is kept as it is.
        Err(error) if error.to_string().starts_with("number out of range") => {
            raw::scan(line, wanted, max_depth)
        }
        Err(error) => Err(error),
        Ok(duplicates) => {
            scan.has_duplicate_keys = duplicates;
            Ok(scan)
        }
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

/// The keys of the objects open in the scan, innermost last: an object's keys are
/// pushed as they come and dropped when it ends, so one buffer serves a whole line.
type Keys<'de> = Vec<Key<'de>>;

/// Up to this many keys, an object compares each new key with the ones before it
/// (audit events have a dozen or two: cheaper than sorting); past it, it sorts them,
/// as a hostile line may hold thousands.
const COMPARED_PAIRWISE: usize = 32;

/// The event: a JSON object, and nothing else, whose wanted fields are captured.
struct TopLevel<'w, 'c, 'k, 'de> {
    node: &'w Node,
    depth: Depth,
    captured: &'c mut [Option<Captured>],
    keys: &'k mut Keys<'de>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_, '_, 'de> {
    /// Whether some object repeats a key.
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_, '_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        capture_members(self.node, self.depth, self.captured, self.keys, map)
    }
}

/// The members of an object whose wanted fields below `node` are captured.
fn capture_members<'de, A: MapAccess<'de>>(
    node: &Node,
    depth: Depth,
    captured: &mut [Option<Captured>],
    keys: &mut Keys<'de>,
    map: A,
) -> Result<bool, A::Error> {
    let depth = depth.enter()?;
    members(map, keys, |key, map, keys| match node.child(key) {
        Some(node) => map.next_value_seed(Capture {
            node,
            depth,
            captured: &mut *captured,
            keys,
        }),
        None => map.next_value_seed(Nested { depth, keys }),
    })
}

/// Reads the members of an object, each value with `value` (given its key); true when
/// the object, or an object in its values, repeats a key.
fn members<'de, A: MapAccess<'de>>(
    mut map: A,
    keys: &mut Keys<'de>,
    mut value: impl FnMut(&str, &mut A, &mut Keys<'de>) -> Result<bool, A::Error>,
) -> Result<bool, A::Error> {
    let start = keys.len();
    let mut duplicates = false;
    let mut check = KeyCheck::default();
    while let Some(key) = map.next_key::<Key<'de>>()? {
        duplicates |= value(&key.0, &mut map, keys)?;
        duplicates |= check.repeats(&keys[start..], &key.0);
        keys.push(key);
    }
    duplicates |= KeyCheck::repeat_among_many(&mut keys[start..]);
    keys.truncate(start);
    Ok(duplicates)
}

/// A key, borrowed from the line unless it contains escapes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key<'de>(Cow<'de, str>);

impl AsRef<str> for Key<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whether two keys are equal, telling most apart by their length and ends before
/// comparing the bytes (a call to `memcmp` per pair cost more than the rest of the check).
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.first() == b.first() && a.last() == b.last() && a == b
}

/// Whether an object repeats a key, for both scans: up to [`COMPARED_PAIRWISE`] keys,
/// each new key is compared with the earlier ones, and only when a bit of its length and
/// ends (set by every earlier key) says it may repeat one; past that, the object's keys
/// are sorted once it ends.
#[derive(Default)]
struct KeyCheck {
    /// A bit per key so far: a key whose bit is not set yet repeats none of them.
    bits: u64,
}

impl KeyCheck {
    /// Whether `key` repeats one of `earlier`, the object's keys before it (not known
    /// past [`COMPARED_PAIRWISE`] of them: see [`Self::repeat_among_many`]).
    fn repeats<K: AsRef<str>>(&mut self, earlier: &[K], key: &str) -> bool {
        self.may_repeat(key)
            && earlier.len() < COMPARED_PAIRWISE
            && earlier.iter().any(|e| same_key(e.as_ref(), key))
    }

    /// Once the object has ended, with all its keys: whether two are the same, when
    /// there were too many to compare one by one.
    fn repeat_among_many<K: Ord>(keys: &mut [K]) -> bool {
        if keys.len() <= COMPARED_PAIRWISE {
            return false;
        }
        keys.sort_unstable();
        keys.windows(2).any(|pair| pair[0] == pair[1])
    }

    /// Adds `key`'s bit; whether an earlier key may be the same.
    fn may_repeat(&mut self, key: &str) -> bool {
        let bytes = key.as_bytes();
        let mix = (bytes.len() as u64)
            ^ u64::from(bytes.first().copied().unwrap_or(0)) << 8
            ^ u64::from(bytes.last().copied().unwrap_or(0)) << 16;
        let bit = 1 << (mix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
        let seen = self.bits & bit != 0;
        self.bits |= bit;
        seen
    }
}

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

/// Any nested value: validated, and true when some object in it repeats a key.
struct Nested<'k, 'de> {
    depth: Depth,
    keys: &'k mut Keys<'de>,
}

impl<'de> DeserializeSeed<'de> for Nested<'_, 'de> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested<'_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        let depth = self.depth.enter()?;
        members(map, self.keys, |_, map, keys| {
            map.next_value_seed(Nested { depth, keys })
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let depth = self.depth.enter()?;
        let mut duplicates = false;
        while let Some(nested) = seq.next_element_seed(Nested {
            depth,
            keys: &mut *self.keys,
        })? {
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

/// A wanted value: captured when its node has a slot, searched when it has children;
/// true when some object in it repeats a key.
struct Capture<'w, 'c, 'k, 'de> {
    node: &'w Node,
    depth: Depth,
    captured: &'c mut [Option<Captured>],
    keys: &'k mut Keys<'de>,
}

impl Capture<'_, '_, '_, '_> {
    fn keep<E>(self, value: Captured) -> Result<bool, E> {
        if let Some(slot) = self.node.slot {
            self.captured[slot] = Some(value);
        }
        Ok(false)
    }
}

impl<'de> DeserializeSeed<'de> for Capture<'_, '_, '_, 'de> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capture<'_, '_, '_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        self.keep(Captured::Text(v.to_owned()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<bool, E> {
        self.keep(Captured::Integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<bool, E> {
        self.keep(Captured::Integer(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<bool, E> {
        self.keep(Captured::Float(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
        self.keep(Captured::Bool(v))
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        self.keep(Captured::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        if let Some(slot) = self.node.slot {
            self.captured[slot] = Some(Captured::Other);
        }
        capture_members(self.node, self.depth, self.captured, self.keys, map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        if let Some(slot) = self.node.slot {
            self.captured[slot] = Some(Captured::Other);
        }
        Nested {
            depth: self.depth,
            keys: self.keys,
        }
        .visit_seq(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeats_a_key(line: &str) -> bool {
        scan(line, &Wanted::default(), 128)
            .unwrap()
            .has_duplicate_keys
    }

    /// An object of `count` keys `k0, k1, ...`, then `extra` members.
    fn object(count: usize, extra: &str) -> String {
        let members: Vec<String> = (0..count).map(|i| format!("\"k{i}\":{i}")).collect();
        format!("{{{}{extra}}}", members.join(","))
    }

    #[test]
    fn a_repeated_key_is_found_in_small_and_large_objects_at_any_depth() {
        for count in [1, 2, COMPARED_PAIRWISE - 1, COMPARED_PAIRWISE, 200] {
            assert!(!repeats_a_key(&object(count, "")), "{count} distinct keys");
            assert!(
                repeats_a_key(&object(count, ",\"k0\":true")),
                "{count} keys, k0 again"
            );
            let last = format!(",\"k{}\":null", count - 1);
            assert!(
                repeats_a_key(&object(count, &last)),
                "{count} keys, the last again"
            );
            let nested = format!(",\"inner\":[{}]", object(count, ",\"k0\":1"));
            assert!(repeats_a_key(&object(2, &nested)), "{count} keys, nested");
        }
        // Keys alike in length and ends, and one spelled with an escape.
        assert!(!repeats_a_key(r#"{"abcd":1,"abxd":2,"a":{"abcd":3}}"#));
        assert!(repeats_a_key(r#"{"abcd":1,"ab\u0063d":2}"#));
        // The same key in sibling objects is no repetition.
        assert!(!repeats_a_key(
            r#"{"a":{"x":1},"b":{"x":2},"c":[{"x":3},{"x":4}]}"#
        ));
    }
}

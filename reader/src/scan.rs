//! One pass over a JSON line that validates it completely without building a tree:
//! the top level must be an object, the fields wanted (the configured time fields, the
//! fields filter policies read, by dotted path) are captured, and duplicated keys (at
//! any depth) are noticed so the event can be normalized.
//!
//! Building a `serde_json::Value` costs several times more than this scan; the line's
//! bytes are forwarded as they are, so numbers keep their exact text.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

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
    slot: Option<usize>,
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, node)| node)
    }
}

impl Wanted {
    /// Wants each path (keys from the top level down); path `i` fills slot `i`.
    pub fn new(paths: &[Vec<String>]) -> Self {
        let mut wanted = Wanted::default();
        for (slot, path) in paths.iter().enumerate() {
            let mut node = &mut wanted.root;
            for key in path {
                let at = match node.children.iter().position(|(name, _)| name == key) {
                    Some(at) => at,
                    None => {
                        node.children.push((key.clone(), Node::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
            node.slot = Some(slot);
        }
        wanted.slots = paths.len();
        wanted
    }
}

#[derive(Debug, Default)]
pub struct Scan {
    /// The value of each wanted path present, by slot; a repeated key holds its last.
    pub captured: Vec<Option<Captured>>,
    /// Some object in the event repeats a key.
    pub has_duplicate_keys: bool,
}

/// Scans one line (already known to be UTF-8), objects and arrays nested at most
/// `max_depth` deep. The error says what is wrong and where.
pub fn scan(line: &str, wanted: &Wanted, max_depth: u32) -> Result<Scan, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    // The depth is bounded by `Nested`, with the limit the configuration sets.
    deserializer.disable_recursion_limit();
    let mut scan = Scan {
        captured: vec![None; wanted.slots],
        has_duplicate_keys: false,
    };
    let scanned = TopLevel {
        node: &wanted.root,
        depth: Depth(max_depth),
        captured: &mut scan.captured,
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

/// The event: a JSON object, and nothing else, whose wanted fields are captured.
struct TopLevel<'w, 'c> {
    node: &'w Node,
    depth: Depth,
    captured: &'c mut Vec<Option<Captured>>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    /// Whether some object repeats a key.
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        capture_members(self.node, self.depth, self.captured, map)
    }
}

/// The members of an object whose wanted fields below `node` are captured.
fn capture_members<'de, A: MapAccess<'de>>(
    node: &Node,
    depth: Depth,
    captured: &mut Vec<Option<Captured>>,
    mut map: A,
) -> Result<bool, A::Error> {
    let depth = depth.enter()?;
    let mut keys: Vec<Key<'de>> = Vec::with_capacity(16);
    let mut duplicates = false;
    while let Some(key) = map.next_key::<Key<'de>>()? {
        duplicates |= match node.child(&key.0) {
            Some(node) => map.next_value_seed(Capture {
                node,
                depth,
                captured: &mut *captured,
            })?,
            None => map.next_value_seed(Nested(depth))?,
        };
        keys.push(key);
    }
    Ok(duplicates | repeats(&mut keys))
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

/// A wanted value: captured when its node has a slot, searched when it has children;
/// true when some object in it repeats a key.
struct Capture<'w, 'c> {
    node: &'w Node,
    depth: Depth,
    captured: &'c mut Vec<Option<Captured>>,
}

impl Capture<'_, '_> {
    fn keep<E>(self, value: Captured) -> Result<bool, E> {
        if let Some(slot) = self.node.slot {
            self.captured[slot] = Some(value);
        }
        Ok(false)
    }
}

impl<'de> DeserializeSeed<'de> for Capture<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capture<'_, '_> {
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
        capture_members(self.node, self.depth, self.captured, map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        let duplicates = Nested(self.depth).visit_seq(seq)?;
        self.keep::<A::Error>(Captured::Other)?;
        Ok(duplicates)
    }
}

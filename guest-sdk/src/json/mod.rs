//! JSON helpers: writing strings and numbers into an output buffer, and reading a field.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

mod lanes;
mod probe;

pub use probe::{Found, MemberProbe};

/// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes quotes, backslashes and every control character, so no raw
    // line break can reach a line-framed output.
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
}

/// The value at a dotted path (`actor.id`) of a JSON object, if the text parses and
/// the path exists. A key that itself contains a dot is found too, when it exists.
///
/// Only the members on the path are parsed into values; the others are skipped, so the
/// cost is one pass over the text and no tree.
pub fn field(json: &str, path: &str) -> Option<serde_json::Value> {
    // A number no `Value` holds exactly is given as its text ([`crate::lossless`]).
    serde_json::from_str(&crate::lossless::fit(field_text(json, path)?)).ok()
}

/// The JSON text of the value at a dotted path, as the event wrote it (`-0`, `1e400`
/// and `[1, 2]` stay so), found as [`field`] finds it.
pub fn field_text<'a>(json: &'a str, path: &str) -> Option<&'a str> {
    let raw = match member(json, path) {
        Some(raw) => raw,
        // An undotted path is one key: looked for already.
        None if !path.contains('.') => return None,
        None => path
            .split('.')
            .try_fold(None::<&RawValue>, |inner, part| {
                member(inner.map_or(json, RawValue::get), part).map(Some)
            })??,
    };
    Some(raw.get())
}

/// Several fields of each event, read in one pass over its top level (and over each
/// object a dotted path goes into), each found as [`field_text`] finds it: for a module
/// that reads a few fields of every event, such as a column each.
#[derive(Debug, Clone)]
pub struct Fields {
    paths: Vec<String>,
    /// The top-level keys the paths may start with: each whole path, and the first key
    /// of each dotted one.
    keys: Vec<String>,
}

impl Fields {
    /// The fields at these dotted paths, in this order.
    pub fn new<P: Into<String>>(paths: impl IntoIterator<Item = P>) -> Fields {
        let paths: Vec<String> = paths.into_iter().map(Into::into).collect();
        let mut keys: Vec<String> = Vec::new();
        for path in &paths {
            let first = path.split('.').next().unwrap_or_default();
            for key in [path.as_str(), first] {
                if !keys.iter().any(|k| k == key) {
                    keys.push(key.to_owned());
                }
            }
        }
        Fields { paths, keys }
    }

    /// The JSON text of each field of the object `json`, as [`field_text`] gives it;
    /// all `None` when `json` is not an object.
    pub fn read<'a>(&self, json: &'a str) -> Vec<Option<&'a str>> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let top = serde::Deserializer::deserialize_map(&mut deserializer, Members(&self.keys))
            .unwrap_or_else(|_| vec![None; self.keys.len()]);
        let at = |key: &str| {
            let index = self.keys.iter().position(|k| k == key)?;
            top[index]
        };
        self.paths
            .iter()
            .map(|path| {
                let raw = match at(path) {
                    Some(raw) => raw,
                    None => {
                        let mut parts = path.split('.');
                        let first = at(parts.next().unwrap_or_default())?;
                        parts.try_fold(first, |inner, part| member(inner.get(), part))?
                    }
                };
                Some(raw.get())
            })
            .collect()
    }
}

/// Finds the members of a map with the keys asked for (the last of each, should one
/// repeat), skipping the others unparsed.
struct Members<'k>(&'k [String]);

impl<'de> Visitor<'de> for Members<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = vec![None; self.0.len()];
        while let Some(index) = map.next_key_seed(KeyIn(self.0))? {
            match index {
                Some(index) => found[index] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// Which of some keys a map key is, compared without copying it.
struct KeyIn<'k>(&'k [String]);

impl<'de> DeserializeSeed<'de> for KeyIn<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIn<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|k| k == key))
    }
}

/// Whether the JSON object `json` has a member `key` at its top level, escaped keys
/// compared decoded (`"\u0040timestamp"` is `@timestamp`). A string value that says
/// `key`, or a nested member of that name, is not one. A module that asks of every
/// event keeps a [`MemberProbe`] instead: the same answer, its searches made once.
pub fn has_member(json: &str, key: &str) -> bool {
    MemberProbe::new(key).is_in(json)
}

/// The text of member `key` of the JSON object `json` (the last, should it repeat).
pub(crate) fn member<'a>(json: &'a str, key: &str) -> Option<&'a RawValue> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde::Deserializer::deserialize_map(&mut deserializer, Member(key)).ok()?
}

/// Finds one member of a map, skipping the others unparsed.
struct Member<'k>(&'k str);

impl<'de> Visitor<'de> for Member<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(KeyIs(self.0))? {
            if is_key {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a map key is the one looked for, compared without copying it.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_str_escapes_controls_and_quotes() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{0}e\u{2028}");
        // U+2028 is valid inside a JSON string and stays byte-exact.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0000e\u{2028}\""
        );
    }

    #[test]
    fn fields_read_in_one_pass_are_what_field_text_finds() {
        let paths = [
            "actor.id",
            "a.b",
            "actor",
            "actor.missing",
            "k",
            "a",
            "n",
            "a.b.c",
            "x.y",
        ];
        let fields = Fields::new(paths);
        for json in [
            r#"{"actor":{"id":"u1"},"a.b":2,"k":1,"k":2}"#,
            r#"{"a":{"b":{"c":[1]}},"\u006b":3,"x.y":null,"x":{"y":1}}"#,
            r#"{"actor":5,"a":"b","n":18446744073709551616}"#,
            r#"{"actor":{"id":"u1","id":"u2"},"actor":{"id":"u3"}}"#,
            r#"{}"#,
            "not json",
            "[1,2]",
        ] {
            let expected: Vec<Option<&str>> = paths.iter().map(|p| field_text(json, p)).collect();
            assert_eq!(fields.read(json), expected, "{json}");
        }
    }

    #[test]
    fn field_follows_dotted_paths() {
        let json = r#"{"actor":{"id":"u1"},"a.b":2}"#;
        assert_eq!(field(json, "actor.id"), Some(serde_json::json!("u1")));
        assert_eq!(field(json, "a.b"), Some(serde_json::json!(2)));
        assert_eq!(field(json, "actor.missing"), None);
        assert_eq!(field(json, "actor"), Some(serde_json::json!({"id": "u1"})));
        // The last of a repeated key, as the host keeps it; escaped keys compare decoded.
        assert_eq!(field(r#"{"k":1,"k":2}"#, "k"), Some(serde_json::json!(2)));
        assert_eq!(field(r#"{"\u006b":3}"#, "k"), Some(serde_json::json!(3)));
        assert_eq!(field("not json", "k"), None);
        assert_eq!(field(r#"{"a":1}"#, "a.b"), None);
        assert_eq!(
            field(r#"{"n":18446744073709551616}"#, "n"),
            Some(serde_json::json!("18446744073709551616"))
        );
    }
}

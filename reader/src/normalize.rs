//! Rewrites an event whose objects repeat a key so that each key appears once, with its
//! last value, at the place of its first occurrence (what most JSON readers do, and
//! what Elasticsearch, which rejects repeated keys, needs). Values are copied as raw
//! text, so numbers keep their exact digits.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::value::RawValue;

use crate::from_str_unbounded;

/// The normalized text of `json`, a valid JSON value.
pub fn dedupe_keys(json: &str) -> serde_json::Result<String> {
    let mut out = String::with_capacity(json.len());
    write_value(&mut out, from_str_unbounded::<&RawValue>(json)?)?;
    Ok(out)
}

fn write_value(out: &mut String, value: &RawValue) -> serde_json::Result<()> {
    let text = value.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let entries: Vec<(String, &RawValue)> = from_str_unbounded::<RawObject>(text)?.0;
            let mut kept: Vec<(&str, &RawValue)> = Vec::with_capacity(entries.len());
            // Where each key was kept: a lookup per key, not a scan of the kept ones
            // (quadratic, seconds for an object of 100,000 keys).
            let mut slots: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
            for (key, value) in &entries {
                match slots.entry(key) {
                    Entry::Occupied(slot) => kept[*slot.get()].1 = value,
                    Entry::Vacant(slot) => {
                        slot.insert(kept.len());
                        kept.push((key, value));
                    }
                }
            }
            out.push('{');
            for (i, (key, value)) in kept.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key)?);
                out.push(':');
                write_value(out, value)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = from_str_unbounded(text)?;
            out.push('[');
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        _ => out.push_str(text),
    }
    Ok(())
}

/// An object's entries in order, repeats included (a map type would drop them).
pub struct RawObject<'a>(pub Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Entries<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawObject<'a>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(RawObject(entries))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_wins_in_first_position_at_every_depth() {
        let json = r#"{"a":1,"b":{"x":1,"x":[{"k":1,"k":2}]},"a":18446744073709551615}"#;
        assert_eq!(
            dedupe_keys(json).unwrap(),
            r#"{"a":18446744073709551615,"b":{"x":[{"k":2}]}}"#
        );
    }

    #[test]
    fn many_keys_keep_their_order_and_last_values() {
        let keys = 20_000;
        let mut json = String::from("{");
        for round in 0..2 {
            for key in 0..keys {
                json.push_str(&format!("\"k{key}\":{},", key + round));
            }
        }
        json.pop();
        json.push('}');
        let text = dedupe_keys(&json).unwrap();
        assert!(text.starts_with("{\"k0\":1,\"k1\":2,"), "first places kept");
        let normalized: serde_json::Value = serde_json::from_str(&text).unwrap();
        let object = normalized.as_object().unwrap();
        assert_eq!(object.len(), keys);
        assert_eq!(object["k0"], 1);
        assert_eq!(object[&format!("k{}", keys - 1)], keys);
    }

    #[test]
    fn numbers_and_escapes_are_kept() {
        let json = r#"{"f":1.5e+300,"s":"a\"\u0000","s":"\u2028"}"#;
        assert_eq!(dedupe_keys(json).unwrap(), r#"{"f":1.5e+300,"s":"\u2028"}"#);
    }
}

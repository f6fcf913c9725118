//! The scan of a line whose numbers serde_json cannot hold as `f64` (`1e400`): the
//! same validation and the same findings, from the text of each value instead of its
//! decoded form. Rare, so it may take a second pass over the line.

use serde_json::value::RawValue;

use super::{Captured, Depth, Node, Scan, Wanted};
use crate::from_str_unbounded;
use crate::normalize::RawObject;

pub fn scan(line: &str, wanted: &Wanted, max_depth: u32) -> serde_json::Result<Scan> {
    let value: &RawValue = from_str_unbounded(line)?;
    let text = value.get();
    if !text.starts_with('{') {
        // The caller names what the line is instead.
        return Err(serde::de::Error::invalid_type(
            serde::de::Unexpected::Other("not an object"),
            &"a JSON object",
        ));
    }
    let mut scan = Scan::new(wanted);
    scan.has_duplicate_keys = has_duplicates(value, Depth(max_depth))?;
    capture(text, &wanted.root, &mut scan.captured)?;
    Ok(scan)
}

/// Captures the wanted members below `node` of the object `text` (already validated).
fn capture(text: &str, node: &Node, captured: &mut [Option<Captured>]) -> serde_json::Result<()> {
    let RawObject(entries) = from_str_unbounded(text)?;
    for (key, value) in entries {
        let Some(node) = node.child(&key) else {
            continue;
        };
        let value = value.get();
        if let Some(slot) = node.slot {
            captured[slot] = Some(captured_value(value));
        }
        if !node.children.is_empty() && value.starts_with('{') {
            capture(value, node, captured)?;
        }
    }
    Ok(())
}

/// Whether some object in `value` repeats a key; an error past the depth limit.
fn has_duplicates(value: &RawValue, depth: Depth) -> serde_json::Result<bool> {
    let text = value.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let depth = depth.enter()?;
            let RawObject(entries) = from_str_unbounded(text)?;
            let mut keys = std::collections::HashSet::new();
            let mut duplicates = false;
            for (key, value) in entries {
                duplicates |= !keys.insert(key);
                duplicates |= has_duplicates(value, depth)?;
            }
            Ok(duplicates)
        }
        Some(b'[') => {
            let depth = depth.enter()?;
            let items: Vec<&RawValue> = from_str_unbounded(text)?;
            let mut duplicates = false;
            for item in items {
                duplicates |= has_duplicates(item, depth)?;
            }
            Ok(duplicates)
        }
        _ => Ok(false),
    }
}

/// A captured value from its JSON text.
fn captured_value(text: &str) -> Captured {
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str(text).map_or(Captured::Other, Captured::Text),
        Some(b'-' | b'0'..=b'9') => match text.parse::<i128>() {
            Ok(integer) => Captured::Integer(integer),
            // `1e400` is infinite as an f64: not a time, and greater than any bound.
            Err(_) => text.parse::<f64>().map_or(Captured::Other, Captured::Float),
        },
        Some(b't') => Captured::Bool(true),
        Some(b'f') => Captured::Bool(false),
        Some(b'n') => Captured::Null,
        _ => Captured::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::TOO_DEEP;
    use super::*;

    #[test]
    fn huge_numbers_are_valid_json() {
        let fields = Wanted::new(&[vec!["ts".to_owned()], vec!["c".into(), "y".into()]]);
        let scanned = super::super::scan(
            r#"{"a":1e400,"b":[0.1e99999],"ts":5,"c":{"x":1,"x":-1e999,"y":true}}"#,
            &fields,
            8,
        )
        .unwrap();
        assert!(scanned.has_duplicate_keys);
        assert_eq!(
            scanned.captured[..],
            [Some(Captured::Integer(5)), Some(Captured::Bool(true))]
        );
        let scanned = super::super::scan(r#"{"ts":1e400}"#, &fields, 8).unwrap();
        assert!(matches!(scanned.captured[0], Some(Captured::Float(x)) if x.is_infinite()));
        assert!(
            !super::super::scan(r#"{"a":1e400}"#, &fields, 8)
                .unwrap()
                .has_duplicate_keys
        );
    }

    #[test]
    fn the_depth_limit_holds_on_this_path_too() {
        let deep = format!("{{\"n\":1e400,\"d\":{}{}}}", "[".repeat(10), "]".repeat(10));
        let none = Wanted::default();
        let error = super::super::scan(&deep, &none, 5).unwrap_err();
        assert!(error.to_string().starts_with(TOO_DEEP), "{error}");
        assert!(super::super::scan(&deep, &none, 12).is_ok());
    }
}

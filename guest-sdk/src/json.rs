//! JSON helpers: writing strings and numbers into an output buffer, and reading a field.

/// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes quotes, backslashes and every control character, so no raw
    // line break can reach a line-framed output.
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
}

/// The value at a dotted path (`actor.id`) of a JSON object, if the text parses and
/// the path exists. A key that itself contains a dot is found too, when it exists.
pub fn field(json: &str, path: &str) -> Option<serde_json::Value> {
    let root: serde_json::Value = serde_json::from_str(json).ok()?;
    if let Some(value) = root.get(path) {
        return Some(value.clone());
    }
    let mut current = &root;
    for part in path.split('.') {
        current = current.get(part)?;
    }
    Some(current.clone())
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
    fn field_follows_dotted_paths() {
        let json = r#"{"actor":{"id":"u1"},"a.b":2}"#;
        assert_eq!(field(json, "actor.id"), Some(serde_json::json!("u1")));
        assert_eq!(field(json, "a.b"), Some(serde_json::json!(2)));
        assert_eq!(field(json, "actor.missing"), None);
    }
}

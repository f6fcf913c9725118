//! An event's JSON made fit for a tree of `serde_json::Value`s without losing anything:
//! the mappings (ECS, OCSF) and the line formats (CEF, LEEF) read events that way, and
//! a `Value` holds a number as an `i64`, a `u64` or an `f64`, and nesting as deep as the
//! stack allows.
//!
//! - A number those cannot hold exactly (`18446744073709551616`, `-9223372036854775809`,
//!   `1e400`, `1e-400`, `0.10000000000000000001`) becomes a string of its own text: it
//!   used to become `1.8446744073709552e+19` or `0.0`, or, past the f64 range, to fail
//!   the whole parse, which emptied CEF lines and turned the mappings off.
//! - A value nested past [`MAX_DEPTH`] becomes a string of its JSON text, so that a
//!   walk of the tree has a bounded depth inside the sandbox's stack.
//!
//! What fits (nearly every event) is returned borrowed, without a copy.

use std::borrow::Cow;

/// The deepest level kept as a tree: objects and arrays inside this many others are
/// written as their text.
pub const MAX_DEPTH: usize = 32;

/// `json` (one JSON value, as the host validated it) with the numbers a `Value` cannot
/// hold exactly, and the values nested past [`MAX_DEPTH`], written as strings of their
/// text. Text that is not JSON is returned as it is, for the parser to refuse.
pub fn fit(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    // Copied up to here into `out`, once something changed.
    let mut copied = 0;
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => at = string_end(bytes, at),
            b'{' | b'[' if depth == MAX_DEPTH => {
                let Some(end) = container_end(bytes, at) else {
                    return Cow::Borrowed(json);
                };
                let text = out.get_or_insert_with(|| String::with_capacity(json.len() + 16));
                text.push_str(&json[copied..at]);
                text.push_str(&serde_json::to_string(&json[at..end]).expect("a string serializes"));
                copied = end;
                at = end;
            }
            b'{' | b'[' => {
                depth += 1;
                at += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(bytes, at);
                let token = &json[at..end];
                if !fits(token) {
                    let text = out.get_or_insert_with(|| String::with_capacity(json.len() + 16));
                    text.push_str(&json[copied..at]);
                    text.push('"');
                    text.push_str(token);
                    text.push('"');
                    copied = end;
                }
                at = end;
            }
            _ => at += 1,
        }
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut text) => {
            text.push_str(&json[copied..]);
            Cow::Owned(text)
        }
    }
}

/// The index after the string starting at `start` (its opening quote).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// The index after the object or array opening at `start`, if it closes.
fn container_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = start;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at = string_end(bytes, at);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start;
    while at < bytes.len() && matches!(bytes[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
        at += 1;
    }
    at
}

/// Whether a `Value` holds the number `token` exactly: an integer within `i64` or `u64`,
/// or a decimal that an `f64` written back (as serde_json writes it) gives again.
fn fits(token: &str) -> bool {
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    let exponent = token.contains(['e', 'E']);
    if !token.contains(['.', 'e', 'E']) {
        // At most 18 digits always fit an i64: no parse for the usual integer.
        return digits <= 18 || token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok();
    }
    if !exponent && digits <= 15 {
        // 15 significant digits or fewer: an f64 holds the decimal, and serde_json
        // writes back the shortest text of the same value.
        return true;
    }
    match token.parse::<f64>() {
        Ok(float) if float.is_finite() => {
            let written = serde_json::Number::from_f64(float).map(|n| n.to_string());
            written.is_some_and(|written| decimal(&written) == decimal(token))
        }
        _ => false,
    }
}

/// A decimal's value in one spelling: its sign, its significant digits (no leading or
/// trailing zeros) and the exponent of the first of them; zero is `(false, "", 0)`.
fn decimal(token: &str) -> (bool, String, i64) {
    let (negative, unsigned) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = whole.chars().chain(fraction.chars()).collect();
    let leading = digits.len() - digits.trim_start_matches('0').len();
    let significant = digits.trim_matches('0');
    if significant.is_empty() {
        return (false, String::new(), 0);
    }
    // The first significant digit's place: `whole.len() - 1 - leading` from the point.
    let first = whole.len() as i64 - 1 - leading as i64 + exponent;
    (negative, significant.to_owned(), first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_a_value_cannot_hold_become_their_text() {
        assert_eq!(
            fit(
                r#"{"a":18446744073709551616,"b":-9223372036854775809,"c":1e400,"d":1e-400,"e":0.10000000000000000001}"#
            ),
            r#"{"a":"18446744073709551616","b":"-9223372036854775809","c":"1e400","d":"1e-400","e":"0.10000000000000000001"}"#
        );
        let kept = r#"{"a":18446744073709551615,"b":-9223372036854775808,"c":1.5,"d":1e5,"e":0.1,"f":2.5e-3,"g":"1e400","h":[0,-0.0]}"#;
        assert!(matches!(fit(kept), Cow::Borrowed(_)), "{}", fit(kept));
    }

    #[test]
    fn values_nested_too_deep_become_their_text() {
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let json = format!(r#"{{"deep":{deep},"after":1}}"#);
        let fitted = fit(&json);
        let value: serde_json::Value = serde_json::from_str(&fitted).unwrap();
        let mut inner = &value["deep"];
        for _ in 0..MAX_DEPTH - 1 {
            inner = &inner[0];
        }
        let expected = format!(
            "{}1{}",
            "[".repeat(40 - (MAX_DEPTH - 1)),
            "]".repeat(40 - (MAX_DEPTH - 1))
        );
        assert_eq!(inner, &serde_json::Value::String(expected));
        assert_eq!(value["after"], 1);
    }

    #[test]
    fn strings_are_left_alone() {
        let json = r#"{"s":"[{\"x\":1e400}]","t":"\\"}"#;
        assert!(matches!(fit(json), Cow::Borrowed(_)));
    }
}

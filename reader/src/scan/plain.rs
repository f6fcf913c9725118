//! The scan of a plain event in one loop over its bytes, without serde's visitors: it
//! validates the JSON, compares keys and captures the wanted fields, and answers only
//! when it is sure. Anything out of the ordinary (invalid JSON, nesting past the limit,
//! an escaped key, a lone surrogate, a number with an exponent) gets no answer,
//! and the serde scan decides and says what is wrong. Captured numbers and escaped
//! strings are decoded by serde_json, as the serde scan decodes them.
//!
//! Why a loop of our own: validation through serde_json's visitors was 60% of an event's
//! CPU end to end (README, Performance); simd-json's tape and sonic-rs were measured on
//! the bench's events and were slower than serde_json on lines of 400 bytes. The fuzz
//! target `scan_agrees` holds this scan to the serde scan: whatever this one answers,
//! the serde scan answers the same.

use std::fmt;

use serde::de::{Deserializer, Visitor};
use smallvec::SmallVec;

use super::{COMPARED_PAIRWISE, Captured, KeyCheck, Node, Scan, Wanted};

/// Longer numbers are left to the serde scan. Without an exponent, a number this short
/// is within f64's range, so serde_json never fails on one.
const LONGEST_NUMBER: usize = 100;

/// The scan of `line`, or `None` when the serde scan should decide.
pub fn scan(line: &str, wanted: &Wanted, max_depth: u32) -> Option<Scan> {
    let mut cursor = Cursor {
        text: line,
        at: 0,
        keys: SmallVec::new(),
    };
    let mut scan = Scan::new(wanted);
    cursor.skip_whitespace();
    if cursor.peek()? != b'{' {
        return None;
    }
    cursor.object(Some(&wanted.root), max_depth, &mut scan)?;
    cursor.skip_whitespace();
    (cursor.at == line.len()).then_some(scan)
}

/// Where the run of plain characters at the start of `bytes` (inside a string) ends:
/// the string's closing quote, an escape, or a control character JSON forbids there.
/// Eight bytes at a time (audit strings are short: this beat both a byte loop and
/// `memchr2` with a vectorised check of the run).
fn run_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// The high bit of each byte of `word` that is below `n` (n <= 0x80), exact up to the
    /// lowest such byte (a borrow may mark bytes above it too).
    fn below(word: u64, n: u8) -> u64 {
        word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
    }
    let mut at = 0;
    while let Some(eight) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
        let ends = below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20);
        if ends != 0 {
            return Some(at + ends.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(at + tail)
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
    /// The keys of the objects open, innermost last (as in the serde scan); inline for
    /// an ordinary event, so a line costs no allocation for them.
    keys: SmallVec<[&'a str; COMPARED_PAIRWISE]>,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A value, captured when `node` has a slot and searched when it has children.
    fn value(&mut self, node: Option<&Node>, depth: u32, scan: &mut Scan) -> Option<()> {
        self.skip_whitespace();
        let start = self.at;
        let slot = node.and_then(|node| node.slot);
        let captured = match self.peek()? {
            b'{' => {
                self.object(node, depth, scan)?;
                Captured::Other
            }
            b'[' => {
                self.array(depth, scan)?;
                Captured::Other
            }
            b'"' => {
                let escaped = self.string()?;
                let text = &self.text[start..self.at];
                match (slot, escaped) {
                    (None, _) => return Some(()),
                    (Some(_), false) => Captured::Text(text[1..text.len() - 1].to_owned()),
                    (Some(_), true) => decoded(text)?,
                }
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                match slot {
                    None => return Some(()),
                    Some(_) => captured_number(&self.text[start..self.at])?,
                }
            }
            b't' => self.literal("true", Captured::Bool(true))?,
            b'f' => self.literal("false", Captured::Bool(false))?,
            b'n' => self.literal("null", Captured::Null)?,
            _ => return None,
        };
        if let Some(slot) = slot {
            scan.captured[slot] = Some(captured);
        }
        Some(())
    }

    fn literal(&mut self, word: &str, value: Captured) -> Option<Captured> {
        let end = self.at + word.len();
        (self.text.as_bytes().get(self.at..end)? == word.as_bytes()).then(|| {
            self.at = end;
            value
        })
    }

    /// An object (at its `{`) whose wanted members below `node` are captured.
    fn object(&mut self, node: Option<&Node>, depth: u32, scan: &mut Scan) -> Option<()> {
        let depth = depth.checked_sub(1)?;
        self.at += 1;
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let start = self.keys.len();
        let mut check = KeyCheck::default();
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            let key_start = self.at + 1;
            if self.string()? {
                // Keys are compared unescaped: the serde scan does that.
                return None;
            }
            let key = &self.text[key_start..self.at - 1];
            self.skip_whitespace();
            if self.next()? != b':' {
                return None;
            }
            let wanted = node.and_then(|node| node.child(key));
            self.value(wanted, depth, scan)?;
            scan.has_duplicate_keys |= check.repeats(&self.keys[start..], key);
            self.keys.push(key);
            self.skip_whitespace();
            match self.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        scan.has_duplicate_keys |= KeyCheck::repeat_among_many(&mut self.keys[start..]);
        self.keys.truncate(start);
        Some(())
    }

    /// An array (at its `[`); nothing in it is captured.
    fn array(&mut self, depth: u32, scan: &mut Scan) -> Option<()> {
        let depth = depth.checked_sub(1)?;
        self.at += 1;
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.value(None, depth, scan)?;
            self.skip_whitespace();
            match self.next()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A string (at its opening quote); whether it holds escapes.
    fn string(&mut self) -> Option<bool> {
        let bytes = self.text.as_bytes();
        self.at += 1;
        let mut escaped = false;
        loop {
            let end = run_end(&bytes[self.at..])?;
            self.at += end;
            match bytes[self.at] {
                b'"' => {
                    self.at += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                // A control character unescaped (RFC 8259, section 7).
                _ => return None,
            }
        }
    }

    /// An escape (at its backslash). A `\u` of a UTF-16 surrogate must be a pair.
    fn escape(&mut self) -> Option<()> {
        match *self.text.as_bytes().get(self.at + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
            b'u' => match self.code_unit()? {
                0xD800..=0xDBFF => {
                    if !(0xDC00..=0xDFFF).contains(&self.code_unit()?) {
                        return None;
                    }
                }
                0xDC00..=0xDFFF => return None,
                _ => {}
            },
            _ => return None,
        }
        Some(())
    }

    /// The four hex digits of a `\u` escape (at its backslash).
    fn code_unit(&mut self) -> Option<u16> {
        let escape = self.text.get(self.at..self.at + 6)?;
        let digits = escape.strip_prefix("\\u")?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 6;
        u16::from_str_radix(digits, 16).ok()
    }

    /// A number without an exponent, by JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.at_least_one_digit()?;
        }
        // An exponent can put a number out of f64's range (`1e400`): serde_json then
        // fails and the serde scan reads the whole line its other way (`raw`), which
        // decodes captured numbers differently; such lines are left to it.
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        (self.at - start <= LONGEST_NUMBER).then_some(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

/// A captured number, as serde_json decodes it for the serde scan: a count or an epoch
/// time (digits only, within u64) directly, the rest (`-0` is a float there) by serde_json.
fn captured_number(text: &str) -> Option<Captured> {
    if text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .map(|n| Captured::Integer(n.into()));
    }
    decoded(text)
}

/// A captured number or escaped string, as serde_json decodes it for the serde scan.
fn decoded(text: &str) -> Option<Captured> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = (&mut deserializer).deserialize_any(Decoded).ok()?;
    deserializer.end().ok()?;
    Some(value)
}

struct Decoded;

impl Visitor<'_> for Decoded {
    type Value = Captured;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E>(self, v: &str) -> Result<Captured, E> {
        Ok(Captured::Text(v.to_owned()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Captured, E> {
        Ok(Captured::Integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Captured, E> {
        Ok(Captured::Integer(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Captured, E> {
        Ok(Captured::Float(v))
    }
}

#[cfg(test)]
mod tests {
    use super::super::serde_scan;
    use super::*;

    /// The hostile lines of the shared samples, and lines made to sit on each edge of
    /// this scan.
    fn lines() -> Vec<String> {
        let edge_cases = include_bytes!("../../../tests/data/edge-cases.jsonl");
        // A scan takes UTF-8: the parser turns the other lines away before.
        let mut lines: Vec<String> = edge_cases
            .split(|&b| b == b'\n')
            .filter_map(|line| std::str::from_utf8(line).ok())
            .map(str::to_owned)
            .collect();
        for line in [
            r#"{"ts":"2026-11-20T08:00:00Z","a":{"b":[1,-2.5,0,-0,true,false,null,{}],"c":""}}"#,
            r#" { "ts" : 17 , "a" : { "b" : "x" } } "#,
            r#"{"ts":"tab\there \"q\" \\ \/ \u00e9 \ud83d\ude00"}"#,
            r#"{"ts":"\ud83d"}"#,
            r#"{"ts":"\ude00\ud83d"}"#,
            r#"{"ts":"\u12G4"}"#,
            r#"{"k\u0061":1,"ka":2}"#,
            r#"{"ts":1e3}"#,
            r#"{"ts":18446744073709551616,"n":-9223372036854775808}"#,
            r#"{"ts":-0,"a":{"b":0.1}}"#,
            r#"{"ts":01}"#,
            r#"{"ts":1.}"#,
            r#"{"ts":-}"#,
            r#"{"ts":.5}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1}{}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul"#,
            r#"{"a":"unterminated}"#,
            "{\"a\":\"a raw\u{1}control\"}",
            r#"{"a":{"a":{"a":{"a":{}}}}}"#,
            r#"{"a":[[[[1]]]]}"#,
            r#"["ts"]"#,
            r#"{"ts":{"x":1},"ts":"2026-11-20T08:00:00Z","a":{"b":1,"b":2}}"#,
        ] {
            lines.push(line.to_owned());
        }
        lines
    }

    fn wanted() -> Wanted {
        Wanted::new(&[
            vec!["ts".to_owned()],
            vec!["a".into(), "b".into()],
            vec!["n".into()],
        ])
    }

    #[test]
    fn what_this_scan_answers_the_serde_scan_answers_alike() {
        let mut answered = 0;
        for line in lines() {
            for max_depth in [3, 128] {
                if let Some(plain) = scan(&line, &wanted(), max_depth) {
                    answered += 1;
                    assert_eq!(
                        Ok(plain),
                        serde_scan(&line, &wanted(), max_depth).map_err(|e| e.to_string()),
                        "{line}"
                    );
                }
            }
        }
        assert!(
            answered > 20,
            "the plain scan answers ordinary lines ({answered})"
        );
    }

    #[test]
    fn ordinary_events_are_answered_here_and_the_rest_left_to_serde() {
        let answered = |line: &str| scan(line, &wanted(), 128).is_some();
        assert!(answered(
            r#"{"ts":"tab\there \"q\" \u00e9 \ud83d\ude00","a":{"b":-0.5}}"#
        ));
        assert!(answered(r#"{"ts":1,"ts":2}"#));
        for left in [
            r#"{"ts":1e3}"#,
            r#"{"ts":"\ud83d"}"#,
            r#"{"k\u0061":1}"#,
            r#"{"a":1,}"#,
        ] {
            assert!(!answered(left), "{left}");
        }
        let deep = r#"{"a":[[[[1]]]]}"#;
        assert!(scan(deep, &wanted(), 5).is_some());
        assert!(scan(deep, &wanted(), 4).is_none(), "past max_depth");
    }
}

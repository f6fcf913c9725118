//! Which of a few top-level members an event has, asked of every event of a batch.
//!
//! A member `key` is in the text either as `"key"` or with an escape in its spelling. An
//! escape other than `\uXXXX` stands for a quote, a backslash, a slash or a control
//! character, so a key without those (a plain key, as every key Sluice asks for is) can
//! be spelled otherwise only with `\u`. One pass over the text, 32 bytes at a time,
//! looks for a quote followed by any key's first character, and for `\u`; where a quote
//! is, the key is compared whole. Only an event where a key or an escape turns up is
//! parsed, to tell a member from the same word in a value or a nested object. The usual
//! event (no `\u`, no such key) is read once, whatever the number of keys: the
//! Elasticsearch module asks for `sluice` and `@timestamp`, and two searches for each
//! (the key, then `\u`) were a sixth of its CPU per event.

use super::lanes::Lanes;
use super::member;

/// Keys one probe asks for at most: each is compared at every position, and a fixed
/// number keeps the pass free of an inner loop.
const MAX_KEYS: usize = 4;
/// Positions one step of the pass looks at: two sets of 16 lanes.
const STEP: usize = 32;
/// Bytes one step reads: its positions and the byte after the last.
const WINDOW: usize = STEP + 1;

/// Asks whether JSON objects have top-level members of given names, escaped keys
/// compared decoded (`"\u0040timestamp"` is `@timestamp`). A string value that says the
/// name, or a nested member of that name, is not one.
#[derive(Debug, Clone)]
pub struct MemberProbe {
    keys: Vec<Key>,
    /// Each key's byte after the opening quote, in every lane; the slots of keys not
    /// asked for repeat the first key's.
    firsts: [Lanes; MAX_KEYS],
    /// A key has a character JSON escapes otherwise (a quote, a backslash, a slash, a
    /// control character): any backslash in the text may be part of its spelling.
    any_escape: bool,
    /// Keys no text rules out (the empty key: `""` is any empty string too).
    always: u32,
}

#[derive(Debug, Clone)]
struct Key {
    name: String,
    /// `"name"`.
    quoted: Vec<u8>,
}

impl Key {
    /// Whether the quoted key starts at `position` of `text`, where the pass found its
    /// first two bytes: the third compared alone first, which rules out most.
    fn starts_at(&self, text: &[u8], position: usize) -> bool {
        text.get(position + 2) == self.quoted.get(2) && text[position..].starts_with(&self.quoted)
    }
}

/// The members [`MemberProbe::find`] found: bit `i` for the probe's key `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found(u32);

impl Found {
    /// No member: what a module that did not ask knows.
    pub const NONE: Found = Found(0);

    /// Whether the probe's key `index` (in the order given) is a member.
    pub fn has(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    /// Whether any of the keys is.
    pub fn any(self) -> bool {
        self.0 != 0
    }
}

impl MemberProbe {
    /// A probe for member `key`.
    pub fn new(key: &str) -> MemberProbe {
        MemberProbe::of(&[key])
    }

    /// A probe for several members at once (up to four), answered in one pass over
    /// each event.
    ///
    /// # Panics
    ///
    /// With no keys, or more than four.
    pub fn of(names: &[&str]) -> MemberProbe {
        assert!(
            (1..=MAX_KEYS).contains(&names.len()),
            "a probe asks for 1 to {MAX_KEYS} members, not {}",
            names.len()
        );
        let keys: Vec<Key> = names
            .iter()
            .map(|name| Key {
                name: (*name).to_owned(),
                quoted: [b"\"", name.as_bytes(), b"\""].concat(),
            })
            .collect();
        let firsts =
            std::array::from_fn(|slot| Lanes::splat(keys.get(slot).unwrap_or(&keys[0]).quoted[1]));
        let any_escape = names.iter().any(|name| {
            name.bytes()
                .any(|b| matches!(b, b'"' | b'\\' | b'/') || b < 0x20)
        });
        let always = (names.iter().enumerate())
            .filter(|(_, name)| name.is_empty())
            .fold(0, |always, (index, _)| always | (1 << index));
        MemberProbe {
            keys,
            firsts,
            any_escape,
            always,
        }
    }

    /// Whether the JSON object `json` has the member (any of them, for a probe of
    /// several).
    pub fn is_in(&self, json: &str) -> bool {
        self.find(json).any()
    }

    /// Which of the members a document the module wrote (a schema's mapping) has;
    /// none when it is not UTF-8, which no JSON text is.
    pub fn find_in_document(&self, document: &[u8]) -> Found {
        std::str::from_utf8(document).map_or(Found::NONE, |text| self.find(text))
    }

    /// Which of the members the JSON object `json` has.
    pub fn find(&self, json: &str) -> Found {
        let candidates = self.candidates(json.as_bytes()) | self.always;
        let found = (0..self.keys.len())
            .filter(|&index| candidates & (1 << index) != 0)
            .filter(|&index| member(json, &self.keys[index].name).is_some())
            .fold(0, |found, index| found | (1 << index));
        Found(found)
    }

    /// The keys that may be members: those whose quoted spelling is in the text, or
    /// all of them when an escape that could spell one is.
    fn candidates(&self, text: &[u8]) -> u32 {
        let mut quoted = 0;
        let mut at = 0;
        while at < text.len() {
            let hits = match text.get(at..at + WINDOW) {
                Some(window) => self.hits(window.try_into().expect("a window")),
                // The last bytes: the same, in a copy padded with zeros (which match
                // neither a quote nor a backslash).
                None => {
                    let mut padded = [0; WINDOW];
                    padded[..text.len() - at].copy_from_slice(&text[at..]);
                    self.hits(&padded)
                }
            };
            let mut bits = hits;
            while bits != 0 {
                let position = at + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if text[position] == b'\\' {
                    return u32::MAX;
                }
                for (index, key) in self.keys.iter().enumerate() {
                    if key.starts_at(text, position) {
                        quoted |= 1 << index;
                    }
                }
            }
            at += STEP;
        }
        quoted
    }

    /// The positions among the first [`STEP`] of `window` where a quote followed by a
    /// key's first character, or an escape, starts.
    #[inline(always)]
    fn hits(&self, window: &[u8; WINDOW]) -> u32 {
        let lanes =
            |offset: usize| Lanes::load(window[offset..offset + 16].try_into().expect("16"));
        let sixteen = |offset: usize| {
            let (here, next) = (lanes(offset), lanes(offset + 1));
            let backslash = here.eq(Lanes::splat(b'\\'));
            let escapes = if self.any_escape {
                backslash
            } else {
                backslash.and(next.eq(Lanes::splat(b'u')))
            };
            let [a, b, c, d] = self.firsts.map(|first| next.eq(first));
            let keys = here.eq(Lanes::splat(b'"')).and(a.or(b).or(c.or(d)));
            escapes.or(keys).mask()
        };
        u32::from(sixteen(0)) | u32::from(sixteen(16)) << 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(json: &str, key: &str) -> bool {
        MemberProbe::new(key).is_in(json)
    }

    #[test]
    fn a_member_is_a_top_level_key_not_text() {
        assert!(has(r#"{"a":1,"@timestamp":"t"}"#, "@timestamp"));
        assert!(has(r#"{"\u0040timestamp":"t"}"#, "@timestamp"));
        assert!(!has(r#"{"note":"@timestamp"}"#, "@timestamp"));
        assert!(!has(r#"{"note":"\"@timestamp\""}"#, "@timestamp"));
        assert!(!has(r#"{"inner":{"@timestamp":"t"}}"#, "@timestamp"));
        // A value with escaped quotes and no `\u` is answered without a parse; a key
        // spelled with `\u` is still found.
        assert!(has(r#"{"note":"\"q\"","sluice":1}"#, "sluice"));
        assert!(!has(r#"{"note":"\"q\" \\ sluice"}"#, "sluice"));
        assert!(has(r#"{"note":"\"q\"","s\u006cuice":1}"#, "sluice"));
        // Keys of one and no characters, and one a slash may spell `\/`.
        assert!(has(r#"{"x":1}"#, "x"));
        assert!(!has(r#"{"xy":1}"#, "x"));
        assert!(has(r#"{"":1}"#, ""));
        assert!(!has(r#"{"a":""}"#, ""));
        assert!(has(r#"{"a\/b":1}"#, "a/b"));
        assert!(has(r#"{"a/b":1}"#, "a/b"));
    }

    /// Each key at every offset, so that it starts in every lane of a step, across
    /// two steps, and in the padded last bytes; with the other key alone, both, or
    /// neither, and as a value only.
    #[test]
    fn several_keys_are_found_in_one_pass_wherever_they_are() {
        let probe = MemberProbe::of(&["sluice", "@timestamp"]);
        for pad in 0..70 {
            let filler = "f".repeat(pad);
            let both = format!(r#"{{"{filler}":1,"@timestamp":"t","sluice":{{}}}}"#);
            let found = probe.find(&both);
            assert!(found.has(0) && found.has(1), "{both}");
            let first = format!(r#"{{"{filler}":"@timestamp","sluice":2}}"#);
            let found = probe.find(&first);
            assert!(found.has(0) && !found.has(1), "{first}");
            let last = format!(r#"{{"k":"{filler}","@timestamp":0}}"#);
            let found = probe.find(&last);
            assert!(!found.has(0) && found.has(1), "{last}");
            let neither = format!(r#"{{"k":"{filler} sluice","n":{{"@timestamp":1}}}}"#);
            assert_eq!(probe.find(&neither), Found::NONE, "{neither}");
            let escaped = format!(r#"{{"k":"{filler}","\u0073luice":0}}"#);
            assert!(probe.find(&escaped).has(0), "{escaped}");
        }
    }

    /// Objects made of pieces that look like the keys (in keys, values, nested
    /// objects, escaped, cut short) at random offsets: the probe answers as parsing
    /// each object for each key does.
    #[test]
    fn the_probe_answers_as_a_parse_does() {
        let keys = ["sluice", "@timestamp", "s", "a/b"];
        let probe = MemberProbe::of(&keys);
        let pieces = [
            r#""sluice":1"#,
            r#""@timestamp":"t""#,
            r#""s":[]"#,
            r#""a/b":0"#,
            r#""a\/b":0"#,
            r#""\u0073luice":2"#,
            r#""note":"sluice @timestamp \"s\"""#,
            r#""n":{"sluice":1,"@timestamp":2}"#,
            r#""sl":1"#,
            r#""@t":1"#,
            r#""ssss":"ss""#,
            r#""pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx""#,
            r#""q":"\\""#,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        };
        for _ in 0..3000 {
            let members: Vec<&str> = (0..next(7)).map(|_| pieces[next(pieces.len())]).collect();
            let json = format!("{{{}}}", members.join(","));
            let found = probe.find(&json);
            for (index, key) in keys.iter().enumerate() {
                assert_eq!(
                    found.has(index),
                    member(&json, key).is_some(),
                    "{key} in {json}"
                );
            }
        }
    }
}

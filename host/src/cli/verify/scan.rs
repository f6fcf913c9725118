//! Finds, in any text read in pieces, the JSON objects that have one of some keys as a
//! member of their own, and the JSON strings that hold one as text, holding no more of
//! the input than the largest such object: a copy to verify may be far larger than
//! memory.

/// An object or string larger than this is not read as an event or digest (Sluice's
/// events are at most `max_line_bytes`, 1 MiB by default): what is held of the input
/// stays under about twice it.
pub const LARGEST_OBJECT: usize = 64 << 20;

/// Objects and arrays nested deeper than this end the reading of an input (Sluice's
/// events are at most `max_depth`, 128 by default, deep): what is held per level stays
/// bounded, whatever a few compressed bytes unfold into.
const DEEPEST: usize = 10_000;

/// What the scan found, with the line (from 1) where it starts.
#[derive(Debug)]
pub enum Found<'a> {
    /// An object with `key` as a member of its own, at `member` in `text`.
    Object {
        text: &'a [u8],
        line: usize,
        member: usize,
        key: &'static str,
    },
    /// A string value (its quotes included) outside any such object that may hold one
    /// as text (it has a `{`).
    Text { text: &'a [u8], line: usize },
    /// What may be or hold such an object and cannot be read, and why: an object cut,
    /// or too large, a string too large, nesting too deep.
    Unreadable { line: usize, why: String },
}

/// A [`Found`] whose object lies wholly in what the scan holds, until nothing around
/// it can still turn out to be the object of which it is content.
#[derive(Debug)]
enum Held {
    Object {
        start: u64,
        end: u64,
        line: usize,
        member: u64,
        key: &'static str,
    },
    Text {
        start: u64,
        end: u64,
        line: usize,
    },
    /// An object with a member, or a string that is no key, let go of for its size.
    TooLarge {
        line: usize,
        what: &'static str,
    },
    /// Nested past [`DEEPEST`] here: the rest of the input is not read.
    TooDeep {
        line: usize,
    },
}

/// An object or array not closed yet.
#[derive(Debug)]
enum Open {
    Array,
    Object {
        start: u64,
        line: usize,
        /// The first of the keys found as its own member, and where.
        member: Option<(u64, &'static str)>,
        /// Its bytes are held: not larger than [`LARGEST_OBJECT`] so far.
        held: bool,
        /// What was found inside it: its content if it turns out to have a member.
        inside: Vec<Held>,
    },
}

/// A string being read, or read and waiting for what follows it to tell whether it was
/// a key.
#[derive(Debug, Clone, Copy)]
struct Str {
    start: u64,
    line: usize,
    held: bool,
}

pub struct Scanner {
    keys: &'static [&'static str],
    /// [`LARGEST_OBJECT`], but in tests.
    largest: usize,
    /// The input from `base` on, as far as it was given.
    held: Vec<u8>,
    base: u64,
    /// Lines before the next byte to scan.
    lines: usize,
    open: Vec<Open>,
    string: Option<Str>,
    escaped: bool,
    /// A closed string (to the quote at its `end`) not yet followed by a byte other
    /// than whitespace.
    closed: Option<(Str, u64)>,
    /// Nested past [`DEEPEST`]: nothing more of the input is read.
    gave_up: bool,
}

impl Scanner {
    /// Looks for `keys`, in objects and strings up to `largest` bytes.
    pub fn new(keys: &'static [&'static str], largest: usize) -> Scanner {
        Scanner {
            keys,
            largest,
            held: Vec::new(),
            base: 0,
            lines: 0,
            open: Vec::new(),
            string: None,
            escaped: false,
            closed: None,
            gave_up: false,
        }
    }

    /// Scans the next piece of the input; `found` is called, in input order, with what
    /// is known whole.
    pub fn feed(&mut self, piece: &[u8], found: &mut impl FnMut(Found<'_>)) {
        if self.gave_up {
            return;
        }
        let from = self.base + self.held.len() as u64;
        self.held.extend_from_slice(piece);
        let mut ready = Vec::new();
        let mut i = 0;
        while i < piece.len() {
            // Most bytes are inside strings, where only three matter.
            if self.string.is_some() && !self.escaped {
                match memchr::memchr3(b'"', b'\\', b'\n', &piece[i..]) {
                    Some(skipped) => i += skipped,
                    None => break,
                }
            }
            self.step(from + i as u64, piece[i], &mut ready);
            if self.open.len() > DEEPEST {
                self.give_up(&mut ready);
                break;
            }
            i += 1;
        }
        self.let_go(&mut ready);
        self.emit(ready, found);
        self.forget_before_held();
    }

    /// The end of the input: what is still open is cut.
    pub fn finish(mut self, found: &mut impl FnMut(Found<'_>)) {
        let mut ready = Vec::new();
        if let Some((string, end)) = self.closed.take() {
            self.string_closed(string, end, false, &mut ready);
        }
        let mut cut = Vec::new();
        while let Some(open) = self.open.pop() {
            if let Open::Object {
                member,
                line,
                inside,
                ..
            } = open
            {
                if member.is_some() {
                    cut.push(line);
                }
                self.hand_up(inside, &mut ready);
            }
        }
        self.emit(ready, found);
        for line in cut.into_iter().rev() {
            found(Found::Unreadable {
                line,
                why: "an event or digest that is not a whole JSON object (cut or altered)".into(),
            });
        }
    }

    fn step(&mut self, at: u64, b: u8, ready: &mut Vec<Held>) {
        if let Some(string) = self.string {
            match (self.escaped, b) {
                // A line break ends a string, escaped or not (JSON has none in one), so
                // that a stray quote or backslash outside JSON does not hide what
                // follows.
                (_, b'\n') => {
                    self.string = None;
                    self.escaped = false;
                }
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => {
                    self.string = None;
                    self.closed = Some((string, at));
                }
                _ => {}
            }
            if b == b'\n' {
                self.lines += 1;
            }
            return;
        }
        if b.is_ascii_whitespace() {
            if b == b'\n' {
                self.lines += 1;
            }
            return;
        }
        if let Some((string, end)) = self.closed.take() {
            self.string_closed(string, end, b == b':', ready);
        }
        match b {
            b'"' => {
                self.string = Some(Str {
                    start: at,
                    line: self.lines + 1,
                    held: true,
                })
            }
            b'{' => self.open.push(Open::Object {
                start: at,
                line: self.lines + 1,
                member: None,
                held: true,
                inside: Vec::new(),
            }),
            b'[' => self.open.push(Open::Array),
            b'}' | b']' => self.close(at, ready),
            _ => {}
        }
    }

    /// Stops reading an input nested past [`DEEPEST`]: what was found whole is ready,
    /// and the place said.
    fn give_up(&mut self, ready: &mut Vec<Held>) {
        let line = self.lines + 1;
        while let Some(open) = self.open.pop() {
            if let Open::Object { inside, .. } = open {
                self.hand_up(inside, ready);
            }
        }
        ready.push(Held::TooDeep { line });
        (self.string, self.closed, self.gave_up) = (None, None, true);
    }

    /// A string from `string.start` to the quote at `end`, a key when `is_key`.
    fn string_closed(&mut self, string: Str, end: u64, is_key: bool, ready: &mut Vec<Held>) {
        if !string.held {
            // Let go of for its size: what it holds is not read, and that is said,
            // unless it is content of an event or digest (said already, if too large).
            let in_one = self.open.iter().any(|open| {
                matches!(
                    open,
                    Open::Object {
                        member: Some(_),
                        ..
                    }
                )
            });
            if !is_key && !in_one {
                let what = "a string";
                self.hand_up(
                    [Held::TooLarge {
                        line: string.line,
                        what,
                    }],
                    ready,
                );
            }
            return;
        }
        let text = &self.held[(string.start - self.base) as usize..=(end - self.base) as usize];
        let content = &text[1..text.len() - 1];
        if is_key {
            // Compared as a reader decodes it: `sluice\u005fstream` is one of the keys.
            let decoded: Option<String> = match memchr::memchr(b'\\', content) {
                Some(_) => serde_json::from_slice(text).ok(),
                None => None,
            };
            let key = decoded.as_deref().map_or(content, str::as_bytes);
            let key = self.keys.iter().find(|k| k.as_bytes() == key);
            if let (Some(Open::Object { member, .. }), Some(key)) = (self.open.last_mut(), key)
                && member.is_none()
            {
                *member = Some((string.start, key));
            }
            return;
        }
        // Any string that could hold an object as text is read as text, wherever the
        // object starts in it and however its keys are written.
        if memchr::memchr(b'{', content).is_some() {
            let held = Held::Text {
                start: string.start,
                end: end + 1,
                line: string.line,
            };
            self.hand_up([held], ready);
        }
    }

    /// The object or array open is closed by the byte at `at`.
    fn close(&mut self, at: u64, ready: &mut Vec<Held>) {
        let Some(Open::Object {
            start,
            line,
            member,
            held,
            inside,
        }) = self.open.pop()
        else {
            return;
        };
        match (member, held) {
            (None, _) => self.hand_up(inside, ready),
            (Some((member, key)), true) => self.hand_up(
                [Held::Object {
                    start,
                    end: at + 1,
                    line,
                    member,
                    key,
                }],
                ready,
            ),
            // Let go of when it grew too large: what was found inside was handed up
            // then.
            (Some(_), false) => ready.push(Held::TooLarge {
                line,
                what: "an object with a member Sluice writes",
            }),
        }
    }

    /// Keeps `found` with the innermost object held around it, which may yet turn out
    /// to be an event; ready when there is none.
    fn hand_up(&mut self, found: impl IntoIterator<Item = Held>, ready: &mut Vec<Held>) {
        let around = self.open.iter_mut().rev().find_map(|open| match open {
            Open::Object {
                held: true, inside, ..
            } => Some(inside),
            _ => None,
        });
        match around {
            Some(inside) => inside.extend(found),
            None => ready.extend(found),
        }
    }

    /// Lets go of the outermost objects held (and a string) that grew larger than the
    /// largest: what was found inside them is ready.
    fn let_go(&mut self, ready: &mut Vec<Held>) {
        let end = self.base + self.held.len() as u64;
        let too_old = end.saturating_sub(self.largest as u64);
        for open in &mut self.open {
            if let Open::Object {
                start,
                held,
                inside,
                ..
            } = open
                && *held
            {
                if *start >= too_old {
                    break;
                }
                *held = false;
                ready.append(inside);
            }
        }
        if let Some(string) = &mut self.string
            && string.start < too_old
        {
            string.held = false;
        }
    }

    fn emit(&self, ready: Vec<Held>, found: &mut impl FnMut(Found<'_>)) {
        let bytes = |start: u64, end: u64| {
            &self.held[(start - self.base) as usize..(end - self.base) as usize]
        };
        for held in ready {
            match held {
                Held::TooDeep { line } => found(Found::Unreadable {
                    line,
                    why: format!(
                        "nested deeper than {DEEPEST} levels: the rest of this input is not read"
                    ),
                }),
                Held::TooLarge { line, what } => found(Found::Unreadable {
                    line,
                    why: format!(
                        "{what} larger than {} bytes: not read for the events or digests it may hold",
                        self.largest
                    ),
                }),
                Held::Text { start, end, line } => found(Found::Text {
                    text: bytes(start, end),
                    line,
                }),
                Held::Object {
                    start,
                    end,
                    line,
                    member,
                    key,
                } => found(Found::Object {
                    text: bytes(start, end),
                    line,
                    member: (member - start) as usize,
                    key,
                }),
            }
        }
    }

    /// Drops the bytes nothing found or open needs any more.
    fn forget_before_held(&mut self) {
        let end = self.base + self.held.len() as u64;
        let object = self.open.iter().find_map(|open| match open {
            Open::Object {
                start, held: true, ..
            } => Some(*start),
            _ => None,
        });
        let string = self.string.filter(|s| s.held).map(|s| s.start);
        let closed = self.closed.filter(|(s, _)| s.held).map(|(s, _)| s.start);
        let keep_from = [object, string, closed]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        let drop = (keep_from - self.base) as usize;
        // Moved down only once it is half of what is held: each byte moves a few times.
        if drop > 0 && drop * 2 >= self.held.len() {
            self.held.drain(..drop);
            self.base = keep_from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 2] = ["sluice_stream", "sluice_digest"];

    /// What the scan finds in `text` given `piece` bytes at a time, each as its kind,
    /// line and first 12 bytes; and the most it held at once.
    fn found_in(text: &str, piece: usize, largest: usize) -> (Vec<String>, usize) {
        let mut scanner = Scanner::new(&KEYS, largest);
        let mut found = Vec::new();
        let mut said = |f: Found<'_>| {
            found.push(match f {
                Found::Object { text, line, .. } => {
                    format!("object {line} {}", String::from_utf8_lossy(&text[..12]))
                }
                Found::Text { text, line } => {
                    format!("text {line} {}", String::from_utf8_lossy(&text[..12]))
                }
                Found::Unreadable { line, why } => format!("unreadable {line} {why}"),
            })
        };
        let mut most = 0;
        for piece in text.as_bytes().chunks(piece) {
            scanner.feed(piece, &mut said);
            most = most.max(scanner.held.len());
        }
        scanner.finish(&mut said);
        (found, most)
    }

    #[test]
    fn objects_with_a_key_of_their_own_and_strings_holding_one_are_found_in_any_pieces() {
        let text = concat!(
            "POST /bulk HTTP/1.1\r\nX-Odd: \"quoted\r\n\r\n",
            r#"{"index":{}}"#,
            "\n",
            r#"{"sluice":{"host":"h"},"a":{"sluice_stream":"inner"},"sluice_stream":"s","n":1}"#,
            "\n",
            r#"{"line":"{\"sluice_stream\":\"in a string\"}"}"#,
            "\n",
            r#"[{"sluice_digest" : {}}, {"k":"sluice_stream"}, {"sluice_stream":"cut"#,
        );
        let expected = [
            r#"object 5 {"sluice":{""#,
            r#"text 6 "{\"sluice_s"#,
            r#"object 7 {"sluice_dig"#,
            "unreadable 7 an event or digest that is not a whole JSON object (cut or altered)",
        ];
        for piece in 1..=text.len() {
            assert_eq!(
                found_in(text, piece, LARGEST_OBJECT).0,
                expected,
                "in pieces of {piece}"
            );
        }
    }

    #[test]
    fn what_is_held_stays_under_the_largest_object_whatever_wraps_the_events() {
        // A SIEM's export of 20,000 events in one object, far larger than the largest.
        let mut text = String::from("{\"results\":[\n");
        for n in 0..20_000 {
            text.push_str(&format!("{{\"sluice_stream\":\"s\",\"n\":{n:05}}},\n"));
        }
        text.push_str("{}],\"sluice_digest\":1}\n");
        let (found, most) = found_in(&text, 4096, 10_000);
        assert!(most < 2 * 10_000 + 4096, "held {most} bytes");
        assert_eq!(found.len(), 20_001, "{:?}", &found[found.len() - 3..]);
        assert!(
            found[..20_000]
                .iter()
                .enumerate()
                .all(|(n, f)| f == &format!("object {} {{\"sluice_str", n + 2))
        );
        // The wrapper, let go of, turned out to have a member: not read, and said.
        assert_eq!(
            found[20_000],
            "unreadable 1 an object with a member Sluice writes larger than 10000 bytes: not read for the events or digests it may hold"
        );

        // One event larger than the largest: not read, and said.
        let large = format!(
            "{{\"sluice_stream\":\"s\",\"pad\":\"{}\"}}\n",
            "x".repeat(30_000)
        );
        let (found, most) = found_in(&large, 4096, 10_000);
        assert!(most < 2 * 10_000 + 4096, "held {most} bytes");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("unreadable 1 an object with a member Sluice writes larger"),
            "{found:?}"
        );

        // A string too large to be read for the events it may hold as text: said, not
        // passed over.
        let text = format!("{{\"message\":\"{}\"}}\n", " ".repeat(30_000));
        let (found, _) = found_in(&text, 4096, 10_000);
        assert_eq!(
            found,
            [
                "unreadable 1 a string larger than 10000 bytes: not read for the events or digests it may hold"
            ]
        );
    }

    /// From a hostile run: `[` a hundred million times, gzipped to 97 KB, took 4.8 GB.
    #[test]
    fn an_input_nested_past_the_deepest_is_read_no_further_and_said() {
        let event = r#"{"sluice_stream":"s"}"#;
        let text = format!("{event}\n{}\n{event}", "[".repeat(3 * DEEPEST));
        let (found, most) = found_in(&text, 4096, LARGEST_OBJECT);
        assert_eq!(
            found,
            [
                r#"object 1 {"sluice_str"#.to_owned(),
                format!(
                    "unreadable 2 nested deeper than {DEEPEST} levels: the rest of this input is not read"
                )
            ]
        );
        assert!(most < 2 * 4096 + event.len(), "held {most} bytes");
    }

    /// From a hostile run: each of these hid an event from verify that a reader of the
    /// copy would take.
    #[test]
    fn keys_are_compared_decoded_and_a_line_break_ends_any_string() {
        let text = concat!(
            r#"{"sluice\u005fstream":"s","n":1}"#,
            "\n",
            "\"\\\n",
            r#"{"sluice_stream":"s","n":2}"#,
            "\n",
            r#"{"message":" {\"sluice_stream\":\"s\"}"}"#,
            "\n",
        );
        let (found, _) = found_in(text, 1, LARGEST_OBJECT);
        assert_eq!(
            found,
            [
                r#"object 1 {"sluice\u00"#,
                r#"object 3 {"sluice_str"#,
                r#"text 4 " {\"sluice_"#
            ]
        );
    }
}

//! From a raw line to an event: the rules of `shared/data/README.md`.
//!
//! - empty and whitespace-only lines are skipped silently;
//! - a UTF-8 byte order mark and a CR before the LF are dropped;
//! - a line that is not valid UTF-8, not valid JSON, or JSON but not an object is
//!   rejected with a reason (the caller dead-letters it with file and line);
//! - a repeated key keeps its last value ([`super::normalize`]);
//! - the time comes from the first configured time field that holds one (a field that
//!   is null or not a time gives way to the next), else the ingest time is used and
//!   the event says so (`ingest-times` of the contract);
//! - filter policies decide on the fields they name, captured in the same pass; an
//!   event one of them drops is not appended (the caller counts it per filter).

use std::sync::Arc;

use sluice_filter::{Event, Policy};

use super::scan::{Captured, Wanted};
use super::select::{FieldSlots, Slotted};
use super::{normalize, scan, time};

/// One parsed event of a chunk: where its JSON lies, its time and its id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventMeta {
    pub offset: u32,
    pub len: u32,
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// No time field held a time: `time_ms` is the ingest time.
    pub ingest_time: bool,
    /// Stable across re-reads of the same line (see [`LineParser::parse`]).
    pub id: u128,
}

impl EventMeta {
    /// This event's JSON text in `data`, the buffer it was parsed into.
    pub fn json_in<'a>(&self, data: &'a str) -> &'a str {
        let start = self.offset as usize;
        &data[start..start + self.len as usize]
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// The whitespace JSON allows around a value (RFC 8259, section 2).
const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// What became of a line.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Blank,
    /// Appended to the chunk; `time_unparsed` when a time field held no time.
    Event {
        time_unparsed: bool,
    },
    /// Not an event: what kind of line it is, and why in words.
    Rejected(Reject, String),
    /// Dropped by the filter at index `filter` of the parser's filters; judged by its
    /// ingest time when `time_unparsed` (a time field held no time).
    Filtered {
        filter: usize,
        time_unparsed: bool,
    },
    /// Kept, but without fields the filter at this index requires (`[require]`): for
    /// the dead-letter store, as [`Reject::Required`].
    Unfit {
        filter: usize,
        fields: Vec<String>,
        time_unparsed: bool,
    },
}

/// The kinds of line that are not events, for the figures kept of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not UTF-8.
    NotUtf8,
    /// Not JSON (or JSON that cannot be an event: a lone surrogate, whitespace only,
    /// keys that cannot be normalized).
    NotJson,
    /// JSON, but not an object.
    NotObject,
    /// Nested deeper than `events.max_depth`.
    TooDeep,
    /// Longer than `events.max_line_bytes`.
    TooLong,
    /// Refused by its source's protocol before it was parsed (a Splunk HEC envelope
    /// without an `event`).
    Protocol,
    /// Without a field a filter policy requires.
    Required,
}

impl Reject {
    pub const ALL: [Reject; 7] = [
        Reject::NotUtf8,
        Reject::NotJson,
        Reject::NotObject,
        Reject::TooDeep,
        Reject::TooLong,
        Reject::Protocol,
        Reject::Required,
    ];

    /// Its name in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Reject::NotUtf8 => "not_utf8",
            Reject::NotJson => "not_json",
            Reject::NotObject => "not_object",
            Reject::TooDeep => "too_deep",
            Reject::TooLong => "too_long",
            Reject::Protocol => "protocol",
            Reject::Required => "required_field_missing",
        }
    }
}

/// Events parsed so far, in the layout modules receive.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    pub data: String,
    pub events: Vec<EventMeta>,
}

impl ChunkBuilder {
    /// A chunk with room for `bytes` of events and `events` events.
    pub fn with_capacity(bytes: usize, events: usize) -> Self {
        ChunkBuilder {
            data: String::with_capacity(bytes),
            events: Vec::with_capacity(events),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineParser {
    /// The time fields, then each filter's fields.
    wanted: Wanted,
    time_fields: Vec<FieldSlots>,
    filters: Slotted,
    bounds: TimeBounds,
    /// How deep objects and arrays may nest.
    max_depth: u32,
}

/// What counts as an event's time: a value outside is taken for garbage (a counter,
/// a typo, a unit mistaken), kept in the event, and the ingest time used instead.
#[derive(Debug, Clone, Copy)]
pub struct TimeBounds {
    /// The earliest time, milliseconds since the epoch.
    pub earliest_ms: i64,
    /// How far past the ingest time, in milliseconds (clocks drift, zones get mixed up).
    pub max_future_ms: i64,
}

impl Default for TimeBounds {
    /// 1970 to a day after the ingest time.
    fn default() -> Self {
        TimeBounds {
            earliest_ms: 0,
            max_future_ms: 86_400_000,
        }
    }
}

impl LineParser {
    pub fn new(time_fields: Vec<String>, bounds: TimeBounds, max_depth: u32) -> Self {
        Self::with_filters(time_fields, Vec::new(), bounds, max_depth)
    }

    /// A parser that also applies `filters`, in order: an event any of them drops is
    /// [`Parsed::Filtered`].
    pub fn with_filters(
        time_fields: Vec<String>,
        filters: Vec<Arc<Policy>>,
        bounds: TimeBounds,
        max_depth: u32,
    ) -> Self {
        // A time field named twice is captured once (`Wanted::slot`); its second place in
        // the order never decides.
        let mut wanted = Wanted::default();
        let time_fields = time_fields
            .into_iter()
            .map(|field| {
                let path: Vec<String> = field.split('.').map(str::to_owned).collect();
                FieldSlots::of(&path, &mut wanted)
            })
            .collect();
        let mut slotted = Slotted::default();
        for policy in filters {
            slotted.add(policy, &mut wanted);
        }
        LineParser {
            wanted,
            time_fields,
            filters: slotted,
            bounds,
            max_depth,
        }
    }

    /// Parses `line` (without its LF) into `chunk`. `id_seed` identifies the line's
    /// origin (source and position), so the event id is stable across re-reads.
    pub fn parse(
        &self,
        line: &[u8],
        id_seed: u64,
        now_ms: i64,
        chunk: &mut ChunkBuilder,
    ) -> Parsed {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(BOM).unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Parsed::Blank;
        }
        // simdutf8 checks a line several times faster than std; std says where it fails.
        let text = match simdutf8::basic::from_utf8(line).or_else(|_| std::str::from_utf8(line)) {
            // JSON's own whitespace only: U+00A0 and its kin are not JSON whitespace.
            Ok(text) => text.trim_matches(JSON_WHITESPACE),
            Err(error) => {
                return Parsed::Rejected(
                    Reject::NotUtf8,
                    format!(
                        "not valid UTF-8 (byte {} of the line); events must be UTF-8 JSON",
                        error.valid_up_to() + 1
                    ),
                );
            }
        };
        // Not blank (some byte is not ASCII whitespace), yet only whitespace: U+00A0,
        // U+2028, VT... A person would call it empty; JSON calls it invalid. Neither is
        // an event, and the operator should see it.
        if let Some(first) = text
            .chars()
            .next()
            .filter(|_| text.chars().all(char::is_whitespace))
        {
            return Parsed::Rejected(
                Reject::NotJson,
                format!(
                    "a line of only whitespace (U+{:04X} first) is not an event; JSON's whitespace is space, tab, CR and LF",
                    u32::from(first)
                ),
            );
        }
        let scanned = match scan::scan(text, &self.wanted, self.max_depth) {
            Ok(scanned) => scanned,
            Err(error) => {
                let (kind, reason) = self.describe_json_error(text, &error);
                return Parsed::Rejected(kind, reason);
            }
        };
        // A key written twice keeps its last value: the event as it is kept is what the
        // time fields and policies see, read again from it (a `search` of the first
        // value, or `actor.id` inside an `actor` written over, would judge text no one
        // receives).
        let (normalized, scanned) = match scanned.has_duplicate_keys {
            true => {
                let normalized = normalize::dedupe_keys(text).and_then(|normalized| {
                    let scanned = scan::scan(&normalized, &self.wanted, self.max_depth)?;
                    Ok((normalized, scanned))
                });
                match normalized {
                    Ok((normalized, scanned)) => (Some(normalized), scanned),
                    Err(error) => {
                        return Parsed::Rejected(
                            Reject::NotJson,
                            format!("cannot normalize repeated keys: {error}"),
                        );
                    }
                }
            }
            false => (None, scanned),
        };
        // The first field in the configured order that holds a time; one that is null
        // or garbage gives way to the next.
        let times = || {
            self.time_fields
                .iter()
                .filter_map(|field| field.value(&scanned.captured))
        };
        let latest_ms = now_ms.saturating_add(self.bounds.max_future_ms);
        let parsed_time = times().find_map(|value| {
            time::parse(value).filter(|ms| (self.bounds.earliest_ms..=latest_ms).contains(ms))
        });
        let time_ms = parsed_time.unwrap_or(now_ms);
        let time_unparsed = parsed_time.is_none() && times().next().is_some();
        let kept = normalized.as_deref().unwrap_or(text);
        let event = Event {
            json: kept,
            time_ms,
        };
        if let Some(unkept) = self.filtering(&scanned.captured, &event, time_unparsed) {
            return unkept;
        }
        let offset = chunk.data.len();
        chunk.data.push_str(kept);
        let json = &chunk.data[offset..];
        chunk.events.push(EventMeta {
            offset: offset as u32,
            len: json.len() as u32,
            time_ms,
            ingest_time: parsed_time.is_none(),
            id: xxhash_rust::xxh3::xxh3_128_with_seed(json.as_bytes(), id_seed),
        });
        Parsed::Event { time_unparsed }
    }

    /// What the filters make of `event`, whose captured fields are `captured`: the
    /// first that drops it, or the first that keeps it without fields it requires;
    /// `None` when every filter keeps it.
    fn filtering(
        &self,
        captured: &[Option<Captured>],
        event: &Event<'_>,
        time_unparsed: bool,
    ) -> Option<Parsed> {
        for (filter, (policy, values)) in self.filters.with_values(captured).enumerate() {
            if !policy.keeps(&values, event) {
                return Some(Parsed::Filtered {
                    filter,
                    time_unparsed,
                });
            }
            let fields: Vec<String> = policy.missing(&values).map(str::to_owned).collect();
            if !fields.is_empty() {
                return Some(Parsed::Unfit {
                    filter,
                    fields,
                    time_unparsed,
                });
            }
        }
        None
    }
}

impl LineParser {
    /// Why `text` is not an event, in plain words: serde_json says "invalid type:
    /// sequence, expected a JSON object", and "lone leading surrogate" of a trailing one.
    fn describe_json_error(&self, text: &str, error: &serde_json::Error) -> (Reject, String) {
        let message = error.to_string();
        let at = format!("line {} column {}", error.line(), error.column());
        if message.starts_with(scan::TOO_DEEP) {
            return (
                Reject::TooDeep,
                format!(
                    "an object or array nested deeper than events.max_depth ({}) allows, at {at}; raise it if such events are expected",
                    self.max_depth
                ),
            );
        }
        if message.contains("surrogate") {
            return (
                Reject::NotJson,
                format!(
                    "a \\u escape of a lone UTF-16 surrogate (U+D800 to U+DFFF without its pair) at {at}: it is no character, and I-JSON (RFC 7493) forbids it"
                ),
            );
        }
        let kind = match text.as_bytes().first().copied().unwrap_or_default() {
            b'[' => Some("an array"),
            b'"' => Some("a string"),
            b'-' | b'0'..=b'9' => Some("a number"),
            b't' | b'f' => Some("a boolean"),
            b'n' => Some("null"),
            _ => None,
        };
        match kind {
            Some(kind) if !error.is_syntax() && !error.is_eof() => (
                Reject::NotObject,
                format!("not a JSON object: the line is {kind}"),
            ),
            _ => (Reject::NotJson, format!("not valid JSON: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    /// A parser of `time_fields` that applies the policies written `policies`, in order.
    fn filtering(time_fields: &[&str], policies: &[&str]) -> LineParser {
        LineParser::with_filters(
            time_fields.iter().map(|&field| field.to_owned()).collect(),
            policies
                .iter()
                .map(|text| Arc::new(Policy::parse(text).unwrap()))
                .collect(),
            TimeBounds::default(),
            128,
        )
    }

    #[test]
    fn a_filter_decides_on_the_fields_it_names_before_the_event_is_kept() {
        let parser = filtering(
            &["ts"],
            &[
                "[keep]\nall = [{ field = \"sanitized_count\", gte = 1 }, { field = \"req.host\", eq = \"a.example\" }]\n",
            ],
        );
        let mut chunk = ChunkBuilder::default();
        let mut parse = |line: &str| parser.parse(line.as_bytes(), 0, 1_000, &mut chunk);
        assert_eq!(
            parse(r#"{"ts":5,"sanitized_count":2,"req":{"host":"a.example"}}"#),
            Parsed::Event {
                time_unparsed: false
            }
        );
        assert_eq!(
            parse(r#"{"ts":5,"sanitized_count":0,"req":{"host":"a.example"}}"#),
            Parsed::Filtered {
                filter: 0,
                time_unparsed: false
            }
        );
        assert_eq!(
            parse(r#"{"sanitized_count":3,"req":{"host":"b.example"}}"#),
            Parsed::Filtered {
                filter: 0,
                time_unparsed: false
            }
        );
        // A repeated key: the last value decides, as the host keeps it.
        assert_eq!(
            parse(r#"{"sanitized_count":0,"req":{"host":"a.example"},"sanitized_count":1}"#),
            Parsed::Event {
                time_unparsed: false
            }
        );
        assert_eq!(chunk.events.len(), 2, "dropped events are not appended");
        assert_eq!(
            chunk.events[0].time_ms, 5_000,
            "the time field is still read"
        );
    }

    /// A hostile run hid `DELETE /users` from `drop = { search = "healthcheck" }` by
    /// writing the key twice: the policy searched the first value, the event kept the
    /// last.
    #[test]
    fn search_sees_the_event_as_it_is_kept_when_a_key_repeats() {
        let parser = filtering(&[], &["drop = { search = \"healthcheck\" }"]);
        let mut chunk = ChunkBuilder::default();
        let mut parse = |line: &str| parser.parse(line.as_bytes(), 0, 1_000, &mut chunk);
        assert!(matches!(
            parse(r#"{"msg":"healthcheck","o":{"m":"healthcheck","m":"x"},"msg":"DELETE /users"}"#),
            Parsed::Event { .. }
        ));
        assert_eq!(
            parse(r#"{"msg":"DELETE /users","msg":"healthcheck"}"#),
            Parsed::Filtered {
                filter: 0,
                time_unparsed: false
            }
        );
        assert_eq!(chunk.events.len(), 1);
        assert_eq!(
            chunk.events[0].json_in(&chunk.data),
            r#"{"msg":"DELETE /users","o":{"m":"x"}}"#
        );
    }

    use super::*;

    /// The ingest time of the tests: 2027-01-15.
    const NOW: i64 = 1_800_000_000_000;

    fn parse(line: &str) -> (Parsed, ChunkBuilder) {
        let mut chunk = ChunkBuilder::default();
        let parser = LineParser::new(
            vec!["timestamp".into(), "occurred_at_ms".into()],
            TimeBounds::default(),
            128,
        );
        (parser.parse(line.as_bytes(), 7, NOW, &mut chunk), chunk)
    }

    #[test]
    fn blank_lines_are_skipped() {
        assert_eq!(parse("").0, Parsed::Blank);
        assert_eq!(parse("  \t ").0, Parsed::Blank);
        assert_eq!(parse("\r").0, Parsed::Blank);
    }

    #[test]
    fn lines_of_other_whitespace_are_rejected_not_skipped() {
        for line in [
            "\u{a0}",
            " \u{2028}\u{2029} ",
            "\u{3000}",
            "\u{85}",
            "\u{b}",
            "\t\u{1680}\u{2000}\u{205f}",
        ] {
            let Parsed::Rejected(_, reason) = parse(line).0 else {
                panic!("{line:?} was not rejected")
            };
            assert!(
                reason.starts_with("a line of only whitespace (U+"),
                "{reason}"
            );
        }
        assert_eq!(
            parse("\u{a0}{\"a\":1}").0,
            Parsed::Rejected(
                Reject::NotJson,
                "not valid JSON: expected value at line 1 column 1".into()
            ),
            "U+00A0 is not whitespace around JSON"
        );
    }

    #[test]
    fn bom_and_crlf_are_dropped() {
        let (parsed, chunk) = parse("\u{feff}{\"a\":1}\r");
        assert_eq!(
            parsed,
            Parsed::Event {
                time_unparsed: false
            }
        );
        assert_eq!(chunk.data, "{\"a\":1}");
        assert!(chunk.events[0].ingest_time);
        assert_eq!(chunk.events[0].time_ms, NOW);
    }

    #[test]
    fn non_objects_are_rejected_with_a_reason() {
        assert_eq!(
            parse("[1, 2, 3]").0,
            Parsed::Rejected(
                Reject::NotObject,
                "not a JSON object: the line is an array".into()
            )
        );
        assert_eq!(
            parse("\"just a string\"").0,
            Parsed::Rejected(
                Reject::NotObject,
                "not a JSON object: the line is a string".into()
            )
        );
        let Parsed::Rejected(_, reason) = parse("{\"action\": \"this line is cut").0 else {
            panic!()
        };
        assert!(
            reason.starts_with("not valid JSON: EOF while parsing a string"),
            "{reason}"
        );
        let Parsed::Rejected(_, reason) = ({
            let mut chunk = ChunkBuilder::default();
            LineParser::new(vec![], TimeBounds::default(), 128).parse(
                b"{\"a\": \"bad \xff byte\"}",
                0,
                0,
                &mut chunk,
            )
        }) else {
            panic!()
        };
        assert_eq!(
            reason,
            "not valid UTF-8 (byte 12 of the line); events must be UTF-8 JSON"
        );
    }

    #[test]
    fn time_fields_in_order_of_preference() {
        let (_, chunk) = parse(r#"{"occurred_at_ms": 1795161600562, "x": 1}"#);
        assert_eq!(
            (chunk.events[0].time_ms, chunk.events[0].ingest_time),
            (1_795_161_600_562, false)
        );
        let (parsed, chunk) = parse(r#"{"timestamp": null, "occurred_at_ms": 1795161600562}"#);
        assert_eq!(
            (parsed, chunk.events[0].time_ms),
            (
                Parsed::Event {
                    time_unparsed: false
                },
                1_795_161_600_562
            ),
            "a field without a time gives way to the next"
        );
        let (_, chunk) =
            parse(r#"{"occurred_at_ms": 1795161600562, "timestamp": "2026-01-01T00:00:00Z"}"#);
        assert_eq!(
            chunk.events[0].time_ms, 1_767_225_600_000,
            "the configured order, not the line's"
        );
        let (parsed, chunk) = parse(r#"{"timestamp": "not a date"}"#);
        assert_eq!(
            parsed,
            Parsed::Event {
                time_unparsed: true
            }
        );
        assert_eq!(
            chunk.data, r#"{"timestamp": "not a date"}"#,
            "the original value is kept"
        );
    }

    /// Each field had one slot per place it was named: a time field a policy also read
    /// lost its value (every event took the ingest time), and of two policies reading
    /// one field the first saw it missing.
    #[test]
    fn a_field_named_by_the_time_fields_and_by_policies_is_read_for_each() {
        let parser = filtering(
            &["ts", "event.created", "ts"],
            &[
                "[drop]\nfield = \"ts\"\nlt = 3",
                "[require]\nfields = [\"tenant\", \"actor.id\"]",
                "[keep]\nfield = \"tenant\"\nne = \"other\"",
            ],
        );
        let mut chunk = ChunkBuilder::default();
        let now = 1_800_000_000_000;
        let mut parse = |line: &str| parser.parse(line.as_bytes(), 0, now, &mut chunk);
        let kept = r#"{"ts":1763625603,"tenant":"t","actor":{"id":"a"}}"#;
        assert_eq!(
            parse(kept),
            Parsed::Event {
                time_unparsed: false
            }
        );
        assert_eq!(
            parse(r#"{"ts":1,"tenant":"t","actor":{"id":"a"}}"#),
            Parsed::Filtered {
                filter: 0,
                time_unparsed: false
            }
        );
        assert_eq!(
            parse(r#"{"ts":1763625603,"tenant":"other","actor":{"id":"a"}}"#),
            Parsed::Filtered {
                filter: 2,
                time_unparsed: false
            }
        );
        // A dotted name is first one key of the top level, then a path, as modules read
        // a field; so for a time field.
        let dotted = r#"{"event":{"created":"2026-01-01T00:00:00Z"},"tenant":"t","actor.id":"a"}"#;
        assert_eq!(
            parse(dotted),
            Parsed::Event {
                time_unparsed: false
            }
        );
        assert_eq!(
            parse(r#"{"ts":1763625603,"tenant":"t","actor.id":null,"actor":{"id":"a"}}"#),
            Parsed::Unfit {
                filter: 1,
                fields: vec!["actor.id".into()],
                time_unparsed: false
            },
            "the top level's key first, null as it is"
        );
        let times: Vec<(i64, bool)> = chunk
            .events
            .iter()
            .map(|e| (e.time_ms, e.ingest_time))
            .collect();
        assert_eq!(
            times,
            [(1_763_625_603_000, false), (1_767_225_600_000, false)]
        );
    }

    /// From a hostile run: a path through a key written twice read the object written
    /// over, which the event as kept no longer holds.
    #[test]
    fn a_path_through_a_repeated_key_reads_the_event_as_kept() {
        let parser = filtering(
            &["meta.ts", "timestamp"],
            &[
                "[drop]\nfield = \"actor.id\"\neq = \"admin\"",
                "[require]\nfields = [\"tenant.id\"]",
            ],
        );
        let mut chunk = ChunkBuilder::default();
        let now = 1_800_000_000_000;
        let mut parse = |line: &str| parser.parse(line.as_bytes(), 0, now, &mut chunk);
        let kept = Parsed::Event {
            time_unparsed: false,
        };
        assert_eq!(
            parse(r#"{"actor":{"id":"admin"},"actor":"bob","tenant":{"id":"t"}}"#),
            kept
        );
        assert_eq!(
            parse(
                r#"{"meta":{"ts":"2020-01-01T00:00:00Z"},"meta":"none","timestamp":"2026-11-20T08:00:00Z","tenant":{"id":"t"}}"#
            ),
            kept
        );
        assert_eq!(
            parse(r#"{"tenant":{"id":"t"},"tenant":{}}"#),
            Parsed::Unfit {
                filter: 1,
                fields: vec!["tenant.id".into()],
                time_unparsed: false
            }
        );
        let times: Vec<i64> = chunk.events.iter().map(|e| e.time_ms).collect();
        assert_eq!(times, [now, 1_795_161_600_000]);
    }

    #[test]
    fn repeated_keys_keep_the_last_value_and_numbers_stay_exact() {
        let (_, chunk) =
            parse(r#"{"action": "first", "n": 18446744073709551615, "action": "second"}"#);
        assert_eq!(
            chunk.data,
            r#"{"action":"second","n":18446744073709551615}"#
        );
        let (_, chunk) = parse(r#"{"n_float": 1.5e+300, "n_neg": -9007199254740993}"#);
        assert_eq!(
            chunk.data,
            r#"{"n_float": 1.5e+300, "n_neg": -9007199254740993}"#
        );
    }

    #[test]
    fn ids_are_stable_and_depend_on_origin() {
        let id = |seed| {
            let mut chunk = ChunkBuilder::default();
            LineParser::new(vec![], TimeBounds::default(), 128).parse(
                b"{\"a\":1}",
                seed,
                0,
                &mut chunk,
            );
            chunk.events[0].id
        };
        assert_eq!(id(1), id(1));
        assert_ne!(id(1), id(2));
    }
}

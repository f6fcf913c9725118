//! Filter policies: which events a destination is sent, as declarative rules in TOML,
//! compiled once and evaluated on the few fields they name.
//!
//! ```toml
//! # Keep an event only when this holds (no [keep]: every event)...
//! [keep]
//! all = [
//!   { field = "sanitized_count", gte = 1 },
//!   { field = "host", in = ["api.openai.com", "api.anthropic.com"] },
//! ]
//! # ...and drop it when this holds.
//! [drop]
//! any = [
//!   { field = "path", in = ["/health", "/metrics"] },
//!   { field = "user.email", glob = "*@example.test", case_insensitive = true },
//! ]
//! ```
//!
//! A global policy (`[[filters]]`) may also route: the first `[[route]]` whose `when`
//! holds (no `when`: always) sends the event to its `to` destinations only; an event no
//! route matches goes to every destination that takes its source.
//!
//! ```toml
//! [[route]]
//! when = { field = "tenant", eq = "acme" }
//! to = ["splunk-acme"]
//! ```
//!
//! A condition is `all = [...]`, `any = [...]`, `not = {...}`, a test of one field
//! (a dotted path into nested objects): `eq`, `ne`, `in`, `not_in`, `prefix`, `suffix`,
//! `contains`, `glob`, `regex`, `exists`, `gt`, `gte`, `lt`, `lte`, with
//! `case_insensitive` for the text tests; or a test of the whole event: `after` and
//! `before` its time (RFC 3339, or relative to when the policy was compiled: `"-24h"`),
//! `search` its string values. A missing field, or one of another type than the test
//! wants, makes the test false (and `ne`, `not_in` true), never an error. Nesting is
//! bounded by [`MAX_DEPTH`].
//!
//! `[require] fields = [...]`: an event the policy keeps without one of these fields
//! (absent, null or empty) is not an event to export: the reader dead-letters it.
//!
//! The policy names its fields ([`Policy::paths`]); the reader captures exactly those
//! while it validates each line, and [`Policy::keeps`] decides on them: no value tree
//! is built per event (`search` parses an event only when its text holds the words, or
//! escapes that could hide them).

use std::borrow::Cow;
use std::collections::HashSet;

use globset::{Glob, GlobMatcher};
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

/// How deep `all`, `any` and `not` may nest.
pub const MAX_DEPTH: usize = 16;

/// The longest words `search` takes: a case-insensitive search of longer ones costs
/// more per event than the rest of the pipeline.
const MAX_SEARCH_CHARS: usize = 1024;

/// A field's value as the reader captured it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Text(Cow<'a, str>),
    Number(Number),
    Bool(bool),
    Null,
    /// An object or an array: present, but nothing a test compares.
    Other,
}

/// A number as the event wrote it: an integer compares exactly (ids past 2^53 differ),
/// and an integer with a float by value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Integer(i128),
    Float(f64),
}

impl Number {
    fn compare(self, other: Number) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Number::Integer(a), Number::Integer(b)) => Some(a.cmp(&b)),
            (Number::Float(a), Number::Float(b)) => a.partial_cmp(&b),
            (Number::Integer(a), Number::Float(b)) => integer_with_float(a, b),
            (Number::Float(a), Number::Integer(b)) => integer_with_float(b, a).map(|o| o.reverse()),
        }
    }
}

/// `integer` against `float`, exactly: neither is rounded to the other's type.
fn integer_with_float(integer: i128, float: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::{Greater, Less};
    // 2^127: past it, the float is beyond every i128.
    const BOUND: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if float.is_nan() {
        return None;
    }
    if float >= BOUND {
        return Some(Less);
    }
    if float < -BOUND {
        return Some(Greater);
    }
    let whole = float.trunc();
    match integer.cmp(&(whole as i128)) {
        std::cmp::Ordering::Equal => 0.0f64.partial_cmp(&(float - whole)),
        unequal => Some(unequal),
    }
}

/// What a policy sees of an event besides the fields it names.
#[derive(Debug, Clone, Copy)]
pub struct Event<'e> {
    /// The event's JSON text, for `search`.
    pub json: &'e str,
    /// The event's time in milliseconds since the epoch (its own, or when it was read
    /// when it has none), for `after` and `before`.
    pub time_ms: i64,
}

/// A compiled policy.
#[derive(Debug)]
pub struct Policy {
    keep: Option<Condition>,
    drop: Option<Condition>,
    routes: Vec<Route>,
    /// `[require] fields`: indexes into `paths`, with the names as written.
    required: Vec<(usize, String)>,
    /// The fields the policy reads, each a dotted path split at its dots; a test names
    /// one by its index here.
    paths: Vec<Vec<String>>,
}

/// `[[route]]`: where the events `when` holds go (and nowhere else).
#[derive(Debug)]
struct Route {
    when: Option<Condition>,
    to: Vec<String>,
}

#[derive(Debug)]
enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test {
        field: usize,
        test: Test,
    },
    /// The event's time is at or after this (ms since the epoch).
    After(i64),
    /// The event's time is before this.
    Before(i64),
    Search(Search),
}

/// `search`: the words in one of the event's string values.
#[derive(Debug)]
struct Search {
    words: Words,
    /// The words hold a character JSON may write as a two-character escape (`\"`,
    /// `\\`, `\/`, a control character), so an event with any escape is parsed.
    escapable: bool,
}

impl Search {
    fn new(words: &str, fold: bool) -> Result<Search, String> {
        if words.is_empty() || words.chars().count() > MAX_SEARCH_CHARS {
            return Err(format!(
                "`search` takes 1 to {MAX_SEARCH_CHARS} characters to look for"
            ));
        }
        let pattern = match fold {
            false => Words::Exact(Box::new(
                memchr::memmem::Finder::new(words.as_bytes()).into_owned(),
            )),
            true => Words::Folded(
                regex::RegexBuilder::new(&regex::escape(words))
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("search `{words}`: {e}"))?,
            ),
        };
        Ok(Search {
            words: pattern,
            escapable: words
                .chars()
                .any(|c| matches!(c, '"' | '\\' | '/') || c.is_control()),
        })
    }

    /// Whether one of `json`'s string values holds the words. The text is searched
    /// first; the event is parsed only to confirm a match (it may be in a key) or when
    /// an escape could hide the words (`\u0061dmin` spells `admin`).
    fn found_in(&self, json: &str) -> bool {
        let hidden = json.contains("\\u") || (self.escapable && json.contains('\\'));
        if !hidden && !self.words.in_text(json) {
            return false;
        }
        self.in_values(json)
    }

    /// Whether one of the string values of `json` (an event the reader accepted: valid
    /// JSON) holds the words. Walks the text once: a string after `{` or `,` inside an
    /// object is a key and skipped; a value without escapes is searched where it lies,
    /// one with escapes once unescaped.
    fn in_values(&self, json: &str) -> bool {
        let bytes = json.as_bytes();
        // For each container open, whether it is an object.
        let mut objects: Vec<bool> = Vec::with_capacity(8);
        let mut key_next = false;
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'{' => {
                    objects.push(true);
                    key_next = true;
                }
                b'[' => {
                    objects.push(false);
                    key_next = false;
                }
                b'}' | b']' => {
                    objects.pop();
                }
                b',' => key_next = objects.last() == Some(&true),
                b':' => key_next = false,
                b'"' => {
                    let Some((end, escaped)) = string_end(bytes, at + 1) else {
                        return false;
                    };
                    if !key_next {
                        let found = match escaped {
                            false => self.words.in_text(&json[at + 1..end]),
                            true => serde_json::from_str::<String>(&json[at..=end])
                                .is_ok_and(|text| self.words.in_text(&text)),
                        };
                        if found {
                            return true;
                        }
                    }
                    at = end;
                }
                _ => {}
            }
            at += 1;
        }
        false
    }
}

/// The words `search` looks for: a substring search (memchr's, a fraction of a regex
/// call's cost on the short values of an event), or a pattern that folds case.
#[derive(Debug)]
enum Words {
    Exact(Box<memchr::memmem::Finder<'static>>),
    Folded(Regex),
}

impl Words {
    fn in_text(&self, text: &str) -> bool {
        match self {
            Words::Exact(finder) => finder.find(text.as_bytes()).is_some(),
            Words::Folded(pattern) => pattern.is_match(text),
        }
    }
}

/// Where the string whose text starts at `from` ends (its closing quote), and whether it
/// holds an escape; `None` when it does not end.
fn string_end(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    let mut escaped = false;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        match bytes[at] {
            b'"' => return Some((at, escaped)),
            _ => {
                escaped = true;
                at += 2;
            }
        }
    }
}

#[derive(Debug)]
enum Test {
    Eq(Literal),
    Ne(Literal),
    In(OneOf),
    NotIn(OneOf),
    /// The text, and whether the value is folded to lowercase first.
    Prefix(String, bool),
    Suffix(String, bool),
    Contains(String, bool),
    Glob(GlobMatcher),
    Regex(Regex),
    Exists(bool),
    Compare(Ordering, Number),
}

/// The values of `in` and `not_in`: texts looked up in a set (folded to lowercase for a
/// case-insensitive test), the other values compared in turn.
#[derive(Debug)]
struct OneOf {
    texts: HashSet<String>,
    fold: bool,
    others: Vec<Literal>,
}

impl OneOf {
    fn new(literals: Vec<Literal>, fold: bool) -> Self {
        let mut texts = HashSet::new();
        let mut others = Vec::new();
        for literal in literals {
            match literal {
                Literal::Text(text, _) => {
                    texts.insert(text);
                }
                other => others.push(other),
            }
        }
        OneOf {
            texts,
            fold,
            others,
        }
    }

    fn holds(&self, value: Option<&Value<'_>>) -> bool {
        match value {
            Some(Value::Text(text)) => self.texts.contains(folded(text, self.fold).as_ref()),
            value => self.others.iter().any(|literal| literal.matches(value)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Ordering {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// A value a policy compares with; text already folded to lowercase for a
/// case-insensitive test.
#[derive(Debug, PartialEq)]
enum Literal {
    Text(String, bool),
    Number(Number),
    Bool(bool),
}

impl Policy {
    /// Compiles a policy; the error says what is wrong and where (line and column).
    /// Relative times (`after = "-24h"`) count from now.
    pub fn parse(text: &str) -> Result<Policy, String> {
        Policy::parse_at(text, jiff::Timestamp::now())
    }

    /// [`Policy::parse`], relative times counting from `now`.
    pub fn parse_at(text: &str, now: jiff::Timestamp) -> Result<Policy, String> {
        // One line, with where: the error of a policy reloaded goes to one log line.
        let file: PolicyFile = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => format!("{}: {}", position(text, span.start), e.message().trim()),
            None => e.message().trim().to_owned(),
        })?;
        let mut compiler = Compiler {
            text,
            paths: Vec::new(),
            now,
        };
        let keep = file
            .keep
            .map(|condition| compiler.condition(&condition, "keep", 0))
            .transpose()?;
        let drop = file
            .drop
            .map(|condition| compiler.condition(&condition, "drop", 0))
            .transpose()?;
        let routes = file
            .route
            .iter()
            .enumerate()
            .map(|(i, route)| compiler.route(route, i))
            .collect::<Result<_, _>>()?;
        let required = match &file.require {
            Some(require) => compiler.required(require)?,
            None => Vec::new(),
        };
        Ok(Policy {
            keep,
            drop,
            routes,
            required,
            paths: compiler.paths,
        })
    }

    /// The fields the policy reads; `keeps` takes their values in this order.
    pub fn paths(&self) -> &[Vec<String>] {
        &self.paths
    }

    /// Whether `event`, whose fields (in [`Policy::paths`] order; `None` when absent)
    /// are `values`, is kept.
    pub fn keeps(&self, values: &[Option<Value<'_>>], event: &Event<'_>) -> bool {
        let holds = |condition: &Option<Condition>| {
            condition
                .as_ref()
                .map(|condition| condition.holds(values, event))
        };
        holds(&self.keep).unwrap_or(true) && !holds(&self.drop).unwrap_or(false)
    }

    /// Whether the policy requires fields (`[require]`).
    pub fn requires(&self) -> bool {
        !self.required.is_empty()
    }

    /// The `[require]` fields missing from an event whose fields are `values` (absent,
    /// null, or empty text), in the policy's order.
    pub fn missing<'a>(
        &'a self,
        values: &'a [Option<Value<'_>>],
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.required
            .iter()
            .filter(|(field, _)| match &values[*field] {
                None | Some(Value::Null) => true,
                Some(Value::Text(text)) => text.is_empty(),
                Some(_) => false,
            })
            .map(|(_, name)| name.as_str())
    }

    /// Whether the policy routes at all.
    pub fn routes(&self) -> bool {
        !self.routes.is_empty()
    }

    /// The destinations named by `[[route]]` tables, each once, in their order.
    pub fn route_targets(&self) -> Vec<&str> {
        let mut targets: Vec<&str> = Vec::new();
        for name in self.routes.iter().flat_map(|route| &route.to) {
            if !targets.contains(&name.as_str()) {
                targets.push(name);
            }
        }
        targets
    }

    /// The destinations of the first route whose `when` holds for `event` (its fields
    /// `values`); none when no route matches (the event goes everywhere).
    pub fn route(&self, values: &[Option<Value<'_>>], event: &Event<'_>) -> Option<&[String]> {
        self.routes
            .iter()
            .find(|route| {
                route
                    .when
                    .as_ref()
                    .is_none_or(|when| when.holds(values, event))
            })
            .map(|route| route.to.as_slice())
    }
}

impl Condition {
    fn holds(&self, values: &[Option<Value<'_>>], event: &Event<'_>) -> bool {
        match self {
            Condition::All(conditions) => conditions.iter().all(|c| c.holds(values, event)),
            Condition::Any(conditions) => conditions.iter().any(|c| c.holds(values, event)),
            Condition::Not(condition) => !condition.holds(values, event),
            Condition::Test { field, test } => test.holds(values[*field].as_ref()),
            Condition::After(bound) => event.time_ms >= *bound,
            Condition::Before(bound) => event.time_ms < *bound,
            Condition::Search(search) => search.found_in(event.json),
        }
    }
}

impl Test {
    fn holds(&self, value: Option<&Value<'_>>) -> bool {
        match self {
            Test::Exists(wanted) => value.is_some() == *wanted,
            Test::Ne(literal) => !literal.matches(value),
            Test::NotIn(one_of) => !one_of.holds(value),
            Test::Eq(literal) => literal.matches(value),
            Test::In(one_of) => one_of.holds(value),
            Test::Prefix(prefix, fold) => {
                text(value, *fold).is_some_and(|t| t.starts_with(prefix.as_str()))
            }
            Test::Suffix(suffix, fold) => {
                text(value, *fold).is_some_and(|t| t.ends_with(suffix.as_str()))
            }
            Test::Contains(part, fold) => {
                text(value, *fold).is_some_and(|t| t.contains(part.as_str()))
            }
            Test::Glob(glob) => text(value, false).is_some_and(|t| glob.is_match(t.as_ref())),
            Test::Regex(regex) => text(value, false).is_some_and(|t| regex.is_match(&t)),
            Test::Compare(ordering, bound) => match value {
                Some(Value::Number(n)) => n.compare(*bound).is_some_and(|o| match ordering {
                    Ordering::Gt => o.is_gt(),
                    Ordering::Gte => o.is_ge(),
                    Ordering::Lt => o.is_lt(),
                    Ordering::Lte => o.is_le(),
                }),
                _ => false,
            },
        }
    }
}

/// The text of a text value, folded to lowercase when `fold`.
fn text<'v>(value: Option<&'v Value<'_>>, fold: bool) -> Option<Cow<'v, str>> {
    match value {
        Some(Value::Text(text)) => Some(folded(text, fold)),
        _ => None,
    }
}

/// `text` folded to lowercase when `fold`: a copy only when folding changes it (ASCII
/// text without capitals, nearly every value, is taken as it is).
fn folded(text: &str, fold: bool) -> Cow<'_, str> {
    let unchanged = !fold || (text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()));
    match unchanged {
        true => Cow::Borrowed(text),
        false => Cow::Owned(text.to_lowercase()),
    }
}

impl Literal {
    fn matches(&self, value: Option<&Value<'_>>) -> bool {
        match (self, value) {
            (Literal::Text(expected, fold), Some(Value::Text(text))) => {
                folded(text, *fold) == expected.as_str()
            }
            (Literal::Number(expected), Some(Value::Number(n))) => {
                n.compare(*expected).is_some_and(|o| o.is_eq())
            }
            (Literal::Bool(expected), Some(Value::Bool(b))) => b == expected,
            _ => false,
        }
    }
}

/// A policy file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    keep: Option<Spanned<RawCondition>>,
    drop: Option<Spanned<RawCondition>>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    require: Option<Spanned<RawRequire>>,
}

/// `[require]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequire {
    fields: Vec<String>,
}

/// A `[[route]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    when: Option<Spanned<RawCondition>>,
    to: Vec<String>,
}

/// A condition as written: exactly one of `all`, `any`, `not`, `field` (with one test),
/// `after`, `before` and `search`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    all: Option<Vec<Spanned<RawCondition>>>,
    any: Option<Vec<Spanned<RawCondition>>>,
    not: Option<Box<Spanned<RawCondition>>>,
    field: Option<String>,
    eq: Option<toml::Value>,
    ne: Option<toml::Value>,
    #[serde(rename = "in")]
    in_: Option<Vec<toml::Value>>,
    not_in: Option<Vec<toml::Value>>,
    prefix: Option<String>,
    suffix: Option<String>,
    contains: Option<String>,
    glob: Option<String>,
    regex: Option<String>,
    exists: Option<bool>,
    gt: Option<toml::Value>,
    gte: Option<toml::Value>,
    lt: Option<toml::Value>,
    lte: Option<toml::Value>,
    after: Option<String>,
    before: Option<String>,
    search: Option<String>,
    #[serde(default)]
    case_insensitive: bool,
}

struct Compiler<'t> {
    text: &'t str,
    paths: Vec<Vec<String>>,
    /// What relative times count from.
    now: jiff::Timestamp,
}

impl Compiler<'_> {
    fn condition(
        &mut self,
        spanned: &Spanned<RawCondition>,
        at: &str,
        depth: usize,
    ) -> Result<Condition, String> {
        let fail = |problem: String| Err(format!("{at} ({}): {problem}", self.position(spanned)));
        if depth >= MAX_DEPTH {
            return fail(format!("conditions nest deeper than {MAX_DEPTH}"));
        }
        let raw = spanned.get_ref();
        let kinds = [
            raw.all.is_some(),
            raw.any.is_some(),
            raw.not.is_some(),
            raw.field.is_some(),
            raw.after.is_some(),
            raw.before.is_some(),
            raw.search.is_some(),
        ];
        if kinds.iter().filter(|&&given| given).count() != 1 {
            return fail(
                "give exactly one of `all`, `any`, `not`, `field`, `after`, `before` and `search`"
                    .into(),
            );
        }
        let list = |compiler: &mut Self, items: &[Spanned<RawCondition>], name: &str| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| compiler.condition(item, &format!("{at}.{name}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()
        };
        if let Some(items) = &raw.all {
            return Ok(Condition::All(list(self, items, "all")?));
        }
        if let Some(items) = &raw.any {
            return Ok(Condition::Any(list(self, items, "any")?));
        }
        if let Some(inner) = &raw.not {
            let inner = self.condition(inner, &format!("{at}.not"), depth + 1)?;
            return Ok(Condition::Not(Box::new(inner)));
        }
        let whole_event = match (&raw.after, &raw.before, &raw.search) {
            (Some(time), _, _) => Some(instant(time, "after", self.now).map(Condition::After)),
            (_, Some(time), _) => Some(instant(time, "before", self.now).map(Condition::Before)),
            (_, _, Some(words)) => {
                Some(Search::new(words, raw.case_insensitive).map(Condition::Search))
            }
            _ => None,
        };
        if let Some(condition) = whole_event {
            if self.test(raw).is_ok() {
                return fail(
                    "`after`, `before` and `search` test the whole event: no field test beside them"
                        .into(),
                );
            }
            return condition.or_else(fail);
        }
        let field = raw.field.as_deref().expect("counted above");
        if field.is_empty() || field.split('.').any(str::is_empty) {
            return fail(format!(
                "`{field}` is not a field path (such as `actor.id`)"
            ));
        }
        let test = match self.test(raw) {
            Ok(test) => test,
            Err(problem) => return fail(problem),
        };
        Ok(Condition::Test {
            field: self.path_index(field),
            test,
        })
    }

    fn route(&mut self, spanned: &Spanned<RawRoute>, index: usize) -> Result<Route, String> {
        let at = format!("route[{index}]");
        let raw = spanned.get_ref();
        if raw.to.is_empty() || raw.to.iter().any(String::is_empty) {
            return Err(format!(
                "{at} ({}): `to` names one destination or more",
                self.position(spanned)
            ));
        }
        let when = raw
            .when
            .as_ref()
            .map(|when| self.condition(when, &format!("{at}.when"), 0))
            .transpose()?;
        Ok(Route {
            when,
            to: raw.to.clone(),
        })
    }

    fn test(&self, raw: &RawCondition) -> Result<Test, String> {
        let folding = raw.case_insensitive;
        let fold = |text: &str| match folding {
            true => text.to_lowercase(),
            false => text.to_owned(),
        };
        let literal = |value: &toml::Value| -> Result<Literal, String> {
            match value {
                toml::Value::String(text) => Ok(Literal::Text(fold(text), folding)),
                toml::Value::Integer(n) => Ok(Literal::Number(Number::Integer((*n).into()))),
                toml::Value::Float(x) => Ok(Literal::Number(Number::Float(*x))),
                toml::Value::Boolean(b) => Ok(Literal::Bool(*b)),
                other => Err(format!(
                    "a {} is not a value to compare with",
                    other.type_str()
                )),
            }
        };
        let number = |value: &toml::Value| -> Result<Number, String> {
            match value {
                toml::Value::Integer(n) => Ok(Number::Integer((*n).into())),
                toml::Value::Float(x) => Ok(Number::Float(*x)),
                other => Err(format!(
                    "`gt`, `gte`, `lt` and `lte` take a number, not a {}",
                    other.type_str()
                )),
            }
        };
        let mut tests = Vec::new();
        if let Some(value) = &raw.eq {
            tests.push(Test::Eq(literal(value)?));
        }
        if let Some(value) = &raw.ne {
            tests.push(Test::Ne(literal(value)?));
        }
        if let Some(values) = &raw.in_ {
            let literals = values.iter().map(literal).collect::<Result<_, _>>()?;
            tests.push(Test::In(OneOf::new(literals, folding)));
        }
        if let Some(values) = &raw.not_in {
            let literals = values.iter().map(literal).collect::<Result<_, _>>()?;
            tests.push(Test::NotIn(OneOf::new(literals, folding)));
        }
        if let Some(prefix) = &raw.prefix {
            tests.push(Test::Prefix(fold(prefix), folding));
        }
        if let Some(suffix) = &raw.suffix {
            tests.push(Test::Suffix(fold(suffix), folding));
        }
        if let Some(part) = &raw.contains {
            tests.push(Test::Contains(fold(part), folding));
        }
        if let Some(pattern) = &raw.glob {
            let glob: Glob = globset::GlobBuilder::new(pattern)
                .case_insensitive(folding)
                .build()
                .map_err(|e| format!("glob `{pattern}`: {e}"))?;
            tests.push(Test::Glob(glob.compile_matcher()));
        }
        if let Some(pattern) = &raw.regex {
            let regex = regex::RegexBuilder::new(pattern)
                .case_insensitive(folding)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("regex `{pattern}`: {e}"))?;
            tests.push(Test::Regex(regex));
        }
        if let Some(wanted) = raw.exists {
            tests.push(Test::Exists(wanted));
        }
        for (value, ordering) in [
            (&raw.gt, Ordering::Gt),
            (&raw.gte, Ordering::Gte),
            (&raw.lt, Ordering::Lt),
            (&raw.lte, Ordering::Lte),
        ] {
            if let Some(value) = value {
                tests.push(Test::Compare(ordering, number(value)?));
            }
        }
        match tests.len() {
            1 => Ok(tests.pop().expect("one")),
            0 => Err("a field test needs one of eq, ne, in, not_in, prefix, suffix, contains, glob, regex, exists, gt, gte, lt, lte".into()),
            _ => Err("a field test has one test; combine several with `all` or `any`".into()),
        }
    }

    fn required(&mut self, spanned: &Spanned<RawRequire>) -> Result<Vec<(usize, String)>, String> {
        let fields = &spanned.get_ref().fields;
        let bad = fields
            .iter()
            .find(|field| field.is_empty() || field.split('.').any(str::is_empty));
        if fields.is_empty() || bad.is_some() {
            return Err(format!(
                "require ({}): `fields` names the fields every event must hold, as paths such as `tenant.id`{}",
                self.position(spanned),
                bad.map(|field| format!(" (not `{field}`)"))
                    .unwrap_or_default()
            ));
        }
        Ok(fields
            .iter()
            .map(|field| (self.path_index(field), field.clone()))
            .collect())
    }

    fn path_index(&mut self, field: &str) -> usize {
        let path: Vec<String> = field.split('.').map(str::to_owned).collect();
        match self.paths.iter().position(|known| *known == path) {
            Some(index) => index,
            None => {
                self.paths.push(path);
                self.paths.len() - 1
            }
        }
    }

    /// `line L, column C` of a condition in the policy's text.
    fn position<T>(&self, spanned: &Spanned<T>) -> String {
        position(self.text, spanned.span().start)
    }
}

/// `text` for an error message: its first 80 characters.
/// A time as policies and `sluice export` take it: RFC 3339, `now`, or a span back from
/// `now` (`"-24h"`, `"-7d"`, `"-1h30m"`); in milliseconds since the epoch. `name` is what the
/// error calls it.
pub fn instant(text: &str, name: &str, now: jiff::Timestamp) -> Result<i64, String> {
    if text == "now" {
        return Ok(now.as_millisecond());
    }
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at.as_millisecond());
    }
    let span = text
        .parse::<jiff::Span>()
        .ok()
        .filter(|span| span.is_negative())
        .ok_or_else(|| {
            format!("`{name}` takes an RFC 3339 time (\"2026-01-31T00:00:00Z\"), `now`, or a span back from now (\"-24h\", \"-7d\"), not `{}`", shown(text))
        })?;
    // Days are 24 hours here: counted in UTC.
    now.to_zoned(jiff::tz::TimeZone::UTC)
        .checked_add(span)
        .map(|at| at.timestamp().as_millisecond())
        .map_err(|e| format!("`{name}` = `{text}`: {e}"))
}

fn shown(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(80) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// `line L, column C` of byte `at` of `text`.
fn position(text: &str, at: usize) -> String {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().count()
        - before
            .rfind('\n')
            .map_or(0, |nl| before[..=nl].chars().count())
        + 1;
    format!("line {line}, column {column}")
}

#[cfg(test)]
mod tests;

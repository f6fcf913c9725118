//! Subject templates: `audit.{tenant}.{actor.type}`, literal tokens and event fields.
//!
//! A field's value becomes one subject token: a subject is dot-separated names, so a
//! value could otherwise add tokens (`acme.eu`), a wildcard (`*`, `>`) or a space the
//! broker refuses. Every byte other than ASCII letters, digits, `-` and `_` becomes `_`,
//! the token is cut at 64 bytes, and a missing, null or empty value is `missing`.

use serde_json::Value;
use sluice_guest::FormatError;

/// The longest token a field's value makes.
const MAX_VALUE_TOKEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(String),
}

/// A parsed `subject` setting.
#[derive(Debug, Clone)]
pub struct SubjectTemplate {
    parts: Vec<Part>,
    missing: String,
}

impl SubjectTemplate {
    /// Parses `template`; `missing` stands for a field an event lacks.
    pub fn parse(template: &str, missing: &str) -> Result<Self, FormatError> {
        let problem = |why: &str| FormatError::setting("subject", format!("`{template}`: {why}"));
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| problem("a `{` without its `}`"))?;
            let field = &rest[open + 1..open + close];
            if field.split('.').any(str::is_empty) {
                return Err(problem(
                    "a placeholder names no field, or has an empty part (`{a..b}`)",
                ));
            }
            parts.push(Part::Field(field.to_owned()));
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err(problem("a `}` without its `{`"));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        if !missing
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || missing.is_empty()
        {
            return Err(FormatError::setting(
                "subject_missing",
                "letters, digits, `-` and `_` only, at least one",
            ));
        }
        let parsed = SubjectTemplate {
            parts,
            missing: missing.to_owned(),
        };
        // Every field as `x`: what is left must be a subject a message can go to.
        let sample = parsed.render(|_| Some(Value::from("x")));
        sluice_guest::check_subject(&sample).map_err(problem)?;
        Ok(parsed)
    }

    /// Whether the subject depends on the event.
    pub fn has_fields(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::Field(_)))
    }

    /// The subject of an event whose fields `field` reads.
    pub fn render(&self, field: impl Fn(&str) -> Option<Value>) -> String {
        let mut subject = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => subject.push_str(text),
                Part::Field(path) => self.push_token(&mut subject, field(path)),
            }
        }
        subject
    }

    /// The subjects the template makes, as a filter for `check --connect`: a token that
    /// is a placeholder alone is `*` (any value), one with literal text beside it takes
    /// the `missing` token.
    pub fn filter(&self) -> String {
        const FIELD: char = '\u{0}';
        let mut marked = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => marked.push_str(text),
                Part::Field(_) => marked.push(FIELD),
            }
        }
        marked
            .split('.')
            .map(|token| match token.chars().all(|c| c == FIELD) {
                true => "*".to_owned(),
                false => token.replace(FIELD, &self.missing),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    fn push_token(&self, subject: &mut String, value: Option<Value>) {
        let text = match &value {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if text.is_empty() {
            subject.push_str(&self.missing);
            return;
        }
        subject.extend(text.chars().take(MAX_VALUE_TOKEN).map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> SubjectTemplate {
        SubjectTemplate::parse(text, "unknown").unwrap()
    }

    #[test]
    fn fields_become_one_clean_token_each() {
        let subject = template("audit.{tenant}.{actor.type}");
        let event = serde_json::json!({"tenant": "acme.eu *>", "actor": {"type": "user"}});
        let read = |path: &str| {
            path.split('.')
                .try_fold(&event, |value, key| value.get(key))
                .cloned()
        };
        assert_eq!(subject.render(read), "audit.acme_eu___.user");
        assert_eq!(subject.render(|_| None), "audit.unknown.unknown");
        assert_eq!(
            subject.render(|_| Some(Value::from(12))),
            "audit.12.12",
            "a number is its text"
        );
        let long = subject.render(|_| Some(Value::from("é".repeat(100))));
        assert_eq!(long, format!("audit.{0}.{0}", "_".repeat(64)));
    }

    #[test]
    fn a_template_that_cannot_make_a_subject_is_a_setting_error() {
        for bad in [
            "audit.{tenant",
            "audit.}",
            "audit.{}",
            "audit.{a..b}",
            "audit..x",
            "audit.*",
            "a b",
            "",
        ] {
            assert!(
                SubjectTemplate::parse(bad, "unknown").is_err(),
                "{bad} was taken"
            );
        }
        assert!(SubjectTemplate::parse("audit.{t}", "un.known").is_err());
        assert_eq!(template("audit.{t}.x-{u}").filter(), "audit.*.x-unknown");
        assert!(!template("audit.events").has_fields());
        assert!(template("audit.{t}").has_fields());
    }
}

//! `object_name`: how an object store endpoint names the objects it writes, a template
//! over the write's time (UTC), the host, the run and a sequence.
//!
//! Objects are written once and never overwritten, so every name must be new: the
//! sequence counts the run's objects, and `{start}` (the run's start, to the second)
//! with `{run}` (eight random hex digits drawn at the start) tell runs apart, even two
//! of one host started in the same second. A template without `{seq}` is refused,
//! since two objects of a run would share a name.

/// Hourly partitions, as archives (and Athena's partition projection) read them best.
pub const DEFAULT_OBJECT_NAME: &str = "%Y/%m/%d/%H/{host}-{start}-{run}-{seq}";

/// Longest segment of a name (between `/`): what a directory takes.
const MAX_SEGMENT_BYTES: usize = 255;

/// Longest object name S3 takes, the prefix included.
pub const MAX_OBJECT_NAME_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// `%Y`, `%m`, `%d`, `%H`, `%M` or `%S` of the write's time.
    Time(char),
    /// The host's name, each byte outside `[A-Za-z0-9._-]` as `_`.
    Host,
    /// The run's start, `YYYYMMDDTHHMMSSZ`.
    Start,
    /// The run's random token.
    Run,
    /// The object's number in the run, from 1, at least six digits.
    Seq,
}

/// A parsed `object_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectName {
    parts: Vec<Part>,
}

/// What a name is made of, besides its template.
pub struct NameValues<'a> {
    pub time: &'a jiff::Timestamp,
    pub host: &'a str,
    pub start: &'a jiff::Timestamp,
    /// Eight hex digits drawn at the run's start.
    pub run: &'a str,
    pub seq: u64,
}

impl ObjectName {
    /// Parses `template`; the error says what in it is wrong.
    pub fn parse(template: &str) -> Result<ObjectName, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars();
        let flush = |text: &mut String, parts: &mut Vec<Part>| {
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(text)));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let field = chars.next();
                    match field {
                        Some(field @ ('Y' | 'm' | 'd' | 'H' | 'M' | 'S')) => {
                            flush(&mut text, &mut parts);
                            parts.push(Part::Time(field));
                        }
                        _ => {
                            return Err(format!(
                                "`%{}` is not a time field: use %Y, %m, %d, %H, %M or %S",
                                field.map(String::from).unwrap_or_default()
                            ));
                        }
                    }
                }
                '{' => {
                    let rest = chars.as_str();
                    let Some(end) = rest.find('}') else {
                        return Err(format!("`{{{rest}` is not closed"));
                    };
                    let name = &rest[..end];
                    chars = rest[end + 1..].chars();
                    let part = match name {
                        "host" => Part::Host,
                        "start" => Part::Start,
                        "run" => Part::Run,
                        "seq" => Part::Seq,
                        other => {
                            return Err(format!(
                                "`{{{other}}}` is not a placeholder: use {{host}}, {{start}}, {{run}} or {{seq}}"
                            ));
                        }
                    };
                    flush(&mut text, &mut parts);
                    parts.push(part);
                }
                c if c.is_ascii_alphanumeric() || "!-_.*'()/=".contains(c) => text.push(c),
                c => {
                    return Err(format!(
                        "{c:?} may not be in an object name: use letters, digits and !-_.*'()/="
                    ));
                }
            }
        }
        flush(&mut text, &mut parts);
        if !parts.contains(&Part::Seq) {
            return Err("it has no {seq}: two objects of a run would have one name".into());
        }
        let name = ObjectName { parts };
        // A long host name, a sequence of ten digits and a suffix must still fit.
        let sample = name.render(&NameValues {
            time: &jiff::Timestamp::UNIX_EPOCH,
            host: &"h".repeat(64),
            start: &jiff::Timestamp::UNIX_EPOCH,
            run: "00000000",
            seq: 1_000_000_000,
        });
        if sample
            .split('/')
            .any(|segment| matches!(segment, "" | "." | ".."))
        {
            return Err(
                "a name may not start or end with `/`, hold `//`, or a `.` or `..` segment".into(),
            );
        }
        if sample.len() > MAX_OBJECT_NAME_BYTES / 2 {
            return Err(format!(
                "it makes names of {} bytes: keep them under {} (S3 takes {MAX_OBJECT_NAME_BYTES} with the prefix)",
                sample.len(),
                MAX_OBJECT_NAME_BYTES / 2
            ));
        }
        if let Some(long) = sample.split('/').find(|s| s.len() + 16 > MAX_SEGMENT_BYTES) {
            return Err(format!(
                "a part between `/` of {} bytes: a directory takes {MAX_SEGMENT_BYTES} with the suffix",
                long.len()
            ));
        }
        Ok(name)
    }

    /// Whether no other run can make its names: it holds `{run}`.
    pub fn unique_to_run(&self) -> bool {
        self.parts.contains(&Part::Run)
    }

    /// The name these values give.
    pub fn render(&self, values: &NameValues<'_>) -> String {
        let time = values.time.to_zoned(jiff::tz::TimeZone::UTC);
        let mut name = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => name.push_str(text),
                Part::Time(field) => name.push_str(&match field {
                    'Y' => format!("{:04}", time.year()),
                    'm' => format!("{:02}", time.month()),
                    'd' => format!("{:02}", time.day()),
                    'H' => format!("{:02}", time.hour()),
                    'M' => format!("{:02}", time.minute()),
                    _ => format!("{:02}", time.second()),
                }),
                Part::Host => name.extend(values.host.chars().map(|c| {
                    match c.is_ascii_alphanumeric() || "._-".contains(c) {
                        true => c,
                        false => '_',
                    }
                })),
                Part::Start => name.push_str(&values.start.strftime("%Y%m%dT%H%M%SZ").to_string()),
                Part::Run => name.push_str(values.run),
                Part::Seq => name.push_str(&format!("{:06}", values.seq)),
            }
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_partitions_by_hour_and_names_host_run_and_sequence() {
        let name = ObjectName::parse(DEFAULT_OBJECT_NAME).unwrap();
        let rendered = name.render(&NameValues {
            time: &at("2026-12-06T13:04:05Z"),
            host: "web 1/a",
            start: &at("2026-12-06T12:00:09Z"),
            run: "1f2e3d4c",
            seq: 42,
        });
        assert_eq!(
            rendered,
            "2026/12/06/13/web_1_a-20261206T120009Z-1f2e3d4c-000042"
        );
    }

    #[test]
    fn hive_partitions_and_long_sequences_render() {
        let name = ObjectName::parse("dt=%Y-%m-%d/hour=%H/%M%S-{seq}").unwrap();
        let rendered = name.render(&NameValues {
            time: &at("2026-01-02T03:04:05Z"),
            host: "h",
            start: &at("2026-01-02T03:04:05Z"),
            run: "00000000",
            seq: 1_234_567,
        });
        assert_eq!(rendered, "dt=2026-01-02/hour=03/0405-1234567");
    }

    #[test]
    fn a_template_that_could_repeat_a_name_or_break_a_path_is_refused() {
        for (template, problem) in [
            ("%Y/{host}", "no {seq}"),
            ("%Y/%q/{seq}", "`%q` is not a time field"),
            ("{seq}/{tenant}", "`{tenant}` is not a placeholder"),
            ("a b/{seq}", "' ' may not be"),
            ("/{seq}", "may not start or end"),
            ("a//{seq}", "may not start or end"),
            ("../{seq}", "`..` segment"),
            ("{seq}/", "may not start or end"),
            ("{seq", "`{seq` is not closed"),
            ("{seq}{host", "is not closed"),
            (
                &format!("{}/{{seq}}", "a".repeat(600)),
                "keep them under 512",
            ),
            (
                &format!("{}/{{seq}}", "a".repeat(250)),
                "a directory takes 255",
            ),
        ] {
            let error = ObjectName::parse(template).unwrap_err();
            assert!(error.contains(problem), "{template}: {error}");
        }
    }
}

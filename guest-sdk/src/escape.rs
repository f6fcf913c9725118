//! Escaping for the text formats SIEMs read (RFC 5424 syslog, CEF, LEEF). Each
//! function returns its input unchanged, without allocating, when nothing needs escaping.
//! None of them lets a raw control character (C0, DEL, C1) or Unicode line separator
//! through: text outputs are line-framed, and a stray CR, LF, NUL or ESC would split or
//! corrupt a record.

use std::borrow::Cow;

fn escape_with(
    input: &str,
    needs: impl Fn(char) -> bool,
    write: impl Fn(char, &mut String),
) -> Cow<'_, str> {
    if !input.chars().any(&needs) {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len() + 8);
    for c in input.chars() {
        if needs(c) {
            write(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Replaces a control character or line separator with a space.
fn push_control_as_space(c: char, out: &mut String) {
    debug_assert!(breaks_a_line(c));
    out.push(' ');
}

/// A CEF header field: `\` and `|` escaped, line breaks and other controls replaced by a
/// space (CEF allows no line break in a header).
pub fn cef_header(input: &str) -> Cow<'_, str> {
    escape_with(
        input,
        |c| matches!(c, '\\' | '|') || breaks_a_line(c),
        |c, out| match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            c => push_control_as_space(c, out),
        },
    )
}

/// A CEF extension value: `\` and `=` escaped, CR and LF written as `\r` and `\n`,
/// other controls replaced by a space.
pub fn cef_extension_value(input: &str) -> Cow<'_, str> {
    escape_with(
        input,
        |c| matches!(c, '\\' | '=') || breaks_a_line(c),
        |c, out| match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => push_control_as_space(c, out),
        },
    )
}

/// An RFC 5424 SD-PARAM value: exactly `"`, `\` and `]` escaped with a backslash. The
/// RFC allows control characters there; receivers rewrite them, so they become spaces.
pub fn syslog_sd_value(input: &str) -> Cow<'_, str> {
    escape_with(
        input,
        |c| matches!(c, '"' | '\\' | ']') || breaks_a_line(c),
        |c, out| match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c => push_control_as_space(c, out),
        },
    )
}

/// A LEEF value. LEEF has no escape mechanism, so the active `delimiter` and every
/// control character are replaced by a space.
pub fn leef_value(input: &str, delimiter: char) -> Cow<'_, str> {
    escape_with(
        input,
        |c| c == delimiter || breaks_a_line(c),
        |_, out| out.push(' '),
    )
}

/// Whether `c` may pass for a line break or be dropped by a line-framed receiver: a
/// control character (C0, DEL, C1) or a Unicode line or paragraph separator.
fn breaks_a_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// An event's JSON text as one clean line, the same JSON value: whitespace between
/// tokens (a TAB or CR there) written as a space, and inside strings DEL, the C1
/// controls and the Unicode line separators (which JSON lets through raw) written as
/// `\u` escapes. Borrowed, without a copy, when there is none (the usual case).
pub fn json_one_line(json: &str) -> Cow<'_, str> {
    // Every such character starts with one of these bytes in UTF-8 (0xC2: U+0080 to
    // U+00BF, 0xE2: U+2000 to U+2FFF); most events have none of them.
    if !json
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xe2)
        || !json.chars().any(breaks_a_line)
    {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        match c {
            _ if escaped => {
                escaped = false;
                out.push(c);
            }
            '\\' if in_string => {
                escaped = true;
                out.push(c);
            }
            '"' => {
                in_string = !in_string;
                out.push(c);
            }
            c if breaks_a_line(c) && in_string => {
                let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{:04x}", c as u32));
            }
            c if breaks_a_line(c) => out.push(' '),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text for a line-framed output with no escape syntax of its own (a syslog MSG, a
/// console): every control character and Unicode line separator replaced by a space,
/// so it holds no second message.
pub fn single_line(input: &str) -> Cow<'_, str> {
    escape_with(input, breaks_a_line, |_, out| out.push(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Edge case 1 of the sample data: `a|b=c\d` + LF + `e` + CR + `f`.
    const EDGE: &str = "a|b=c\\d\ne\rf";

    #[test]
    fn cef_header_and_extension_differ() {
        assert_eq!(cef_header(EDGE), "a\\|b=c\\\\d e f");
        assert_eq!(cef_extension_value(EDGE), "a|b\\=c\\\\d\\ne\\rf");
    }

    #[test]
    fn syslog_escapes_exactly_three_characters() {
        assert_eq!(
            syslog_sd_value(r#"close ] bracket " quote \ slash"#),
            r#"close \] bracket \" quote \\ slash"#
        );
        assert_eq!(syslog_sd_value("nul\u{0} esc\u{1b}[31m"), "nul  esc [31m");
    }

    #[test]
    fn leef_and_single_line_strip_delimiter_and_controls() {
        assert_eq!(leef_value("a\tb^c\n", '^'), "a b c ");
        assert_eq!(single_line("bell\u{7}"), "bell ");
    }

    #[test]
    fn json_becomes_one_clean_line_with_the_same_value() {
        let json = "{\"a\":\t\"x\u{7f}y\u{85}z\u{2028}\",\r\"b\\\"\":\"\\\"\\t\"}";
        let clean = json_one_line(json);
        assert_eq!(
            clean,
            "{\"a\": \"x\\u007fy\\u0085z\\u2028\", \"b\\\"\":\"\\\"\\t\"}"
        );
        let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(value(&clean), value(json));
        assert!(!clean.chars().any(breaks_a_line));
        assert!(matches!(json_one_line("{\"é\":1}"), Cow::Borrowed(_)));
    }

    #[test]
    fn single_line_leaves_no_break() {
        assert_eq!(single_line("a\nb\r\u{0}c\u{2028}d\u{85}"), "a b  c d ");
    }

    #[test]
    fn clean_input_is_borrowed() {
        assert!(matches!(cef_header("plain"), Cow::Borrowed(_)));
    }
}

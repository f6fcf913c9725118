//! Escaping for the text formats SIEMs read (`protocols.md`, sections 4 to 6). Each
//! function returns its input unchanged, without allocating, when nothing needs escaping.
//! None of them lets a raw control character through: text outputs are line-framed, and
//! a stray CR, LF, NUL or ESC would split or corrupt a record.

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

/// Replaces every control character with a space.
fn push_control_as_space(c: char, out: &mut String) {
    debug_assert!(c.is_control());
    out.push(' ');
}

/// A CEF header field: `\` and `|` escaped, line breaks and other controls replaced by a
/// space (CEF allows no line break in a header).
pub fn cef_header(input: &str) -> Cow<'_, str> {
    escape_with(
        input,
        |c| matches!(c, '\\' | '|') || c.is_control(),
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
        |c| matches!(c, '\\' | '=') || c.is_control(),
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
        |c| matches!(c, '"' | '\\' | ']') || c.is_control(),
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
        |c| c == delimiter || c.is_control(),
        |_, out| out.push(' '),
    )
}

/// Text for a line-framed output with no escape syntax of its own (a console, a syslog
/// MSG): every control character replaced by a space.
pub fn single_line(input: &str) -> Cow<'_, str> {
    escape_with(input, char::is_control, push_control_as_space)
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
    fn clean_input_is_borrowed() {
        assert!(matches!(cef_header("plain"), Cow::Borrowed(_)));
    }
}

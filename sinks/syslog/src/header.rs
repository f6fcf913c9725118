//! RFC 5424 header fields and SD-NAMEs: printable US-ASCII (33 to 126) within a length,
//! `-` (NILVALUE) when empty (RFC 5424, section 6.2).

/// `text` as a header field of at most `max` characters: every character outside
/// printable US-ASCII (a space, a control, anything not ASCII) becomes `_`; empty
/// becomes `-`.
pub fn field(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// The SD-PARAMs Sluice writes itself in its SD-ELEMENT.
pub const WRITTEN_PARAMS: [&str; 5] = ["eventId", "timeSource", "host", "machineId", "version"];

/// `text` as an SD-NAME (an SD-ID or a PARAM-NAME), or none when nothing of it is
/// left: printable US-ASCII but `=`, `]`, `"` and the space, at most 32 characters.
pub fn sd_name(text: &str) -> Option<String> {
    let cleaned: String = text
        .chars()
        .filter(|&c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"'))
        .take(32)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_keep_to_printable_ascii_and_their_length() {
        assert_eq!(field("my app", 48), "my_app");
        assert_eq!(field("", 48), "-");
        assert_eq!(field("zoë", 48), "zo_");
        assert_eq!(field(&"a".repeat(60), 48).len(), 48);
    }

    #[test]
    fn sd_names_drop_what_would_end_them() {
        assert_eq!(sd_name("team"), Some("team".into()));
        assert_eq!(sd_name("a=b]c\"d e"), Some("abcde".into()));
        assert_eq!(sd_name("= ]"), None);
    }
}

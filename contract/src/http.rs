//! What an HTTP request from a module may not say.

/// Headers that frame or route a request: the host sets them from the body and the
/// endpoint, and a module that set them could make the request say something else
/// than what is sent (or smuggle a second one). Compared without regard to case.
pub const FRAMING_HEADERS: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-encoding",
];

/// Whether `text` is an HTTP token (RFC 9110, section 5.6.2): what a method and a
/// header name are made of.
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `text` can be a header's value (RFC 9110, section 5.5): visible characters,
/// spaces and tabs, never a line break or a NUL that could end the header early.
pub fn is_field_value(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80)
}

/// Whether `name` is one of the [`FRAMING_HEADERS`].
pub fn is_framing_header(name: &str) -> bool {
    FRAMING_HEADERS
        .iter()
        .any(|header| name.eq_ignore_ascii_case(header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_field_values() {
        assert!(is_token("POST") && is_token("X-Splunk-Request-Channel"));
        for bad in ["", "PO ST", "GET\r\n", "Bad:Name", "é"] {
            assert!(!is_token(bad), "{bad:?}");
        }
        assert!(is_field_value("Splunk abc\tdef é"));
        assert!(!is_field_value("a\r\nInjected: 1") && !is_field_value("a\0"));
    }

    #[test]
    fn framing_headers_are_found_in_any_case() {
        assert!(is_framing_header("Content-Length"));
        assert!(is_framing_header("TRANSFER-ENCODING"));
        assert!(!is_framing_header("Content-Type"));
    }
}

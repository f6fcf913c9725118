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
    fn framing_headers_are_found_in_any_case() {
        assert!(is_framing_header("Content-Length"));
        assert!(is_framing_header("TRANSFER-ENCODING"));
        assert!(!is_framing_header("Content-Type"));
    }
}

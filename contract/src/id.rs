//! An event id's text form: 32 lowercase hex digits, the same in dead-letter records,
//! in what modules send, and in what an operator searches for.

use std::fmt;

/// Displays a 128-bit event id as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdText(pub u128);

impl fmt::Display for IdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl std::str::FromStr for IdText {
    type Err = String;

    /// Reads the text form back (from a dead-letter record, to keep an event's id when
    /// it is sent again).
    fn from_str(text: &str) -> Result<Self, String> {
        if text.len() != 32 {
            return Err(format!("`{text}` is not 32 hex digits"));
        }
        u128::from_str_radix(text, 16)
            .map(IdText)
            .map_err(|_| format!("`{text}` is not 32 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_with_leading_zeros() {
        assert_eq!(IdText(0xab).to_string(), format!("{:0>32}", "ab"));
        assert_eq!(IdText(u128::MAX).to_string(), "f".repeat(32));
    }

    #[test]
    fn the_text_form_reads_back() {
        let id = IdText(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(id.to_string().parse::<IdText>(), Ok(id));
        assert!("+123".parse::<IdText>().is_err());
        assert!("f".repeat(33).parse::<IdText>().is_err());
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_with_leading_zeros() {
        assert_eq!(IdText(0xab).to_string(), format!("{:0>32}", "ab"));
        assert_eq!(IdText(u128::MAX).to_string(), "f".repeat(32));
    }
}

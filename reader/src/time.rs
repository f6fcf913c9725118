//! Event time from a captured field value.
//!
//! Strings are RFC 3339 (any offset, converted to UTC). Numbers are epoch time whose
//! unit follows from magnitude: below 10^11 seconds (until year 5138), below 10^14
//! milliseconds, below 10^17 microseconds, else nanoseconds. Fractions of seconds are kept
//! to the millisecond.

use super::scan::Captured;

/// Milliseconds since the epoch, or `None` when the value is not a time.
pub fn parse(value: &Captured) -> Option<i64> {
    match value {
        Captured::Text(text) => text
            .trim()
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_millisecond()),
        Captured::Integer(n) => {
            let magnitude = n.unsigned_abs();
            let ms = if magnitude < 100_000_000_000 {
                n.checked_mul(1000)?
            } else if magnitude < 100_000_000_000_000 {
                *n
            } else if magnitude < 100_000_000_000_000_000 {
                n / 1000
            } else {
                n / 1_000_000
            };
            i64::try_from(ms).ok()
        }
        Captured::Float(x) if x.is_finite() => {
            let magnitude = x.abs();
            let ms = if magnitude < 1e11 {
                x * 1000.0
            } else if magnitude < 1e14 {
                *x
            } else if magnitude < 1e17 {
                x / 1000.0
            } else {
                x / 1e6
            };
            (ms.abs() < 9.2e18).then_some(ms.floor() as i64)
        }
        Captured::Float(_) | Captured::Bool(_) | Captured::Null | Captured::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_offset_is_converted_to_utc() {
        let text = |s: &str| parse(&Captured::Text(s.into()));
        assert_eq!(
            text("2026-11-20T08:00:01+05:30"),
            text("2026-11-20T02:30:01Z")
        );
        assert_eq!(text("2024-05-01T12:34:56.789Z"), Some(1_714_566_896_789));
        assert_eq!(text("not a date"), None);
        assert_eq!(
            text("2026-11-20"),
            None,
            "a date without time and offset is not an instant"
        );
    }

    #[test]
    fn epoch_units_follow_from_magnitude() {
        assert_eq!(
            parse(&Captured::Integer(1_763_625_603)),
            Some(1_763_625_603_000)
        );
        assert_eq!(
            parse(&Captured::Integer(1_763_625_604_123)),
            Some(1_763_625_604_123)
        );
        assert_eq!(
            parse(&Captured::Integer(1_763_625_604_123_456)),
            Some(1_763_625_604_123)
        );
        assert_eq!(
            parse(&Captured::Integer(1_763_625_604_123_456_789)),
            Some(1_763_625_604_123)
        );
        assert_eq!(
            parse(&Captured::Float(1_763_625_603.25)),
            Some(1_763_625_603_250)
        );
        assert_eq!(parse(&Captured::Float(f64::NAN)), None);
        assert_eq!(parse(&Captured::Other), None);
    }
}

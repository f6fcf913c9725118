//! Time formatting from the host's millisecond timestamps.

/// Writes times as epoch seconds with millisecond precision (`1714566896.789`), or
/// whole seconds when there are no milliseconds (`1714566897`), as Splunk HEC's `time`
/// wants.
///
/// It keeps the digits of the last whole second it wrote: the events of a batch mostly
/// share their second with the one before, and then a time costs no division and no
/// number formatting. That matters in WebAssembly, where a 64-bit division by a
/// constant is a real division instruction (native code turns it into a
/// multiplication) and number formatting costs more than the rest of a HEC envelope.
#[derive(Debug, Default)]
pub struct EpochSeconds {
    /// The first millisecond of the cached second, if any.
    second_start_ms: Option<i64>,
    /// The cached second's digits (an i64 has at most 20 characters).
    digits: [u8; 20],
    len: usize,
}

impl EpochSeconds {
    /// Appends `ms` (milliseconds since the epoch) to `out` as epoch seconds.
    #[inline(always)]
    pub fn write(&mut self, out: &mut Vec<u8>, ms: i64) {
        if ms < 0 {
            return write_negative(out, ms);
        }
        let past_second = self
            .second_start_ms
            .and_then(|start| ms.checked_sub(start))
            .filter(|past| (0..1000).contains(past));
        let millis = match past_second {
            Some(past) => past as u32,
            None => self.cache_second_of(ms),
        };
        // The whole buffer is copied and the tail cut off: a copy of a constant size is
        // a few stores, where one of a variable size is a call to `memcpy`.
        let start = out.len();
        out.extend_from_slice(&self.digits);
        out.truncate(start + self.len);
        if millis != 0 {
            out.extend_from_slice(&fraction(millis));
        }
    }

    /// Caches the digits of the second `ms` (not negative) falls in; returns the
    /// milliseconds past it.
    fn cache_second_of(&mut self, ms: i64) -> u32 {
        // One division for both parts (`div_euclid` and `rem_euclid` would make two).
        let (seconds, millis) = (ms / 1000, ms % 1000);
        let mut buffer = itoa::Buffer::new();
        // Seconds as a u32 where they fit (until 2106): shorter arithmetic.
        let text = match u32::try_from(seconds) {
            Ok(seconds) => buffer.format(seconds),
            Err(_) => buffer.format(seconds),
        };
        self.digits[..text.len()].copy_from_slice(text.as_bytes());
        self.len = text.len();
        self.second_start_ms = seconds.checked_mul(1000);
        millis as u32
    }
}

/// A time before 1970, sign and magnitude as a decimal number reads: -1 ms is
/// `-0.001`, -1500 ms `-1.500`. Rare enough to skip the cache.
#[cold]
fn write_negative(out: &mut Vec<u8>, ms: i64) {
    let magnitude = ms.unsigned_abs();
    out.push(b'-');
    out.extend_from_slice(itoa::Buffer::new().format(magnitude / 1000).as_bytes());
    let millis = (magnitude % 1000) as u32;
    if millis != 0 {
        out.extend_from_slice(&fraction(millis));
    }
}

/// `.789` for 789 milliseconds. Divisions by 100 and 10 written as multiplications
/// and shifts, exact below 1000: LLVM leaves them as division instructions in
/// WebAssembly, each costing tens of cycles.
#[inline(always)]
fn fraction(millis: u32) -> [u8; 4] {
    debug_assert!(millis < 1000);
    let hundreds = (millis * 41) >> 12;
    let rest = millis - hundreds * 100;
    let tens = (rest * 103) >> 10;
    let ones = rest - tens * 10;
    [
        b'.',
        b'0' + hundreds as u8,
        b'0' + tens as u8,
        b'0' + ones as u8,
    ]
}

/// Writes [`rfc3339_utc`] times, keeping the text of the last day it wrote: the events
/// of a batch mostly share their day, and then a time is the kept date and the clock
/// time of a few 32-bit divisions, not a calendar computation and a `format!` (which
/// made the elasticsearch module's `@timestamp` its largest cost in WebAssembly).
#[derive(Debug, Default)]
pub struct Rfc3339Clock {
    /// The first millisecond of the kept day, if any.
    day_start_ms: Option<i64>,
    /// `2024-05-01T`: the kept day's text.
    date: [u8; 11],
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl Rfc3339Clock {
    /// Appends `ms` (milliseconds since the epoch) to `out` as [`rfc3339_utc`] writes it.
    pub fn write(&mut self, out: &mut Vec<u8>, ms: i64) {
        let into_day = self
            .day_start_ms
            .and_then(|start| ms.checked_sub(start))
            .filter(|past| (0..DAY_MS).contains(past));
        let Some(into_day) = into_day else {
            let text = rfc3339_utc(ms);
            out.extend_from_slice(text.as_bytes());
            // A time clamped to the range RFC 3339 writes is not kept: the next one's
            // clock time would not be its own.
            if (YEAR_ZERO_MS..YEAR_10000_MS).contains(&ms) {
                self.date.copy_from_slice(&text.as_bytes()[..11]);
                self.day_start_ms = Some(ms - ms.rem_euclid(DAY_MS));
            }
            return;
        };
        // Below a day: it fits a u32, whose divisions are the cheap ones.
        let into_day = into_day as u32;
        let (seconds, millis) = (into_day / 1000, into_day % 1000);
        let two = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        let [h1, h2] = two(seconds / 3600);
        let [m1, m2] = two(seconds / 60 % 60);
        let [s1, s2] = two(seconds % 60);
        out.extend_from_slice(&self.date);
        out.extend_from_slice(&[h1, h2, b':', m1, m2, b':', s1, s2]);
        out.extend_from_slice(&fraction(millis));
        out.push(b'Z');
    }
}

/// The first millisecond of year 0000, the earliest RFC 3339 can write.
const YEAR_ZERO_MS: i64 = -62_167_219_200_000;
/// The first millisecond of year 10000, past the latest.
const YEAR_10000_MS: i64 = 253_402_300_800_000;

/// RFC 3339 in UTC with milliseconds (`2024-05-01T12:34:56.789Z`), the form syslog
/// (RFC 5424) and most JSON APIs accept. Times before the year 0000 or after jiff's
/// latest instant clamp to those rather than fail.
pub fn rfc3339_utc(ms: i64) -> String {
    let timestamp =
        jiff::Timestamp::from_millisecond(ms.max(YEAR_ZERO_MS)).unwrap_or(jiff::Timestamp::MAX);
    // The civil time's fields written with `format!`: jiff's `strftime` would add its
    // whole formatting engine (tens of KiB) to every module that writes a time.
    let t = jiff::tz::Offset::UTC.to_datetime(timestamp);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.subsec_nanosecond() / 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock writes what `rfc3339_utc` writes, cached second or not, at the edges
    /// of a second and of the range too.
    #[test]
    fn the_rfc3339_clock_writes_as_rfc3339_utc() {
        let mut clock = Rfc3339Clock::default();
        for ms in [
            1_714_566_896_789,
            1_714_566_896_000,
            1_714_566_896_999,
            1_714_566_897_000,
            1_714_566_896_001,
            1_714_521_600_000,
            1_714_607_999_999,
            1_714_608_000_000,
            1_714_600_000_123,
            -1,
            -1000,
            -1001,
            -86_400_000,
            -86_400_001,
            YEAR_ZERO_MS - 1,
            YEAR_ZERO_MS,
            YEAR_ZERO_MS + 5,
            YEAR_10000_MS - 1,
            YEAR_10000_MS,
            YEAR_10000_MS + 1,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            clock.write(&mut out, ms);
            assert_eq!(String::from_utf8(out).unwrap(), rfc3339_utc(ms), "{ms}");
        }
    }

    #[test]
    fn epoch_seconds_keep_milliseconds() {
        // In this order, the cached second is reused, left forwards and backwards, and
        // dropped at the edges of the range; times before 1970 read as decimal numbers
        // (sign and magnitude), and do not disturb the cache.
        let cases = [
            (1_714_566_896_789, "1714566896.789"),
            (1_714_566_896_000, "1714566896"),
            (1_714_566_896_999, "1714566896.999"),
            (1_714_566_897_000, "1714566897"),
            (1_714_566_897_005, "1714566897.005"),
            (1_714_566_896_001, "1714566896.001"),
            (-1, "-0.001"),
            (-1000, "-1"),
            (-1500, "-1.500"),
            (-1_763_625_603_500, "-1763625603.500"),
            (1_714_566_896_001, "1714566896.001"),
            (i64::MIN, "-9223372036854775.808"),
            (i64::MIN + 1, "-9223372036854775.807"),
            (i64::MAX, "9223372036854775.807"),
            (4_294_967_295_000, "4294967295"),
            (4_294_967_296_001, "4294967296.001"),
        ];
        let mut writer = EpochSeconds::default();
        for (ms, expected) in cases {
            let mut out = Vec::new();
            writer.write(&mut out, ms);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{ms}");
        }
    }

    #[test]
    fn fractions_of_every_millisecond() {
        for millis in 0..1000 {
            assert_eq!(
                fraction(millis),
                *format!(".{millis:03}").as_bytes(),
                "{millis}"
            );
        }
    }

    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        assert_eq!(rfc3339_utc(1_714_566_896_789), "2024-05-01T12:34:56.789Z");
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_utc(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(i64::MAX), "9999-12-30T22:00:00.999Z");
    }
}

//! Time formatting from the host's millisecond timestamps.

/// Appends epoch seconds with millisecond precision (`1714566896.789`), or whole
/// seconds when there are no milliseconds (`1714566897`), as Splunk HEC's `time` wants.
pub fn write_epoch_seconds(out: &mut Vec<u8>, ms: i64) {
    // Runs once per event: `itoa` rather than `core::fmt`, which costs more than the rest
    // of a HEC envelope; and seconds as a u32 where they fit (until 2106), because a
    // 64-bit division is a slow instruction in WebAssembly (it has no multiply-high to
    // turn a division by a constant into a multiplication).
    let (seconds, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000) as u32);
    let mut digits = itoa::Buffer::new();
    let text = match u32::try_from(seconds) {
        Ok(seconds) => digits.format(seconds),
        Err(_) => digits.format(seconds),
    };
    out.extend_from_slice(text.as_bytes());
    if millis != 0 {
        out.extend_from_slice(&[
            b'.',
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
        ]);
    }
}

/// RFC 3339 in UTC with milliseconds (`2024-05-01T12:34:56.789Z`), the form syslog
/// (RFC 5424) and most JSON APIs accept. Out-of-range times clamp to the nearest
/// representable instant rather than fail.
pub fn rfc3339_utc(ms: i64) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    timestamp.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(ms: i64) -> String {
        let mut out = Vec::new();
        write_epoch_seconds(&mut out, ms);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn epoch_seconds_keep_milliseconds() {
        assert_eq!(epoch(1_714_566_896_789), "1714566896.789");
        assert_eq!(epoch(1_714_566_897_000), "1714566897");
        assert_eq!(epoch(1_714_566_897_005), "1714566897.005");
        assert_eq!(epoch(-1), "-1.999");
        assert_eq!(epoch(i64::MIN), "-9223372036854776.192");
        assert_eq!(epoch(4_294_967_295_000), "4294967295");
        assert_eq!(epoch(4_294_967_296_001), "4294967296.001");
    }

    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        assert_eq!(rfc3339_utc(1_714_566_896_789), "2024-05-01T12:34:56.789Z");
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
    }
}

//! `[spool]`: the write-ahead log that keeps events on disk from the moment they are
//! read until every destination has settled them.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// On by default when `data_dir` is set; `false` keeps events in memory only (then
    /// file checkpoints move only when every destination has settled the events).
    pub enabled: Option<bool>,
    /// Most bytes on disk; when full, the sources wait for the slowest destination.
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
    /// Size at which a segment file is closed and a new one started; a segment is
    /// deleted once every destination has settled all its events.
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// When written events are forced to disk: `always` (before the source moves on),
    /// `never` (the OS decides), or an interval such as `1s`.
    #[serde(default)]
    pub fsync: Fsync,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            enabled: None,
            max_bytes: default_spool_bytes(),
            segment_bytes: default_segment_bytes(),
            fsync: Fsync::default(),
        }
    }
}

/// When the spool is forced to disk; what a power cut can lose is what was written
/// since (a crash of sluice alone loses nothing: the OS has the bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
pub enum Fsync {
    /// After every write, before the source's checkpoint may pass it.
    Always,
    /// At most this long after a write.
    Every(Duration),
    /// Never forced: the OS writes it back when it will (Linux: within ~30 s).
    Never,
}

impl Default for Fsync {
    fn default() -> Self {
        Fsync::Every(Duration::from_secs(1))
    }
}

impl TryFrom<String> for Fsync {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "always" => Ok(Fsync::Always),
            "never" => Ok(Fsync::Never),
            interval => match humantime::parse_duration(interval) {
                Ok(every) if !every.is_zero() => Ok(Fsync::Every(every)),
                _ => Err(format!(
                    "`{text}` is not `always`, `never` or an interval such as `1s`"
                )),
            },
        }
    }
}

/// 1 GiB: hours of a busy host's audit log while a SIEM is down.
fn default_spool_bytes() -> u64 {
    1 << 30
}
fn default_segment_bytes() -> u64 {
    16 << 20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_reads_always_never_or_an_interval() {
        let parse = |text: &str| Fsync::try_from(text.to_owned());
        assert_eq!(parse("always"), Ok(Fsync::Always));
        assert_eq!(parse("never"), Ok(Fsync::Never));
        assert_eq!(parse("250ms"), Ok(Fsync::Every(Duration::from_millis(250))));
        assert!(parse("0s").is_err());
        assert!(parse("sometimes").unwrap_err().contains("sometimes"));
    }
}

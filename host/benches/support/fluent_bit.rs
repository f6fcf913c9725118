//! Fluent Bit, the second peer the end-to-end bench measures beside sluice: a
//! `fluent-bit` binary the user builds from its sources (README, "Performance", says how;
//! Debian has no package of it), named by `FLUENT_BIT`, run in the foreground as our own
//! process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// A Fluent Bit binary.
pub struct FluentBit {
    binary: PathBuf,
}

impl FluentBit {
    /// The binary `FLUENT_BIT` names; none when it names none. The error says why the
    /// peer cannot run.
    pub fn named() -> Option<Result<FluentBit, String>> {
        let binary = PathBuf::from(std::env::var_os("FLUENT_BIT")?);
        Some(match Command::new(&binary).arg("--version").output() {
            Ok(output) if output.status.success() => Ok(FluentBit { binary }),
            Ok(output) => Err(format!(
                "{} --version failed: {}",
                binary.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(error) => Err(format!("{}: {error}", binary.display())),
        })
    }

    /// Starts Fluent Bit in the foreground on `inputs`, to the HEC receiver at
    /// `endpoint` (`http://127.0.0.1:PORT`), its configuration written in `dir`.
    pub fn spawn(
        &self,
        inputs: &[PathBuf],
        endpoint: &str,
        parse: bool,
        dir: &Path,
    ) -> std::io::Result<Child> {
        let parsers = dir.join("parsers.conf");
        std::fs::write(&parsers, PARSERS)?;
        let config = dir.join("fluent-bit.conf");
        std::fs::write(&config, self::config(inputs, endpoint, parse, &parsers))?;
        Command::new(&self.binary)
            .arg("--quiet")
            .arg("-c")
            .arg(&config)
            .spawn()
    }
}

/// The `json` parser: each line validated as JSON and its `timestamp` taken as the
/// event's time, kept in the record, as sluice does.
const PARSERS: &str = "[PARSER]
    Name        json
    Format      json
    Time_Key    timestamp
    Time_Format %Y-%m-%dT%H:%M:%S.%L%z
    Time_Keep   On
";

/// The peer's configuration: the same work as sluice's HEC destination in the bench.
/// The `tail` input reads each file from its start (no position database), parsed by
/// the `json` parser; the `splunk` output POSTs each event as a HEC envelope (time,
/// host, sourcetype, index, the event) to the same receiver, with two workers (sluice's
/// two requests in flight). Without `parse`, the lines are forwarded unread (each a
/// record of one `log` field), stamped with the time they were read: less work than
/// sluice does, for a lower bound of the peer's cost.
fn config(inputs: &[PathBuf], endpoint: &str, parse: bool, parsers: &Path) -> String {
    let (host, port) = endpoint
        .trim_start_matches("http://")
        .rsplit_once(':')
        .expect("the receiver's endpoint is http://HOST:PORT");
    let parser = if parse { "    Parser json\n" } else { "" };
    let tails: String = inputs
        .iter()
        .map(|input| {
            format!(
                "[INPUT]\n    Name tail\n    Path {}\n    Read_from_Head On\n    Buffer_Chunk_Size 256k\n    Buffer_Max_Size 1m\n    Refresh_Interval 1\n{parser}",
                input.display()
            )
        })
        .collect();
    format!(
        "[SERVICE]
    Flush        1
    Log_Level    warn
    Parsers_File {parsers}

{tails}
[OUTPUT]
    Name             splunk
    Match            *
    Host             {host}
    Port             {port}
    Splunk_Token     bench
    TLS              Off
    Event_Host       bench
    Event_Sourcetype _json
    Event_Index      audit
    Workers          2
",
        parsers = parsers.display()
    )
}

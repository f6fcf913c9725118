//! syslog-ng, the peer the end-to-end bench measures side by side with sluice: Debian's
//! `syslog-ng-core` and `syslog-ng-mod-http` 3.38, fetched with `apt-get download` and
//! unpacked with `dpkg -x` under the bench's target directory (the packages conflict with
//! rsyslog, which the syslog tests install), and run in the foreground as our own process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The packages unpacked: the daemon, its HTTP destination, and the two libraries of
/// theirs that a machine without syslog-ng seldom has.
const PACKAGES: [&str; 4] = [
    "syslog-ng-core",
    "syslog-ng-mod-http",
    "libivykis0",
    "libnet1",
];

/// An unpacked syslog-ng.
pub struct SyslogNg {
    root: PathBuf,
}

impl SyslogNg {
    /// The syslog-ng unpacked in `SLUICE_BENCH_SYSLOG_NG` (a directory `dpkg -x` wrote),
    /// else in the bench's target directory, fetched there the first time. The error
    /// says why the peer cannot run.
    pub fn unpacked() -> Result<SyslogNg, String> {
        let root = std::env::var_os("SLUICE_BENCH_SYSLOG_NG")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("syslog-ng"));
        let peer = SyslogNg { root };
        if !peer.plugin("libhttp.so").exists() {
            peer.fetch()?;
        }
        peer.missing_libraries()?;
        Ok(peer)
    }

    fn fetch(&self) -> Result<(), String> {
        let debs = tempfile::tempdir().map_err(|e| e.to_string())?;
        run(Command::new("apt-get")
            .arg("download")
            .args(PACKAGES)
            .current_dir(debs.path()))?;
        for deb in std::fs::read_dir(debs.path()).map_err(|e| e.to_string())? {
            let deb = deb.map_err(|e| e.to_string())?.path();
            run(Command::new("dpkg").arg("-x").arg(&deb).arg(&self.root))?;
        }
        Ok(())
    }

    fn missing_libraries(&self) -> Result<(), String> {
        for binary in [
            self.root.join("usr/sbin/syslog-ng"),
            self.plugin("libhttp.so"),
        ] {
            let ldd = Command::new("ldd")
                .arg(&binary)
                .env("LD_LIBRARY_PATH", self.library_path())
                .output()
                .map_err(|e| format!("ldd: {e}"))?;
            let listing = String::from_utf8_lossy(&ldd.stdout);
            let missing: Vec<&str> = listing
                .lines()
                .filter(|line| line.contains("not found"))
                .map(str::trim)
                .collect();
            if !missing.is_empty() {
                return Err(format!("{} needs {}", binary.display(), missing.join(", ")));
            }
        }
        Ok(())
    }

    fn plugin(&self, name: &str) -> PathBuf {
        self.root.join("usr/lib/syslog-ng/3.38").join(name)
    }

    fn library_path(&self) -> String {
        format!(
            "{}:{}",
            self.root.join("usr/lib/x86_64-linux-gnu").display(),
            self.root.join("usr/lib/syslog-ng").display()
        )
    }

    /// Starts syslog-ng in the foreground on `config`, its state files in `dir`.
    pub fn spawn(&self, config: &Path, dir: &Path) -> std::io::Result<Child> {
        Command::new(self.root.join("usr/sbin/syslog-ng"))
            .arg("-F")
            .arg("--no-caps")
            .arg("-f")
            .arg(config)
            .arg(format!("--module-path={}", self.plugin("").display()))
            .arg(format!("--persist-file={}", dir.join("persist").display()))
            .arg(format!("--pidfile={}", dir.join("pid").display()))
            .arg(format!("--control={}", dir.join("ctl").display()))
            .env("LD_LIBRARY_PATH", self.library_path())
            .spawn()
    }
}

/// The peer's configuration: the same work as sluice's HEC destination in the bench.
/// Each line is validated as JSON (`json-parser`) and its `timestamp` taken as the event's
/// time (`date-parser`), as sluice does; each event is POSTed as a HEC envelope (time,
/// host, sourcetype, index, the event as it was read) to the same receiver, in batches
/// of at most 1000 events and 800,000 bytes (the HEC module's defaults), with two
/// workers (sluice's two requests in flight). Without `parse`, the lines are forwarded
/// unread, stamped with the time they were read: less work than sluice does, for a
/// lower bound of the peer's cost.
pub fn config(inputs: &[PathBuf], endpoint: &str, parse: bool) -> String {
    let files: String = inputs
        .iter()
        .map(|input| {
            format!(
                "file({:?} flags(no-parse) follow-freq(1) log-fetch-limit(1000) log-iw-size(10000)); ",
                input.display().to_string()
            )
        })
        .collect();
    let parsers = if parse {
        "parser(p_json); parser(p_time); "
    } else {
        ""
    };
    format!(
        r#"@version: 3.38
options {{ threaded(yes); stats-freq(0); log-msg-size(65536); frac-digits(3); }};
source s_events {{ {files}}};
parser p_json {{ json-parser(prefix(".json.")); }};
parser p_time {{ date-parser(format("%Y-%m-%dT%H:%M:%S.%f%z") template("${{.json.timestamp}}")); }};
destination d_hec {{ http(url("{endpoint}/services/collector/event") method("POST")
  headers("Authorization: Splunk bench", "Content-Type: application/json")
  body('{{"time":${{S_UNIXTIME}},"host":"${{HOST}}","sourcetype":"_json","index":"audit","event":${{MESSAGE}}}}')
  delimiter("\n") batch-lines(1000) batch-bytes(800000) batch-timeout(100) workers(2)); }};
log {{ source(s_events); {parsers}destination(d_hec); }};
"#
    )
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("{:?}: {e}", command.get_program()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} failed: {}",
            command.get_program(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

//! The process's own figures, read from `/proc/self` when scraped: CPU time, resident
//! memory, open files (the names Prometheus's client libraries use, so the usual
//! dashboards find them). Where `/proc` is not there, they are left out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Clock ticks per second of `/proc`'s CPU times: `USER_HZ`, fixed at 100 on Linux
/// whatever the kernel's own tick rate.
const USER_HZ: f64 = 100.0;

#[derive(Debug)]
pub struct Process {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub start_time_seconds: f64,
}

impl Process {
    /// The figures now; `started` is when the run started (the process started then,
    /// give or take its configuration check).
    pub fn read(started: Duration) -> Option<Process> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name may hold spaces and parentheses: the fields follow the last `)`.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime and stime are the 14th and 15th fields, the 12th and 13th after the name.
        let ticks = |at: usize| fields.get(at)?.parse::<f64>().ok();
        let cpu_seconds = (ticks(11)? + ticks(12)?) / USER_HZ;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let resident_kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| {
                let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
                line.split_whitespace().nth(3)?.parse().ok()
            });
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        Some(Process {
            cpu_seconds,
            resident_bytes: resident_kib * 1024,
            open_fds,
            max_fds,
            start_time_seconds: now.saturating_sub(started).as_secs_f64(),
        })
    }
}

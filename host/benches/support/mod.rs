//! What both benchmarks share: realistic events and resource measurement.

#![allow(dead_code, reason = "each benchmark uses a part")]

use std::time::{Duration, Instant};

pub mod fluent_bit;
pub mod syslog_ng;

/// An audit event of about 400 bytes, shaped like the proxy and agent samples.
pub fn event(n: usize) -> String {
    format!(
        concat!(
            r#"{{"request_id":"req_{n:08}","timestamp":"2026-11-20T08:{m:02}:{s:02}.{ms:03}Z","host":"api.openai.com","#,
            r#""path":"/v1/chat/completions","method":"POST","status_code":{status},"sanitized_count":3,"#,
            r#""sanitized_types":["email","name","ip_address"],"latency_ms":{latency},"bytes_in":11740,"bytes_out":282864,"#,
            r#""actor":{{"id":"u-{user}","email":"ana.silva@example.com","roles":["developer","admin"]}},"#,
            r#""session_id":"sess-{session}","outcome":"success","note":"zoë \"quoted\" text"}}"#
        ),
        n = n,
        m = (n / 60) % 60,
        s = n % 60,
        ms = n % 1000,
        status = if n.is_multiple_of(7) { 429 } else { 200 },
        latency = n % 5000,
        user = 1000 + n % 97,
        session = n % 31,
    )
}

/// `count` of [`event`]s as a batch, each with its own time and id.
pub fn batch(count: usize) -> sluice::event::Events {
    let mut batch = sluice::event::Events::default();
    for i in 0..count {
        let meta = sluice::event::EventMeta {
            offset: 0,
            len: 0,
            time_ms: 1_795_161_600_000 + i as i64,
            ingest_time: false,
            id: i as u128,
        };
        batch.push(&event(i), &meta);
    }
    batch
}

/// CPU seconds (user + system) and peak RSS of this process or of its waited-for children.
pub struct Usage {
    pub cpu: Duration,
    pub peak_rss_kib: i64,
}

pub fn usage(who: libc::c_int) -> Usage {
    let mut raw: libc::rusage = unsafe_zeroed();
    // SAFETY: getrusage writes into the struct we own.
    #[allow(unsafe_code, reason = "libc call")]
    unsafe {
        libc::getrusage(who, &mut raw);
    }
    Usage::from(raw)
}

/// Waits for `child` to end: how it ended, and what it used (its own figures, not those
/// of every child waited for, so two processes run by one bench are told apart).
pub fn wait_measured(child: std::process::Child) -> (std::process::ExitStatus, Usage) {
    use std::os::unix::process::ExitStatusExt;
    let mut raw: libc::rusage = unsafe_zeroed();
    let mut status = 0;
    // SAFETY: wait4 writes into the integers and the struct we own; the child is ours
    // and nothing else waits for it.
    #[allow(unsafe_code, reason = "libc call")]
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut raw) };
    assert!(waited > 0, "wait4: {}", std::io::Error::last_os_error());
    (std::process::ExitStatus::from_raw(status), Usage::from(raw))
}

impl From<libc::rusage> for Usage {
    fn from(raw: libc::rusage) -> Usage {
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        Usage {
            cpu: time(raw.ru_utime) + time(raw.ru_stime),
            peak_rss_kib: raw.ru_maxrss,
        }
    }
}

fn unsafe_zeroed() -> libc::rusage {
    // SAFETY: rusage is plain integers; all-zero is a valid value.
    #[allow(unsafe_code, reason = "zero-initialising a C struct")]
    unsafe {
        std::mem::zeroed()
    }
}

/// Runs `work` repeatedly for about `budget`, returning iterations and elapsed time.
pub fn time_loop(budget: Duration, mut work: impl FnMut()) -> (u64, Duration) {
    // Warm up caches and the allocator.
    for _ in 0..20 {
        work();
    }
    let start = Instant::now();
    let mut iterations = 0;
    while start.elapsed() < budget {
        work();
        iterations += 1;
    }
    (iterations, start.elapsed())
}

pub fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

//! A progress bar for a one-shot run at a terminal: bytes of the input files read out
//! of their total, and the events read. Log lines are written around it (the bar steps
//! aside for each), and without a terminal there is no bar at all: a journal or a
//! pipe gets the log lines only.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::{Config, SourceConfig};
use crate::metrics::Counters;

/// The bar on screen, if any; the log writer steps around it.
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Where log lines go: stderr, around the bar when one is shown. A line stderr cannot
/// take (a full disk under the log file, a log reader that went away) is lost, never
/// the run: an error here made the logging library report it on stderr, which
/// panicked, and the shipper died with exit 101.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let _ = match &*SHOWN.lock().expect("not poisoned") {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(bytes)),
            None => std::io::stderr().write_all(bytes),
        };
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// A bar that follows a run until dropped.
pub struct Progress {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// A bar for `config`'s run when stderr is a terminal and every source is a file
    /// read once (a followed file or stdin has no end to measure against).
    pub fn for_run(config: &Config, counters: &Arc<Counters>) -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let mut total = 0;
        for source in &config.sources {
            let SourceConfig::File {
                paths,
                follow: false,
                ..
            } = source
            else {
                return None;
            };
            for path in crate::source::expand(paths).ok()? {
                total += std::fs::metadata(path).map_or(0, |meta| meta.len());
            }
        }
        let counters = counters.clone();
        Some(Progress::start(
            total,
            "{bar:30} {bytes}/{total_bytes} read ({bytes_per_sec}), {msg} [{elapsed_precise}]",
            move |bar| show(bar, &counters),
        ))
    }

    /// A bar for an export at a terminal: bytes of its files read out of their total,
    /// with the rate and the time left, and `message()` after them.
    pub fn for_export(
        total: u64,
        read: Arc<std::sync::atomic::AtomicU64>,
        message: impl Fn() -> String + Send + 'static,
    ) -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        Some(Progress::start(
            total,
            "{bar:30} {bytes}/{total_bytes} read ({bytes_per_sec}, {eta} left), {msg} [{elapsed_precise}]",
            move |bar| {
                bar.set_position(read.load(Ordering::Relaxed));
                bar.set_message(message());
            },
        ))
    }

    /// A bar of `total` drawn with `template`, brought up to date by `update` ten times
    /// a second.
    fn start(
        total: u64,
        template: &str,
        update: impl Fn(&ProgressBar) + Send + 'static,
    ) -> Progress {
        let style = ProgressStyle::with_template(template).expect("a valid template");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(style);
        *SHOWN.lock().expect("not poisoned") = Some(bar.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (bar, stop) = (bar.clone(), stop.clone());
            std::thread::Builder::new()
                .name("sluice-progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        update(&bar);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    update(&bar);
                })
                .ok()
        };
        Progress { bar, stop, ticker }
    }
}

fn show(bar: &ProgressBar, counters: &Counters) {
    // A file resumed at its checkpoint counts what an earlier run read as done.
    bar.set_position(Counters::get(&counters.bytes_read) + Counters::get(&counters.bytes_resumed));
    bar.set_message(format!(
        "{} events, {} delivered",
        Counters::get(&counters.events_in),
        Counters::get(&counters.delivered)
    ));
}

impl Drop for Progress {
    /// Draws the final figures, and leaves the bar on screen above the summary.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        // As they are: `finish` would fill the bar whatever was read.
        self.bar.abandon();
        // The bar leaves the cursor at the end of its line: the lines after it start
        // their own.
        if !self.bar.is_hidden() {
            let _ = std::io::stderr().write_all(b"\n");
        }
        *SHOWN.lock().expect("not poisoned") = None;
    }
}

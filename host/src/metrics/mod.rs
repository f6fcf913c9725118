//! Counters of what the host did, shared by every stage. The run summary prints them;
//! the admin listener's `/status` and `/metrics` read the same values.

mod source;
pub mod throttle;

pub use source::{SourceFigures, SourceRoster};
pub use throttle::Throttle;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes the sources read.
    pub bytes_read: AtomicU64,
    /// Bytes of input files before the checkpoints they resumed at: read by an earlier
    /// run and not again (the progress bar counts them as done).
    pub bytes_resumed: AtomicU64,
    /// Events parsed and handed to the destinations.
    pub events_in: AtomicU64,
    /// Lines that were not events (written to the dead-letter store, apart from the
    /// events destinations refused).
    pub lines_rejected: AtomicU64,
    /// Events a filter policy dropped (counted per filter in the `filter summary`
    /// lines), never dead-lettered.
    pub filtered: AtomicU64,
    /// Events whose time field did not parse (they carry the ingest time).
    pub time_unparsed: AtomicU64,
    /// Events confirmed by a destination, summed over destinations.
    pub delivered: AtomicU64,
    /// Events a destination or module refused, summed over destinations.
    pub dead_lettered: AtomicU64,
    /// Events of batches the shutdown deadline cut short (some may have been delivered).
    pub abandoned: AtomicU64,
    /// Events a full buffer dropped by its `when_full` policy, summed over destinations.
    pub dropped: AtomicU64,
    /// Events sent again because their destination did not confirm them (it lost
    /// them, or said nothing within `acknowledgement.timeout`).
    pub sent_again_unconfirmed: AtomicU64,
    /// Dead-letter records removed with the oldest files, past `dead_letter_max_bytes`.
    pub dead_letters_removed: AtomicU64,
    /// Spool records found torn at start, written after the last checkpoint (a crash
    /// mid-write): cut off, and read again by their sources.
    pub spool_records_cut: AtomicU64,
    /// Spool records missing or damaged that a checkpoint counted on, once per
    /// destination that had not settled them: their events are lost (exit code 3).
    pub spool_records_lost: AtomicU64,
    /// 1 while the last checkpoint write failed (a restart would read again from the
    /// last ones written), else 0.
    pub checkpoints_unsaved: AtomicU64,
    /// Input files that could not be opened or read, and one-shot sources whose
    /// paths matched no file.
    pub read_errors: AtomicU64,
    /// Events every destination has settled (delivered or dead-lettered): what a source
    /// may acknowledge or checkpoint.
    pub events_settled: AtomicU64,
    /// Checkpoint (and spool position) commits written.
    pub checkpoint_writes: AtomicU64,
    /// Reloads of the configuration, by result.
    pub config_reloads: Tally<&'static str>,
    /// Reloads of modules, by the module the configuration names and result.
    pub module_reloads: Tally<(String, &'static str)>,
}

/// Counts by key, for the few figures whose labels are only known as they happen.
#[derive(Debug)]
pub struct Tally<K>(Mutex<BTreeMap<K, u64>>);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally(Mutex::default())
    }
}

impl<K: Ord + Clone> Tally<K> {
    pub fn add(&self, key: K, n: u64) {
        *self.0.lock().expect("not poisoned").entry(key).or_default() += n;
    }

    /// Every key with its count, in order.
    pub fn counts(&self) -> Vec<(K, u64)> {
        let counts = self.0.lock().expect("not poisoned");
        counts.iter().map(|(key, n)| (key.clone(), *n)).collect()
    }
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

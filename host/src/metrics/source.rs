//! One source's figures, kept by its ingest and its reader as they work and read by
//! the admin listener (`/status`, `/metrics`): what it read, what it rejected and why,
//! the files it holds open and how far behind them it is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sluice_reader::Reject;

/// The running sources' figures, in the order they started; a reload adds and removes.
pub type SourceRoster = Arc<RwLock<Vec<Arc<SourceFigures>>>>;

#[derive(Debug, Default)]
pub struct SourceFigures {
    /// Its name, else what it reads (`stdin`, its paths).
    pub label: String,
    pub events: AtomicU64,
    pub bytes: AtomicU64,
    rejected: [AtomicU64; Reject::ALL.len()],
    pub files_open: AtomicU64,
    /// Requests an HTTP source answered 503: not taken, or not safe in time (their
    /// producers keep the events).
    pub refused_requests: AtomicU64,
    /// Connections a listening source closed unread: a bound reached, none idle enough
    /// to give its place.
    pub refused_connections: AtomicU64,
    /// Connections a listening source closed (gracefully) to make room for a new one.
    pub evicted_connections: AtomicU64,
    /// Messages a broker delivered again (a JetStream source): not acknowledged in
    /// time by the host they went to first, or refused by it because they could not be
    /// made safe. Their events keep their ids.
    pub redelivered: AtomicU64,
    /// Bytes of the files it follows past where it has read, as of its last look at
    /// each (it looks every `poll_interval`, and as it reads).
    pub unread_bytes: AtomicU64,
    /// Why it is not reading all it should, while it is not: a file it cannot open, or
    /// the error that stopped it.
    problem: Mutex<Option<String>>,
}

impl SourceFigures {
    pub fn new(label: String) -> Self {
        SourceFigures {
            label,
            ..SourceFigures::default()
        }
    }

    pub fn rejected(&self, kind: Reject) {
        self.rejected[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Lines rejected as `kind`.
    pub fn rejected_as(&self, kind: Reject) -> u64 {
        self.rejected[kind as usize].load(Ordering::Relaxed)
    }

    /// Says why it is not reading all it should (`None`: it is again).
    pub fn set_problem(&self, problem: Option<String>) {
        *self.problem.lock().expect("not poisoned") = problem;
    }

    pub fn problem(&self) -> Option<String> {
        self.problem.lock().expect("not poisoned").clone()
    }

    /// The reader read `bytes` of what it counted as unread: between two looks at its
    /// files, the lag falls as it reads (a reader held back by a full buffer reads
    /// slowly, and that is when its lag matters).
    pub fn unread_fell(&self, bytes: u64) {
        let _ = self
            .unread_bytes
            .try_update(Ordering::Relaxed, Ordering::Relaxed, |unread| {
                Some(unread.saturating_sub(bytes))
            });
    }

    /// The reader holds `open` files, with `unread` bytes past where it has read.
    pub fn files(&self, open: usize, unread: u64) {
        self.files_open.store(open as u64, Ordering::Relaxed);
        self.unread_bytes.store(unread, Ordering::Relaxed);
    }
}

/// `/status` shows the figures by name, lines rejected by kind.
impl serde::Serialize for SourceFigures {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let read = |figure: &AtomicU64| figure.load(Ordering::Relaxed);
        let rejected: std::collections::BTreeMap<&str, u64> = Reject::ALL
            .into_iter()
            .map(|kind| (kind.label(), self.rejected_as(kind)))
            .collect();
        let mut state = serializer.serialize_struct("SourceFigures", 11)?;
        state.serialize_field("name", &self.label)?;
        state.serialize_field("events", &read(&self.events))?;
        state.serialize_field("bytes", &read(&self.bytes))?;
        state.serialize_field("lines_rejected", &rejected)?;
        state.serialize_field("files_open", &read(&self.files_open))?;
        state.serialize_field("unread_bytes", &read(&self.unread_bytes))?;
        state.serialize_field("refused_requests", &read(&self.refused_requests))?;
        state.serialize_field("refused_connections", &read(&self.refused_connections))?;
        state.serialize_field("evicted_connections", &read(&self.evicted_connections))?;
        state.serialize_field("redelivered", &read(&self.redelivered))?;
        state.serialize_field("problem", &self.problem())?;
        state.end()
    }
}

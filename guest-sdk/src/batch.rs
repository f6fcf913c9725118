//! A batch of events as a module sees it: one buffer of JSON text and a fixed-size
//! record per event, wrapped in borrowing accessors.

use crate::TimeSource;
use crate::wit::sluice::module::types as wit;

/// What the host adds to every event of a batch.
pub type Enrichment = wit::Enrichment;

/// The events of one batch, in the order the host read them.
#[derive(Debug, Clone)]
pub struct Batch {
    inner: wit::Batch,
}

impl Batch {
    /// An empty batch, for tests and native benchmarks of a module's encoder.
    pub fn new(enrichment: Enrichment) -> Self {
        Batch {
            inner: wit::Batch {
                data: String::new(),
                events: Vec::new(),
                enrichment,
            },
        }
    }

    pub(crate) fn from_wit(inner: wit::Batch) -> Self {
        Batch { inner }
    }

    /// Appends an event; `json` must be one JSON object (the host guarantees it for
    /// the batches it sends).
    pub fn push(&mut self, json: &str, time_ms: i64, time_source: TimeSource, id: EventId) {
        let offset = self.inner.data.len() as u32;
        self.inner.data.push_str(json);
        self.inner.events.push(wit::EventMeta {
            offset,
            len: json.len() as u32,
            time_ms,
            time_source,
            id_high: (id.0 >> 64) as u64,
            id_low: id.0 as u64,
        });
    }

    pub fn len(&self) -> usize {
        self.inner.events.len()
    }

    /// Bytes of JSON text of all events together.
    pub fn data_len(&self) -> usize {
        self.inner.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.events.is_empty()
    }

    /// The event at `index`. Panics when out of range, like slice indexing.
    pub fn event(&self, index: usize) -> Event<'_> {
        Event {
            batch: &self.inner,
            meta: &self.inner.events[index],
        }
    }

    pub fn events(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        self.inner.events.iter().map(|meta| Event {
            batch: &self.inner,
            meta,
        })
    }

    pub fn enrichment(&self) -> &Enrichment {
        &self.inner.enrichment
    }
}

/// One event of a batch.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    batch: &'a wit::Batch,
    meta: &'a wit::EventMeta,
}

impl<'a> Event<'a> {
    /// The event's JSON object, exactly as the host validated it.
    pub fn json(&self) -> &'a str {
        let start = self.meta.offset as usize;
        &self.batch.data[start..start + self.meta.len as usize]
    }

    /// Event time in milliseconds since the Unix epoch, UTC.
    pub fn time_ms(&self) -> i64 {
        self.meta.time_ms
    }

    /// Whether the time came from the event or was assigned by the host at ingest.
    pub fn time_source(&self) -> TimeSource {
        self.meta.time_source
    }

    pub fn id(&self) -> EventId {
        EventId((u128::from(self.meta.id_high) << 64) | u128::from(self.meta.id_low))
    }

    /// The value at a dotted path (`actor.id`), parsed on demand. Parsing costs about as
    /// much as the host's whole validation of the event: use it for the few fields a
    /// format needs, not to copy the event.
    pub fn field(&self, path: &str) -> Option<serde_json::Value> {
        crate::json::field(self.json(), path)
    }
}

/// A stable 128-bit event id; its text form is 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId(pub u128);

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

//! A batch of events as a module sees it: the contract's columns (one buffer of JSON
//! text, one column per number), wrapped in borrowing accessors.

use crate::wit::sluice::module::types as wit;

/// What the host adds to every event of a batch.
pub type Enrichment = wit::Enrichment;

/// Where an event's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// One of the configured time fields of the event.
    Event,
    /// None held a time: the host assigned the ingest time.
    Ingest,
}

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
                ends: Vec::new(),
                times_ms: Vec::new(),
                ingest_times: Vec::new(),
                ids_high: Vec::new(),
                ids_low: Vec::new(),
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
        if time_source == TimeSource::Ingest {
            self.inner.ingest_times.push(self.len() as u32);
        }
        self.inner.data.push_str(json);
        self.inner.ends.push(self.inner.data.len() as u32);
        self.inner.times_ms.push(time_ms);
        self.inner.ids_high.push((id.0 >> 64) as u64);
        self.inner.ids_low.push(id.0 as u64);
    }

    pub fn len(&self) -> usize {
        self.inner.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.ends.is_empty()
    }

    /// Bytes of JSON text of all events together.
    pub fn data_len(&self) -> usize {
        self.inner.data.len()
    }

    /// The event at `index`. Panics when out of range, like slice indexing.
    pub fn event(&self, index: usize) -> Event<'_> {
        assert!(
            index < self.len(),
            "event {index} of a batch of {}",
            self.len()
        );
        let ingest = self
            .inner
            .ingest_times
            .binary_search(&(index as u32))
            .is_ok();
        Event {
            batch: &self.inner,
            index,
            ingest,
        }
    }

    /// The events in order. Walks `ingest-times` alongside, so that reading every
    /// event's time source costs nothing extra.
    pub fn events(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        let mut ingest_times = self.inner.ingest_times.iter().peekable();
        (0..self.len()).map(move |index| {
            let ingest = ingest_times.next_if(|&&i| i as usize == index).is_some();
            Event {
                batch: &self.inner,
                index,
                ingest,
            }
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
    index: usize,
    /// The host assigned the time (the index is in `ingest-times`).
    ingest: bool,
}

impl<'a> Event<'a> {
    /// The event's JSON object, exactly as the host validated it.
    pub fn json(&self) -> &'a str {
        &self.batch.data[self.range()]
    }

    /// The same as bytes, for encoders that copy it into a body: it skips the check
    /// that the range falls on character boundaries, which the host guarantees.
    pub fn json_bytes(&self) -> &'a [u8] {
        &self.batch.data.as_bytes()[self.range()]
    }

    fn range(&self) -> std::ops::Range<usize> {
        let start = match self.index {
            0 => 0,
            i => self.batch.ends[i - 1] as usize,
        };
        start..self.batch.ends[self.index] as usize
    }

    /// Event time in milliseconds since the Unix epoch, UTC.
    pub fn time_ms(&self) -> i64 {
        self.batch.times_ms[self.index]
    }

    /// Whether the time came from the event or was assigned by the host at ingest.
    pub fn time_source(&self) -> TimeSource {
        if self.ingest {
            TimeSource::Ingest
        } else {
            TimeSource::Event
        }
    }

    pub fn id(&self) -> EventId {
        EventId(
            (u128::from(self.batch.ids_high[self.index]) << 64)
                | u128::from(self.batch.ids_low[self.index]),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_the_columns_back() {
        let enrichment = Enrichment {
            host_name: "h".into(),
            machine_id: String::new(),
            sluice_version: "0".into(),
            tags: vec![],
        };
        let mut batch = Batch::new(enrichment);
        let sources = [
            TimeSource::Ingest,
            TimeSource::Event,
            TimeSource::Event,
            TimeSource::Ingest,
            TimeSource::Event,
        ];
        for (i, source) in sources.iter().enumerate() {
            batch.push(
                &format!("{{\"n\":{i}}}"),
                i as i64 * 10,
                *source,
                EventId(u128::MAX - i as u128),
            );
        }
        let walked: Vec<(String, i64, TimeSource, EventId)> = batch
            .events()
            .map(|e| (e.json().to_owned(), e.time_ms(), e.time_source(), e.id()))
            .collect();
        for (i, (json, time, source, id)) in walked.iter().enumerate() {
            assert_eq!(*json, format!("{{\"n\":{i}}}"));
            assert_eq!(
                (*time, *source, *id),
                (i as i64 * 10, sources[i], EventId(u128::MAX - i as u128))
            );
            let event = batch.event(i);
            assert_eq!(
                (event.json(), event.time_source()),
                (json.as_str(), *source),
                "random access agrees"
            );
        }
    }
}

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
#[derive(Debug)]
pub struct Batch<'a> {
    columns: wit::Batch,
    text: Text<'a>,
}

/// Where a batch's JSON text is.
#[derive(Debug)]
enum Text<'a> {
    /// With the host, fetched on first use: a module that only places events by range
    /// never copies it into the sandbox.
    Host {
        handle: &'a wit::EventText,
        fetched: std::cell::OnceCell<String>,
    },
    /// Built in this process, by tests and native benchmarks.
    Owned(String),
}

impl Batch<'static> {
    /// An empty batch, for tests and native benchmarks of a module's encoder.
    pub fn new() -> Self {
        Batch {
            columns: wit::Batch {
                ends: Vec::new(),
                times_ms: Vec::new(),
                ingest_times: Vec::new(),
                ids_high: Vec::new(),
                ids_low: Vec::new(),
            },
            text: Text::Owned(String::new()),
        }
    }

    /// Appends an event; `json` must be one JSON object (the host guarantees it for
    /// the batches it sends).
    pub fn push(&mut self, json: &str, time_ms: i64, time_source: TimeSource, id: EventId) {
        let Text::Owned(text) = &mut self.text else {
            unreachable!("a batch built with `new` owns its text")
        };
        if time_source == TimeSource::Ingest {
            self.columns
                .ingest_times
                .push(self.columns.ends.len() as u32);
        }
        text.push_str(json);
        self.columns.ends.push(text.len() as u32);
        self.columns.times_ms.push(time_ms);
        self.columns.ids_high.push((id.0 >> 64) as u64);
        self.columns.ids_low.push(id.0 as u64);
    }
}

impl Default for Batch<'static> {
    fn default() -> Self {
        Batch::new()
    }
}

impl<'a> Batch<'a> {
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn from_wit(columns: wit::Batch, handle: &'a wit::EventText) -> Self {
        Batch {
            columns,
            text: Text::Host {
                handle,
                fetched: std::cell::OnceCell::new(),
            },
        }
    }

    /// How many events the batch has.
    pub fn len(&self) -> usize {
        self.columns.ends.len()
    }

    /// Whether the batch has no event.
    pub fn is_empty(&self) -> bool {
        self.columns.ends.is_empty()
    }

    /// Bytes of JSON text of all events together.
    pub fn text_len(&self) -> usize {
        self.columns.ends.last().map_or(0, |&end| end as usize)
    }

    /// The JSON text of every event, back to back; fetched from the host on first use.
    pub fn text(&self) -> &str {
        match &self.text {
            Text::Host { handle, fetched } => fetched.get_or_init(|| handle.read()),
            Text::Owned(text) => text,
        }
    }

    /// The event at `index`. Panics when out of range, like slice indexing.
    pub fn event(&self, index: usize) -> Event<'_> {
        assert!(
            index < self.len(),
            "event {index} of a batch of {}",
            self.len()
        );
        let ingest = self
            .columns
            .ingest_times
            .binary_search(&(index as u32))
            .is_ok();
        Event {
            batch: self,
            index,
            ingest,
        }
    }

    /// The events in order. Walks `ingest-times` alongside, so that reading every
    /// event's time source costs nothing extra.
    pub fn events(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        let mut ingest_times = self.columns.ingest_times.iter().peekable();
        (0..self.len()).map(move |index| {
            let ingest = ingest_times.next_if(|&&i| i as usize == index).is_some();
            Event {
                batch: self,
                index,
                ingest,
            }
        })
    }
}

/// One event of a batch.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    batch: &'a Batch<'a>,
    index: usize,
    /// The host assigned the time (the index is in `ingest-times`).
    ingest: bool,
}

impl<'a> Event<'a> {
    /// The event's JSON object, exactly as the host validated it. The first call in a
    /// batch fetches the batch's text from the host; to pass an event on unchanged,
    /// place it in a payload with [`PayloadBuilder::push_event`](crate::PayloadBuilder::push_event)
    /// instead, which copies nothing.
    pub fn json(&self) -> &'a str {
        &self.batch.text()[self.range()]
    }

    /// Bytes of the event's JSON.
    pub fn json_len(&self) -> usize {
        self.range().len()
    }

    /// Where the event's JSON is in the batch's text.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        let ends = &self.batch.columns.ends;
        let start = match self.index {
            0 => 0,
            i => ends[i - 1] as usize,
        };
        start..ends[self.index] as usize
    }

    /// Event time in milliseconds since the Unix epoch, UTC.
    pub fn time_ms(&self) -> i64 {
        self.batch.columns.times_ms[self.index]
    }

    /// Whether the time came from the event or was assigned by the host at ingest.
    pub fn time_source(&self) -> TimeSource {
        if self.ingest {
            TimeSource::Ingest
        } else {
            TimeSource::Event
        }
    }

    /// The event's stable id, the same each time the same line is read.
    pub fn id(&self) -> EventId {
        EventId(
            (u128::from(self.batch.columns.ids_high[self.index]) << 64)
                | u128::from(self.batch.columns.ids_low[self.index]),
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

impl EventId {
    /// Appends the id's text form, 32 lowercase hex digits, without formatting
    /// machinery: a module that sends the id of every event pays a few stores. The
    /// digits are taken from the two 64-bit halves: WebAssembly has no 128-bit shift,
    /// and one of a variable amount is a call into compiler-rt per digit.
    #[inline(always)]
    pub fn write_hex(self, out: &mut Vec<u8>) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 32];
        for (half, digits) in [(self.0 >> 64) as u64, self.0 as u64]
            .into_iter()
            .zip(text.as_chunks_mut::<16>().0)
        {
            for (i, digit) in digits.iter_mut().enumerate() {
                *digit = DIGITS[((half >> (60 - 4 * i)) & 0xf) as usize];
            }
        }
        out.extend_from_slice(&text);
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        sluice_contract::id::IdText(self.0).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hex_form_is_the_text_form() {
        for id in [0, 1, 0xabc, u128::MAX, u128::MAX / 3] {
            let mut out = Vec::new();
            EventId(id).write_hex(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), EventId(id).to_string());
        }
    }

    #[test]
    fn events_read_the_columns_back() {
        let mut batch = Batch::new();
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
        assert_eq!(batch.text_len(), batch.text().len());
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

//! Parse, enrich and route: from lines read by a source to chunks of events queued
//! for the destinations that take that source.

mod enrich;
mod filters;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

pub use enrich::enrichment;
pub use filters::Filters;
pub use sluice_reader::{ChunkBuilder, Line, LineParser, Parsed, Reject, TimeBounds};

use crate::ack::{Ack, Position, Watermark};
use crate::buffer::{QueueSender, Refused};
use crate::config::{EventsConfig, Policy};
use crate::dead_letter::{DeadLetter, RejectedLine, now_rfc3339};
use crate::event::EventChunk;
use crate::integrity::{Chains, Integrity};
use crate::metrics::SourceFigures;
use crate::metrics::{Counters, Throttle, throttle};
use crate::persist::spool::ReadTo;
use crate::persist::{FileId, Spool};

/// What happens once a chunk is safe (every destination that takes it delivered or
/// dead-lettered its events, or the spool holds it): a file's watermark moves, an HTTP
/// request is answered. Dropped without running when the chunk is not made safe.
pub struct Mark {
    on_safe: Box<dyn FnOnce() + Send + Sync>,
    /// Where the chunk ends in its file: the spool keeps it, so that the file's
    /// checkpoint follows what the spool has on disk.
    read: Option<ReadTo>,
}

impl Mark {
    /// `position`'s chunk of `file`, whose `watermark` moves over it when safe.
    pub fn file(watermark: &Watermark, position: Position, file: FileId) -> Mark {
        let watermark = watermark.clone();
        Mark {
            on_safe: Box::new(move || {
                watermark.settle(position);
            }),
            read: Some(ReadTo {
                file,
                point: position.end,
            }),
        }
    }

    /// Runs `on_safe` once the chunk is safe.
    pub fn call(on_safe: impl FnOnce() + Send + Sync + 'static) -> Mark {
        Mark {
            on_safe: Box::new(on_safe),
            read: None,
        }
    }
}

impl std::fmt::Debug for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mark").field("read", &self.read).finish()
    }
}

/// Where a line came from, for dead-letter records and stable event ids.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// A file path, or `stdin`.
    pub name: &'a str,
    /// What the stream is under any name: for a file, a hash of its device and inode
    /// ([`FileId::seed`](crate::persist::FileId::seed)); for standard input, of `stdin`.
    pub stream: u64,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's start.
    pub offset: u64,
}

impl Origin<'_> {
    /// What makes the ids of this line's event stable across re-reads: its stream (not
    /// its name: a file renamed while sluice was stopped keeps its ids, so a SIEM can
    /// recognise what a restart sends again) and its position there.
    pub fn id_seed(&self) -> u64 {
        self.stream ^ self.offset
    }
}

/// The stream seed of standard input.
pub fn stdin_stream() -> u64 {
    xxhash_rust::xxh3::xxh3_64(b"stdin")
}

/// Why a line over `events.max_line_bytes` is not an event.
pub fn too_long(len: u64, max_line_bytes: usize, kept: usize) -> String {
    format!(
        "line of {len} bytes is longer than events.max_line_bytes ({max_line_bytes}); its first {kept} bytes are kept here"
    )
}

/// Why an event a filter kept is not exported: it lacks `fields`, which the filter's
/// `[require]` names.
pub fn unfit_reason(fields: &[String]) -> String {
    let named: Vec<String> = fields.iter().map(|field| format!("`{field}`")).collect();
    format!(
        "the policy requires {}, which the event lacks (absent, null or empty)",
        named.join(", ")
    )
}

/// The parser an `[events]` table asks for, applying `filters` in order.
pub fn line_parser(config: &EventsConfig, filters: Vec<Arc<Policy>>) -> LineParser {
    let bounds = TimeBounds {
        earliest_ms: config.earliest_time.as_millisecond(),
        max_future_ms: i64::try_from(config.max_future.as_millis()).unwrap_or(i64::MAX),
    };
    LineParser::with_filters(
        config.time_fields.clone(),
        filters,
        bounds,
        config.max_depth,
    )
}

/// A filter's name and how many events it dropped.
#[derive(Debug)]
pub struct FilterCount {
    pub name: String,
    pub dropped: AtomicU64,
}

/// Everything a source's ingest needs, shared by all sources.
#[derive(Debug)]
pub struct Router {
    /// Swapped when a global filter policy is reloaded.
    parsing: RwLock<Arc<Parsing>>,
    /// Counts the swaps: an ingest compares it with its own before each line.
    parser_generation: AtomicU64,
    /// Longest line read whole; a longer one is dead-lettered with its start.
    pub max_line_bytes: usize,
    /// With the spool, chunks go there and the destinations read them back; else to
    /// the destinations' queues of `routing`.
    spool: Option<Arc<Spool>>,
    /// Swapped when a reload adds, removes or changes destinations.
    routing: RwLock<Arc<Routing>>,
    pub dead_letter: Arc<DeadLetter>,
    pub counters: Arc<Counters>,
    /// `[integrity]`: the sources chain their events.
    pub integrity: Option<Arc<Integrity>>,
}

/// The parser, with what each of its filters dropped, in its order.
#[derive(Debug)]
pub struct Parsing {
    pub parser: LineParser,
    pub counts: Vec<Arc<FilterCount>>,
}

/// Where the chunks of each source go, without the spool.
#[derive(Debug, Default)]
pub struct Routing {
    /// Each destination's queue, by the destination's index: a chunk is safe once every
    /// destination that takes it has settled it. Empty with the spool.
    pub queues: Vec<(Arc<str>, QueueSender)>,
    /// For each source, by index, the destinations that take its events.
    pub routes: Vec<Vec<usize>>,
}

impl Routing {
    /// The queue of `destination`, for a new routing that keeps it.
    pub fn queue(&self, destination: &str) -> Option<QueueSender> {
        self.queues
            .iter()
            .find(|(name, _)| name.as_ref() == destination)
            .map(|(_, queue)| queue.clone())
    }
}

impl Router {
    pub fn new(
        parsing: Parsing,
        max_line_bytes: usize,
        spool: Option<Arc<Spool>>,
        routing: Routing,
        (dead_letter, counters): (Arc<DeadLetter>, Arc<Counters>),
        integrity: Option<Arc<Integrity>>,
    ) -> Self {
        Router {
            parsing: RwLock::new(Arc::new(parsing)),
            parser_generation: AtomicU64::new(0),
            max_line_bytes,
            spool,
            routing: RwLock::new(Arc::new(routing)),
            dead_letter,
            counters,
            integrity,
        }
    }

    /// The parsing in force, and its generation.
    fn parsing(&self) -> (Arc<Parsing>, u64) {
        let parsing = self.parsing.read().expect("not poisoned");
        (
            parsing.clone(),
            self.parser_generation.load(Ordering::Acquire),
        )
    }

    /// Parses with `parsing` from the sources' next lines on.
    pub fn set_parsing(&self, parsing: Parsing) {
        let mut current = self.parsing.write().expect("not poisoned");
        *current = Arc::new(parsing);
        self.parser_generation.fetch_add(1, Ordering::Release);
    }

    /// The routing in force.
    pub fn routing(&self) -> Arc<Routing> {
        self.routing.read().expect("not poisoned").clone()
    }

    /// Routes the sources' next chunks with `routing`. A queue it no longer holds closes
    /// once the chunks under way are in (its destination then delivers what it holds).
    pub fn set_routing(&self, routing: Routing) {
        *self.routing.write().expect("not poisoned") = Arc::new(routing);
    }
}

impl Drop for Router {
    /// The sources are done: the spool's readers end at its last record.
    fn drop(&mut self) {
        if let Some(spool) = &self.spool {
            spool.close();
        }
    }
}

/// One source's ingest: collects parsed events of a read into a chunk, then routes the
/// chunk to the destinations that take the source.
#[derive(Debug)]
pub struct Ingest {
    router: Arc<Router>,
    /// The router's parsing, taken again when its generation moves on.
    parsing: Arc<Parsing>,
    parser_generation: u64,
    /// Which source this is, for its routes.
    source: usize,
    /// Its own figures (the run's are in the router's counters).
    figures: Arc<SourceFigures>,
    /// Rejected lines are warned about at most once per [`throttle::EVERY`].
    reject_warnings: Throttle,
    chunk: ChunkBuilder,
    /// Lines of the current chunk that are not events.
    rejected: Vec<RejectedLine>,
    now_ms: i64,
    /// Cancelled when the source stops: a dead-letter store that cannot take the
    /// rejected lines is not waited for any longer.
    give_up: CancellationToken,
    /// Cancelled when a source that answers a producer stops waiting for room in the
    /// spool or a queue ([`Ingest::busy_after`]); none: it waits until it stops.
    busy: Option<CancellationToken>,
    /// `[integrity]`: the source's chains.
    chains: Option<Chains>,
}

impl Drop for Ingest {
    /// The source has stopped: the rejected lines no warning has counted yet are said,
    /// so that the warnings add up to `lines_rejected`.
    fn drop(&mut self) {
        let lines = self.reject_warnings.rest();
        if lines > 0 {
            tracing::warn!(
                source = %self.figures.label,
                lines,
                "lines rejected to the dead-letter store since the last such warning"
            );
        }
    }
}

/// Every destination has stopped taking events.
#[derive(Debug)]
pub struct Closed;

impl Ingest {
    /// The ingest of the source at `source` in the configuration.
    pub fn new(
        router: Arc<Router>,
        (source, figures): (usize, Arc<SourceFigures>),
        give_up: CancellationToken,
    ) -> Self {
        let (parsing, parser_generation) = router.parsing();
        let chains = (router.integrity.as_ref()).map(|i| i.chains(&figures.label, false));
        Ingest {
            chains,
            parsing,
            parser_generation,
            router,
            source,
            figures,
            reject_warnings: Throttle::default(),
            chunk: ChunkBuilder::default(),
            rejected: Vec::new(),
            now_ms: 0,
            give_up,
            busy: None,
        }
    }

    /// Each file the source reads is a stream of its own for `[integrity]`.
    pub fn chain_each_file(&mut self) {
        if let Some(integrity) = &self.router.integrity {
            self.chains = Some(integrity.chains(&self.figures.label, true));
        }
    }

    /// Whether events are chained (`[integrity]`).
    pub fn chaining(&self) -> bool {
        self.chains.is_some()
    }

    /// Chains the events of `prefix`, the lines of file `stream` before where a restart
    /// resumes it, as they were when first read (the same bytes, the same policies),
    /// sending nothing: the events read next follow them in the chain.
    pub fn replay_chain(
        &mut self,
        stream: u64,
        name: &str,
        prefix: &mut dyn std::io::Read,
    ) -> std::io::Result<()> {
        let Some(chains) = &mut self.chains else {
            return Ok(());
        };
        let parser = &self.parsing.parser;
        let mut splitter = sluice_reader::lines::LineSplitter::new(self.router.max_line_bytes);
        let mut scratch = ChunkBuilder::default();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let mut block = vec![0u8; 256 * 1024];
        let mut chain_line = |_: sluice_reader::lines::LinePosition, line: Line<'_>| {
            if let Line::Complete(bytes) = line
                && let Parsed::Event { .. } = parser.parse(bytes, 0, now_ms, &mut scratch)
            {
                let ChunkBuilder { data, events } = &mut scratch;
                let meta = events.last_mut().expect("just parsed");
                // Refused when first read too: not in the chain.
                let _ = chains.stamp((stream, name), data, meta);
                data.clear();
                events.clear();
            }
        };
        loop {
            match prefix.read(&mut block) {
                Ok(0) => return Ok(()),
                Ok(n) => splitter.feed(&block[..n], &mut chain_line),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// File `stream` is read again from its start (replaced in place): a new stream.
    pub fn restart_chain(&mut self, stream: u64) {
        if let Some(chains) = &mut self.chains {
            chains.restart(stream);
        }
    }

    /// File `stream` (any stream, `0`, for a source that is not a file) is closed:
    /// the next flush carries its digest.
    pub fn seal_chain(&mut self, stream: u64) {
        if let Some(chains) = &mut self.chains {
            chains.seal(stream);
        }
    }

    /// The next flushes wait for room in the spool or a full queue only until `busy`
    /// is cancelled; the chunk is then not safe, and its mark is dropped.
    pub fn busy_after(&mut self, busy: Option<CancellationToken>) {
        self.busy = busy;
    }

    /// Events of the current chunk, so far.
    pub fn pending_events(&self) -> usize {
        self.chunk.events.len()
    }

    /// The current chunk's lines that are not events, so far.
    pub fn rejected_count(&self) -> usize {
        self.rejected.len()
    }

    /// The line numbers and reasons of the current chunk's lines that are not events.
    pub fn pending_rejections(&self) -> impl Iterator<Item = (u64, &str)> {
        self.rejected
            .iter()
            .map(|rejected| (rejected.number, rejected.reason.as_str()))
    }

    /// Counts bytes a source read.
    pub fn read_bytes(&self, bytes: usize) {
        Counters::add(&self.router.counters.bytes_read, bytes);
        Counters::add(&self.figures.bytes, bytes);
    }

    /// The source's figures, for what its reader keeps there itself.
    pub fn figures(&self) -> &SourceFigures {
        &self.figures
    }

    /// Counts the bytes before the checkpoint a file resumed at.
    pub fn resumed_bytes(&self, bytes: u64) {
        (self.router.counters.bytes_resumed).fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts an input the source could not read (it logs why).
    pub fn read_error(&self) {
        Counters::add(&self.router.counters.read_errors, 1);
    }

    /// The longest line a source should hand over whole.
    pub fn max_line_bytes(&self) -> usize {
        self.router.max_line_bytes
    }

    /// Parses one line into the current chunk, or dead-letters it.
    pub fn line(&mut self, origin: Origin<'_>, line: Line<'_>) {
        match line {
            Line::Complete(bytes) => self.parse(origin, bytes),
            Line::TooLong { start, len } => {
                let reason = too_long(len, self.router.max_line_bytes, start.len());
                self.reject(origin, Reject::TooLong, &reason, start);
            }
        }
    }

    /// Keeps `line` for the dead-letter store with `reason` without parsing it: its
    /// source's protocol refused it.
    pub fn refuse(&mut self, origin: Origin<'_>, reason: &str, line: &[u8]) {
        self.reject(origin, Reject::Protocol, reason, line);
    }

    /// Takes `line` as [`Ingest::line`] does when it is JSON; when it is not, leaves it
    /// (false), for the source to make an event of otherwise: a syslog message's MSG.
    pub fn line_if_json(&mut self, origin: Origin<'_>, line: &[u8]) -> bool {
        match self.parsed(origin, line) {
            Parsed::Rejected(Reject::NotJson, _) => false,
            parsed => {
                self.take(origin, line, parsed);
                true
            }
        }
    }

    fn parse(&mut self, origin: Origin<'_>, line: &[u8]) {
        let parsed = self.parsed(origin, line);
        self.take(origin, line, parsed);
    }

    /// What the parser makes of `line`: an event appended to the chunk, or not.
    fn parsed(&mut self, origin: Origin<'_>, line: &[u8]) -> Parsed {
        // A reloaded policy applies from the next line on.
        if self.router.parser_generation.load(Ordering::Relaxed) != self.parser_generation {
            (self.parsing, self.parser_generation) = self.router.parsing();
        }
        if self.chunk.events.is_empty() {
            // One clock read per chunk: the ingest time of a read.
            self.now_ms = jiff::Timestamp::now().as_millisecond();
        }
        self.parsing
            .parser
            .parse(line, origin.id_seed(), self.now_ms, &mut self.chunk)
    }

    /// Counts, stamps or keeps for the dead-letter store what the parser made of `line`.
    fn take(&mut self, origin: Origin<'_>, line: &[u8], parsed: Parsed) {
        match parsed {
            Parsed::Blank => {}
            Parsed::Event { time_unparsed } => {
                if let Some(chains) = &mut self.chains {
                    let ChunkBuilder { data, events } = &mut self.chunk;
                    let meta = events.last_mut().expect("just parsed");
                    if let Err(reason) = chains.stamp((origin.stream, origin.name), data, meta) {
                        data.truncate(meta.offset as usize);
                        events.pop();
                        self.reject(origin, Reject::NotJson, &reason, line);
                        return;
                    }
                }
                self.count_time_unparsed(origin, time_unparsed);
            }
            Parsed::Rejected(kind, reason) => self.reject(origin, kind, &reason, line),
            Parsed::Unfit {
                filter,
                fields,
                time_unparsed,
            } => {
                self.count_time_unparsed(origin, time_unparsed);
                let reason = format!(
                    "filter `{}`: {}",
                    self.parsing.counts[filter].name,
                    unfit_reason(&fields)
                );
                self.reject(origin, Reject::Required, &reason, line);
            }
            // Neither an event nor an error: counted, never dead-lettered.
            Parsed::Filtered {
                filter,
                time_unparsed,
            } => {
                Counters::add(&self.parsing.counts[filter].dropped, 1);
                Counters::add(&self.router.counters.filtered, 1);
                self.count_time_unparsed(origin, time_unparsed);
            }
        }
    }

    /// Counts an event judged by its ingest time because its time field held no time
    /// (kept, or dropped or dead-lettered by a filter that may have judged that time):
    /// the first is said.
    fn count_time_unparsed(&self, origin: Origin<'_>, time_unparsed: bool) {
        if !time_unparsed {
            return;
        }
        let previous = self
            .router
            .counters
            .time_unparsed
            .fetch_add(1, Ordering::Relaxed);
        if previous == 0 {
            tracing::warn!(
                file = origin.name,
                line = origin.line,
                "a time field holds no parsable time; using the ingest time (the event keeps the original value; further cases are only counted)"
            );
        }
    }

    /// Keeps a line that is not an event, with `reason`, for the dead-letter store; it
    /// is written there before the chunk it was read with goes on.
    fn reject(&mut self, origin: Origin<'_>, kind: Reject, reason: &str, line: &[u8]) {
        self.figures.rejected(kind);
        self.rejected.push(RejectedLine::new(
            origin.name,
            origin.line,
            reason.to_owned(),
            line,
        ));
    }

    /// Appends the digests due to the chunk; they are recorded as made once it is safe,
    /// before `mark` runs.
    fn add_digests(&mut self, mark: Option<Mark>) -> Option<Mark> {
        let Some(chains) = self.chains.as_mut() else {
            return mark;
        };
        let ChunkBuilder { data, events } = &mut self.chunk;
        let digested = chains.digests_due(data, events);
        if digested.is_empty() {
            return mark;
        }
        let integrity = chains.integrity();
        let (then, read) = match mark {
            Some(Mark { on_safe, read }) => (Some(on_safe), read),
            None => (None, None),
        };
        Some(Mark {
            on_safe: Box::new(move || {
                integrity.record(&digested);
                if let Some(then) = then {
                    then();
                }
            }),
            read,
        })
    }

    /// Writes the rejected lines of the current chunk to the dead-letter store; false
    /// when the store could not take them before the source stopped.
    async fn store_rejected(&mut self) -> bool {
        if self.rejected.is_empty() {
            return true;
        }
        let records = RejectedLine::records(&self.rejected, &now_rfc3339());
        let stored = self.router.dead_letter.store(&records, &self.give_up).await;
        let count = self.rejected.len();
        if stored {
            Counters::add(&self.router.counters.lines_rejected, count);
            // Said once they are in the store: what the warnings count is there.
            if let Some(lines) = self.reject_warnings.due(count as u64) {
                let last = self.rejected.last().expect("not empty");
                tracing::warn!(line = %format!("{}:{}", last.source, last.number), reason = %last.reason, lines, "lines rejected to the dead-letter store (`lines`: since the last such warning, these included; `line` and `reason` of the last; the next warning comes in {:?} at the earliest)", throttle::EVERY);
            }
        } else {
            Counters::add(&self.router.counters.abandoned, count);
            tracing::error!(
                lines = count,
                "rejected lines could not be written to the dead-letter store before the source stopped; they are lost"
            );
        }
        self.rejected.clear();
        stored
    }

    /// Sends the current chunk to every destination. A destination whose queue has
    /// room gets it at once, whichever other queue is full: one destination that
    /// cannot keep up holds back the source, not the other destinations. Its
    /// acknowledgement counts the events as settled once every destination has
    /// delivered or dead-lettered them (or the spool holds them), and runs `mark` then
    /// (at once when no line of the chunk was an event).
    pub async fn flush(&mut self, mark: Option<Mark>) -> Result<(), Closed> {
        let read = mark.as_ref().and_then(|mark| mark.read);
        // A line the store did not take is not safe: the mark is dropped unmoved.
        let mark = match self.store_rejected().await {
            true => mark,
            false => None,
        };
        let mark = self.add_digests(mark);
        if self.chunk.events.is_empty() {
            if let Some(mark) = mark {
                (mark.on_safe)();
            }
            return Ok(());
        }
        // The next chunk starts with the room this one took: growing a chunk from empty
        // copied it again at every doubling.
        let next = ChunkBuilder::with_capacity(self.chunk.data.len(), self.chunk.events.len());
        let ChunkBuilder { data, events } = std::mem::replace(&mut self.chunk, next);
        let count = events.len();
        let chunk = EventChunk { data, events };
        if let Some(spool) = &self.router.spool {
            return self.spool(spool, &chunk, read, mark).await;
        }
        let routing = self.router.routing();
        let counters = self.router.counters.clone();
        let ack = Ack::new(move || {
            Counters::add(&counters.events_settled, count);
            if let Some(mark) = mark {
                (mark.on_safe)();
            }
        });
        // The template only hands out holders: each batch that takes events clones one.
        let ack = ack.into_template();
        let chunk = Arc::new(chunk);
        let mut full = Vec::new();
        let mut taken = 0;
        let routes = routing.routes.get(self.source).into_iter().flatten();
        for route in routes.map(|&destination| &routing.queues[destination].1) {
            match route.try_push(&chunk, &ack) {
                Ok(()) => taken += 1,
                Err(Refused::Full) => full.push(route),
                Err(Refused::Closed) => ack.mark_unsafe(),
            }
        }
        // Once the shutdown deadline passes, the workers drain their batches as
        // abandoned, so a queue always makes room again. A source that answers its
        // producer waits only until it is `busy`: the chunk is then not safe (the
        // destinations that took it still deliver it).
        for route in full {
            let pushed = match &self.busy {
                Some(busy) => tokio::select! {
                    pushed = route.push(&chunk, &ack) => pushed.is_ok(),
                    () = busy.cancelled() => false,
                },
                None => route.push(&chunk, &ack).await.is_ok(),
            };
            match pushed {
                true => taken += 1,
                false => ack.mark_unsafe(),
            }
        }
        if taken == 0 {
            return Err(Closed);
        }
        self.taken_in(count);
        Ok(())
    }

    /// Counts the events of a chunk handed on: one a source could not hand on (it
    /// stopped, or its producer was told to send it again) is not read.
    fn taken_in(&self, count: usize) {
        Counters::add(&self.router.counters.events_in, count);
        Counters::add(&self.figures.events, count);
    }

    /// Writes the chunk to the spool; once there it is safe, and `mark`'s watermark
    /// moves over it. A chunk the spool cannot take yet (full, or a write that failed:
    /// a full disk) is written when it can, the source waiting meanwhile; one it has not
    /// taken when the source stops is never settled, so the checkpoint stays before it
    /// and a restart reads it again.
    async fn spool(
        &self,
        spool: &Spool,
        chunk: &EventChunk,
        read: Option<ReadTo>,
        mark: Option<Mark>,
    ) -> Result<(), Closed> {
        let give_up = self.busy.as_ref().unwrap_or(&self.give_up);
        if !spool.append(self.source, chunk, read, give_up).await {
            return Err(Closed);
        }
        self.taken_in(chunk.events.len());
        Counters::add(&self.router.counters.events_settled, chunk.events.len());
        if let Some(mark) = mark {
            (mark.on_safe)();
        }
        Ok(())
    }
}

//! The reading side of an export, on a thread of its own: each file from where the
//! export stands, line by line, into pieces of the events in the range that the
//! policies keep, each piece with the point after its last line.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Result;
use tokio::sync::mpsc;

use super::inputs::{self, Input};
use super::state::Point;
use crate::dead_letter::RejectedLine;
use crate::pipeline::{ChunkBuilder, Line, Origin, Parsed, too_long, unfit_reason};
use crate::source::{LinePosition, LineSplitter};
use sluice_reader::{LineParser, Selector, Skip};

/// A piece closes at this many events or bytes of them.
const PIECE_EVENTS: usize = 2000;
const PIECE_BYTES: usize = 2 << 20;

/// Events to export and the lines rejected with them, up to `point`.
#[derive(Debug)]
pub struct Piece {
    pub chunk: ChunkBuilder,
    pub rejected: Vec<RejectedLine>,
    pub point: Point,
}

/// What the reading found, as it goes.
#[derive(Debug, Default)]
pub struct Tally {
    /// Bytes of the files read (compressed, for a compressed file), against their sizes.
    pub bytes: Arc<AtomicU64>,
    pub events: AtomicU64,
    pub out_of_range: AtomicU64,
    pub filtered: AtomicU64,
    /// Not taken by the destination: its routes send them elsewhere, or its own filter.
    pub not_taken: AtomicU64,
    pub files_read: AtomicU64,
    pub files_skipped: AtomicU64,
    /// Files that could not be read to their end (gone, cut, corrupt).
    pub read_errors: AtomicU64,
}

/// What the reader needs besides the files.
pub struct Reading {
    pub inputs: Vec<Input>,
    pub from: Point,
    pub range_ms: (i64, i64),
    /// Read every file, whatever its times.
    pub read_every_file: bool,
    pub parser: LineParser,
    /// Parses without the policies, for a file's first and last times.
    pub probe: LineParser,
    /// The names of the policies the parser applies, in its order.
    pub policy_names: Vec<String>,
    /// The destination's own policy and routes.
    pub selector: Option<Selector>,
    pub max_line_bytes: usize,
    pub tally: Arc<Tally>,
    pub stop: Arc<AtomicBool>,
}

/// Reads from `reading.from` to the end of the last file (or a stop), sending the
/// pieces; an error ends the export.
pub fn read(reading: Reading, pieces: mpsc::Sender<Piece>) -> Result<()> {
    let mut point = reading.from;
    while point.file < reading.inputs.len() {
        if reading.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let input = &reading.inputs[point.file];
        let skip = match (point.offset, reading.read_every_file) {
            (0, false) => inputs::span(input, &reading.probe)
                .ok()
                .and_then(|span| span.outside(reading.range_ms.0, reading.range_ms.1)),
            _ => None,
        };
        match skip {
            Some(why) => {
                tracing::info!(file = %input.name(), "not read: {why}");
                reading.tally.files_skipped.fetch_add(1, Ordering::Relaxed);
                reading.tally.bytes.fetch_add(input.len, Ordering::Relaxed);
            }
            None => match read_file(&reading, input, point, &pieces) {
                Ok(true) => {
                    reading.tally.files_read.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => return Ok(()),
                // The next files are read all the same; the exit code says it.
                Err(error) => {
                    tracing::error!(file = %input.name(), error = %format!("{error:#}"), "cannot read the file (further): its events from there on are not exported");
                    reading.tally.read_errors.fetch_add(1, Ordering::Relaxed);
                }
            },
        }
        point = Point {
            file: point.file + 1,
            offset: 0,
            line: 0,
        };
        let end = Piece {
            chunk: ChunkBuilder::default(),
            rejected: Vec::new(),
            point,
        };
        if pieces.blocking_send(end).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads one file from `point`; false when the export stopped before its end.
fn read_file(
    reading: &Reading,
    input: &Input,
    point: Point,
    pieces: &mpsc::Sender<Piece>,
) -> Result<bool> {
    let mut text = inputs::open(input, point.offset, reading.tally.bytes.clone())?;
    let resume = LinePosition {
        number: point.line,
        offset: point.offset,
    };
    let mut splitter = LineSplitter::resuming(reading.max_line_bytes, resume);
    let name = input.name();
    let stream = input.id().seed();
    let mut piece = Lines {
        reading,
        name: &name,
        stream,
        now_ms: jiff::Timestamp::now().as_millisecond(),
        chunk: ChunkBuilder::default(),
        rejected: Vec::new(),
    };
    let mut block = vec![0u8; super::READ_BLOCK];
    loop {
        let n = match text.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => anyhow::bail!("reading {name}: {error}"),
        };
        splitter.feed(&block[..n], |position, line| piece.line(position, line));
        if piece.full() {
            let at = Point {
                file: point.file,
                offset: splitter.consumed(),
                line: splitter.lines(),
            };
            if pieces.blocking_send(piece.take(at)).is_err() || reading.stop.load(Ordering::Relaxed)
            {
                return Ok(false);
            }
        }
    }
    splitter.finish(|position, line| piece.line(position, line));
    let at = Point {
        file: point.file,
        offset: splitter.consumed(),
        line: splitter.lines(),
    };
    Ok(pieces.blocking_send(piece.take(at)).is_ok())
}

/// The piece being filled from one file's lines.
struct Lines<'a> {
    reading: &'a Reading,
    name: &'a str,
    stream: u64,
    now_ms: i64,
    chunk: ChunkBuilder,
    rejected: Vec<RejectedLine>,
}

impl Lines<'_> {
    fn full(&self) -> bool {
        self.chunk.events.len() >= PIECE_EVENTS
            || self.chunk.data.len() >= PIECE_BYTES
            || self.rejected.len() >= PIECE_EVENTS
    }

    fn take(&mut self, point: Point) -> Piece {
        Piece {
            chunk: std::mem::take(&mut self.chunk),
            rejected: std::mem::take(&mut self.rejected),
            point,
        }
    }

    fn line(&mut self, position: LinePosition, line: Line<'_>) {
        let origin = Origin {
            name: self.name,
            stream: self.stream,
            line: position.number,
            offset: position.offset,
        };
        let bytes = match line {
            Line::Complete(bytes) => bytes,
            Line::TooLong { start, len } => {
                let reason = too_long(len, self.reading.max_line_bytes, start.len());
                return self.reject(&origin, reason, start);
            }
        };
        let tally = &self.reading.tally;
        let parsed =
            self.reading
                .parser
                .parse(bytes, origin.id_seed(), self.now_ms, &mut self.chunk);
        match parsed {
            Parsed::Blank => {}
            Parsed::Event { .. } => {
                tally.events.fetch_add(1, Ordering::Relaxed);
                let meta = *self.chunk.events.last().expect("just parsed");
                let (from, to) = self.reading.range_ms;
                let skip = self
                    .reading
                    .selector
                    .as_ref()
                    .and_then(|s| s.skips(meta.json_in(&self.chunk.data), meta.time_ms));
                if meta.ingest_time || !(from..to).contains(&meta.time_ms) || skip.is_some() {
                    self.chunk.events.pop();
                    self.chunk.data.truncate(meta.offset as usize);
                }
                if meta.ingest_time {
                    let reason = "no time field holds a time: whether the event is in the range cannot be told".to_owned();
                    self.reject(&origin, reason, bytes);
                } else if !(from..to).contains(&meta.time_ms) {
                    tally.out_of_range.fetch_add(1, Ordering::Relaxed);
                } else if let Some(Skip::Filtered | Skip::RoutedAway) = skip {
                    tally.not_taken.fetch_add(1, Ordering::Relaxed);
                }
            }
            Parsed::Rejected(_, reason) => self.reject(&origin, reason, bytes),
            Parsed::Unfit { filter, fields, .. } => {
                tally.events.fetch_add(1, Ordering::Relaxed);
                let reason = format!(
                    "filter `{}`: {}",
                    self.reading.policy_names[filter],
                    unfit_reason(&fields)
                );
                self.reject(&origin, reason, bytes);
            }
            Parsed::Filtered { .. } => {
                tally.events.fetch_add(1, Ordering::Relaxed);
                tally.filtered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn reject(&mut self, origin: &Origin<'_>, reason: String, line: &[u8]) {
        let rejected = RejectedLine::new(origin.name, origin.line, reason, line);
        self.rejected.push(rejected);
    }
}

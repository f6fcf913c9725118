//! A request's body: read within the size and time bounds, decompressed within the
//! size bound, and cut into the lines that become events (NDJSON lines, the elements
//! of a JSON array).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use axum::http::{HeaderMap, header};
use serde_json::value::RawValue;

use super::super::{LineSplitter, compact_json};
use sluice_reader::Line;

/// A body must have arrived within this once its head has: a client that stops sending
/// half-way does not hold a connection (and the run's shutdown) for longer.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a body is not read.
#[derive(Debug)]
pub enum Refusal {
    /// Past `max_body_bytes`, as sent or decompressed.
    TooLarge(usize),
    /// A `Content-Encoding` other than gzip.
    Encoding(String),
    /// Not what it says it is (gzip that is not, a body cut off).
    Unreadable(String),
    /// The bodies under way hold the source's memory budget.
    Busy,
    /// Sluice is stopping.
    Stopping,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLarge(max) => write!(
                f,
                "the body is longer than max_body_bytes ({max} bytes, as sent or decompressed): send fewer events per request"
            ),
            Refusal::Encoding(encoding) => write!(
                f,
                "Content-Encoding `{encoding}` is not supported: send the body as is, or gzip"
            ),
            Refusal::Unreadable(why) => f.write_str(why),
            Refusal::Busy => {
                f.write_str("the bodies of the requests under way fill the source's memory budget")
            }
            Refusal::Stopping => f.write_str("Sluice is stopping"),
        }
    }
}

/// What bounds the bodies of one source's requests, alone and together: authenticated
/// clients that send large bodies slowly cannot take more memory than this.
#[derive(Debug)]
pub struct Budget {
    /// KiB of bodies held at once.
    memory: Arc<Semaphore>,
    pub max_body_bytes: usize,
    /// How long a request waits for its share before it is refused.
    wait: Duration,
}

impl Budget {
    /// Bodies of at most `max_body_bytes`, and [`Budget::total`] of them together.
    pub fn new(max_body_bytes: usize, wait: Duration) -> Self {
        let kib = Self::total(max_body_bytes).div_ceil(1024);
        Budget {
            memory: Arc::new(Semaphore::new(kib)),
            max_body_bytes,
            wait,
        }
    }

    /// 64 MiB, or four of the largest bodies when more.
    pub fn total(max_body_bytes: usize) -> usize {
        (64 << 20).max(max_body_bytes.saturating_mul(4))
    }
}

/// A request's body, and its share of the budget (given back when dropped).
#[derive(Debug)]
pub struct Body {
    pub bytes: axum::body::Bytes,
    _share: OwnedSemaphorePermit,
}

/// The body of a request, decompressed, at most `max_body_bytes`; refused at once when
/// its `Content-Length` says it is longer, and when `stop` comes while it arrives.
pub async fn read(
    headers: &HeaderMap,
    body: axum::body::Body,
    budget: &Budget,
    stop: &CancellationToken,
) -> Result<Body, Refusal> {
    let max = budget.max_body_bytes;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let gzip = match encoding.as_deref() {
        None | Some("" | "identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(other) => return Err(Refusal::Encoding(other.to_owned())),
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if length.is_some_and(|length| length > max as u64) {
        return Err(Refusal::TooLarge(max));
    }
    // What the body will hold at most: as sent, or once inflated.
    let share = match (gzip, length) {
        (false, Some(length)) => length as usize,
        _ => max,
    };
    let kib = u32::try_from(share.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let share = tokio::select! {
        share = tokio::time::timeout(budget.wait, budget.memory.clone().acquire_many_owned(kib)) => match share {
            Ok(Ok(share)) => share,
            _ => return Err(Refusal::Busy),
        },
        () = stop.cancelled() => return Err(Refusal::Stopping),
    };
    let arriving = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, max));
    let arrived = tokio::select! {
        arrived = arriving => arrived,
        () = stop.cancelled() => return Err(Refusal::Stopping),
    };
    let sent = match arrived {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => {
            return Err(match too_large(&error) {
                true => Refusal::TooLarge(max),
                false => Refusal::Unreadable(format!("the body could not be read: {error}")),
            });
        }
        Err(_) => {
            return Err(Refusal::Unreadable(format!(
                "the body did not arrive within {BODY_TIMEOUT:?}"
            )));
        }
    };
    if !gzip {
        return Ok(Body {
            bytes: sent,
            _share: share,
        });
    }
    // Bounded as it is inflated: a small bomb does not become gigabytes here.
    let mut out = Vec::with_capacity(sent.len().saturating_mul(4).min(max));
    flate2::read::MultiGzDecoder::new(&sent[..])
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| {
            Refusal::Unreadable(format!(
                "Content-Encoding is gzip, but the body is not gzip: {error}"
            ))
        })?;
    if out.len() > max {
        return Err(Refusal::TooLarge(max));
    }
    Ok(Body {
        bytes: out.into(),
        _share: share,
    })
}

/// Whether a body error is axum's length limit.
fn too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// One piece of a body that should be an event.
#[derive(Debug)]
pub struct Piece<'a> {
    /// 1-based: a line of NDJSON, an element of an array.
    pub number: u64,
    /// Where it starts in the body: what makes its event's id.
    pub offset: u64,
    pub line: Line<'a>,
    /// Set when the source's protocol refused it: kept in the dead-letter store with
    /// this reason, not parsed.
    pub refused: Option<&'a str>,
}

/// Calls `each` with every line of NDJSON in `body`, or every element when the body is
/// a JSON array (an element written over several lines is put on one). An error when
/// the body is an array that is not valid JSON, which says where.
pub fn pieces(
    body: &[u8],
    max_line_bytes: usize,
    mut each: impl FnMut(Piece<'_>),
) -> Result<(), String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'[') {
        lines(body, max_line_bytes, each);
        return Ok(());
    }
    let elements: Vec<&RawValue> = serde_json::from_slice(body)
        .map_err(|error| format!("the body is a JSON array, but not valid JSON: {error}"))?;
    for (index, element) in elements.into_iter().enumerate() {
        let text = element.get();
        let offset = text.as_ptr() as u64 - body.as_ptr() as u64;
        let compacted;
        let text = match text.contains(['\n', '\r']) {
            true => {
                compacted = compact_json(text);
                compacted.as_str()
            }
            false => text,
        };
        let line = line(text.as_bytes(), max_line_bytes);
        each(Piece {
            number: index as u64 + 1,
            offset,
            line,
            refused: None,
        });
    }
    Ok(())
}

/// `text` as a line of at most `max_line_bytes`.
pub fn line(text: &[u8], max_line_bytes: usize) -> Line<'_> {
    match text.len() > max_line_bytes {
        true => Line::TooLong {
            start: &text[..max_line_bytes],
            len: text.len() as u64,
        },
        false => Line::Complete(text),
    }
}

/// The events made from a request's body (HEC envelopes, OTLP records), one JSON text
/// each, as pieces numbered from 1, each at its place in them laid end to end: the
/// offsets are as stable as the body the events were made from.
pub fn made(events: &[String], max_line_bytes: usize) -> impl Iterator<Item = Piece<'_>> {
    events
        .iter()
        .enumerate()
        .scan(0, move |offset, (index, event)| {
            let piece = Piece {
                number: index as u64 + 1,
                offset: *offset,
                line: line(event.as_bytes(), max_line_bytes),
                refused: None,
            };
            *offset += event.len() as u64 + 1;
            Some(piece)
        })
}

/// Calls `each` with every line of `body`, the last one unterminated or not.
pub fn lines(body: &[u8], max_line_bytes: usize, mut each: impl FnMut(Piece<'_>)) {
    let mut splitter = LineSplitter::new(max_line_bytes);
    let mut emit = |position: sluice_reader::lines::LinePosition, line: Line<'_>| {
        each(Piece {
            number: position.number,
            offset: position.offset,
            line,
            refused: None,
        })
    };
    splitter.feed(body, &mut emit);
    splitter.finish(&mut emit);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(body: &str) -> Vec<(u64, u64, String)> {
        let mut seen = Vec::new();
        pieces(body.as_bytes(), 1024, |piece| {
            let Line::Complete(bytes) = piece.line else {
                panic!("too long")
            };
            seen.push((
                piece.number,
                piece.offset,
                String::from_utf8(bytes.to_vec()).unwrap(),
            ));
        })
        .unwrap();
        seen
    }

    #[test]
    fn ndjson_lines_are_pieces_with_their_offsets() {
        assert_eq!(
            collect("{\"a\":1}\n{\"b\":2}"),
            [(1, 0, "{\"a\":1}".into()), (2, 8, "{\"b\":2}".into())]
        );
    }

    #[test]
    fn an_array_is_cut_into_its_elements_each_on_one_line() {
        let body = "[ {\"a\": 1},\n {\n  \"b\": \"x \\\" \\n y\"\n }\n]";
        assert_eq!(
            collect(body),
            [
                (1, 2, "{\"a\": 1}".into()),
                (2, 13, "{\"b\":\"x \\\" \\n y\"}".into())
            ]
        );
    }

    #[test]
    fn an_array_that_is_not_json_is_refused_saying_where() {
        let error = pieces(b"[{\"a\":1},", 1024, |_| {}).unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }
}

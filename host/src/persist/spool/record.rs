//! One spooled chunk on disk: a frame of its length and CRC-32 (so a torn or corrupt
//! record is found, not misread), then its events' text, their metadata and which
//! source read them. The text comes first so that it is written from the chunk and
//! read back into the chunk's own buffer, with no copy to move it.
//!
//! ```text
//! frame:   len u32 | crc32(body) u32 | body (len bytes)
//! body:    text | count x meta (33 bytes) | [read] | source u32 | count u32
//! meta:    offset u32 | len u32 | time_ms i64 | ingest_time u8 | id u128
//! read:    device u64 | inode u64 | offset u64 | lines u64   (when source has bit 31)
//! ```
//! Little-endian throughout. `read` is where in which file the chunk ends, for a chunk
//! of a file: a restart moves the file's checkpoint up to the last record spooled, so
//! the source does not spool again what the spool holds (records written before it
//! existed have none).

use crate::ack::StreamPoint;
use crate::event::{EventChunk, EventMeta};
use crate::persist::FileId;

/// Bytes of a frame before its body.
pub const FRAME_HEADER: usize = 8;
const META_BYTES: usize = 4 + 4 + 8 + 1 + 16;
const TRAILER_BYTES: usize = 8;
const READ_BYTES: usize = 32;
/// Set in the source field of a record that says where its file was read to.
const HAS_READ: u32 = 1 << 31;
/// Bigger than any chunk a source makes (a read block plus the longest line); a
/// length past it is a corrupt frame, not an allocation to attempt.
pub const MAX_BODY: usize = 1 << 30;

/// A frame in three parts, written one after the other: the text is the chunk's own.
pub struct Encoded<'a> {
    pub header: [u8; FRAME_HEADER],
    pub text: &'a [u8],
    pub tail: Vec<u8>,
}

impl Encoded<'_> {
    /// Bytes of the whole frame.
    pub fn len(&self) -> usize {
        FRAME_HEADER + self.text.len() + self.tail.len()
    }
}

/// Where a chunk of a file ends in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTo {
    pub file: FileId,
    pub point: StreamPoint,
}

/// The frame of `chunk`, read by the source at `source` (from a file to `read`).
pub fn encode(source: u32, chunk: &EventChunk, read: Option<ReadTo>) -> Encoded<'_> {
    let mut tail = Vec::with_capacity(chunk.events.len() * META_BYTES + READ_BYTES + TRAILER_BYTES);
    for meta in &chunk.events {
        tail.extend_from_slice(&meta.offset.to_le_bytes());
        tail.extend_from_slice(&meta.len.to_le_bytes());
        tail.extend_from_slice(&meta.time_ms.to_le_bytes());
        tail.push(u8::from(meta.ingest_time));
        tail.extend_from_slice(&meta.id.to_le_bytes());
    }
    let mut source = source;
    if let Some(read) = read {
        tail.extend_from_slice(&read.file.to_bytes());
        tail.extend_from_slice(&read.point.offset.to_le_bytes());
        tail.extend_from_slice(&read.point.lines.to_le_bytes());
        source |= HAS_READ;
    }
    tail.extend_from_slice(&source.to_le_bytes());
    tail.extend_from_slice(&(chunk.events.len() as u32).to_le_bytes());
    let text = chunk.data.as_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(text);
    crc.update(&tail);
    let mut header = [0u8; FRAME_HEADER];
    header[..4].copy_from_slice(&((text.len() + tail.len()) as u32).to_le_bytes());
    header[4..].copy_from_slice(&crc.finalize().to_le_bytes());
    Encoded { header, text, tail }
}

/// A frame's header: the length of its body and the body's checksum.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub len: usize,
    crc: u32,
}

impl Header {
    pub fn parse(bytes: [u8; FRAME_HEADER]) -> Option<Header> {
        let len = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[4..].try_into().expect("4 bytes"));
        (len <= MAX_BODY).then_some(Header { len, crc })
    }
}

/// A record read back, or why the bytes are not one.
pub type Decoded = Result<Record, &'static str>;

/// A spooled chunk, the source that read it and, for a file, where it ends there.
#[derive(Debug)]
pub struct Record {
    pub source: u32,
    pub chunk: EventChunk,
    pub read: Option<ReadTo>,
}

/// The source and chunk of a body, or why it is not one (a checksum that does not
/// match, a layout that does not add up).
pub fn decode(header: Header, mut body: Vec<u8>) -> Decoded {
    if crc32fast::hash(&body) != header.crc {
        return Err("checksum mismatch");
    }
    let word = |at: usize| -> [u8; 4] { body[at..at + 4].try_into().expect("4 bytes") };
    let trailer = body
        .len()
        .checked_sub(TRAILER_BYTES)
        .ok_or("truncated body")?;
    let source = u32::from_le_bytes(word(trailer));
    let count = u32::from_le_bytes(word(trailer + 4)) as usize;
    let (metas_end, read) = match source & HAS_READ {
        0 => (trailer, None),
        _ => {
            let at = trailer.checked_sub(READ_BYTES).ok_or("truncated body")?;
            let long =
                |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
            let read = ReadTo {
                file: FileId::from_bytes(body[at..at + 16].try_into().expect("16 bytes")),
                point: StreamPoint {
                    offset: long(at + 16),
                    lines: long(at + 24),
                },
            };
            (at, Some(read))
        }
    };
    let source = source & !HAS_READ;
    let text_len = count
        .checked_mul(META_BYTES)
        .and_then(|metas| metas_end.checked_sub(metas))
        .ok_or("event count beyond the body")?;
    let events: Vec<EventMeta> = body[text_len..metas_end]
        .as_chunks::<META_BYTES>()
        .0
        .iter()
        .map(|m| EventMeta {
            offset: u32::from_le_bytes(m[0..4].try_into().expect("4 bytes")),
            len: u32::from_le_bytes(m[4..8].try_into().expect("4 bytes")),
            time_ms: i64::from_le_bytes(m[8..16].try_into().expect("8 bytes")),
            ingest_time: m[16] != 0,
            id: u128::from_le_bytes(m[17..33].try_into().expect("16 bytes")),
        })
        .collect();
    body.truncate(text_len);
    let data = String::from_utf8(body).map_err(|_| "text is not UTF-8")?;
    let in_bounds = |meta: &EventMeta| {
        let end = meta.offset as usize + meta.len as usize;
        data.is_char_boundary(meta.offset as usize)
            && end <= data.len()
            && data.is_char_boundary(end)
    };
    if !events.iter().all(in_bounds) {
        return Err("an event lies outside the text");
    }
    Ok(Record {
        source,
        chunk: EventChunk { data, events },
        read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EventChunk {
        let data = r#"{"a":1}{"b":"é"}"#.to_owned();
        let events = vec![
            EventMeta {
                offset: 0,
                len: 7,
                time_ms: -5,
                ingest_time: true,
                id: u128::MAX - 3,
            },
            EventMeta {
                offset: 7,
                len: 10,
                time_ms: 1_767_225_600_000,
                ingest_time: false,
                id: 42,
            },
        ];
        EventChunk { data, events }
    }

    fn read_to() -> ReadTo {
        ReadTo {
            file: FileId::from_bytes([7; 16]),
            point: StreamPoint {
                offset: 1 << 40,
                lines: 12,
            },
        }
    }

    fn frame() -> Vec<u8> {
        let chunk = sample();
        let encoded = encode(3, &chunk, Some(read_to()));
        let frame = [&encoded.header[..], encoded.text, &encoded.tail].concat();
        assert_eq!(frame.len(), encoded.len());
        frame
    }

    fn split(frame: &[u8]) -> (Header, Vec<u8>) {
        let header = Header::parse(frame[..FRAME_HEADER].try_into().unwrap()).unwrap();
        (header, frame[FRAME_HEADER..].to_vec())
    }

    #[test]
    fn a_chunk_comes_back_as_it_was_written() {
        let (header, body) = split(&frame());
        assert_eq!(header.len, body.len());
        let Record {
            source,
            chunk,
            read,
        } = decode(header, body).unwrap();
        assert_eq!(source, 3);
        assert_eq!(read, Some(read_to()));
        assert_eq!(chunk.data, sample().data);
        assert_eq!(
            format!("{:?}", chunk.events),
            format!("{:?}", sample().events)
        );
    }

    #[test]
    fn a_record_of_standard_input_says_no_file() {
        let chunk = sample();
        let encoded = encode(5, &chunk, None);
        let frame = [&encoded.header[..], encoded.text, &encoded.tail].concat();
        let (header, body) = split(&frame);
        let record = decode(header, body).unwrap();
        assert_eq!((record.source, record.read), (5, None));
        assert_eq!(record.chunk.events.len(), 2);
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_body_is_found() {
        let original = frame();
        for at in FRAME_HEADER..original.len() {
            let mut damaged = original.clone();
            damaged[at] ^= 0x10;
            let (header, body) = split(&damaged);
            assert_eq!(
                decode(header, body).unwrap_err(),
                "checksum mismatch",
                "byte {at}"
            );
        }
    }

    #[test]
    fn a_length_past_any_chunk_is_refused_before_reading() {
        let mut header = [0u8; FRAME_HEADER];
        header[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Header::parse(header).is_none());
    }
}

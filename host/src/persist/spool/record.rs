//! One spooled chunk on disk: a frame of its length and CRC-32 (so a torn or corrupt
//! record is found, not misread), then which source read it, its events' metadata and
//! their text.
//!
//! ```text
//! frame:   len u32 | crc32(body) u32 | body (len bytes)
//! body:    source u32 | count u32 | count x meta (37 bytes) | text
//! meta:    offset u32 | len u32 | time_ms i64 | ingest_time u8 | id u128
//! ```
//! Little-endian throughout.

use crate::event::{EventChunk, EventMeta};

/// Bytes of a frame before its body.
pub const FRAME_HEADER: usize = 8;
const META_BYTES: usize = 4 + 4 + 8 + 1 + 16;
/// Bigger than any chunk a source makes (a read block plus the longest line); a
/// length past it is a corrupt frame, not an allocation to attempt.
pub const MAX_BODY: usize = 1 << 30;

/// The frame of `chunk`, read by the source at `source`, appended to `out`.
pub fn encode(source: u32, chunk: &EventChunk, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.extend_from_slice(&source.to_le_bytes());
    out.extend_from_slice(&(chunk.events.len() as u32).to_le_bytes());
    for meta in &chunk.events {
        out.extend_from_slice(&meta.offset.to_le_bytes());
        out.extend_from_slice(&meta.len.to_le_bytes());
        out.extend_from_slice(&meta.time_ms.to_le_bytes());
        out.push(u8::from(meta.ingest_time));
        out.extend_from_slice(&meta.id.to_le_bytes());
    }
    out.extend_from_slice(chunk.data.as_bytes());
    let body = &out[start + FRAME_HEADER..];
    let len = body.len() as u32;
    let crc = crc32fast::hash(body);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
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

/// A record read back: the source and chunk, or why the bytes are not one.
pub type Decoded = Result<(u32, EventChunk), &'static str>;

/// The source and chunk of a body, or why it is not one (a checksum that does not
/// match, a layout that does not add up).
pub fn decode(header: Header, body: Vec<u8>) -> Decoded {
    if crc32fast::hash(&body) != header.crc {
        return Err("checksum mismatch");
    }
    let word = |at: usize| -> Result<[u8; 4], &'static str> {
        body.get(at..at + 4)
            .map(|b| b.try_into().expect("4 bytes"))
            .ok_or("truncated body")
    };
    let source = u32::from_le_bytes(word(0)?);
    let count = u32::from_le_bytes(word(4)?) as usize;
    let text_at = count
        .checked_mul(META_BYTES)
        .and_then(|metas| metas.checked_add(8))
        .filter(|&end| end <= body.len())
        .ok_or("event count beyond the body")?;
    let events: Vec<EventMeta> = body[8..text_at]
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
    let mut text = body;
    text.drain(..text_at);
    let data = String::from_utf8(text).map_err(|_| "text is not UTF-8")?;
    let in_bounds = |meta: &EventMeta| {
        let end = meta.offset as usize + meta.len as usize;
        data.is_char_boundary(meta.offset as usize)
            && end <= data.len()
            && data.is_char_boundary(end)
    };
    if !events.iter().all(in_bounds) {
        return Err("an event lies outside the text");
    }
    Ok((source, EventChunk { data, events }))
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

    fn frame() -> Vec<u8> {
        let mut out = Vec::new();
        encode(3, &sample(), &mut out);
        out
    }

    fn split(frame: &[u8]) -> (Header, Vec<u8>) {
        let header = Header::parse(frame[..FRAME_HEADER].try_into().unwrap()).unwrap();
        (header, frame[FRAME_HEADER..].to_vec())
    }

    #[test]
    fn a_chunk_comes_back_as_it_was_written() {
        let (header, body) = split(&frame());
        assert_eq!(header.len, body.len());
        let (source, chunk) = decode(header, body).unwrap();
        assert_eq!(source, 3);
        assert_eq!(chunk.data, sample().data);
        assert_eq!(
            format!("{:?}", chunk.events),
            format!("{:?}", sample().events)
        );
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

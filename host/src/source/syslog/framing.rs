//! Cutting a syslog stream (TCP, TLS) into messages, RFC 6587: each message either
//! octet-counted (`LEN SP MSG`) or ended by a line feed, told apart message by message by
//! its first byte (a digit starts a count: a syslog message starts with `<`), with a
//! bound on the bytes one message may hold in memory.

use sluice_reader::Line;

/// The digits of a count, at most (a count of more is not one).
const MAX_COUNT_DIGITS: usize = 10;

/// A message cut from the stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// 1-based, in the stream.
    pub number: u64,
    /// Where the message (its count, if it has one) starts in the stream.
    pub offset: u64,
    pub line: Line<'a>,
}

/// What is left of a message too long to keep.
#[derive(Debug, Clone, Copy)]
enum Skip {
    Bytes(u64),
    ToLineFeed,
}

/// Carries the unfinished message of one read over to the next.
#[derive(Debug)]
pub struct Framer {
    max_message_bytes: usize,
    pending: Vec<u8>,
    /// The stream offset of `pending`'s first byte.
    offset: u64,
    number: u64,
    skip: Option<Skip>,
}

impl Framer {
    pub fn new(max_message_bytes: usize) -> Self {
        Framer {
            max_message_bytes,
            pending: Vec::new(),
            offset: 0,
            number: 0,
            skip: None,
        }
    }

    /// Calls `emit` for every message `bytes` completes.
    pub fn feed(&mut self, bytes: &[u8], mut emit: impl FnMut(Frame<'_>)) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            match self.skip {
                Some(Skip::Bytes(left)) => {
                    let skipped = (left as usize).min(rest.len());
                    at += skipped;
                    match left - skipped as u64 {
                        0 => self.skip = None,
                        left => {
                            self.skip = Some(Skip::Bytes(left));
                            break;
                        }
                    }
                    continue;
                }
                Some(Skip::ToLineFeed) => match memchr::memchr(b'\n', rest) {
                    Some(end) => {
                        at += end + 1;
                        self.skip = None;
                        continue;
                    }
                    None => {
                        at += rest.len();
                        break;
                    }
                },
                None => {}
            }
            // Line feeds (and CRs) between messages are not messages.
            let blank = rest
                .iter()
                .take_while(|b| matches!(b, b'\n' | b'\r'))
                .count();
            if blank > 0 {
                at += blank;
                continue;
            }
            let Some(&first) = rest.first() else {
                break;
            };
            let offset = self.offset + at as u64;
            let counted = first.is_ascii_digit().then(|| count(rest)).flatten();
            match counted {
                Some(Counted::Incomplete) => break,
                Some(Counted::Length { header, length }) => {
                    self.number += 1;
                    let body = &rest[header..];
                    if length > self.max_message_bytes {
                        let kept = body.len().min(self.max_message_bytes);
                        emit(Frame {
                            number: self.number,
                            offset,
                            line: Line::TooLong {
                                start: &body[..kept],
                                len: length as u64,
                            },
                        });
                        at += header + kept;
                        self.skip = Some(Skip::Bytes((length - kept) as u64));
                        continue;
                    }
                    if body.len() < length {
                        self.number -= 1;
                        break;
                    }
                    let message = &body[..length];
                    let message = message.strip_suffix(b"\n").unwrap_or(message);
                    emit(Frame {
                        number: self.number,
                        offset,
                        line: Line::Complete(message),
                    });
                    at += header + length;
                }
                None => match memchr::memchr(b'\n', rest) {
                    Some(end) if end <= self.max_message_bytes => {
                        self.number += 1;
                        let message = &rest[..end];
                        emit(Frame {
                            number: self.number,
                            offset,
                            line: Line::Complete(message.strip_suffix(b"\r").unwrap_or(message)),
                        });
                        at += end + 1;
                    }
                    found if found.is_some() || rest.len() > self.max_message_bytes => {
                        self.number += 1;
                        emit(Frame {
                            number: self.number,
                            offset,
                            line: Line::TooLong {
                                start: &rest[..self.max_message_bytes],
                                len: found.unwrap_or(rest.len()) as u64,
                            },
                        });
                        at += self.max_message_bytes;
                        self.skip = Some(Skip::ToLineFeed);
                    }
                    _ => break,
                },
            }
        }
        self.pending.drain(..at);
        self.offset += at as u64;
    }

    /// The stream ended: a message without its line feed is taken as it is; a counted
    /// one cut short is returned, as the frame of what arrived of it.
    pub fn finish(&mut self, mut emit: impl FnMut(Frame<'_>)) -> Option<(u64, u64, Vec<u8>)> {
        if self.pending.is_empty() || self.skip.is_some() {
            return None;
        }
        let pending = std::mem::take(&mut self.pending);
        self.number += 1;
        if pending[0].is_ascii_digit() && count(&pending).is_some() {
            return Some((self.number, self.offset, pending));
        }
        emit(Frame {
            number: self.number,
            offset: self.offset,
            line: Line::Complete(&pending),
        });
        None
    }
}

enum Counted {
    /// Digits so far, and no space yet.
    Incomplete,
    /// `header` bytes of count and space, then `length` bytes of message.
    Length { header: usize, length: usize },
}

/// The count `bytes` (starting with a digit) starts with, if it is one.
fn count(bytes: &[u8]) -> Option<Counted> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > MAX_COUNT_DIGITS {
        return None;
    }
    match bytes.get(digits) {
        None => Some(Counted::Incomplete),
        Some(b' ') => {
            let length = std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()?;
            Some(Counted::Length {
                header: digits + 1,
                length,
            })
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max: usize, reads: &[&[u8]]) -> Vec<(u64, u64, String)> {
        let mut framer = Framer::new(max);
        let mut seen = Vec::new();
        let mut record = |frame: Frame<'_>| {
            let text = match frame.line {
                Line::Complete(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Line::TooLong { start, len } => {
                    format!("too long {len}: {}", String::from_utf8_lossy(start))
                }
            };
            seen.push((frame.number, frame.offset, text));
        };
        for read in reads {
            framer.feed(read, &mut record);
        }
        framer.finish(&mut record);
        seen
    }

    #[test]
    fn counted_and_line_fed_messages_mix_and_cross_reads() {
        let seen = frames(
            1024,
            &[b"11 <13>1 - a b<14>x\n", b"\n6 <1>yz", b"\n<1>tail"],
        );
        assert_eq!(
            seen,
            [
                (1, 0, "<13>1 - a b".into()),
                (2, 14, "<14>x".into()),
                (3, 21, "<1>yz\n".trim_end().into()),
                (4, 29, "<1>tail".into()),
            ]
        );
    }

    #[test]
    fn a_message_past_the_bound_keeps_its_start_and_the_next_one_is_read() {
        let seen = frames(
            8,
            &[
                b"20 <1>0123456789abcd",
                b"efg4 <2>x",
                b"<3>0123456789\n<4>ok\n",
            ],
        );
        assert_eq!(
            seen,
            [
                (1, 0, "too long 20: <1>01234".into()),
                (2, 23, "<2>x".into()),
                (3, 29, "too long 13: <3>01234".into()),
                (4, 43, "<4>ok".into()),
            ]
        );
    }

    #[test]
    fn a_count_cut_by_the_end_of_the_stream_is_returned() {
        let mut framer = Framer::new(1024);
        framer.feed(b"30 <1>only part", |_| panic!("not complete"));
        let cut = framer.finish(|_| panic!("not a message"));
        assert_eq!(cut, Some((1, 0, b"30 <1>only part".to_vec())));
    }
}

//! The hash chain of a stream: event `n` carries `sluice_seq` = n and `sluice_chain` =
//! H(chain of n-1 || the event's bytes as read), the chain before the first event being
//! 32 zero bytes. H is SHA-256, or HMAC-SHA-256 under a key. The three members are put
//! first in the event's JSON object, so every module that sends the event carries them
//! and a verifier finds the bytes as read by taking them out again:
//!
//! `{"sluice_stream":"<16 hex>","sluice_seq":<n>,"sluice_chain":"<64 hex>",` + the
//! event without its `{` (or, for `{}`, `{"sluice_stream":...,"sluice_chain":"..."}`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The chain of a stream before its first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// What the members are called, in their order.
pub const STREAM_KEY: &str = "sluice_stream";
pub const SEQ_KEY: &str = "sluice_seq";
pub const CHAIN_KEY: &str = "sluice_chain";

/// How a link is made.
#[derive(Clone)]
pub enum Hasher {
    Sha256,
    /// The key, ready: cloned for each link rather than set up again.
    HmacSha256(Hmac<Sha256>),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.write_str(match self {
            Hasher::Sha256 => "sha256",
            Hasher::HmacSha256(_) => "hmac-sha256",
        })
    }
}

impl Hasher {
    pub fn hmac(key: &[u8]) -> Hasher {
        Hasher::HmacSha256(Hmac::new_from_slice(key).expect("HMAC takes a key of any length"))
    }

    /// H(`previous` || `event`).
    pub fn link(&self, previous: &[u8; 32], event: &[u8]) -> [u8; 32] {
        match self {
            Hasher::Sha256 => {
                let mut hash = Sha256::new();
                hash.update(previous);
                hash.update(event);
                hash.finalize().into()
            }
            Hasher::HmacSha256(keyed) => {
                let mut mac = keyed.clone();
                mac.update(previous);
                mac.update(event);
                mac.finalize().into_bytes().into()
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Hasher::Sha256 => "sha256",
            Hasher::HmacSha256(_) => "hmac-sha256",
        }
    }
}

/// Where one stream's chain stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    /// 16 hex digits.
    pub stream: String,
    /// Events chained so far; the last one's `sluice_seq`.
    pub seq: u64,
    pub chain: [u8; 32],
}

impl Tip {
    pub fn new(stream: String) -> Tip {
        Tip {
            stream,
            seq: 0,
            chain: GENESIS,
        }
    }

    /// Chains the event at the end of `data` (from `start`: a JSON object's text, as
    /// read) and puts the members in front of its own, in place.
    pub fn stamp(&mut self, hasher: &Hasher, data: &mut String, start: usize) {
        self.seq += 1;
        self.chain = hasher.link(&self.chain, &data.as_bytes()[start..]);
        // Made on the stack, without formatting: this runs for every event.
        let mut members = Members::default();
        members.put(b"\"");
        members.put(STREAM_KEY.as_bytes());
        members.put(b"\":\"");
        members.put(self.stream.as_bytes());
        members.put(b"\",\"");
        members.put(SEQ_KEY.as_bytes());
        members.put(b"\":");
        members.put_decimal(self.seq);
        members.put(b",\"");
        members.put(CHAIN_KEY.as_bytes());
        members.put(b"\":\"");
        let mut chain = [0u8; 64];
        hex::encode_to_slice(self.chain, &mut chain).expect("64 hex digits for 32 bytes");
        members.put(&chain);
        members.put(b"\"");
        // `{}` and `{ }`: no member follows.
        let rest = data.get(start + 1..).unwrap_or_default();
        if !rest
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('}')
        {
            members.put(b",");
        }
        // After the event's `{`: a move of its bytes, no more.
        data.insert_str(start + 1, members.text());
    }
}

/// The members' text, built in place.
struct Members {
    bytes: [u8; 192],
    len: usize,
}

impl Default for Members {
    fn default() -> Self {
        Members {
            bytes: [0; 192],
            len: 0,
        }
    }
}

impl Members {
    fn put(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn put_decimal(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[at..]);
    }

    fn text(&self) -> &str {
        // Keys, hex digits and decimal digits: ASCII, and the stream id is hex.
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII")
    }
}

/// A chained event found in a copy: its members and its bytes as read.
#[derive(Debug, PartialEq, Eq)]
pub struct Stamped {
    pub stream: String,
    pub seq: u64,
    pub chain: [u8; 32],
    pub original: String,
}

/// Takes the members out of `object`, a chained event as [`Tip::stamp`] wrote it, whose
/// members start at `at` (after what a module put before them, such as its `sluice`
/// enrichment, which is not the event's); `None` when they are not as Sluice writes them.
pub fn unstamp(object: &str, at: usize) -> Option<Stamped> {
    let rest = object
        .get(at..)?
        .strip_prefix(&format!("\"{STREAM_KEY}\":\""))?;
    let (stream, rest) = rest.split_at_checked(16)?;
    let rest = rest.strip_prefix(&format!("\",\"{SEQ_KEY}\":"))?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (seq, rest) = rest.split_at(digits);
    let rest = rest.strip_prefix(&format!(",\"{CHAIN_KEY}\":\""))?;
    let (chain, rest) = rest.split_at_checked(64)?;
    let rest = rest.strip_prefix('"')?;
    let rest = rest.strip_prefix(',').unwrap_or(rest);
    let lowercase_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lowercase_hex(stream) || !lowercase_hex(chain) || seq.starts_with('0') {
        return None;
    }
    Some(Stamped {
        stream: stream.to_owned(),
        seq: seq.parse().ok()?,
        chain: hex::decode(chain).ok()?.try_into().ok()?,
        original: format!("{{{rest}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_event_gives_back_its_bytes_and_its_link() {
        let hasher = Hasher::Sha256;
        let mut tip = Tip::new("0123456789abcdef".into());
        for (event, _) in [
            ("{\"a\": 1}", 1),
            ("{}", 2),
            ("{ }", 3),
            ("{\"b\":[{}]}", 4),
        ] {
            let before = tip.chain;
            let mut data = String::from("[earlier events]");
            let start = data.len();
            data.push_str(event);
            tip.stamp(&hasher, &mut data, start);
            let out = &data[start..];
            let value: serde_json::Value = serde_json::from_str(out).expect(out);
            assert_eq!(value["sluice_seq"], tip.seq);
            let found = unstamp(out, 1).unwrap();
            assert_eq!(found.original, event);
            assert_eq!(found.seq, tip.seq);
            assert_eq!(found.chain, hasher.link(&before, event.as_bytes()));
        }
        assert!(unstamp("{\"a\":1}", 1).is_none());
    }

    #[test]
    fn a_keyed_chain_differs_by_key_and_from_the_plain_one() {
        let event = b"{\"a\":1}";
        let plain = Hasher::Sha256.link(&GENESIS, event);
        let one = Hasher::hmac(b"one").link(&GENESIS, event);
        let two = Hasher::hmac(b"two").link(&GENESIS, event);
        assert!(plain != one && one != two);
        // SHA-256 of 32 zero bytes then the event, as README says.
        let mut input = vec![0u8; 32];
        input.extend_from_slice(event);
        assert_eq!(plain, <[u8; 32]>::from(Sha256::digest(&input)));
    }
}

//! `sluice verify`: checks the chains and digests of `[integrity]` in a copy of the
//! events (a SIEM's export, captured requests, an export file), whatever wraps them:
//! every JSON object in the input (or in a string of it, as text) with a
//! `sluice_stream` member of its own is a chained event, every one with a
//! `sluice_digest` member a digest ([`scan`] finds them, reading the input in pieces).
//! Reports, per stream, each event
//! missing (a gap), out of order, altered or inserted, a cut tail, and a digest whose
//! signature or chain does not hold; an event found twice with the same bytes is a
//! redelivery, not tampering.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::integrity::chain::{self, GENESIS, Hasher, Stamped, unstamp};
use crate::integrity::digest::Body;
use scan::{Found, Scanner};

mod scan;

/// What `verify` is given.
#[derive(Debug)]
pub struct Options {
    pub inputs: Vec<PathBuf>,
    pub public_key: Option<PathBuf>,
    /// The HMAC key of an `hmac-sha256` chain, as its value.
    pub key: Option<String>,
    /// The copy keeps the stream's order (a destination with `concurrency = 1`): an
    /// event after a higher seq is a finding.
    pub in_order: bool,
}

/// Where in the input something was found.
#[derive(Debug, Clone)]
struct At {
    file: usize,
    line: usize,
}

/// What is kept of a chained event of the copy, the first found with its seq: not its
/// bytes, which are needed only until its link to the event before it is checked.
struct Seen {
    chain: [u8; 32],
    /// SHA-256 of its bytes: a second event with its seq is a redelivery only with the
    /// same bytes, and a non-cryptographic hash could be made to collide.
    bytes_hash: [u8; 32],
    at: At,
}

/// A digest of the copy: its signed bytes, what they say, its signature.
struct Digest {
    signed: String,
    body: Body,
    signature: Option<String>,
    at: At,
}

/// One stream as the copy has it, checked as its events are found, so that what is
/// held is about 250 bytes per event, whatever their size.
#[derive(Default)]
struct StreamCopy {
    /// By seq.
    events: HashMap<u64, Seen>,
    /// The bytes of events whose seq before them has not been found yet, by seq: their
    /// link is checked when it is.
    waiting: HashMap<u64, String>,
    duplicates: u64,
    highest: u64,
    findings: Vec<Finding>,
    digests: Vec<Digest>,
}

impl StreamCopy {
    /// Takes an event found `at`: a redelivery, another event with a seen seq, or a new
    /// one whose link is checked as soon as the event before it is known.
    fn add(&mut self, found: Stamped, at: At, checking: &Checking) {
        use sha2::Digest as _;
        let seq = found.seq;
        let bytes_hash: [u8; 32] = sha2::Sha256::digest(found.original.as_bytes()).into();
        if let Some(first) = self.events.get(&seq) {
            if first.chain == found.chain && first.bytes_hash == bytes_hash {
                self.duplicates += 1;
            } else {
                self.findings.push(Finding {
                    what: format!(
                        "inserted or altered: another event has seq {seq} (line {}), with other bytes",
                        first.at.line
                    ),
                    at,
                    seq,
                });
            }
            return;
        }
        if checking.in_order && seq < self.highest {
            self.findings.push(Finding {
                at: at.clone(),
                seq,
                what: format!("out of order: found after seq {}", self.highest),
            });
        }
        self.highest = self.highest.max(seq);
        let previous = match seq {
            1 => Some(GENESIS),
            _ => self.events.get(&(seq - 1)).map(|e| e.chain),
        };
        let chain = found.chain;
        self.events.insert(
            seq,
            Seen {
                chain,
                bytes_hash,
                at,
            },
        );
        match previous {
            Some(previous) => self.link(seq, previous, &found.original, &checking.hasher),
            None => {
                self.waiting.insert(seq, found.original);
            }
        }
        if let Some(next) = self.waiting.remove(&(seq + 1)) {
            self.link(seq + 1, chain, &next, &checking.hasher);
        }
    }

    /// Whether the event of `seq`, `bytes`, follows from the chain before it.
    fn link(&mut self, seq: u64, previous: [u8; 32], bytes: &str, hasher: &Hasher) {
        let event = &self.events[&seq];
        if hasher.link(&previous, bytes.as_bytes()) != event.chain {
            self.findings.push(Finding {
                at: event.at.clone(),
                seq,
                what: "altered: its chain does not follow from its bytes and the event before it"
                    .into(),
            });
        }
    }
}

/// How the events are checked as they are found.
struct Checking {
    hasher: Hasher,
    in_order: bool,
}

/// Something that shows the copy is not what Sluice sent.
#[derive(Clone)]
struct Finding {
    at: At,
    seq: u64,
    what: String,
}

#[derive(Deserialize)]
struct DigestEvent<'a> {
    #[serde(borrow)]
    sluice_digest: &'a RawValue,
    signature: Option<String>,
}

pub fn verify(options: &Options) -> Result<ExitCode> {
    let public_key = options
        .public_key
        .as_deref()
        .map(crate::integrity::keys::verifying_key)
        .transpose()?;
    let checking = Checking {
        hasher: match &options.key {
            Some(key) => Hasher::hmac(key.as_bytes()),
            None => Hasher::Sha256,
        },
        in_order: options.in_order,
    };
    let hasher = &checking.hasher;
    let mut streams: BTreeMap<String, StreamCopy> = BTreeMap::new();
    let mut unreadable = Vec::new();
    let inputs = files_of(&options.inputs)?;
    for (index, path) in inputs.iter().enumerate() {
        collect_file(path, (index, &checking), &mut streams, &mut unreadable)?;
    }
    if streams.is_empty() && unreadable.is_empty() {
        anyhow::bail!(
            "no chained event or digest in the input: was it written with [integrity] on, and does it hold the events' JSON as sent?"
        );
    }
    let shown = |at: &At| format!("{}:{}", inputs[at.file].display(), at.line);
    // Written as they come: a reader that stops reading (`| head`) stops it.
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| {
        use std::io::Write;
        writeln!(out, "{line}").is_ok()
    };
    let mut tampered = unreadable.len();
    for finding in &unreadable {
        if !say(format!(
            "tampered: at {}: {}",
            shown(&finding.at),
            finding.what
        )) {
            return Ok(ExitCode::from(1));
        }
    }
    for (stream, copy) in &streams {
        if let Some(chain) = copy.digests.first().map(|d| d.body.chain.as_str())
            && chain != hasher.name()
            && public_key.is_none_or(|key| copy.digests.iter().all(|d| signed_by(d, &key)))
        {
            anyhow::bail!(
                "stream {stream} is a {chain} chain: {}",
                match chain {
                    "hmac-sha256" => "give its key with --key-env or --key-file",
                    _ => "verify it without --key-env or --key-file",
                }
            );
        }
        let (findings, summary) = check(copy, hasher.name(), public_key.as_ref());
        let source = copy
            .digests
            .first()
            .map(|d| {
                let file = d
                    .body
                    .file
                    .as_deref()
                    .map(|f| format!(", file {f}"))
                    .unwrap_or_default();
                format!(" (host {}, source {}{file})", d.body.host, d.body.source)
            })
            .unwrap_or_default();
        for finding in &findings {
            let line = format!(
                "tampered: stream {stream} seq {} at {}: {}",
                finding.seq,
                shown(&finding.at),
                finding.what
            );
            if !say(line) {
                return Ok(ExitCode::from(1));
            }
        }
        let verdict = match findings.is_empty() {
            true => "intact",
            false => "TAMPERED",
        };
        if !say(format!("stream {stream}{source}: {summary}: {verdict}")) {
            return Ok(ExitCode::from(1));
        }
        tampered += findings.len();
    }
    if !unreadable.is_empty() {
        say(format!(
            "{} objects of the copy look like Sluice's and cannot be read (above, of no stream): TAMPERED",
            unreadable.len()
        ));
    }
    if public_key.is_none() {
        say("note: without --public-key, the digests' signatures are not checked and events no digest covers are not reported: anyone could have made the chain again".into());
    }
    Ok(match tampered {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// Whether `digest` carries `key`'s signature of its bytes.
fn signed_by(digest: &Digest, key: &ed25519_dalek::VerifyingKey) -> bool {
    digest
        .signature
        .as_deref()
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
        .is_some_and(|signature| {
            key.verify_strict(digest.signed.as_bytes(), &signature)
                .is_ok()
        })
}

/// The files `inputs` name: each file, and every file under each directory (captured
/// requests, an archive), in name order.
fn files_of(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta =
            std::fs::metadata(input).with_context(|| format!("cannot read {}", input.display()))?;
        if !meta.is_dir() {
            files.push(input.clone());
            continue;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
            .with_context(|| format!("cannot list {}", input.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("cannot list {}", input.display()))?;
        entries.sort();
        files.extend(files_of(&entries)?);
    }
    Ok(files)
}

/// The chained events and digests of the input `file` at `path` (through gzip or zstd
/// when its first bytes say so), read in pieces, by stream; what looks like one and is
/// not (members altered, an object cut) is a finding of its own.
fn collect_file(
    path: &Path,
    (file, checking): (usize, &Checking),
    streams: &mut BTreeMap<String, StreamCopy>,
    unreadable: &mut Vec<Finding>,
) -> Result<()> {
    let reading = || format!("reading {}", path.display());
    let mut input = std::fs::File::open(path)
        .map_err(anyhow::Error::from)
        .and_then(super::export::decompressed)
        .with_context(reading)?;
    let mut scanner = Scanner::new(&MEMBERS, scan::LARGEST_OBJECT);
    let mut take = |found: Found<'_>| take(found, (file, None, checking), streams, unreadable);
    let mut piece = vec![0; READ_PIECE];
    loop {
        match input.read(&mut piece) {
            Ok(0) => break,
            Ok(read) => scanner.feed(&piece[..read], &mut take),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error).with_context(reading),
        }
    }
    scanner.finish(&mut take);
    Ok(())
}

/// How much of an input is read at a time.
const READ_PIECE: usize = 1 << 20;

/// [`collect_file`] of `text`, held by a string of the input `file` at `line`: every
/// finding is at that line.
fn collect_text(
    text: &str,
    (file, line, checking): (usize, usize, &Checking),
    streams: &mut BTreeMap<String, StreamCopy>,
    unreadable: &mut Vec<Finding>,
) {
    let mut scanner = Scanner::new(&MEMBERS, scan::LARGEST_OBJECT);
    let mut take =
        |found: Found<'_>| take(found, (file, Some(line), checking), streams, unreadable);
    scanner.feed(text.as_bytes(), &mut take);
    scanner.finish(&mut take);
}

/// Takes what the scan found in the input `file`, at `line` when it is the text of a
/// string there: a chained event to its stream, a digest, the text of a string (read
/// as the input is, once: not the text in that text), or a finding.
fn take(
    found: Found<'_>,
    (file, line, checking): (usize, Option<usize>, &Checking),
    streams: &mut BTreeMap<String, StreamCopy>,
    unreadable: &mut Vec<Finding>,
) {
    let at = |found_at: usize| At {
        file,
        line: line.unwrap_or(found_at),
    };
    let (object, member, key, at) = match found {
        Found::Unreadable { line, why } => {
            unreadable.push(Finding {
                at: at(line),
                seq: 0,
                what: why,
            });
            return;
        }
        // A string that holds an event as text (CloudWatch's `message`, a Loki line),
        // outside any event: what it holds, unescaped. An event's own strings are never
        // looked into.
        Found::Text {
            text,
            line: found_at,
        } => {
            if line.is_none()
                && let Ok(inner) = serde_json::from_slice::<String>(text)
            {
                collect_text(&inner, (file, found_at, checking), streams, unreadable);
            }
            return;
        }
        Found::Object {
            text,
            line,
            member,
            key,
        } => (text, member, key, at(line)),
    };
    let object = std::str::from_utf8(object)
        .ok()
        .filter(|object| serde_json::from_str::<&RawValue>(object).is_ok());
    let Some(object) = object else {
        unreadable.push(Finding {
            at,
            seq: 0,
            what: "an event or digest that is not a whole JSON object in UTF-8 (cut or altered)"
                .into(),
        });
        return;
    };
    let taken = match key {
        STREAM_MEMBER => unstamp(object, member).map(|found| {
            let stream = match streams.get_mut(&found.stream) {
                Some(stream) => stream,
                None => streams.entry(found.stream.clone()).or_default(),
            };
            if let Some(key) = shadowed(&object[1..member], &found.original) {
                stream.findings.push(Finding {
                    at: at.clone(),
                    seq: found.seq,
                    what: format!(
                        "a member `{key}` before the chain's that names one of the event's fields or the chain's: a reader that takes the first of two would read a value the chain does not cover"
                    ),
                });
            }
            stream.add(found, at.clone(), checking);
        }),
        _ => digest(object).map(|digest| {
            streams
                .entry(digest.0.stream.clone())
                .or_default()
                .digests
                .push(Digest {
                    body: digest.0,
                    signed: digest.1,
                    signature: digest.2,
                    at: at.clone(),
                })
        }),
    };
    if taken.is_none() {
        unreadable.push(Finding {
            at,
            seq: 0,
            what: format!("`{key}` is not as Sluice writes it: the object was altered"),
        });
    }
}

/// A key of `before` (the members a module put ahead of the chain's, such as its
/// enrichment, with their commas) that a reader taking the first of two would read
/// instead of what the chain covers: one of the chain's own, a key the chained event
/// `original` has, or a dotted key naming a field inside one of its objects
/// (`"actor.id"` beside `"actor":{"id":...}`: one field to a SIEM that flattens).
fn shadowed(before: &str, original: &str) -> Option<String> {
    type Keys = HashMap<String, serde::de::IgnoredAny>;
    let before = before.trim_end().strip_suffix(',')?;
    let before: Keys = serde_json::from_str(&format!("{{{before}}}")).ok()?;
    let chain_members = [STREAM_MEMBER, chain::SEQ_KEY, chain::CHAIN_KEY];
    if let Some(key) = before
        .keys()
        .find(|key| chain_members.contains(&key.as_str()))
    {
        return Some(key.clone());
    }
    let top = |key: &str| key.split('.').next().unwrap_or(key).to_owned();
    // The event is parsed only when it might have one: a key it has is in its text,
    // quoted, unless written with escapes.
    let written =
        |key: &String| key.contains(['"', '\\']) || original.contains(&format!("\"{}", top(key)));
    if !original.contains("\\u") && !before.keys().any(written) {
        return None;
    }
    let original: Keys = serde_json::from_str(original).ok()?;
    before.into_keys().find(|key| {
        original.contains_key(key) || (key.contains('.') && original.contains_key(&top(key)))
    })
}

const STREAM_MEMBER: &str = "sluice_stream";
const DIGEST_MEMBER: &str = "sluice_digest";
const MEMBERS: [&str; 2] = [STREAM_MEMBER, DIGEST_MEMBER];

/// A digest's body, its signed bytes and its signature.
fn digest(object: &str) -> Option<(Body, String, Option<String>)> {
    let digest: DigestEvent<'_> = serde_json::from_str(object).ok()?;
    let signed = digest.sluice_digest.get().to_owned();
    let body: Body = serde_json::from_str(&signed).ok()?;
    Some((body, signed, digest.signature))
}

/// What is wrong with one stream's copy, of a `chain` chain, and a summary of it.
fn check(
    copy: &StreamCopy,
    chain: &str,
    public_key: Option<&ed25519_dalek::VerifyingKey>,
) -> (Vec<Finding>, String) {
    let mut findings = copy.findings.clone();
    let by_seq = &copy.events;
    let covered_from = copy.digests.iter().map(|d| d.body.first_seq).min();
    let lowest = by_seq.keys().copied().min();
    let first = match (covered_from, lowest) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(1),
    };
    let mut seqs: Vec<u64> = by_seq.keys().copied().collect();
    seqs.sort_unstable();
    let mut expected = first;
    for &seq in &seqs {
        if seq > expected {
            findings.push(Finding {
                at: by_seq[&seq].at.clone(),
                seq,
                what: format!("missing before it: seq {expected} to {}", seq - 1),
            });
        }
        expected = seq + 1;
    }
    check_digests(copy, chain, public_key, &mut findings);
    let summary = match (seqs.first(), seqs.last()) {
        (Some(low), Some(high)) => format!(
            "seqs {low} to {high}, {} events, {} found twice (redelivered), {} digests",
            seqs.len(),
            copy.duplicates,
            copy.digests.len()
        ),
        _ => format!("no event, {} digests", copy.digests.len()),
    };
    findings.sort_by_key(|f| (f.at.file, f.at.line));
    (findings, summary)
}

/// What is wrong with where `body`, one of the `signed` digests of a `chain` stream,
/// stands: it must cover seqs, of its stream's chain, and follow the digest that ends at
/// the seq before its first, which its `previous_signature` names (a stream's first
/// signed digest names none, or one made without a key; whether a digest ends there is
/// known when the copy has it).
fn out_of_place(
    body: &Body,
    chain: &str,
    signed: &[&Digest],
    ending_at: &HashMap<u64, Vec<&Digest>>,
) -> Option<String> {
    if body.chain != chain {
        return Some(format!(
            "a digest of a {} chain in a stream checked as {chain}",
            body.chain
        ));
    }
    if body.first_seq == 0 || body.first_seq > body.last_seq {
        return Some(format!(
            "a digest of no seqs: {} to {}",
            body.first_seq, body.last_seq
        ));
    }
    let previous = body.previous_signature.as_ref()?;
    if body.first_seq == 1 {
        return Some("the stream's first digest (from seq 1) names a previous one".into());
    }
    let named = signed
        .iter()
        .find(|d| d.signature.as_ref() == Some(previous));
    if let Some(named) = named
        && named.body.last_seq + 1 != body.first_seq
    {
        return Some(format!(
            "a digest that does not follow the one it names (line {}): that one ends at seq {}, this one starts at seq {}",
            named.at.line, named.body.last_seq, body.first_seq
        ));
    }
    let before = ending_at.get(&(body.first_seq - 1))?;
    match before
        .iter()
        .any(|b| b.signature.as_ref() == Some(previous))
    {
        true => None,
        false => Some(format!(
            "a digest that does not follow the one at line {} (its previous_signature is no digest's ending at seq {})",
            before[0].at.line,
            body.first_seq - 1
        )),
    }
}

/// Each digest's signature, its link to the one before, the chain it pins, and whether
/// another says otherwise of the same seq (a fork: a stream chained twice from one
/// point, which Sluice never does, by a crash or a restored `data_dir` either).
fn check_digests(
    copy: &StreamCopy,
    chain: &str,
    public_key: Option<&ed25519_dalek::VerifyingKey>,
    findings: &mut Vec<Finding>,
) {
    let by_seq = &copy.events;
    let highest = copy.highest;
    let mut digests: Vec<&Digest> = copy.digests.iter().collect();
    digests.sort_by_key(|d| (d.body.first_seq, d.body.last_seq, d.at.file, d.at.line));
    let flag = |findings: &mut Vec<Finding>, digest: &Digest, what: String| {
        findings.push(Finding {
            at: digest.at.clone(),
            seq: digest.body.last_seq,
            what,
        })
    };
    let signed: Vec<&Digest> = digests
        .into_iter()
        .filter(|digest| match public_key {
            Some(key) if !signed_by(digest, key) => {
                flag(
                    findings,
                    digest,
                    "a digest whose signature is not the key's (forged or altered)".into(),
                );
                false
            }
            _ => true,
        })
        .collect();
    // By the seq each ends at: a restart after a crash may sign a range again (another
    // time, another signature), never with another chain.
    let mut ending_at: HashMap<u64, Vec<&Digest>> = HashMap::new();
    for digest in &signed {
        ending_at
            .entry(digest.body.last_seq)
            .or_default()
            .push(digest);
    }
    for digest in &signed {
        let body = &digest.body;
        if let Some(first) = ending_at[&body.last_seq].iter().find(|other| {
            other.body.last_chain != body.last_chain
                && (other.at.file, other.at.line) < (digest.at.file, digest.at.line)
        }) {
            flag(
                findings,
                digest,
                format!(
                    "forked: this digest and the one at line {} both sign seq {}, with other chains",
                    first.at.line, body.last_seq
                ),
            );
        }
        if let Some(wrong) = out_of_place(body, chain, &signed, &ending_at) {
            flag(findings, digest, wrong);
        }
        match by_seq.get(&body.last_seq) {
            Some(event) if hex::encode(event.chain) != body.last_chain => flag(
                findings,
                digest,
                format!(
                    "the digest says seq {}'s chain is {}, the copy's (line {}) is not: the chain was made again",
                    body.last_seq, body.last_chain, event.at.line
                ),
            ),
            None if body.last_seq > highest => flag(
                findings,
                digest,
                format!(
                    "cut: the digest covers seqs up to {}, the copy ends at seq {highest}",
                    body.last_seq
                ),
            ),
            _ => {}
        }
    }
    let covered: Vec<(u64, u64)> = signed
        .iter()
        .map(|d| (d.body.first_seq, d.body.last_seq))
        .collect();
    // With the key, an event is proven only under a signed digest: a chain alone can be
    // made again by whoever altered the events after the last digest.
    if public_key.is_none() {
        return;
    }
    let mut seqs: Vec<u64> = by_seq.keys().copied().collect();
    seqs.sort_unstable();
    let proven = |seq: u64| {
        covered
            .iter()
            .any(|&(first, last)| (first..=last).contains(&seq))
    };
    let mut unproven = seqs.into_iter().filter(|&seq| !proven(seq)).peekable();
    while let Some(first) = unproven.next() {
        let mut last = first;
        while unproven.peek() == Some(&(last + 1)) {
            last = unproven.next().expect("peeked");
        }
        findings.push(Finding {
            at: by_seq[&first].at.clone(),
            seq: first,
            what: format!(
                "unproven: seqs {first} to {last} are under no signed digest (a digest follows the first events after digest_interval, and a file's close: check again later, or with data_dir/integrity/digests.jsonl among the inputs)"
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What verify takes of the input `text`, given to the scan a few bytes at a time:
    /// every object and string is cut somewhere.
    fn collect(
        text: &str,
        (file, checking): (usize, &Checking),
        streams: &mut BTreeMap<String, StreamCopy>,
        unreadable: &mut Vec<Finding>,
    ) {
        let mut scanner = Scanner::new(&MEMBERS, scan::LARGEST_OBJECT);
        let mut take = |found: Found<'_>| take(found, (file, None, checking), streams, unreadable);
        for piece in text.as_bytes().chunks(7) {
            scanner.feed(piece, &mut take);
        }
        scanner.finish(&mut take);
    }

    /// Events 1 to `count` of one stream, chained, one per line.
    fn chained(count: u64) -> Vec<String> {
        let mut tip = crate::integrity::chain::Tip::new("0123456789abcdef".into());
        (1..=count)
            .map(|n| {
                let mut event = format!("{{\"n\":{n}}}");
                tip.stamp(&Hasher::Sha256, &mut event, 0);
                event
            })
            .collect()
    }

    /// What verify finds in the copy `lines` of the one stream, checked with `key`.
    fn checked(
        lines: &[String],
        key: Option<&ed25519_dalek::VerifyingKey>,
    ) -> (Vec<Finding>, String) {
        let checking = Checking {
            hasher: Hasher::Sha256,
            in_order: false,
        };
        let (mut streams, mut unreadable) = (BTreeMap::new(), Vec::new());
        collect(
            &lines.join("\n"),
            (0, &checking),
            &mut streams,
            &mut unreadable,
        );
        assert!(unreadable.is_empty());
        check(&streams["0123456789abcdef"], "sha256", key)
    }

    fn findings_of(lines: &[String]) -> (Vec<String>, String) {
        let (findings, summary) = checked(lines, None);
        let said = findings
            .iter()
            .map(|f| format!("seq {} line {}: {}", f.seq, f.at.line, f.what))
            .collect();
        (said, summary)
    }

    #[test]
    fn events_held_as_text_in_a_string_are_read_but_not_inside_an_event() {
        let events = chained(3);
        let as_text = |event: &String| serde_json::to_string(event).unwrap();
        // CloudWatch's PutLogEvents: each event the text of a `message`.
        let copy = vec![
            format!(
                "{{\"logEvents\":[{{\"timestamp\":1,\"message\":{}}},{{\"timestamp\":2,\"message\":{}}}]}}",
                as_text(&events[0]),
                as_text(&events[1])
            ),
            format!("{{\"message\":{}}}", as_text(&events[2])),
        ];
        let (findings, summary) = findings_of(&copy);
        assert!(findings.is_empty(), "{findings:?}");
        assert!(
            summary.contains("seqs 1 to 3, 3 events, 0 found twice"),
            "{summary}"
        );

        // Altered as text: found, at the string's line.
        let altered = vec![
            copy[0].clone(),
            copy[1].replace("\\\"n\\\":3", "\\\"n\\\":30"),
        ];
        let (findings, _) = findings_of(&altered);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].starts_with("seq 3 line 2: altered"),
            "{findings:?}"
        );

        // An event's own string that holds another's text is its content: not a copy.
        let mut holder = chained(1).remove(0);
        holder.insert_str(
            holder.len() - 1,
            &format!(",\"note\":{}", as_text(&events[1])),
        );
        let (mut streams, mut unreadable) = (BTreeMap::new(), Vec::new());
        let checking = Checking {
            hasher: Hasher::Sha256,
            in_order: false,
        };
        collect(&holder, (0, &checking), &mut streams, &mut unreadable);
        assert_eq!(streams["0123456789abcdef"].events.len(), 1);
    }

    /// From a hostile run: a member put ahead of the chain's that the event has too was
    /// taken, and a reader that keeps the first of two would read it instead.
    #[test]
    fn a_member_ahead_of_the_chain_that_the_event_also_has_is_found() {
        let events = chained(2);
        let with_ahead = |event: &str, ahead: &str| event.replacen('{', &format!("{{{ahead},"), 1);
        let copy = [
            with_ahead(&events[0], r#""sluice":{"host":"h"}"#),
            with_ahead(&events[1], r#""sluice":{"host":"h"}, "n" :0"#),
        ];
        let (findings, _) = findings_of(&copy);
        assert_eq!(
            findings,
            [
                "seq 2 line 2: a member `n` before the chain's that names one of the event's fields or the chain's: a reader that takes the first of two would read a value the chain does not cover"
            ]
        );
        // A dotted name of a field inside the event, and a member of the chain's own.
        for ahead in [r#""n.id":"evil""#, r#""sluice_seq":7"#] {
            let copy = [with_ahead(&events[0], ahead), events[1].clone()];
            let (findings, _) = findings_of(&copy);
            assert_eq!(findings.len(), 1, "{ahead}: {findings:?}");
        }
    }

    #[test]
    fn an_event_found_before_the_one_before_it_is_checked_when_that_one_comes() {
        let events = chained(5);
        let reordered = [4, 2, 0, 1, 3, 1].map(|i| events[i].clone());
        let (findings, summary) = findings_of(&reordered);
        assert!(findings.is_empty(), "{findings:?}");
        assert!(summary.contains("5 events, 1 found twice"), "{summary}");

        // Altered, and found before the event its link needs: found all the same.
        let mut altered = reordered.clone();
        altered[1] = altered[1].replace("\"n\":3", "\"n\":30");
        let (findings, _) = findings_of(&altered);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].starts_with("seq 3 line 2: altered"),
            "{findings:?}"
        );

        // A copy of a seq with other bytes is not taken for a redelivery.
        let mut inserted = reordered.to_vec();
        inserted.push(events[0].replace("\"n\":1", "\"n\":10"));
        let (findings, _) = findings_of(&inserted);
        assert!(findings[0].contains("inserted or altered"), "{findings:?}");
    }

    /// A digest of seqs `first..=last` ending at `chain`, signed by `key` at `second`,
    /// following the digest signed `previous`; its text and signature.
    fn digest_of(
        key: &ed25519_dalek::SigningKey,
        (first, last): (u64, u64),
        chain: &str,
        previous: Option<&str>,
        second: u8,
    ) -> (String, String) {
        use ed25519_dalek::Signer;
        let body = serde_json::to_string(&Body {
            stream: "0123456789abcdef".into(),
            host: "h".into(),
            source: "s".into(),
            file: None,
            chain: "sha256".into(),
            first_seq: first,
            last_seq: last,
            last_chain: chain.into(),
            previous_signature: previous.map(str::to_owned),
            signed_at: format!("2026-12-08T00:00:{second:02}.000Z"),
        })
        .unwrap();
        let signature =
            base64::engine::general_purpose::STANDARD.encode(key.sign(body.as_bytes()).to_bytes());
        (
            format!(r#"{{"sluice_digest":{body},"signature":"{signature}"}}"#),
            signature,
        )
    }

    #[test]
    fn a_range_signed_again_after_a_restart_is_no_finding_a_fork_is() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let events = chained(5);
        let chain_of = |n: usize| {
            let event: serde_json::Value = serde_json::from_str(&events[n - 1]).unwrap();
            event["sluice_chain"].as_str().unwrap().to_owned()
        };
        let check_with_key = |lines: &[String]| {
            let (findings, _) = checked(lines, Some(&key.verifying_key()));
            findings
                .iter()
                .map(|f| format!("line {}: {}", f.at.line, f.what))
                .collect::<Vec<_>>()
        };
        // Seqs 1 to 3 signed, the run killed before that digest was recorded, signed
        // again after the restart; the next digest follows the second.
        let (first, _) = digest_of(&key, (1, 3), &chain_of(3), None, 1);
        let (again, again_signature) = digest_of(&key, (1, 3), &chain_of(3), None, 2);
        let (next, _) = digest_of(&key, (4, 5), &chain_of(5), Some(&again_signature), 3);
        let mut copy = events.clone();
        copy.extend([next.clone(), again.clone(), first.clone()]);
        assert_eq!(check_with_key(&copy), Vec::<String>::new());
        // The digests alone (`digests.jsonl`), in any order: as intact.
        let digests = [first.clone(), next.clone(), again.clone()];
        let findings = check_with_key(&digests);
        assert!(findings.iter().all(|f| f.contains("cut:")), "{findings:?}");

        // The same seqs signed with another chain: a fork, even with no event to compare.
        let (fork, fork_signature) = digest_of(&key, (1, 3), &"ab".repeat(32), None, 4);
        let findings = check_with_key(&[first.clone(), fork.clone()]);
        assert!(
            findings.iter().any(|f| f
                .starts_with("line 2: forked: this digest and the one at line 1 both sign seq 3")),
            "{findings:?}"
        );
        // A digest that follows the fork, beside the digests of the stream's own chain.
        let (after_fork, _) = digest_of(&key, (4, 5), &chain_of(5), Some(&fork_signature), 5);
        let findings = check_with_key(&[first.clone(), after_fork]);
        assert!(
            findings
                .iter()
                .any(|f| f.starts_with("line 2: a digest that does not follow the one at line 1")),
            "{findings:?}"
        );

        // From a hostile run: a digest naming one that does not end at the seq before its
        // first (overlapping it, or leaving a gap), one of no seqs, and one of another
        // chain were all taken.
        let (_, first_signature) = digest_of(&key, (1, 3), &chain_of(3), None, 1);
        let mut copy = events.clone();
        copy.push(first.clone());
        let placed = |digest: String| {
            let mut copy = copy.clone();
            copy.push(digest);
            // The digest's finding; a gap leaves seqs unproven besides.
            let findings = check_with_key(&copy);
            let of_it: Vec<&String> = findings
                .iter()
                .filter(|f| f.starts_with("line 7:"))
                .collect();
            assert_eq!(of_it.len(), 1, "{findings:?}");
            of_it[0].clone()
        };
        let (overlapping, _) = digest_of(&key, (2, 5), &chain_of(5), Some(&first_signature), 5);
        assert!(
            placed(overlapping).starts_with(
                "line 7: a digest that does not follow the one it names (line 6): that one ends at seq 3, this one starts at seq 2"
            )
        );
        let (gap, _) = digest_of(&key, (5, 5), &chain_of(5), Some(&first_signature), 5);
        assert!(placed(gap).contains("that one ends at seq 3, this one starts at seq 5"));
        let (none, _) = digest_of(&key, (5, 4), &chain_of(4), Some(&first_signature), 5);
        assert!(placed(none).starts_with("line 7: a digest of no seqs: 5 to 4"));
        let (other_chain, _) = digest_of(&key, (4, 5), &chain_of(5), Some(&first_signature), 5);
        let other_chain = other_chain.replace(r#""chain":"sha256""#, r#""chain":"hmac-sha256""#);
        let other_chain = resigned(&key, &other_chain);
        assert!(placed(other_chain).starts_with("line 7: a digest of a hmac-sha256 chain"));
    }

    /// `digest`, its body signed again by `key`.
    fn resigned(key: &ed25519_dalek::SigningKey, digest: &str) -> String {
        use ed25519_dalek::Signer;
        let parsed: DigestEvent<'_> = serde_json::from_str(digest).unwrap();
        let body = parsed.sluice_digest.get();
        let signature =
            base64::engine::general_purpose::STANDARD.encode(key.sign(body.as_bytes()).to_bytes());
        format!(r#"{{"sluice_digest":{body},"signature":"{signature}"}}"#)
    }

    #[test]
    fn an_event_whose_members_are_cut_is_altered_and_what_it_holds_is_not_looked_at() {
        let text = concat!(
            "POST /bulk HTTP/1.1\r\nX-Odd: \"quoted\r\n\r\n",
            r#"{"index":{}}"#,
            "\n",
            r#"{"sluice":{"host":"h"},"sluice_stream":"0123456789abcdef","sluice_seq":1,"sluice_chain":"00","a":{"sluice_stream":"inner"}}"#,
            "\n",
            r#"{"line":"{\"sluice_stream\":\"in a string\"}"}"#,
            "\n",
        );
        let mut streams = BTreeMap::new();
        let mut unreadable = Vec::new();
        let checking = Checking {
            hasher: Hasher::Sha256,
            in_order: false,
        };
        collect(text, (0, &checking), &mut streams, &mut unreadable);
        // The outer event's members are cut short (`00`): altered; the inner object,
        // its content, is not looked at; the text's object is not as Sluice writes one.
        let lines: Vec<usize> = unreadable.iter().map(|f| f.at.line).collect();
        assert_eq!(lines, [5, 6]);
        assert!(streams.is_empty());
    }
}

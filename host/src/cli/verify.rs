//! `sluice verify`: checks the chains and digests of `[integrity]` in a copy of the
//! events (a SIEM's export, captured requests, an export file), whatever wraps them:
//! every JSON object in the input that starts `{"sluice_stream":` is a chained event,
//! every one that starts `{"sluice_digest":` a digest. Reports, per stream, each event
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

use crate::integrity::chain::{GENESIS, Hasher, Stamped, unstamp};
use crate::integrity::digest::Body;

/// What `verify` is given.
#[derive(Debug)]
pub struct Options {
    pub inputs: Vec<PathBuf>,
    pub public_key: Option<PathBuf>,
    /// The HMAC key of an `hmac-sha256` chain, as its value.
    pub key: Option<String>,
    /// Events may be in any order (a destination that sends batches side by side).
    pub any_order: bool,
}

/// Where in the input something was found.
#[derive(Debug, Clone)]
struct At {
    file: usize,
    line: usize,
}

/// A chained event of the copy.
struct Event {
    found: Stamped,
    at: At,
}

/// A digest of the copy: its signed bytes, what they say, its signature.
struct Digest {
    signed: String,
    body: Body,
    signature: Option<String>,
    at: At,
}

/// One stream as the copy has it.
#[derive(Default)]
struct Copy {
    events: Vec<Event>,
    digests: Vec<Digest>,
}

/// Something that shows the copy is not what Sluice sent.
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
    let hasher = match &options.key {
        Some(key) => Hasher::hmac(key.as_bytes()),
        None => Hasher::Sha256,
    };
    let mut streams: BTreeMap<String, Copy> = BTreeMap::new();
    for (index, path) in options.inputs.iter().enumerate() {
        let text = read(path)?;
        collect(&text, index, &mut streams)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    if streams.is_empty() {
        anyhow::bail!(
            "no chained event or digest in the input: was it written with [integrity] on, and does it hold the events' JSON as sent?"
        );
    }
    let shown = |at: &At| format!("{}:{}", options.inputs[at.file].display(), at.line);
    let mut tampered = 0;
    for (stream, copy) in &streams {
        if let Some(chain) = copy.digests.first().map(|d| d.body.chain.as_str())
            && chain != hasher.name()
        {
            anyhow::bail!(
                "stream {stream} is a {chain} chain: {}",
                match chain {
                    "hmac-sha256" => "give its key with --key-env or --key-file",
                    _ => "verify it without --key-env or --key-file",
                }
            );
        }
        let (findings, summary) = check(copy, &hasher, public_key.as_ref(), options.any_order);
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
            println!(
                "tampered: stream {stream} seq {} at {}: {}",
                finding.seq,
                shown(&finding.at),
                finding.what
            );
        }
        let verdict = match findings.is_empty() {
            true => "intact",
            false => "TAMPERED",
        };
        println!("stream {stream}{source}: {summary}: {verdict}");
        tampered += findings.len();
    }
    if public_key.is_none() && streams.values().any(|copy| !copy.digests.is_empty()) {
        println!("note: the digests' signatures were not checked: give --public-key");
    }
    Ok(match tampered {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// The file's text, through gzip or zstd when its first bytes say so.
fn read(path: &Path) -> Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    super::export::decompressed(file)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The chained events and digests of `text`, the input `file`, by stream.
fn collect(text: &str, file: usize, streams: &mut BTreeMap<String, Copy>) -> Result<()> {
    const EVENT: &str = "{\"sluice_stream\":";
    const DIGEST: &str = "{\"sluice_digest\":";
    let mut line = 1;
    let mut counted = 0;
    let starts = text
        .match_indices(EVENT)
        .chain(text.match_indices(DIGEST))
        .map(|(start, _)| start);
    let mut starts: Vec<usize> = starts.collect();
    starts.sort_unstable();
    for start in starts {
        line += text[counted..start].bytes().filter(|&b| b == b'\n').count();
        counted = start;
        let at = At { file, line };
        let mut reader = serde_json::Deserializer::from_str(&text[start..]);
        let Ok(object) = <&RawValue>::deserialize(&mut reader) else {
            anyhow::bail!("line {line}: a chained event or digest that is not a whole JSON object");
        };
        let object = object.get();
        if object.starts_with(DIGEST) {
            let digest: DigestEvent<'_> = serde_json::from_str(object)
                .with_context(|| format!("line {line}: not a digest"))?;
            let signed = digest.sluice_digest.get().to_owned();
            let body: Body = serde_json::from_str(&signed)
                .with_context(|| format!("line {line}: not a digest"))?;
            streams
                .entry(body.stream.clone())
                .or_default()
                .digests
                .push(Digest {
                    signed,
                    body,
                    signature: digest.signature,
                    at,
                });
        } else {
            let found = unstamp(object)
                .with_context(|| format!("line {line}: `sluice_stream` first, but not a chained event as Sluice writes one"))?;
            streams
                .entry(found.stream.clone())
                .or_default()
                .events
                .push(Event { found, at });
        }
    }
    Ok(())
}

/// What is wrong with one stream's copy, and a summary of it.
fn check(
    copy: &Copy,
    hasher: &Hasher,
    public_key: Option<&ed25519_dalek::VerifyingKey>,
    any_order: bool,
) -> (Vec<Finding>, String) {
    let mut findings = Vec::new();
    let mut by_seq: HashMap<u64, &Event> = HashMap::new();
    let mut duplicates = 0;
    let mut highest = 0;
    for event in &copy.events {
        let seq = event.found.seq;
        if let Some(first) = by_seq.get(&seq) {
            if first.found == event.found {
                duplicates += 1;
            } else {
                findings.push(Finding {
                    at: event.at.clone(),
                    seq,
                    what: format!(
                        "inserted or altered: another event has seq {seq} (line {}), with other bytes",
                        first.at.line
                    ),
                });
            }
            continue;
        }
        by_seq.insert(seq, event);
        if !any_order && seq < highest {
            findings.push(Finding {
                at: event.at.clone(),
                seq,
                what: format!("out of order: found after seq {highest} (give --any-order for a copy whose order is not the stream's)"),
            });
        }
        highest = highest.max(seq);
    }
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
        let event = by_seq[&seq];
        if seq > expected {
            findings.push(Finding {
                at: event.at.clone(),
                seq,
                what: format!("missing before it: seq {expected} to {}", seq - 1),
            });
        }
        expected = seq + 1;
        let previous = match seq {
            1 => Some(GENESIS),
            _ => by_seq.get(&(seq - 1)).map(|e| e.found.chain),
        };
        if let Some(previous) = previous
            && hasher.link(&previous, event.found.original.as_bytes()) != event.found.chain
        {
            findings.push(Finding {
                at: event.at.clone(),
                seq,
                what: "altered: its chain does not follow from its bytes and the event before it"
                    .into(),
            });
        }
    }
    check_digests(copy, &by_seq, public_key, &mut findings);
    let summary = match (seqs.first(), seqs.last()) {
        (Some(low), Some(high)) => format!(
            "seqs {low} to {high}, {} events, {duplicates} found twice (redelivered), {} digests",
            seqs.len(),
            copy.digests.len()
        ),
        _ => format!("no event, {} digests", copy.digests.len()),
    };
    findings.sort_by_key(|f| (f.at.file, f.at.line));
    (findings, summary)
}

/// Each digest's signature, its link to the one before, and the chain it pins.
fn check_digests(
    copy: &Copy,
    by_seq: &HashMap<u64, &Event>,
    public_key: Option<&ed25519_dalek::VerifyingKey>,
    findings: &mut Vec<Finding>,
) {
    let highest = by_seq.keys().copied().max().unwrap_or(0);
    let mut digests: Vec<&Digest> = copy.digests.iter().collect();
    digests.sort_by_key(|d| (d.body.first_seq, d.body.last_seq));
    let mut previous: Option<&Digest> = None;
    for digest in digests {
        let body = &digest.body;
        let mut flag = |what: String| {
            findings.push(Finding {
                at: digest.at.clone(),
                seq: body.last_seq,
                what,
            })
        };
        if let Some(key) = public_key {
            let signed = digest
                .signature
                .as_deref()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
                .is_some_and(|signature| {
                    key.verify_strict(digest.signed.as_bytes(), &signature)
                        .is_ok()
                });
            if !signed {
                flag("a digest whose signature is not the key's (forged or altered)".into());
                continue;
            }
        }
        if let Some(before) = previous {
            let same = before.body.first_seq == body.first_seq
                && before.body.last_seq == body.last_seq
                && before.body.last_chain == body.last_chain;
            if !same
                && body.first_seq == before.body.last_seq + 1
                && body.previous_signature != before.signature
            {
                flag(format!(
                    "a digest that does not follow the one at line {} (its previous_signature differs)",
                    before.at.line
                ));
            }
        }
        match by_seq.get(&body.last_seq) {
            Some(event) if hex::encode(event.found.chain) != body.last_chain => flag(format!(
                "the digest says seq {}'s chain is {}, the copy's (line {}) is not: the chain was made again",
                body.last_seq, body.last_chain, event.at.line
            )),
            None if body.last_seq > highest => flag(format!(
                "cut: the digest covers seqs up to {}, the copy ends at seq {highest}",
                body.last_seq
            )),
            _ => {}
        }
        previous = Some(digest);
    }
}

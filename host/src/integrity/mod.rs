//! `[integrity]`: every event Sluice keeps is chained into its stream ([`chain`]), and
//! every `digest_interval` (and when a file is closed) a digest of each stream's new
//! events, signed with an Ed25519 key, goes out after them ([`digest`]).
//!
//! A stream is one file (under any name: its identity and its first event), or, for a
//! source that is not a file, that source in one run. A file's chain is made again from
//! its content when a restart resumes it at a checkpoint, so events read again after a
//! crash carry the seq and chain they had: the chain never forks. A stream of another
//! source starts anew with each run.

pub mod chain;
pub mod digest;
pub mod keys;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::{ChainKind, IntegrityConfig};
use crate::event::EventMeta;
use chain::{Hasher, Tip};
use digest::{DigestLog, Digested};

/// What every source's chains share: the hash, the signing key, the digests' log.
#[derive(Debug)]
pub struct Integrity {
    pub hasher: Hasher,
    host: String,
    /// Seeds the stream ids of the sources that are not files: new each run.
    run_seed: u64,
    /// Numbers the chains of such sources: each ingest of one (an HTTP request slot, a
    /// syslog connection) is a stream of its own.
    ingests: std::sync::atomic::AtomicU64,
    interval: Duration,
    signing: Option<ed25519_dalek::SigningKey>,
    log: Mutex<DigestLog>,
}

impl Integrity {
    /// The configured chain, its key and signing key read, its digests' state loaded
    /// from `data_dir`.
    pub fn configured(config: &IntegrityConfig, data_dir: &std::path::Path) -> Result<Self> {
        let hasher = match (config.chain, config.resolve_key()?) {
            (ChainKind::HmacSha256, Some(key)) => Hasher::hmac(key.expose().as_bytes()),
            _ => Hasher::Sha256,
        };
        let signing = config
            .resolve_signing_key()?
            .map(|pem| keys::signing_key(pem.expose()))
            .transpose()
            .context("integrity.signing_key")?;
        let dir: PathBuf = data_dir.join("integrity");
        // Opened (the directory made) first: the chain's record is kept beside it.
        let log = DigestLog::open(&dir)?;
        same_chain_as_before(data_dir, &hasher)?;
        let mut run_seed = [0u8; 8];
        getrandom::fill(&mut run_seed).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
        Ok(Integrity {
            hasher,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            run_seed: u64::from_le_bytes(run_seed),
            ingests: Default::default(),
            interval: config.digest_interval,
            signing,
            log: Mutex::new(log),
        })
    }

    /// The chains of one source (`label`); `by_file`: one stream per file.
    pub fn chains(self: &Arc<Self>, label: &str, by_file: bool) -> Chains {
        let ingest = self
            .ingests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Chains {
            ingest,
            integrity: self.clone(),
            source: label.to_owned(),
            by_file,
            streams: HashMap::new(),
        }
    }

    /// A stream's id: 16 hex digits of a hash of the host and `what` names it by.
    fn stream_id(&self, what: &[&[u8]]) -> String {
        let mut bytes = self.host.as_bytes().to_vec();
        for part in what {
            bytes.push(0);
            bytes.extend_from_slice(part);
        }
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
    }
}

/// Names the chain `data_dir`'s streams were made with.
const CHAIN_FILE: &str = "integrity/chain";

/// What tells one chain from another without saying its key: its kind, and for a keyed
/// one the start of the key's MAC of a fixed text.
fn chain_mark(hasher: &Hasher) -> String {
    match hasher {
        Hasher::Sha256 => hasher.name().to_owned(),
        Hasher::HmacSha256(_) => {
            let mac = hasher.link(&[0; 32], b"sluice: which key chains these streams");
            format!("{} {}", hasher.name(), hex::encode(&mac[..8]))
        }
    }
}

/// Refuses to go on with another chain (kind or key) than the one the streams of this
/// `data_dir` were made with: a file resumed at its checkpoint would go on under its
/// stream with the other, and every copy holding events of both would verify as
/// altered. The first run with a chain records it.
fn same_chain_as_before(data_dir: &std::path::Path, hasher: &Hasher) -> Result<()> {
    let path = &data_dir.join(CHAIN_FILE);
    let mark = chain_mark(hasher);
    match std::fs::read_to_string(path) {
        Ok(before) if before.trim() == mark => Ok(()),
        Ok(before) => {
            let kind = before.split_whitespace().next().unwrap_or("unknown");
            let what = match kind == hasher.name() {
                true => format!("{kind} under another key"),
                false => kind.to_owned(),
            };
            anyhow::bail!(
                "integrity.chain: the streams of data_dir {} were chained with {what}; files resumed at their checkpoints would go on with {}, and a copy holding events of both would verify as altered. To change the chain, give a new data_dir (files are read again from their start, in new streams), or, knowing that copies from before and after the change will not verify together, remove {}",
                data_dir.display(),
                hasher.name(),
                path.display()
            )
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            crate::persist::write_atomically(path, format!("{mark}\n").as_bytes(), true)
                .with_context(|| format!("cannot write {}", path.display()))
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The first of the chain's members that `event` (a JSON object) has at its top level,
/// its key written plain or with escapes (`sluice\u005fstream`), as a reader decodes it.
fn own_member(event: &str) -> Option<&'static str> {
    const MEMBERS: [&str; 3] = [chain::STREAM_KEY, chain::SEQ_KEY, chain::CHAIN_KEY];
    // Most events do not name them at all: the text is looked into only when one might.
    if !event.contains("\"sluice_") && !event.contains("\\u") {
        return None;
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(event).ok()?;
    MEMBERS
        .into_iter()
        .find(|member| object.contains_key(*member))
}

/// One stream's chain in a source's ingest.
#[derive(Debug)]
struct Stream {
    tip: Tip,
    /// The file it is, for digests.
    name: String,
    /// When a digest last covered it (or it began).
    digested_at: Instant,
    /// Its file was closed: a digest is due at the next flush.
    sealed: bool,
}

/// A source's streams, each chained as its events are read.
#[derive(Debug)]
pub struct Chains {
    /// This ingest's number in the run (the stream of a source that is not a file).
    ingest: u64,
    integrity: Arc<Integrity>,
    source: String,
    by_file: bool,
    /// By the origin's stream (a file's identity); one entry for another source.
    streams: HashMap<u64, Stream>,
}

impl Chains {
    /// Chains the last event of `data` (`meta`), read from `origin` (its stream and
    /// name), and rewrites it there with the chain's members.
    pub fn stamp(
        &mut self,
        origin: (u64, &str),
        data: &mut String,
        meta: &mut EventMeta,
    ) -> Result<(), String> {
        let key = if self.by_file { origin.0 } else { 0 };
        let start = meta.offset as usize;
        if let Some(member) = own_member(&data[start..]) {
            return Err(format!(
                "the event has a member `{member}`, which [integrity] writes: a copy would hold two, and a reader might take the event's"
            ));
        }
        let stream = match self.streams.entry(key) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                // A file's stream is named by its identity and its first event, not by
                // the source that reads it: a source renamed in the configuration goes on
                // with its files' chains. Another source's, by the source and the run.
                let integrity = &self.integrity;
                let id = match self.by_file {
                    true => integrity.stream_id(&[&key.to_le_bytes(), &data.as_bytes()[start..]]),
                    false => integrity.stream_id(&[
                        self.source.as_bytes(),
                        &integrity.run_seed.to_le_bytes(),
                        &self.ingest.to_le_bytes(),
                    ]),
                };
                entry.insert(Stream {
                    tip: Tip::new(id),
                    name: origin.1.to_owned(),
                    digested_at: Instant::now(),
                    sealed: false,
                })
            }
        };
        stream.tip.stamp(&self.integrity.hasher, data, start);
        meta.len = (data.len() - start) as u32;
        Ok(())
    }

    /// The file at `stream` is read again from its start (replaced in place): its
    /// events make a new stream.
    pub fn restart(&mut self, stream: u64) {
        self.streams.remove(&stream);
    }

    /// The file at `stream` is closed: its digest goes with the next flush.
    pub fn seal(&mut self, stream: u64) {
        if let Some(stream) = self.streams.get_mut(&stream) {
            stream.sealed = true;
        }
    }

    /// Digests due (interval passed, or file sealed) of streams with new events,
    /// appended to `data` and `events` as events of their own; what to record once they
    /// are safe.
    pub fn digests_due(&mut self, data: &mut String, events: &mut Vec<EventMeta>) -> Vec<Digested> {
        let integrity = &self.integrity;
        let mut made = Vec::new();
        let mut log = integrity.log.lock().expect("not poisoned");
        for stream in self.streams.values_mut() {
            let due = stream.sealed || stream.digested_at.elapsed() >= integrity.interval;
            if !due {
                continue;
            }
            stream.sealed = false;
            stream.digested_at = Instant::now();
            let file = self.by_file.then_some(stream.name.as_str());
            let what = digest::Subject {
                host: &integrity.host,
                source: &self.source,
                file,
                chain: integrity.hasher.name(),
            };
            let Some((text, digested)) = log.make(&what, &stream.tip, integrity.signing.as_ref())
            else {
                continue;
            };
            let offset = data.len();
            data.push_str(&text);
            events.push(EventMeta {
                offset: offset as u32,
                len: text.len() as u32,
                time_ms: jiff::Timestamp::now().as_millisecond(),
                ingest_time: false,
                id: xxhash_rust::xxh3::xxh3_128(text.as_bytes()),
            });
            made.push(digested);
        }
        made
    }

    /// What the chains share: [`Integrity::record`] needs no more.
    pub fn integrity(&self) -> Arc<Integrity> {
        self.integrity.clone()
    }
}

impl Integrity {
    /// Records digests whose chunk is safe: a restart does not make them again.
    pub fn record(&self, digested: &[Digested]) {
        let mut log = self.log.lock().expect("not poisoned");
        if let Err(error) = log.record(digested) {
            tracing::error!(error = %format!("{error:#}"), "cannot write the digests' state: a restart makes these digests again");
        }
    }
}

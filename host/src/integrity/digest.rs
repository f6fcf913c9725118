//! Digests: for a stream, the seqs a digest covers, the chain after the last, and the
//! signature of the stream's previous digest, all signed with Ed25519. A digest goes
//! out as an event of its own:
//!
//! `{"sluice_digest":{...},"signature":"<base64>","timestamp":"<signed_at>"}`
//!
//! the signature being over the exact bytes of the `sluice_digest` object. Each is also
//! appended to `data_dir/integrity/digests.jsonl`; `digests.json` keeps, per stream,
//! the last digest whose chunk was safe, which the next one (after a restart too)
//! follows.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};

use super::chain::Tip;

/// What a digest names besides the chain.
pub struct Subject<'a> {
    pub host: &'a str,
    pub source: &'a str,
    pub file: Option<&'a str>,
    pub chain: &'a str,
}

/// The signed part of a digest, in this order.
#[derive(Debug, Serialize, Deserialize)]
pub struct Body {
    pub stream: String,
    pub host: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub chain: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub last_chain: String,
    pub previous_signature: Option<String>,
    pub signed_at: String,
}

/// The last digest of a stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Last {
    seq: u64,
    signature: Option<String>,
}

/// A digest made, to record once its chunk is safe.
#[derive(Debug, Clone)]
pub struct Digested {
    stream: String,
    last: Last,
}

/// The digests made and recorded.
#[derive(Debug)]
pub struct DigestLog {
    dir: PathBuf,
    /// Per stream, the last digest made (what the next one follows).
    made: BTreeMap<String, Last>,
    /// Per stream, the last digest whose chunk was safe: `digests.json`.
    recorded: BTreeMap<String, Last>,
}

const STATE: &str = "digests.json";
const LOG: &str = "digests.jsonl";

impl DigestLog {
    pub fn open(dir: &Path) -> Result<DigestLog> {
        crate::private_fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let recorded: BTreeMap<String, Last> = match std::fs::read(dir.join(STATE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not a digests' state", dir.join(STATE).display())
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("reading {}", dir.join(STATE).display()));
            }
        };
        Ok(DigestLog {
            dir: dir.to_owned(),
            made: recorded.clone(),
            recorded,
        })
    }

    /// The digest of `tip`'s events since the stream's last digest, as an event's text;
    /// none when there is no new event.
    pub fn make(
        &mut self,
        what: &Subject<'_>,
        tip: &Tip,
        key: Option<&ed25519_dalek::SigningKey>,
    ) -> Option<(String, Digested)> {
        let last = self.made.get(&tip.stream);
        let first_seq = last.map_or(1, |last| last.seq + 1);
        if tip.seq < first_seq {
            return None;
        }
        let signed_at = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let body = Body {
            stream: tip.stream.clone(),
            host: what.host.to_owned(),
            source: what.source.to_owned(),
            file: what.file.map(str::to_owned),
            chain: what.chain.to_owned(),
            first_seq,
            last_seq: tip.seq,
            last_chain: hex::encode(tip.chain),
            previous_signature: last.and_then(|last| last.signature.clone()),
            signed_at: signed_at.clone(),
        };
        let body = serde_json::to_string(&body).expect("plain data");
        let signature = key.map(|key| {
            base64::engine::general_purpose::STANDARD.encode(key.sign(body.as_bytes()).to_bytes())
        });
        let text = format!(
            "{{\"sluice_digest\":{body},\"signature\":{},\"timestamp\":\"{signed_at}\"}}",
            serde_json::to_string(&signature).expect("plain data")
        );
        let last = Last {
            seq: tip.seq,
            signature,
        };
        self.made.insert(tip.stream.clone(), last.clone());
        if let Err(error) = self.append(&text) {
            tracing::error!(error = %format!("{error:#}"), "cannot append a digest to {}", self.dir.join(LOG).display());
        }
        Some((
            text,
            Digested {
                stream: tip.stream.clone(),
                last,
            },
        ))
    }

    fn append(&self, text: &str) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let mut file = crate::private_fs::options()
            .read(true)
            .append(true)
            .create(true)
            .open(self.dir.join(LOG))?;
        // A line a crash cut short is ended, so that the next one stands alone.
        let len = file.metadata()?.len();
        let mut last = *b"\n";
        if len > 0 {
            file.read_exact_at(&mut last, len - 1)?;
        }
        let start = if last[0] == b'\n' { "" } else { "\n" };
        file.write_all(format!("{start}{text}\n").as_bytes())?;
        crate::persist::disk::sync_data(&file)?;
        Ok(())
    }

    /// Keeps `digested` as the streams' last safe digests, on disk.
    pub fn record(&mut self, digested: &[Digested]) -> Result<()> {
        for digest in digested {
            let newer = self
                .recorded
                .get(&digest.stream)
                .is_none_or(|last| last.seq < digest.last.seq);
            if newer {
                self.recorded
                    .insert(digest.stream.clone(), digest.last.clone());
            }
        }
        let text = serde_json::to_vec(&self.recorded).expect("plain data");
        crate::persist::write_atomically(&self.dir.join(STATE), &text, true)
    }
}

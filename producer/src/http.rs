//! The task that empties the queue into a Sluice HTTP source, a batch at a time.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::{BuildError, Builder, Counts, Item};

/// The first wait before a batch is sent again, doubled at each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How often the queue is looked at while a batch waits for more events.
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// The events gathered for the next request.
struct Batch {
    lines: Vec<Vec<u8>>,
    bytes: usize,
    /// When it goes, full or not.
    deadline: tokio::time::Instant,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            lines: Vec::new(),
            bytes: 0,
            deadline: tokio::time::Instant::now(),
        }
    }
}

impl Batch {
    fn take(&mut self) -> Vec<Vec<u8>> {
        self.bytes = 0;
        std::mem::take(&mut self.lines)
    }
}

pub(crate) struct Sender {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    max_events: usize,
    max_bytes: usize,
    linger: Duration,
    gzip: bool,
    max_backoff: Duration,
    counts: Arc<Counts>,
}

/// What Sluice said of a batch.
enum Answer {
    /// Taken: safe, but for the lines it refused (not events).
    Taken { refused: u64 },
    /// Refused whole, for good.
    Refused(String),
    /// Not taken now: try again, after this long when it said.
    Again(Option<Duration>, String),
}

impl Sender {
    pub(crate) fn new(
        builder: &Builder,
        endpoint: &str,
        counts: Arc<Counts>,
    ) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Sender {
            client,
            url: format!("{}/v1/events", endpoint.trim_end_matches('/')),
            token: builder.token.clone(),
            max_events: builder.max_batch_events,
            max_bytes: builder.max_batch_bytes,
            linger: builder.linger,
            gzip: builder.gzip,
            max_backoff: builder.max_backoff,
            counts,
        })
    }

    /// Takes the queue in batches until it is closed and empty. It waits on the queue
    /// only while it holds nothing: with a batch begun it looks at the queue every
    /// [`LOOK_EVERY`] instead, so that a `send` does not wake it (a wake per event
    /// would cost the caller's thread more than the event itself).
    pub(crate) async fn run(self, mut items: mpsc::Receiver<Item>) {
        let mut batch = Batch::default();
        loop {
            if batch.lines.is_empty() {
                let Some(item) = items.recv().await else {
                    return;
                };
                batch.deadline = tokio::time::Instant::now() + self.linger;
                self.take(item, &mut batch).await;
            }
            loop {
                match items.try_recv() {
                    Ok(item) => self.take(item, &mut batch).await,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.deliver(batch.take()).await;
                        return;
                    }
                }
            }
            if batch.lines.is_empty() {
                continue;
            }
            let now = tokio::time::Instant::now();
            match batch.deadline <= now {
                true => self.deliver(batch.take()).await,
                false => tokio::time::sleep_until(batch.deadline.min(now + LOOK_EVERY)).await,
            }
        }
    }

    /// Adds `item` to `batch`, and sends the batch once it is full (or flushed).
    async fn take(&self, item: Item, batch: &mut Batch) {
        match item {
            Item::Event(line) => {
                if batch.lines.is_empty() {
                    batch.deadline = tokio::time::Instant::now() + self.linger;
                }
                batch.bytes += line.len() + 1;
                batch.lines.push(line);
                if batch.lines.len() >= self.max_events || batch.bytes >= self.max_bytes {
                    self.deliver(batch.take()).await;
                }
            }
            Item::Flush(done) => {
                self.deliver(batch.take()).await;
                let _ = done.send(());
            }
        }
    }

    /// Sends `batch` until Sluice takes or refuses it, with one request id throughout.
    async fn deliver(&self, batch: Vec<Vec<u8>>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let body = self.body(&batch);
        let request_id = request_id();
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.post(&body, &request_id).await {
                Answer::Taken { refused } => {
                    let refused = refused.min(count);
                    self.counts.refused.fetch_add(refused, Ordering::AcqRel);
                    self.counts
                        .delivered
                        .fetch_add(count - refused, Ordering::AcqRel);
                    return;
                }
                Answer::Refused(why) => {
                    tracing::error!(
                        events = count,
                        why,
                        "sluice producer: a batch was refused for good"
                    );
                    self.counts.refused.fetch_add(count, Ordering::AcqRel);
                    return;
                }
                Answer::Again(after, why) => {
                    let wait = after.unwrap_or(backoff).min(self.max_backoff);
                    tracing::warn!(
                        events = count,
                        why,
                        ?wait,
                        "sluice producer: a batch is sent again"
                    );
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
    }

    fn body(&self, batch: &[Vec<u8>]) -> Vec<u8> {
        let mut plain = Vec::with_capacity(batch.iter().map(|l| l.len() + 1).sum());
        for line in batch {
            plain.extend_from_slice(line);
            plain.push(b'\n');
        }
        if !self.gzip {
            return plain;
        }
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(plain.len() / 4),
            flate2::Compression::fast(),
        );
        encoder.write_all(&plain).expect("writing to memory");
        encoder.finish().expect("writing to memory")
    }

    async fn post(&self, body: &[u8], request_id: &str) -> Answer {
        let mut request = self
            .client
            .post(&self.url)
            .header("x-request-id", request_id)
            .header("content-type", "application/x-ndjson")
            .body(body.to_vec());
        if self.gzip {
            request = request.header("content-encoding", "gzip");
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Answer::Again(None, error.to_string()),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.trim().parse().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        match status {
            // A 200 that is not Sluice's answer (a captive portal, a misrouted proxy)
            // took nothing that can be counted on.
            200 => match rejected(&text) {
                Some(refused) => Answer::Taken { refused },
                None => {
                    let start: String = text.chars().take(200).collect();
                    Answer::Again(
                        None,
                        format!("HTTP 200 that is not Sluice's answer: {start}"),
                    )
                }
            },
            400 | 401 | 403 | 413 => Answer::Refused(format!("HTTP {status}: {text}")),
            408 | 429 | 500..=599 => Answer::Again(retry_after, format!("HTTP {status}: {text}")),
            _ => Answer::Refused(format!("HTTP {status}: {text}")),
        }
    }
}

/// The lines a 200 answer says were not events; none when it is not Sluice's answer
/// (`{"accepted": N, "rejected": [...]}`).
fn rejected(answer: &str) -> Option<u64> {
    let answer: serde_json::Value = serde_json::from_str(answer).ok()?;
    answer["accepted"].as_u64()?;
    let listed = answer["rejected"].as_array()?.len() as u64;
    Some(answer["rejected_count"].as_u64().unwrap_or(listed))
}

/// A new request id: 128 random bits, in hex.
fn request_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random numbers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refused_lines_of_an_answer_are_counted_and_a_200_of_another_server_is_none() {
        assert_eq!(
            rejected(r#"{"accepted":2,"rejected":[{"line":1,"reason":"x"}]}"#),
            Some(1)
        );
        assert_eq!(
            rejected(r#"{"accepted":0,"rejected":[],"rejected_count":150}"#),
            Some(150)
        );
        assert_eq!(rejected("<html>Welcome to the hotel network</html>"), None);
        assert_eq!(rejected(r#"{"ok":true}"#), None);
    }
}

//! Sending audit events to Sluice from inside a service.
//!
//! [`Producer::send`] never blocks its caller: it serializes the event and puts it on a
//! bounded queue (when the queue is full, the event is dropped and counted, or the call
//! returns [`SendError::Full`], by [`WhenFull`]). A background task takes the queue in
//! batches, gzips each and POSTs it to a Sluice HTTP source (`/v1/events`), which answers
//! once the events are safe; a refused or failed batch is sent again, with the same
//! `X-Request-Id` (so that its events keep their ids and a copy can be dropped
//! downstream), after `Retry-After` when the answer gives one, with a growing backoff
//! otherwise. [`Producer::flush`] waits until what was sent before it is answered;
//! [`Producer::shutdown`] does so within a deadline and reports what was not delivered.
//!
//! In [durable mode](Builder::durable_dir) the task appends the events instead to JSON
//! Lines files in a local directory, forced to disk every `fsync_interval`, for a
//! Sluice file source to follow: the events survive Sluice being down.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = sluice_producer::Producer::builder()
//!     .endpoint("http://127.0.0.1:8088")
//!     .token(std::env::var("INGEST_TOKEN")?)
//!     .build()?;
//! producer.send(&serde_json::json!({"action": "secret.read", "actor": "bob"}))?;
//! let report = producer.shutdown(std::time::Duration::from_secs(5)).await;
//! assert_eq!(report.undelivered, 0);
//! # Ok(())
//! # }
//! ```

mod durable;
mod http;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// What [`Producer::send`] does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// The event is dropped and counted ([`Report::dropped_when_full`]); `send` returns
    /// `Ok`: the caller's request never waits for its audit log.
    #[default]
    DropNewest,
    /// `send` returns [`SendError::Full`], for a caller that would rather decide.
    Error,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the producer's queue is full")]
    Full,
    #[error("the producer is shut down")]
    Closed,
    #[error("the event is not one line of JSON: {0}")]
    NotJson(String),
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("endpoint `{0}` is not an http:// or https:// URL")]
    Endpoint(String),
    #[error("give an endpoint, or a durable directory")]
    Nowhere,
    #[error("the producer's HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("durable directory {0}: {1}")]
    Directory(PathBuf, std::io::Error),
    #[error("build it inside a Tokio runtime (it sends from a task of its own)")]
    NoRuntime,
}

/// What became of the events given to [`Producer::send`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Taken onto the queue.
    pub queued: u64,
    /// Answered as safe by Sluice (or, durable, forced to disk).
    pub delivered: u64,
    /// Dropped because the queue was full ([`WhenFull::DropNewest`]).
    pub dropped_when_full: u64,
    /// Refused by Sluice for good: not events (the answer's `rejected` lines), or a
    /// batch answered 400, 401, 403 or 413. Sluice keeps rejected lines in its
    /// dead-letter store; a batch refused whole is logged here.
    pub refused: u64,
    /// Queued but neither delivered nor refused when the report was made (at
    /// [`Producer::shutdown`]: left behind by the deadline).
    pub undelivered: u64,
}

/// The counts a producer keeps as it works.
#[derive(Debug, Default)]
struct Counts {
    queued: AtomicU64,
    delivered: AtomicU64,
    dropped_when_full: AtomicU64,
    refused: AtomicU64,
}

impl Counts {
    fn report(&self) -> Report {
        let read = |count: &AtomicU64| count.load(Ordering::Acquire);
        let (queued, delivered, refused) = (
            read(&self.queued),
            read(&self.delivered),
            read(&self.refused),
        );
        Report {
            queued,
            delivered,
            dropped_when_full: read(&self.dropped_when_full),
            refused,
            undelivered: queued.saturating_sub(delivered + refused),
        }
    }
}

/// What goes through the queue.
enum Item {
    Event(Vec<u8>),
    /// Answered once everything queued before it is delivered or refused.
    Flush(oneshot::Sender<()>),
}

/// A handle on the queue and the task that empties it. Cheap to share (`Arc` it);
/// `send` takes `&self`.
#[derive(Debug)]
pub struct Producer {
    queue: mpsc::Sender<Item>,
    counts: Arc<Counts>,
    when_full: WhenFull,
    worker: Worker,
}

/// The task (HTTP) or thread (durable) that empties the queue.
#[derive(Debug)]
enum Worker {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

impl Producer {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Queues `event`, serialized as one line of JSON, without waiting.
    pub fn send<T: serde::Serialize + ?Sized>(&self, event: &T) -> Result<(), SendError> {
        let line = serde_json::to_vec(event).map_err(|e| SendError::NotJson(e.to_string()))?;
        self.queue_line(line)
    }

    /// Queues an event already serialized: one JSON object, without a line feed (not
    /// parsed here; Sluice dead-letters what is not an event).
    pub fn send_json(&self, line: impl Into<Vec<u8>>) -> Result<(), SendError> {
        let line = line.into();
        if line.contains(&b'\n') {
            return Err(SendError::NotJson("it holds a line feed".into()));
        }
        self.queue_line(line)
    }

    fn queue_line(&self, line: Vec<u8>) -> Result<(), SendError> {
        match self.queue.try_send(Item::Event(line)) {
            Ok(()) => {
                self.counts.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => match self.when_full {
                WhenFull::DropNewest => {
                    self.counts
                        .dropped_when_full
                        .fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                WhenFull::Error => Err(SendError::Full),
            },
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::Closed),
        }
    }

    /// Waits until every event queued before the call is delivered or refused (not for
    /// ever: while Sluice is down, until it is back).
    pub async fn flush(&self) -> Report {
        let (done, flushed) = oneshot::channel();
        if self.queue.send(Item::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
        self.report()
    }

    /// What became of the events so far.
    pub fn report(&self) -> Report {
        self.counts.report()
    }

    /// Takes no more events, delivers those queued within `deadline`, and reports; what
    /// is left then is `undelivered` (and logged).
    pub async fn shutdown(self, deadline: Duration) -> Report {
        let Producer {
            queue,
            counts,
            worker,
            ..
        } = self;
        drop(queue);
        let finished = match worker {
            Worker::Task(task) => {
                let abort = task.abort_handle();
                let finished = tokio::time::timeout(deadline, task).await.is_ok();
                abort.abort();
                finished
            }
            Worker::Thread(thread) => {
                let (done, waited) = oneshot::channel();
                std::thread::spawn(move || {
                    let _ = thread.join();
                    let _ = done.send(());
                });
                tokio::time::timeout(deadline, waited).await.is_ok()
            }
        };
        let report = counts.report();
        if !finished || report.undelivered > 0 {
            tracing::error!(
                undelivered = report.undelivered,
                ?deadline,
                "sluice producer: events not delivered before the shutdown deadline"
            );
        }
        report
    }
}

/// How a [`Producer`] is made.
#[derive(Debug, Clone)]
pub struct Builder {
    endpoint: Option<String>,
    token: Option<String>,
    queue_capacity: usize,
    when_full: WhenFull,
    max_batch_events: usize,
    max_batch_bytes: usize,
    linger: Duration,
    gzip: bool,
    max_backoff: Duration,
    durable: Option<durable::Settings>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            endpoint: None,
            token: None,
            queue_capacity: 10_000,
            when_full: WhenFull::DropNewest,
            max_batch_events: 1000,
            max_batch_bytes: 1 << 20,
            linger: Duration::from_millis(100),
            gzip: true,
            max_backoff: Duration::from_secs(30),
            durable: None,
        }
    }
}

impl Builder {
    /// The Sluice HTTP source, `http://host:port` or `https://host:port`.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// One of the source's `tokens`, sent as `Authorization: Bearer`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Events the queue holds (10,000 by default).
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.queue_capacity = events.max(1);
        self
    }

    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Events in one request at most (1,000 by default).
    pub fn max_batch_events(mut self, events: usize) -> Self {
        self.max_batch_events = events.max(1);
        self
    }

    /// Bytes of events in one request at most, before compression (1 MiB by default).
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes.max(1);
        self
    }

    /// How long a batch waits for more events once it has one (100 ms by default).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Whether requests are gzipped (on by default).
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// The longest wait between two tries of a batch (30 s by default).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Appends the events to JSON Lines files in `dir` instead of sending them: a new
    /// file past `segment_bytes`, forced to disk every `fsync_interval`; files are made
    /// readable by their owner only. A Sluice file source follows `dir/*.jsonl`.
    pub fn durable_dir(
        mut self,
        dir: impl Into<PathBuf>,
        segment_bytes: u64,
        fsync_interval: Duration,
    ) -> Self {
        self.durable = Some(durable::Settings {
            dir: dir.into(),
            segment_bytes: segment_bytes.max(1),
            fsync_interval,
        });
        self
    }

    /// The producer, its worker started (a task of the current Tokio runtime, or a
    /// thread in durable mode).
    pub fn build(self) -> Result<Producer, BuildError> {
        let (queue, items) = mpsc::channel(self.queue_capacity);
        let counts = Arc::new(Counts::default());
        let worker = match (&self.durable, &self.endpoint) {
            (Some(settings), _) => {
                let writer = durable::Writer::open(settings.clone(), counts.clone())
                    .map_err(|e| BuildError::Directory(settings.dir.clone(), e))?;
                Worker::Thread(std::thread::spawn(move || writer.run(items)))
            }
            (None, Some(endpoint)) => {
                if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                    return Err(BuildError::Endpoint(endpoint.clone()));
                }
                let runtime =
                    tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
                let sender = http::Sender::new(&self, endpoint, counts.clone())?;
                Worker::Task(runtime.spawn(sender.run(items)))
            }
            (None, None) => return Err(BuildError::Nowhere),
        };
        Ok(Producer {
            queue,
            counts,
            when_full: self.when_full,
            worker,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A producer whose worker has not run yet (a current-thread runtime runs it only
    /// when the test awaits), so that its queue fills.
    fn unstarted(capacity: usize, when_full: WhenFull) -> Producer {
        Producer::builder()
            .endpoint("http://127.0.0.1:9")
            .queue_capacity(capacity)
            .when_full(when_full)
            .build()
            .unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_drops_the_newest_and_counts_it_or_says_so() {
        let dropping = unstarted(2, WhenFull::DropNewest);
        for n in 0..3 {
            dropping.send(&n).unwrap();
        }
        let report = dropping.report();
        assert_eq!((report.queued, report.dropped_when_full), (2, 1));

        let refusing = unstarted(2, WhenFull::Error);
        refusing.send(&1).unwrap();
        refusing.send(&2).unwrap();
        assert!(matches!(refusing.send(&3), Err(SendError::Full)));
        assert_eq!(refusing.report().dropped_when_full, 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn what_is_left_at_the_deadline_is_reported_undelivered() {
        let producer = unstarted(10, WhenFull::Error);
        producer.send_json(r#"{"a":1}"#).unwrap();
        assert!(matches!(
            producer.send_json("{\"a\":\n1}"),
            Err(SendError::NotJson(_))
        ));
        let report = producer.shutdown(Duration::from_millis(200)).await;
        assert_eq!((report.queued, report.undelivered), (1, 1));
    }

    #[test]
    fn a_producer_needs_somewhere_to_send() {
        assert!(matches!(
            Producer::builder().build(),
            Err(BuildError::Nowhere)
        ));
        assert!(matches!(
            Producer::builder().endpoint("ftp://x").build(),
            Err(BuildError::Endpoint(_))
        ));
    }
}

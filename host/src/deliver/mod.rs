//! Delivery: batch -> format (in the module) -> send (host) -> classify (module) ->
//! delivered, retried, split, or dead-lettered.
//!
//! Each destination has its own batcher and `concurrency` workers, each worker with its
//! own module instance, so a slow or dead destination never blocks another. A batch's
//! acks are settled once every one of its events is delivered or dead-lettered; a batch
//! abandoned at the shutdown deadline leaves them unsettled.

mod retry;
mod transport;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sluice_contract::id::IdText;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::buffer::{self, Batch, BatchLimits, Events};
use crate::config::DestinationConfig;
use crate::dead_letter::{DeadLetter, Record, now_rfc3339};
use crate::event::{Enrichment, EventChunk, EventMeta};
use crate::metrics::Counters;
use crate::module::answer;
use crate::module::types::{self, FormatError, HttpRequest, Request, SentRequest, Verdict};
use crate::module::{FormatterInstance, FormatterModule, Setup, SigningKeys};

pub use retry::RetryPolicy;
pub use transport::{Credential, Sent, Transport};

/// Chunks waiting in front of a destination's batcher.
const INPUT_QUEUE_CHUNKS: usize = 16;

/// What one destination needs, shared by its workers.
pub struct Destination {
    pub name: Arc<str>,
    module: Arc<FormatterModule>,
    settings: Vec<(String, String)>,
    /// The configured batch limits, else the module's.
    limits: BatchLimits,
    transport: Transport,
    credential: Option<Credential>,
    signing_keys: SigningKeys,
    retry: RetryPolicy,
    dead_letter: Arc<DeadLetter>,
    counters: Arc<Counters>,
}

impl Destination {
    /// Checks the configuration against the module (settings it declares, a credential
    /// when it wants one) and prepares the transport.
    pub fn new(
        config: &DestinationConfig,
        module: Arc<FormatterModule>,
        dead_letter: Arc<DeadLetter>,
        counters: Arc<Counters>,
    ) -> Result<Self> {
        let info = module.info();
        let settings = config.settings()?;
        if let Some((key, problem)) = module.unknown_setting(&settings) {
            anyhow::bail!("settings.{key}: {problem}");
        }
        let credential = match (&info.auth, &config.token) {
            (Some(header), Some(token)) => Some(Credential {
                header: header.clone(),
                secret: token.resolve().map_err(|e| anyhow::anyhow!("token: {e}"))?,
            }),
            (None, Some(_)) => anyhow::bail!(
                "token: module `{}` sends no credential, remove the token",
                info.name
            ),
            // A capture directory needs no credential; a real endpoint does.
            (Some(header), None) if !config.endpoint.starts_with("capture:") => anyhow::bail!(
                "token: module `{}` authenticates with the `{}` header: add token = {{ env = \"NAME\" }} or {{ file = \"PATH\" }}",
                info.name,
                header.name
            ),
            (_, None) => None,
        };
        let mut signing_keys = std::collections::HashMap::new();
        for (name, key) in &config.signing_keys {
            signing_keys.insert(
                name.clone(),
                key.resolve()
                    .map_err(|e| anyhow::anyhow!("signing_keys.{name}: {e}"))?,
            );
        }
        let limits = BatchLimits {
            max_events: config
                .batch
                .max_events
                .unwrap_or(info.batch.max_events)
                .max(1) as usize,
            max_bytes: config
                .batch
                .max_bytes
                .unwrap_or(info.batch.max_bytes)
                .max(1) as usize,
            max_wait: config.batch.max_wait.unwrap_or(Duration::from_secs(1)),
        };
        Ok(Destination {
            name: config.name.as_str().into(),
            limits,
            module,
            settings,
            transport: Transport::new(config).context("endpoint")?,
            credential,
            signing_keys: Arc::new(signing_keys),
            retry: RetryPolicy::new(&config.retry),
            dead_letter,
            counters,
        })
    }

    /// One line for `sluice check`: module, version, where it came from, the batch limits
    /// in force.
    pub fn describe(&self) -> String {
        let info = self.module.info();
        format!(
            "{} {} ({}), batches of up to {} events / {} bytes / {:?}",
            info.name,
            info.version,
            self.module.label(),
            self.limits.max_events,
            self.limits.max_bytes,
            self.limits.max_wait
        )
    }

    /// What each instance of the module is configured with.
    fn setup(&self, enrichment: Enrichment) -> Setup {
        Setup {
            settings: self.settings.clone(),
            enrichment,
            keys: self.signing_keys.clone(),
        }
    }

    /// Configures the module with this destination's settings and formats a sample
    /// event, so a setting the module rejects is reported before any event is read.
    pub fn dry_run(&self, enrichment: Enrichment) -> Result<()> {
        let sample =
            r#"{"timestamp":"2026-01-01T00:00:00Z","event_type":"sluice.check","action":"check"}"#;
        let mut events = Events::default();
        let meta = EventMeta {
            offset: 0,
            len: sample.len() as u32,
            time_ms: 1_767_225_600_000,
            ingest_time: false,
            id: 0,
        };
        events.push(sample, &meta);
        let mut instance = self.module.instantiate(self.setup(enrichment))?;
        match instance.format(&Arc::new(events))? {
            Ok(_) => Ok(()),
            Err(FormatError::InvalidSetting(problem)) => anyhow::bail!("{problem}"),
            Err(FormatError::Failed(reason)) => {
                anyhow::bail!("the module cannot format a sample event: {reason}")
            }
        }
    }

    /// Starts the batcher and workers, each with an instance of the module configured
    /// (so a setting the module refuses stops the start); returns the queue that feeds
    /// them.
    pub fn spawn(
        self: Arc<Self>,
        config: &DestinationConfig,
        enrichment: Enrichment,
        abort: CancellationToken,
        tasks: &mut JoinSet<Result<()>>,
    ) -> Result<mpsc::Sender<Arc<EventChunk>>> {
        let limits = self.limits;
        let (input, chunks) = mpsc::channel(INPUT_QUEUE_CHUNKS);
        let (batches_in, batches) = mpsc::channel(config.concurrency);
        tasks.spawn(async move {
            buffer::run_batcher(chunks, limits, batches_in).await;
            Ok(())
        });
        let batches = Arc::new(Mutex::new(batches));
        for _ in 0..config.concurrency {
            let mut instance = self.module.instantiate(self.setup(enrichment.clone()))?;
            instance.configure()?;
            let worker = Worker {
                destination: self.clone(),
                instance: std::sync::Mutex::new(Some(instance)),
                abort: abort.clone(),
            };
            tasks.spawn(worker.run(batches.clone()));
        }
        Ok(input)
    }
}

/// Events of a batch on their way, with the attempt they are on.
struct Pending {
    /// Shared with the blocking-pool call that formats it (and, through it, lent to the
    /// module), instead of copied.
    events: Arc<Events>,
    attempt: u32,
}

struct Worker {
    destination: Arc<Destination>,
    /// Taken while a call runs on the blocking pool. (A mutex only to make the worker
    /// `Sync`; one worker never calls twice at once.)
    instance: std::sync::Mutex<Option<FormatterInstance>>,
    abort: CancellationToken,
}

impl Worker {
    async fn run(mut self, batches: Arc<Mutex<mpsc::Receiver<Batch>>>) -> Result<()> {
        loop {
            let batch = batches.lock().await.recv().await;
            let Some(batch) = batch else { return Ok(()) };
            let events = Arc::new(batch.events);
            if self.deliver(events.clone()).await {
                batch.acks.into_iter().for_each(crate::ack::Ack::settle);
            } else {
                Counters::add(&self.destination.counters.abandoned, events.len());
                tracing::error!(destination = %self.destination.name, events = events.len(), "shutdown deadline passed; batch abandoned");
                // Kept where an operator can find them; the batch stays unsettled, so a
                // source with checkpoints reads them again too (at least once).
                self.write_records(
                    &events,
                    0..events.len() as u32,
                    "shutdown",
                    "abandoned: not delivered within shutdown_timeout (some may have arrived)",
                );
            }
        }
    }

    /// Delivers or dead-letters every event; false when the shutdown deadline passed
    /// before that.
    async fn deliver(&mut self, events: Arc<Events>) -> bool {
        let mut queue = VecDeque::from([Pending { events, attempt: 1 }]);
        while let Some(pending) = queue.pop_front() {
            if self.abort.is_cancelled() {
                return false;
            }
            let formatted = match self.format(&pending.events).await {
                Ok(formatted) => formatted,
                Err(Failure::Fatal(reason)) => {
                    self.dead_letter_all(&pending.events, &reason);
                    continue;
                }
                Err(Failure::Transient(reason)) => {
                    self.retry_pending(pending, reason, None, &mut queue).await;
                    continue;
                }
            };
            for refusal in &formatted.refused {
                self.dead_letter(&pending.events, &[refusal.event], &refusal.reason);
            }
            let forgotten = answer::forgotten(&formatted, pending.events.len());
            self.dead_letter(
                &pending.events,
                &forgotten,
                &format!(
                    "module `{}` neither sent nor refused the event",
                    self.destination.module.info().name
                ),
            );
            for request in formatted.requests {
                match request {
                    Request::Http(request) => self.send(&pending, request, &mut queue).await,
                    Request::Messages(framed) => {
                        let reason = format!(
                            "module `{}` asked for a stream transport, which this host does not serve yet",
                            self.destination.module.info().name
                        );
                        self.dead_letter(&pending.events, &framed.events, &reason);
                    }
                }
            }
        }
        // A deadline that passed during a wait may have cut a request short: count the
        // whole batch as not settled (its events may be sent again: at least once).
        !self.abort.is_cancelled()
    }

    /// Sends one request until it is settled; follow-up work goes to `queue`.
    async fn send(
        &mut self,
        pending: &Pending,
        mut request: HttpRequest,
        queue: &mut VecDeque<Pending>,
    ) {
        let payload = std::mem::take(&mut request.body);
        let body = match transport::encode_body(
            &payload,
            pending.events.text.as_bytes(),
            request.compression,
        ) {
            Ok(body) => body,
            Err(error) => {
                self.dead_letter(
                    &pending.events,
                    &request.events,
                    &format!("cannot compress the request body: {error}"),
                );
                return;
            }
        };
        let mut attempt = pending.attempt;
        let sent_request = SentRequest {
            path: request.path.clone(),
            event_count: request.events.len() as u32,
        };
        loop {
            let sent = tokio::select! {
                sent = self
                    .destination
                    .transport
                    .send(&request, &body, self.destination.credential.as_ref()) => sent,
                // The shutdown deadline also cuts a request in flight short.
                () = self.abort.cancelled() => return,
            };
            let verdict = match sent {
                Ok(Sent::Captured) => Verdict::Delivered,
                Ok(Sent::Redirected(reason)) => Verdict::Refused(reason),
                Ok(Sent::Response(response)) => {
                    match self.classify(response, &sent_request).await {
                        Ok(verdict) => verdict,
                        Err(reason) => Verdict::Retry(types::RetryAdvice {
                            reason,
                            after_ms: None,
                        }),
                    }
                }
                Err(reason) => Verdict::Retry(types::RetryAdvice {
                    reason,
                    after_ms: None,
                }),
            };
            // Positions in the request's events, checked with the verdict.
            let in_request = |positions: &[u32]| -> Vec<u32> {
                positions
                    .iter()
                    .map(|&position| request.events[position as usize])
                    .collect()
            };
            match verdict {
                Verdict::Delivered => {
                    Counters::add(&self.destination.counters.delivered, request.events.len());
                    return;
                }
                Verdict::Retry(advice) => {
                    if !self.destination.retry.may_retry(attempt) {
                        let reason = format!("gave up after {attempt} attempts: {}", advice.reason);
                        self.dead_letter(&pending.events, &request.events, &reason);
                        return;
                    }
                    let wait = self.destination.retry.delay(
                        attempt,
                        advice.after_ms.map(|ms| Duration::from_millis(ms.into())),
                    );
                    tracing::warn!(destination = %self.destination.name, attempt, wait = ?wait, reason = %advice.reason, "request failed; retrying");
                    if !self.sleep(wait).await {
                        return;
                    }
                    attempt += 1;
                }
                Verdict::Partial(partial) => {
                    let settled = partial.retry.len() + partial.refused.len();
                    Counters::add(
                        &self.destination.counters.delivered,
                        request.events.len().saturating_sub(settled),
                    );
                    for refusal in &partial.refused {
                        self.dead_letter(
                            &pending.events,
                            &in_request(&[refusal.event]),
                            &refusal.reason,
                        );
                    }
                    if !partial.retry.is_empty() {
                        let rest = Pending {
                            events: Arc::new(pending.events.subset(in_request(&partial.retry))),
                            attempt,
                        };
                        self.retry_pending(
                            rest,
                            "the destination accepted only part of the request".into(),
                            None,
                            queue,
                        )
                        .await;
                    }
                    return;
                }
                Verdict::TooLarge if request.events.len() > 1 => {
                    let (first, second) = request.events.split_at(request.events.len() / 2);
                    for half in [second, first] {
                        queue.push_front(Pending {
                            events: Arc::new(pending.events.subset(half.iter().copied())),
                            attempt,
                        });
                    }
                    return;
                }
                Verdict::TooLarge => {
                    self.dead_letter(
                        &pending.events,
                        &request.events,
                        "the destination refused the event as too large",
                    );
                    return;
                }
                Verdict::Refused(reason) => {
                    self.dead_letter(&pending.events, &request.events, &reason);
                    return;
                }
            }
        }
    }

    /// Queues `pending` again after a backoff, or dead-letters it when out of attempts.
    async fn retry_pending(
        &mut self,
        pending: Pending,
        reason: String,
        wait: Option<Duration>,
        queue: &mut VecDeque<Pending>,
    ) {
        if !self.destination.retry.may_retry(pending.attempt) {
            self.dead_letter_all(
                &pending.events,
                &format!("gave up after {} attempts: {reason}", pending.attempt),
            );
            return;
        }
        let wait = self.destination.retry.delay(pending.attempt, wait);
        tracing::warn!(destination = %self.destination.name, attempt = pending.attempt, wait = ?wait, %reason, "retrying events");
        if self.sleep(wait).await {
            queue.push_back(Pending {
                events: pending.events,
                attempt: pending.attempt + 1,
            });
        } else {
            queue.push_back(pending);
        }
    }

    /// Waits, unless the shutdown deadline passes first (then false).
    async fn sleep(&self, wait: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = self.abort.cancelled() => false,
        }
    }

    async fn format(&mut self, events: &Arc<Events>) -> Result<types::Formatted, Failure> {
        let events = events.clone();
        let result = self.call(move |instance| instance.format(&events)).await?;
        match result {
            Ok(formatted) => Ok(formatted),
            Err(FormatError::InvalidSetting(problem)) => Err(Failure::Fatal(problem.to_string())),
            Err(FormatError::Failed(reason)) => Err(Failure::Transient(format!(
                "the module could not format the batch: {reason}"
            ))),
        }
    }

    async fn classify(
        &mut self,
        response: types::HttpResponse,
        request: &SentRequest,
    ) -> Result<Verdict, String> {
        let request = request.clone();
        self.call(move |instance| instance.classify(&response, &request))
            .await
            .map_err(|failure| match failure {
                Failure::Fatal(reason) | Failure::Transient(reason) => reason,
            })
    }

    /// Runs a module call on the blocking pool (module code must not stall the async
    /// workers). A failed call is transient: the next call gets a fresh instance.
    async fn call<R: Send + 'static>(
        &mut self,
        call: impl FnOnce(&mut FormatterInstance) -> Result<R, crate::module::CallError>
        + Send
        + 'static,
    ) -> Result<R, Failure> {
        let mut instance = self
            .instance
            .lock()
            .expect("not poisoned")
            .take()
            .expect("one call at a time per worker");
        let (instance, result) = tokio::task::spawn_blocking(move || {
            let result = call(&mut instance);
            (instance, result)
        })
        .await
        .map_err(|e| Failure::Transient(format!("module call panicked: {e}")))?;
        *self.instance.lock().expect("not poisoned") = Some(instance);
        result.map_err(|error| {
            tracing::warn!(destination = %self.destination.name, %error, "module call failed");
            Failure::Transient(error.to_string())
        })
    }

    fn dead_letter_all(&self, events: &Events, reason: &str) {
        let all: Vec<u32> = (0..events.len() as u32).collect();
        self.dead_letter(events, &all, reason);
    }

    /// Dead-letters the events of `batch` at `indices` (checked with the module's
    /// answer), with `reason`.
    fn dead_letter(&self, batch: &Events, indices: &[u32], reason: &str) {
        if indices.is_empty() {
            return;
        }
        tracing::warn!(destination = %self.destination.name, events = indices.len(), %reason, "events dead-lettered");
        Counters::add(&self.destination.counters.dead_lettered, indices.len());
        self.write_records(batch, indices.iter().copied(), "deliver", reason);
    }

    /// Writes the events of `batch` at `indices` to the dead-letter store.
    fn write_records(
        &self,
        batch: &Events,
        indices: impl Iterator<Item = u32>,
        stage: &'static str,
        reason: &str,
    ) {
        let time = now_rfc3339();
        let records: Vec<Record<'_>> = indices
            .map(|i| i as usize)
            .map(|i| Record {
                time: time.clone(),
                stage,
                destination: Some(&self.destination.name),
                reason,
                origin: None,
                event_id: Some(IdText(batch.meta(i).id).to_string()),
                event: serde_json::from_str(batch.json(i)).ok(),
                line: None,
            })
            .collect();
        self.destination.dead_letter.write_or_log(&records);
    }
}

/// Why formatting failed: for good (a bad setting), or maybe not next time.
enum Failure {
    Fatal(String),
    Transient(String),
}

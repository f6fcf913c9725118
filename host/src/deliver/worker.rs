//! A worker delivers one batch at a time: format (in the module) -> send (transport)
//! -> classify (module) -> delivered, retried, split, or dead-lettered.
//!
//! Each batch is delivered in a task of its own, which owns the worker's state: should
//! the host panic while delivering, the supervisor still accounts for the batch (its
//! events dead-lettered with the reason, its sources acknowledged) and starts the next
//! batch with a fresh module instance.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Destination;
use super::circuit::Refusal;
use super::filter_stage::KeptFilter;
use super::requests::{ModuleCall, RequestResult};
use super::transport::{self, Sent};
use super::tries::Tries;
use crate::buffer::Batch;
use crate::event::Events;
use crate::metrics::Counters;
use crate::module::{CallError, FormatterInstance, FormatterModule, Setup};
use sluice_contract::answer;
use sluice_contract::id::IdText;
use sluice_contract::types::{
    self, Compression, FormatError, HttpRequest, Request, SentRequest, Verdict,
};

/// A worker's module instance between batches, with the generation of the module it
/// belongs to: a reloaded module replaces it before the next batch.
pub(super) struct Kept {
    instance: Option<FormatterInstance>,
    generation: u64,
    filter: KeptFilter,
}

impl Kept {
    pub fn new((instance, generation): (FormatterInstance, u64)) -> Self {
        Kept {
            instance: Some(instance),
            generation,
            filter: KeptFilter::default(),
        }
    }

    /// None yet: made at the first call.
    pub fn none(generation: u64) -> Self {
        Kept {
            instance: None,
            generation,
            filter: KeptFilter::default(),
        }
    }

    /// A worker for the next batch, with the kept instance unless the module changed.
    fn worker(
        &mut self,
        destination: &Arc<Destination>,
        setup: &Setup,
        abort: &CancellationToken,
    ) -> Worker {
        let (module, generation) = destination.current();
        if generation != self.generation {
            self.instance = None;
            self.generation = generation;
        }
        Worker {
            destination: destination.clone(),
            module,
            generation,
            setup: setup.clone(),
            instance: std::sync::Mutex::new(self.instance.take()),
            filter: std::mem::take(&mut self.filter),
            abort: abort.clone(),
            tries: Tries::default(),
            awaiting: Vec::new(),
            dead_lettered: HashSet::new(),
        }
    }

    /// Keeps the worker's instance for the next batch.
    fn keep(&mut self, worker: Worker) {
        self.filter = worker.filter;
        self.generation = worker.generation;
        self.instance = worker.instance.into_inner().expect("not poisoned");
    }
}

/// The events a destination has taken and not yet confirmed, bounded
/// (`acknowledgement.max_pending_events`): a worker takes permits for a batch's
/// unconfirmed events before it takes the next batch, and they come back when the
/// batch is settled.
#[derive(Debug, Clone)]
pub(super) struct PendingBound {
    permits: Arc<tokio::sync::Semaphore>,
    max: u32,
    /// Whether the wait was said since the bound was last free.
    said: Arc<std::sync::atomic::AtomicBool>,
}

impl PendingBound {
    pub fn new(max_pending_events: usize) -> Self {
        let max = u32::try_from(max_pending_events).unwrap_or(u32::MAX >> 3);
        PendingBound {
            permits: Arc::new(tokio::sync::Semaphore::new(max as usize)),
            max,
            said: Arc::default(),
        }
    }

    /// Permits for `events` unconfirmed events (a batch larger than the bound takes it
    /// all), waiting while the bound is reached; none at the shutdown deadline.
    async fn take(
        &self,
        destination: &str,
        events: usize,
        abort: &CancellationToken,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        use std::sync::atomic::Ordering;
        let count = u32::try_from(events).unwrap_or(u32::MAX).clamp(1, self.max);
        if let Ok(permit) = self.permits.clone().try_acquire_many_owned(count) {
            self.said.store(false, Ordering::Relaxed);
            return Some(permit);
        }
        if !self.said.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                destination,
                max_pending_events = self.max,
                "events waiting for the destination's confirmation reached acknowledgement.max_pending_events; the workers wait for confirmations"
            );
        }
        tokio::select! {
            permit = self.permits.clone().acquire_many_owned(count) => permit.ok(),
            () = abort.cancelled() => None,
        }
    }
}

/// Takes batches from `batches` until it closes, each delivered under supervision. A
/// batch whose requests the destination will confirm later goes to `tracker`, which
/// settles it then; the worker takes no other batch while `pending` is at its bound.
pub(super) async fn run(
    destination: Arc<Destination>,
    setup: Setup,
    mut kept: Kept,
    batches: Arc<Mutex<mpsc::Receiver<Batch>>>,
    (tracker, pending): (mpsc::Sender<Unconfirmed>, PendingBound),
    abort: CancellationToken,
) -> Result<()> {
    loop {
        let batch = batches.lock().await.recv().await;
        let Some(batch) = batch else { return Ok(()) };
        // A destination whose module is gone holds its batch until the module is back
        // (or the shutdown deadline: the batch is then accounted as any cut short).
        destination.unpaused(&abort).await;
        let events = Arc::new(batch.events);
        let worker = kept.worker(&destination, &setup, &abort);
        match supervised(worker.deliver(Pending::first(events.clone()))).await {
            Ok((mut worker, true)) => {
                let awaiting = std::mem::take(&mut worker.awaiting);
                kept.keep(worker);
                if awaiting.is_empty() {
                    batch.acks.into_iter().for_each(crate::ack::Ack::settle);
                } else {
                    let events = awaiting.iter().map(|a| a.events.len()).sum();
                    // None at the shutdown deadline, as a closed tracker: the batch stays
                    // unsettled, as any batch cut short by it.
                    let Some(permit) = pending.take(&destination.name, events, &abort).await else {
                        continue;
                    };
                    let unconfirmed = Unconfirmed {
                        acks: batch.acks,
                        awaiting,
                        permit,
                    };
                    let _ = tracker.send(unconfirmed).await;
                }
            }
            Ok((worker, false)) if destination.spooled => {
                kept.keep(worker);
                // One line per batch at debug: the run's end says once what stays.
                tracing::debug!(destination = %destination.name, events = events.len(), "shutdown deadline passed; the batch stays in the spool for the next run");
            }
            Ok((worker, false)) => {
                let unsettled = worker.not_dead_lettered(&events);
                kept.keep(worker);
                destination
                    .abandon(
                        &unsettled,
                        "abandoned: not delivered within shutdown_timeout (some may have arrived)",
                        &abort,
                    )
                    .await;
            }
            Err(panic) => {
                // A host bug: which events arrived is unknown, and trying again may hit
                // it again. The events are kept, with why; the next batch gets a fresh
                // instance (the panic took this one).
                let reason = format!(
                    "sluice failed while delivering this batch (some events may have arrived): {panic}"
                );
                tracing::error!(destination = %destination.name, %reason, "delivery task panicked");
                if destination
                    .dead_letter_all(&events, &reason, &Tries::default(), &abort)
                    .await
                {
                    batch.acks.into_iter().for_each(crate::ack::Ack::settle);
                } else {
                    destination.count_abandoned(events.len());
                }
            }
        }
    }
}

/// A batch the destination took, some of whose requests it has yet to confirm: its
/// acks are settled once every ticket is confirmed (or its events settled otherwise).
pub(super) struct Unconfirmed {
    pub acks: Vec<crate::ack::Ack>,
    pub awaiting: Vec<Awaiting>,
    /// Its share of `acknowledgement.max_pending_events`, given back when it is settled.
    pub permit: tokio::sync::OwnedSemaphorePermit,
}

/// The events of one request the destination took with a `pending` verdict.
#[derive(Clone)]
pub(super) struct Awaiting {
    /// The module's ticket to ask about them.
    pub ticket: String,
    pub events: Arc<Events>,
    /// The attempt that sent them.
    pub attempt: u32,
    /// When the destination took them: the clock of `acknowledgement.timeout`.
    pub taken_at: Instant,
}

/// Sends `awaiting`'s events again, as a batch of their own on the next attempt: the
/// destination lost them, or did not confirm them in time. Returns whether they were
/// settled or taken again before the shutdown deadline, and the tickets of the new
/// requests.
pub(super) async fn send_again(
    destination: &Arc<Destination>,
    setup: &Setup,
    kept: &mut Kept,
    awaiting: Awaiting,
    reason: &str,
    abort: &CancellationToken,
) -> (bool, Vec<Awaiting>) {
    let mut worker = kept.worker(destination, setup, abort);
    worker.tries.failed(awaiting.attempt, reason);
    // An unconfirmed request counts as one failed attempt; the wait for a confirmation
    // is `acknowledgement.timeout`'s, not `max_retry_time`'s.
    let since = Instant::now();
    if let Some(why) = destination.retry.give_up(awaiting.attempt, since) {
        worker
            .dead_letter_all(&awaiting.events, &format!("{why}: {reason}"))
            .await;
        let delivered = !abort.is_cancelled();
        kept.keep(worker);
        return (delivered, Vec::new());
    }
    let pending = Pending {
        events: awaiting.events,
        attempt: awaiting.attempt + 1,
        failing_since: Some(since),
        first_error: Some(reason.to_owned()),
        filtered: true,
    };
    let (mut worker, delivered) = worker.deliver(pending).await;
    let awaiting = std::mem::take(&mut worker.awaiting);
    kept.keep(worker);
    (delivered, awaiting)
}

/// Asks the destination about `tickets` with the module's query: one state per
/// ticket, or why the answer said nothing of them.
pub(super) async fn poll(
    destination: &Arc<Destination>,
    setup: &Setup,
    kept: &mut Kept,
    tickets: Vec<String>,
    abort: &CancellationToken,
) -> Result<Vec<types::AckState>, String> {
    let mut worker = kept.worker(destination, setup, abort);
    let polled = worker.poll(tickets).await;
    kept.keep(worker);
    polled
}

/// Runs one batch's delivery as a task of its own, so that a panic in it comes back as
/// an error (with the panic's message) instead of ending the worker with the batch
/// uncounted.
async fn supervised<T: Send + 'static>(
    delivery: impl Future<Output = T> + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::spawn(delivery).await
}

/// Events of a batch on their way, with the attempt they are on.
struct Pending {
    /// Shared with the blocking-pool call that formats it (and, through it, lent to the
    /// module), instead of copied.
    events: Arc<Events>,
    attempt: u32,
    /// Since when they have been failing (or waiting at an open circuit): the clock of
    /// `max_retry_time`.
    failing_since: Option<Instant>,
    /// Their first error, for their dead-letter records.
    first_error: Option<String>,
    /// The destination's filter module has kept them (they are not asked about again).
    filtered: bool,
}

impl Pending {
    /// A batch on its first attempt.
    fn first(events: Arc<Events>) -> Self {
        Pending {
            events,
            attempt: 1,
            failing_since: None,
            first_error: None,
            filtered: false,
        }
    }
}

/// The state of one batch's delivery: the destination, and the module instance it
/// calls (none after a call panicked: the next call instantiates anew).
struct Worker {
    destination: Arc<Destination>,
    /// The module this batch's attempts are formatted with: the newest, taken at each
    /// attempt, so that a fixed module rescues a batch already retrying.
    module: Arc<FormatterModule>,
    generation: u64,
    setup: Setup,
    /// Taken while a call runs on the blocking pool. (A mutex only to make the worker
    /// `Sync`; one worker never calls twice at once.)
    instance: std::sync::Mutex<Option<FormatterInstance>>,
    /// The destination's filter module instance, if it has one.
    filter: KeptFilter,
    abort: CancellationToken,
    /// What the events under way went through, for their dead-letter records.
    tries: Tries,
    /// Requests the destination took and will confirm later.
    awaiting: Vec<Awaiting>,
    /// The ids of the events of this batch already in the dead-letter store: a batch
    /// cut short by the shutdown deadline abandons the others only, so that no event
    /// is settled twice (and sent twice by a replay).
    dead_lettered: HashSet<(u64, u64)>,
}

impl Worker {
    /// Delivers or dead-letters every event; false when the shutdown deadline passed
    /// before that. Gives the worker back for the next batch.
    async fn deliver(mut self, first: Pending) -> (Self, bool) {
        let mut queue = VecDeque::from([first]);
        while let Some(pending) = queue.pop_front() {
            if self.abort.is_cancelled() {
                return (self, false);
            }
            self.tries = Tries {
                attempts: pending.attempt - 1,
                first_error: pending.first_error.clone(),
            };
            let pending = match self.filter(pending).await {
                Ok(pending) if pending.events.is_empty() => continue,
                Ok(pending) => pending,
                Err((pending, reason)) => {
                    self.destination
                        .health
                        .failed(&self.destination.name, &reason);
                    self.retry_pending(pending, reason, None, &mut queue).await;
                    continue;
                }
            };
            let formatted = match self.format(&pending.events).await {
                Ok(formatted) => formatted,
                Err(Failure::Fatal(reason)) => {
                    self.dead_letter_all(&pending.events, &reason).await;
                    continue;
                }
                Err(Failure::Transient(reason)) => {
                    self.destination
                        .health
                        .failed(&self.destination.name, &reason);
                    self.retry_pending(pending, reason, None, &mut queue).await;
                    continue;
                }
            };
            for refusal in &formatted.refused {
                self.dead_letter(&pending.events, &[refusal.event], &refusal.reason)
                    .await;
            }
            let forgotten = answer::forgotten(&formatted, pending.events.len());
            self.dead_letter(
                &pending.events,
                &forgotten,
                &format!(
                    "module `{}` neither sent nor refused the event",
                    self.module.info().name
                ),
            )
            .await;
            for request in formatted.requests {
                self.send(&pending, request, &mut queue).await;
            }
        }
        // A deadline that passed during a wait may have cut a request short: count the
        // whole batch as not settled (its events may be sent again: at least once).
        let delivered = !self.abort.is_cancelled();
        (self, delivered)
    }

    /// Sends one request until it is settled; follow-up work goes to `queue`.
    async fn send(&mut self, pending: &Pending, request: Request, queue: &mut VecDeque<Pending>) {
        let (outgoing, payload, compression, events) =
            Outgoing::from(request, &pending.events.columns);
        // An object store names a request's object once: every attempt writes that name.
        let outgoing = match (outgoing, self.destination.transport.object_store()) {
            (Outgoing::Http(request), Some(store)) => {
                Outgoing::Object(store.object_for(&request, compression == Compression::Gzip))
            }
            (outgoing, _) => outgoing,
        };
        let body =
            match transport::encode_body(&payload, pending.events.text.as_bytes(), compression) {
                Ok(body) => body,
                Err(error) => {
                    self.dead_letter(
                        &pending.events,
                        &events,
                        &format!("cannot compress the request body: {error}"),
                    )
                    .await;
                    return;
                }
            };
        let mut attempt = pending.attempt;
        let mut failing_since = pending.failing_since;
        let sent_request = SentRequest {
            path: match &outgoing {
                Outgoing::Http(request) => request.path.clone(),
                Outgoing::Messages(_) | Outgoing::Publish { .. } | Outgoing::Object(_) => {
                    String::new()
                }
            },
            event_count: events.len() as u32,
        };
        let mut last_reason = String::from("the circuit was open");
        loop {
            // Owned: the admission borrows it across `&mut self` calls.
            let destination = self.destination.clone();
            if destination.circuit.is_open() {
                failing_since.get_or_insert_with(Instant::now);
            }
            let deadline = failing_since.and_then(|since| destination.retry.deadline(since));
            let admission = match destination.circuit.admit(deadline, &self.abort).await {
                Ok(admission) => admission,
                Err(Refusal::Aborted) => return,
                Err(Refusal::Deadline) => {
                    let since = failing_since.unwrap_or_else(Instant::now);
                    let why = destination
                        .retry
                        .give_up(attempt, since)
                        .unwrap_or_else(|| "gave up".into());
                    let reason = format!("{why}, the circuit open: {last_reason}");
                    self.dead_letter(&pending.events, &events, &reason).await;
                    return;
                }
            };
            destination.rate.wait(events.len()).await;
            let started = Instant::now();
            let sent = tokio::select! {
                sent = self.transmit(&outgoing, &body) => sent,
                // The shutdown deadline also cuts a request in flight short.
                () = self.abort.cancelled() => return,
            };
            let took = started.elapsed();
            let answered = sent.is_ok();
            let sent = sent.map_err(|reason| destination.redactor.redact(&reason));
            let verdict = match sent {
                Ok(Sent::Captured) => Verdict::Delivered,
                Ok(Sent::Stored(name)) => {
                    tracing::debug!(destination = %destination.name, object = %name, events = events.len(), "object written");
                    Verdict::Delivered
                }
                Ok(Sent::Written(refused)) if refused.is_empty() => Verdict::Delivered,
                Ok(Sent::Written(refused)) => Verdict::Partial(types::PartialFailure {
                    retry: Vec::new(),
                    refused,
                }),
                Ok(Sent::Published(published)) => match published.into_failure() {
                    None => Verdict::Delivered,
                    // Nothing acknowledged: a retry of the whole request, with backoff.
                    Some((failure, Some(reason)))
                        if failure.refused.is_empty() && failure.retry.len() == events.len() =>
                    {
                        Verdict::Retry(types::RetryAdvice {
                            reason,
                            after_ms: None,
                        })
                    }
                    Some((failure, _)) => Verdict::Partial(failure),
                },
                Ok(Sent::Redirected(reason)) => {
                    Verdict::Refused(destination.redactor.redact(&reason))
                }
                Ok(Sent::Response(response)) => {
                    match self.classify(response, &sent_request).await {
                        Ok(verdict) => redacted(verdict, &destination.redactor),
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
            let timed_out = took >= destination.request_timeout;
            let result = request_result(answered.then_some(&verdict), timed_out);
            destination.requests.ended(result, took);
            // Positions in the request's events, checked with the verdict.
            let in_request = |positions: &[u32]| -> Vec<u32> {
                positions
                    .iter()
                    .map(|&position| events[position as usize])
                    .collect()
            };
            self.tries.attempts = attempt;
            match &verdict {
                Verdict::Retry(_) => admission.failed(),
                _ => admission.succeeded(),
            }
            match verdict {
                Verdict::Delivered => {
                    self.delivered(events.len());
                    return;
                }
                Verdict::Retry(advice) => {
                    self.destination
                        .health
                        .failed(&self.destination.name, &advice.reason);
                    self.tries.failed(attempt, &advice.reason);
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if let Some(why) = self.destination.retry.give_up(attempt, since) {
                        let reason = format!("{why}: {}", advice.reason);
                        self.dead_letter(&pending.events, &events, &reason).await;
                        return;
                    }
                    let wait = self.destination.retry.delay(
                        attempt,
                        advice.after_ms.map(|ms| Duration::from_millis(ms.into())),
                    );
                    tracing::warn!(destination = %self.destination.name, attempt, wait = ?wait, reason = %advice.reason, "request failed; retrying");
                    last_reason = advice.reason;
                    if !self.sleep(wait).await {
                        return;
                    }
                    attempt += 1;
                }
                Verdict::Partial(partial) => {
                    let settled = partial.retry.len() + partial.refused.len();
                    self.delivered(events.len().saturating_sub(settled));
                    for refusal in &partial.refused {
                        self.dead_letter(
                            &pending.events,
                            &in_request(&[refusal.event]),
                            &refusal.reason,
                        )
                        .await;
                    }
                    if !partial.retry.is_empty() {
                        let rest = Pending {
                            events: Arc::new(pending.events.subset(in_request(&partial.retry))),
                            attempt,
                            failing_since: Some(failing_since.unwrap_or_else(Instant::now)),
                            first_error: self.tries.first_error.clone(),
                            filtered: true,
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
                Verdict::TooLarge if events.len() > 1 => {
                    let (first, second) = events.split_at(events.len() / 2);
                    for half in [second, first] {
                        queue.push_front(Pending {
                            events: Arc::new(pending.events.subset(half.iter().copied())),
                            attempt,
                            failing_since,
                            first_error: self.tries.first_error.clone(),
                            filtered: true,
                        });
                    }
                    return;
                }
                Verdict::TooLarge => {
                    self.dead_letter(
                        &pending.events,
                        &events,
                        "the destination refused the event as too large",
                    )
                    .await;
                    return;
                }
                Verdict::Refused(reason) => {
                    // A whole request refused (a bad token, a wrong index) is a
                    // destination that does not work, for health and alerts.
                    self.destination
                        .health
                        .failed(&self.destination.name, &reason);
                    self.dead_letter(&pending.events, &events, &reason).await;
                    return;
                }
                Verdict::Pending(ticket) => {
                    let carried = match events.iter().copied().eq(0..pending.events.len() as u32) {
                        true => pending.events.clone(),
                        false => Arc::new(pending.events.subset(events.iter().copied())),
                    };
                    self.awaiting.push(Awaiting {
                        ticket,
                        events: carried,
                        attempt,
                        taken_at: Instant::now(),
                    });
                    return;
                }
            }
        }
    }

    /// Sends a request once: an HTTP request with the credential, or messages.
    async fn transmit(&self, outgoing: &Outgoing, body: &bytes::Bytes) -> Result<Sent, String> {
        let transport = &self.destination.transport;
        match outgoing {
            Outgoing::Http(request) => {
                transport
                    .send(request, body, self.destination.credential.as_ref())
                    .await
            }
            Outgoing::Messages(ends) => transport.send_messages(body, ends).await,
            Outgoing::Object(object) => transport.put_object(object, body).await,
            Outgoing::Publish {
                ends,
                subjects,
                ids,
            } => {
                let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
                transport.publish(body, ends, &subjects, ids).await
            }
        }
    }

    /// Queues `pending` again after a backoff, or dead-letters it when out of attempts.
    async fn retry_pending(
        &mut self,
        mut pending: Pending,
        reason: String,
        wait: Option<Duration>,
        queue: &mut VecDeque<Pending>,
    ) {
        if self.abort.is_cancelled() {
            // Not a failure of the destination: the batch is abandoned as a whole, once.
            queue.push_back(pending);
            return;
        }
        let since = *pending.failing_since.get_or_insert_with(Instant::now);
        self.tries.failed(pending.attempt, &reason);
        pending.first_error.get_or_insert_with(|| reason.clone());
        if let Some(why) = self.destination.retry.give_up(pending.attempt, since) {
            self.dead_letter_all(&pending.events, &format!("{why}: {reason}"))
                .await;
            return;
        }
        let wait = self.destination.retry.delay(pending.attempt, wait);
        tracing::warn!(destination = %self.destination.name, attempt = pending.attempt, wait = ?wait, %reason, "retrying events");
        if self.sleep(wait).await {
            queue.push_back(Pending {
                attempt: pending.attempt + 1,
                ..pending
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

    /// The events of `pending` the destination's filter module keeps (those it drops
    /// are counted as the destination's `filtered`), or why its call failed.
    async fn filter(&mut self, pending: Pending) -> Result<Pending, (Pending, String)> {
        let stage = match &self.destination.filter_stage {
            Some(stage) if !pending.filtered => stage,
            _ => return Ok(pending),
        };
        let flags = match self
            .filter
            .keep(
                stage,
                &pending.events,
                &self.destination.requests,
                &self.abort,
            )
            .await
        {
            Ok(flags) => flags,
            Err(reason) => return Err((pending, reason)),
        };
        let kept: Vec<u32> = (0..flags.len() as u32)
            .filter(|&i| flags[i as usize])
            .collect();
        let dropped = flags.len() - kept.len();
        Counters::add(&self.destination.selection.filtered, dropped);
        let events = match dropped {
            0 => pending.events,
            _ => Arc::new(pending.events.subset(kept)),
        };
        Ok(Pending {
            events,
            filtered: true,
            ..pending
        })
    }

    async fn format(&mut self, events: &Arc<Events>) -> Result<types::Formatted, Failure> {
        let (module, generation) = self.destination.current();
        if generation != self.generation {
            // A reload replaced the module since this batch started.
            self.module = module;
            self.generation = generation;
            *self.instance.lock().expect("not poisoned") = None;
        }
        let events = events.clone();
        let result = self
            .call(ModuleCall::Format, move |instance| instance.format(&events))
            .await?;
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
        self.call(ModuleCall::Classify, move |instance| {
            instance.classify(response, &request)
        })
        .await
        .map_err(Failure::into_reason)
    }

    /// Asks the destination about `tickets` (see [`poll`]).
    async fn poll(&mut self, tickets: Vec<String>) -> Result<Vec<types::AckState>, String> {
        let asked = tickets.clone();
        let query = self
            .call(ModuleCall::AckQuery, move |instance| {
                instance.ack_query(&asked)
            })
            .await
            .map_err(Failure::into_reason)?
            .ok_or_else(|| {
                format!(
                    "module `{}` answered `pending` but has no acknowledgement query",
                    self.module.info().name
                )
            })?;
        let response = self
            .destination
            .transport
            .query(&query, self.destination.credential.as_ref())
            .await?;
        self.call(ModuleCall::ReadAcks, move |instance| {
            instance.read_acks(response, &tickets)
        })
        .await
        .map_err(Failure::into_reason)?
    }

    /// Runs a module call on the blocking pool (module code must not stall the async
    /// workers). A failed call is transient: the next call gets a fresh instance, as
    /// after a call that panicked on the host's side.
    async fn call<R: Send + 'static>(
        &mut self,
        which: ModuleCall,
        call: impl FnOnce(&mut FormatterInstance) -> Result<R, CallError> + Send + 'static,
    ) -> Result<R, Failure> {
        let taken = self.instance.lock().expect("not poisoned").take();
        let instance = match taken {
            Some(instance) => instance,
            None => self
                .module
                .instantiate(self.setup.clone())
                .map_err(|error| Failure::Transient(error.to_string()))?,
        };
        let requests = self.destination.requests.clone();
        let call = tokio::task::spawn_blocking(move || {
            let mut instance = instance;
            let started = std::time::Instant::now();
            let result = call(&mut instance);
            requests.called(which, started.elapsed());
            (instance, result)
        });
        let (instance, result) = tokio::select! {
            joined = call => joined.map_err(|panic| {
                Failure::Transient(format!("the call into the module panicked: {panic}"))
            })?,
            // The call runs on to its own time limit, on its own thread; the shutdown
            // deadline does not wait for it (the instance goes with it).
            () = self.abort.cancelled() => {
                return Err(Failure::Transient("the shutdown deadline passed during a module call".into()));
            }
        };
        *self.instance.lock().expect("not poisoned") = Some(instance);
        result.map_err(|error| {
            tracing::warn!(destination = %self.destination.name, %error, "module call failed");
            Failure::Transient(error.to_string())
        })
    }

    /// `count` events of a request were delivered.
    fn delivered(&self, count: usize) {
        Counters::add(&self.destination.counters.delivered, count);
        self.destination
            .health
            .delivered(&self.destination.name, count);
    }

    async fn dead_letter_all(&mut self, events: &Events, reason: &str) {
        let all: Vec<u32> = (0..events.len() as u32).collect();
        self.dead_letter(events, &all, reason).await;
    }

    /// Dead-letters events; if the store cannot take them before the shutdown
    /// deadline, the batch ends unsettled (`deliver` sees the deadline passed).
    async fn dead_letter(&mut self, batch: &Events, indices: &[u32], reason: &str) {
        let stored = self
            .destination
            .dead_letter(batch, indices, reason, &self.tries, &self.abort)
            .await;
        if stored {
            let ids = &batch.columns;
            self.dead_lettered.extend(
                indices
                    .iter()
                    .map(|&i| (ids.ids_high[i as usize], ids.ids_low[i as usize])),
            );
        }
    }

    /// The events of `batch` this worker did not dead-letter.
    fn not_dead_lettered(&self, batch: &Events) -> Events {
        let ids = &batch.columns;
        batch.subset((0..batch.len() as u32).filter(|&i| {
            !self
                .dead_lettered
                .contains(&(ids.ids_high[i as usize], ids.ids_low[i as usize]))
        }))
    }
}

/// How a request ended, from the verdict on its answer (`None`: it had none).
fn request_result(answered: Option<&Verdict>, timed_out: bool) -> RequestResult {
    match answered {
        None if timed_out => RequestResult::Timeout,
        None => RequestResult::Failed,
        Some(Verdict::Retry(_)) => RequestResult::Retried,
        Some(Verdict::Refused(_) | Verdict::TooLarge) => RequestResult::Refused,
        Some(_) => RequestResult::Ok,
    }
}

/// `verdict` with the destination's secrets masked in its reasons (a receiver may quote
/// what it was sent).
fn redacted(verdict: Verdict, redactor: &super::redact::Redactor) -> Verdict {
    match verdict {
        Verdict::Retry(advice) => Verdict::Retry(types::RetryAdvice {
            reason: redactor.redact(&advice.reason),
            after_ms: advice.after_ms,
        }),
        Verdict::Refused(reason) => Verdict::Refused(redactor.redact(&reason)),
        Verdict::Partial(partial) => Verdict::Partial(types::PartialFailure {
            retry: partial.retry,
            refused: partial
                .refused
                .into_iter()
                .map(|refusal| types::Refusal {
                    event: refusal.event,
                    reason: redactor.redact(&refusal.reason),
                })
                .collect(),
        }),
        verdict => verdict,
    }
}

/// A request without its payload and events, which are encoded and counted apart.
enum Outgoing {
    Http(HttpRequest),
    /// Where each message ends in the assembled payload.
    Messages(Vec<u32>),
    /// Where each message ends, its subject, and its event's id (the broker's
    /// de-duplication id).
    Publish {
        ends: Vec<u32>,
        subjects: Vec<String>,
        ids: Vec<String>,
    },
    /// An HTTP request's body as an object, named once for all its attempts.
    Object(transport::ObjectWrite),
}

impl Outgoing {
    /// The request, its payload, how it is compressed, and the events it carries;
    /// `columns` are those of the events' batch.
    fn from(
        request: Request,
        columns: &types::Columns,
    ) -> (Outgoing, types::Payload, Compression, Vec<u32>) {
        match request {
            Request::Http(mut http) => {
                let payload = std::mem::take(&mut http.body);
                let events = std::mem::take(&mut http.events);
                let compression = http.compression;
                (Outgoing::Http(http), payload, compression, events)
            }
            Request::Messages(framed) => (
                Outgoing::Messages(framed.message_ends),
                framed.messages,
                Compression::None,
                framed.events,
            ),
            Request::Publish(published) => {
                let framed = published.messages;
                let ids = framed
                    .events
                    .iter()
                    .map(|&event| {
                        let event = event as usize;
                        let id = u128::from(columns.ids_high[event]) << 64
                            | u128::from(columns.ids_low[event]);
                        IdText(id).to_string()
                    })
                    .collect();
                let subjects = published
                    .subject_of
                    .iter()
                    .map(|&index| published.subjects[index as usize].clone())
                    .collect();
                (
                    Outgoing::Publish {
                        ends: framed.message_ends,
                        subjects,
                        ids,
                    },
                    framed.messages,
                    Compression::None,
                    framed.events,
                )
            }
        }
    }
}

/// Why formatting failed: for good (a bad setting), or maybe not next time.
enum Failure {
    Fatal(String),
    Transient(String),
}

impl Failure {
    fn into_reason(self) -> String {
        match self {
            Failure::Fatal(reason) | Failure::Transient(reason) => reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_that_panics_comes_back_as_an_error() {
        let panicked = supervised(async { panic!("a host bug") }).await;
        let error = panicked.unwrap_err();
        assert!(error.is_panic());
        assert!(error.to_string().contains("a host bug"), "{error}");
        assert_eq!(supervised(async { 7 }).await.unwrap(), 7);
    }
}

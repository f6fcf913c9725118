//! `type = "jetstream"`: the messages of a NATS JetStream stream, read through a durable
//! pull consumer that any number of Sluice hosts share (the server hands each message to
//! one of them).
//!
//! A message is acknowledged only once its events are safe (in the spool, or delivered
//! or dead-lettered by every destination that takes the source); one that could not be
//! made safe is refused with `nak` and a delay, so that the server delivers it again,
//! here or to another host. A host that dies holds its unacknowledged messages until
//! `ack_wait` passes, then the server delivers them to the others: what a lost host
//! sends twice is bounded by `max_ack_pending`, and a message delivered again makes the
//! same event ids (they are derived from the stream's sequence number and the payload),
//! so a destination can recognise the duplicates.
//!
//! Each line of a payload is an event, as in a file; the events of the messages that
//! came together make one chunk.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::{self, AckKind, consumer::pull, message::Acker};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::http::body;
use crate::config::JetStreamSourceConfig;
use crate::metrics::SourceFigures;
use crate::nats::{NatsAuth, NatsConnection, NatsCredentials};
use crate::pipeline::{Ingest, Mark, Origin, Router};

/// Messages made into one chunk at most, when they come faster than they are read.
const MESSAGES_PER_CHUNK: usize = 500;
/// The wait between two attempts to reach the server or its stream.
const RECONNECT_WAIT: Duration = Duration::from_secs(1);

/// Reads the stream as `config` says until `stop`.
pub async fn run(
    config: JetStreamSourceConfig,
    router: Arc<Router>,
    source: (usize, Arc<SourceFigures>),
    stop: CancellationToken,
) -> Result<()> {
    let figures = source.1.clone();
    let connection = connection(&config, &figures.label)
        .with_context(|| format!("source `{}`", figures.label))?;
    let Some(client) = retrying(&figures, &stop, || connection.connect()).await else {
        return Ok(());
    };
    let context = jetstream::new(client.clone());
    let (settled, settling) = mpsc::unbounded_channel();
    let acknowledging = tokio::spawn(acknowledge(settling, config.clone(), client));
    let stream_seed = xxhash_rust::xxh3::xxh3_64(config.stream.as_bytes());
    let mut ingest = Ingest::new(router, source, stop.clone());
    let mut chunks = Chunks {
        settled,
        count: 0,
        stream_seed,
        max_line_bytes: ingest.max_line_bytes(),
    };
    'subscribed: loop {
        let Some(messages) = retrying(&figures, &stop, || subscribe(&config, &context)).await
        else {
            break;
        };
        tracing::info!(source = %figures.label, url = %connection.url, stream = %config.stream, consumer = %config.consumer, "jetstream source: reading the stream");
        let mut reading = ReadAhead::new(messages, &config, figures.clone());
        loop {
            let first = tokio::select! {
                next = reading.next() => next,
                () = stop.cancelled() => {
                    reading.refuse().await;
                    break 'subscribed;
                }
            };
            let mut taken = Vec::new();
            let mut next = first;
            let ended = loop {
                match next {
                    Some(message) => taken.push(message),
                    None => break true,
                }
                if taken.len() >= MESSAGES_PER_CHUNK {
                    break false;
                }
                // What came with it, without waiting for more.
                match reading.next_now() {
                    Some(more) => next = more,
                    None => break false,
                }
            };
            if !chunks
                .hand_on(&mut ingest, &mut reading, taken, &config, &figures)
                .await
            {
                reading.refuse().await;
                break 'subscribed;
            }
            // The consumer (or its stream) was deleted: made again, or waited for.
            if ended {
                tracing::warn!(source = %figures.label, consumer = %config.consumer, "jetstream source: the consumer's messages ended (was it or its stream deleted?); subscribing again");
                continue 'subscribed;
            }
        }
    }
    // Its stream ends here: a last flush carries its digest.
    ingest.seal_chain(0);
    let _ = ingest.flush(None).await;
    // The chunks still in the pipeline settle as their batches end (delivered,
    // dead-lettered, or abandoned at the shutdown deadline); their acknowledgements
    // reach the server before the source ends, so a stop does not make copies.
    drop(ingest);
    drop(chunks);
    let _ = acknowledging.await;
    Ok(())
}

/// The consumer's messages as they come, read ahead while the pipeline is busy so that
/// none waits unseen in the client: a message the client holds counts against
/// `ack_wait` on the server, and one held longer (behind a slow destination) would be
/// delivered again to another host while this one still has it, and arrive twice.
///
/// Up to [`READ_AHEAD_MESSAGES`] and [`READ_AHEAD_BYTES`] wait here, kept claimed (`in
/// progress`) until they join a chunk, whose messages the acknowledging task keeps
/// claimed; past that the client is no longer read, and what it took meanwhile is
/// refused (`nak`, after `nak_delay`) at the next claim, at most a third of `ack_wait`
/// after it came, for another host or a later pull.
struct ReadAhead {
    messages: pull::Stream,
    waiting: std::collections::VecDeque<jetstream::Message>,
    waiting_bytes: usize,
    /// The subscription ended (its consumer or stream was deleted).
    ended: bool,
    /// How often the messages waiting are said to be in progress.
    claim_every: Duration,
    nak_delay: Duration,
    figures: Arc<SourceFigures>,
}

/// Messages read ahead at most while the pipeline has no room: one chunk.
const READ_AHEAD_MESSAGES: usize = MESSAGES_PER_CHUNK;
/// Payload bytes read ahead at most while the pipeline has no room.
const READ_AHEAD_BYTES: usize = 8 << 20;

impl ReadAhead {
    fn new(
        messages: pull::Stream,
        config: &JetStreamSourceConfig,
        figures: Arc<SourceFigures>,
    ) -> ReadAhead {
        ReadAhead {
            messages,
            waiting: std::collections::VecDeque::new(),
            waiting_bytes: 0,
            ended: false,
            claim_every: config.ack_wait / 3,
            nak_delay: config.nak_delay,
            figures,
        }
    }

    /// The next message, waiting for one; `None` once the subscription ended.
    async fn next(&mut self) -> Option<jetstream::Message> {
        loop {
            if let Some(message) = self.take_waiting() {
                return Some(message);
            }
            if self.ended {
                return None;
            }
            let next = self.messages.next().await;
            self.keep(next);
        }
    }

    /// The next message if one is here already: `Some(None)` once the subscription ended.
    fn next_now(&mut self) -> Option<Option<jetstream::Message>> {
        loop {
            if let Some(message) = self.take_waiting() {
                return Some(Some(message));
            }
            if self.ended {
                return Some(None);
            }
            let next = futures_util::FutureExt::now_or_never(self.messages.next())?;
            self.keep(next);
        }
    }

    fn take_waiting(&mut self) -> Option<jetstream::Message> {
        let message = self.waiting.pop_front()?;
        self.waiting_bytes -= message.payload.len();
        Some(message)
    }

    fn has_room(&self) -> bool {
        self.waiting.len() < READ_AHEAD_MESSAGES && self.waiting_bytes < READ_AHEAD_BYTES
    }

    /// Runs `work` (a chunk waiting for room in the pipeline) while reading the messages
    /// that come meanwhile, keeping them claimed, and refusing what comes past the
    /// read-ahead's bounds.
    async fn hold_while<T>(&mut self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        let start = tokio::time::Instant::now() + self.claim_every;
        let mut claim = tokio::time::interval_at(start, self.claim_every);
        claim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let reading = !self.ended && self.has_room();
            tokio::select! {
                biased;
                done = &mut work => return done,
                next = self.messages.next(), if reading => self.keep(next),
                _ = claim.tick() => self.claim().await,
            }
        }
    }

    /// Tells the server the messages waiting are in hand, and refuses those the client
    /// took past the read-ahead's bounds.
    async fn claim(&mut self) {
        for message in &self.waiting {
            let _ = message.ack_with(AckKind::Progress).await;
        }
        while !self.ended {
            let Some(next) = futures_util::FutureExt::now_or_never(self.messages.next()) else {
                break;
            };
            match next {
                Some(Ok(message)) if self.has_room() => self.keep(Some(Ok(message))),
                Some(Ok(message)) => {
                    let _ = message.ack_with(AckKind::Nak(Some(self.nak_delay))).await;
                }
                other => self.keep(other),
            }
        }
    }

    /// Keeps what the subscription gave: a message waits, an error is said, the end
    /// is remembered.
    fn keep(&mut self, next: Option<Result<jetstream::Message, pull::MessagesError>>) {
        match next {
            Some(Ok(message)) => {
                self.waiting_bytes += message.payload.len();
                self.waiting.push_back(message);
            }
            Some(Err(error)) => {
                self.figures
                    .set_problem(Some(format!("reading the stream: {error}")));
                tracing::warn!(source = %self.figures.label, %error, "jetstream source: reading the stream failed; the client tries again");
            }
            None => self.ended = true,
        }
    }

    /// Refuses (`nak`, no delay) the messages read ahead and those the client already
    /// holds, when the source stops: the server hands them out again now, to the next
    /// reader, rather than holding them as this stopped host's until `ack_wait` (they
    /// were seen leaving a stopped host with a hundred messages pending). The
    /// acknowledging task's flush sends the refusals.
    async fn refuse(mut self) {
        while let Some(message) = self.take_waiting() {
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
        while let Some(Some(Ok(message))) =
            futures_util::FutureExt::now_or_never(self.messages.next())
        {
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
    }
}

/// What makes chunks of messages and follows them until they settle.
struct Chunks {
    settled: mpsc::UnboundedSender<Settle>,
    /// Chunks made so far: the next one's number.
    count: u64,
    stream_seed: u64,
    max_line_bytes: usize,
}

impl Chunks {
    /// Hands `taken` messages on as one chunk, its messages held (kept from
    /// redelivery) until it settles, reading ahead while the pipeline has no room for
    /// it; false when no destination takes events any more.
    async fn hand_on(
        &mut self,
        ingest: &mut Ingest,
        reading: &mut ReadAhead,
        taken: Vec<jetstream::Message>,
        config: &JetStreamSourceConfig,
        figures: &SourceFigures,
    ) -> bool {
        if taken.is_empty() {
            return true;
        }
        figures.set_problem(None);
        let mut ackers = Vec::with_capacity(taken.len());
        for message in taken {
            let (sequence, delivered) = match message.info() {
                Ok(info) => (info.stream_sequence, info.delivered),
                Err(_) => (0, 1),
            };
            if delivered > 1 {
                figures.redelivered.fetch_add(1, Ordering::Relaxed);
            }
            let (message, acker) = message.split();
            ackers.push(acker);
            let at = (self.stream_seed, sequence, self.max_line_bytes);
            take_message(ingest, &config.stream, at, &message.payload);
        }
        self.count += 1;
        let _ = self.settled.send(Settle::Held(self.count, ackers));
        let guard = Settling {
            chunk: self.count,
            settled: self.settled.clone(),
            safe: false,
        };
        reading
            .hold_while(ingest.flush(Some(Mark::call(move || guard.safe()))))
            .await
            .is_ok()
    }
}

/// The connection `config` asks for, named after the source's `label`.
fn connection(config: &JetStreamSourceConfig, label: &str) -> Result<NatsConnection> {
    let auth = NatsAuth::read(NatsCredentials {
        token: config.token.as_ref(),
        basic_auth: config.basic_auth.as_ref(),
        nkey: config.nkey.as_ref(),
        nats_credentials: config.nats_credentials.as_ref(),
    })?;
    let tls_config = match config.url.tls {
        true => Some(crate::client_tls::config_with(
            config.ca_file.as_deref(),
            None,
        )?),
        false => None,
    };
    Ok(NatsConnection::new(
        &config.url,
        auth,
        tls_config,
        Duration::from_secs(10),
        format!("sluice {label}"),
    ))
}

/// For `sluice check --connect`: connects with the source's credential and finds its
/// stream; says how many messages it holds and whether the consumer exists yet.
pub async fn probe(config: &JetStreamSourceConfig, label: &str) -> Result<String> {
    let connection = connection(config, label)?;
    let client = connection.connect().await.map_err(anyhow::Error::msg)?;
    let context = jetstream::new(client);
    let mut stream = context.get_stream(&config.stream).await.map_err(|e| {
        anyhow::anyhow!(
            "connected to {}, but stream {} cannot be read: {e}",
            connection.url,
            config.stream
        )
    })?;
    let messages = stream.info().await.map_or(0, |info| info.state.messages);
    let consumer = match stream.get_consumer::<pull::Config>(&config.consumer).await {
        Ok(_) => "exists",
        Err(_) => "is made at the first run",
    };
    Ok(format!(
        "connected to {}; stream {} holds {messages} messages; consumer {} {consumer}",
        connection.url, config.stream, config.consumer
    ))
}

/// Runs `attempt` every second until it succeeds (`None` when stopped first), saying
/// once per new problem why it failed.
async fn retrying<T, F: Future<Output = Result<T, String>>>(
    figures: &SourceFigures,
    stop: &CancellationToken,
    attempt: impl Fn() -> F,
) -> Option<T> {
    loop {
        let failed = tokio::select! {
            attempt = attempt() => match attempt {
                Ok(value) => return Some(value),
                Err(failed) => failed,
            },
            () = stop.cancelled() => return None,
        };
        if figures.problem().as_deref() != Some(failed.as_str()) {
            tracing::warn!(source = %figures.label, problem = %failed, "jetstream source: cannot read the stream yet; trying again every second");
        }
        figures.set_problem(Some(failed));
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_WAIT) => {}
            () = stop.cancelled() => return None,
        }
    }
}

/// Finds the stream and the consumer (creating it if absent) and starts pulling.
async fn subscribe(
    config: &JetStreamSourceConfig,
    context: &jetstream::Context,
) -> Result<pull::Stream, String> {
    let stream = context
        .get_stream(&config.stream)
        .await
        .map_err(|e| format!("stream {}: {e}", config.stream))?;
    let consumer = stream
        .get_or_create_consumer(
            &config.consumer,
            pull::Config {
                durable_name: Some(config.consumer.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                max_ack_pending: config.max_ack_pending as i64,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {}: {e}", config.consumer))?;
    // A consumer that exists keeps its own settings: said, so they are not believed.
    let kept = &consumer.cached_info().config;
    if kept.ack_wait != config.ack_wait || kept.max_ack_pending != config.max_ack_pending as i64 {
        tracing::warn!(consumer = %config.consumer, ack_wait = ?kept.ack_wait, max_ack_pending = kept.max_ack_pending, "jetstream source: the consumer exists with its own ack_wait and max_ack_pending, which the server keeps (change them on the server, or delete the consumer)");
    }
    consumer
        .messages()
        .await
        .map_err(|e| format!("consumer {}: {e}", config.consumer))
}

/// Hands the lines of one message's payload to `ingest`. The origin's stream is the
/// stream's name and the message's sequence number, so a message delivered again makes
/// the same event ids.
fn take_message(
    ingest: &mut Ingest,
    stream: &str,
    (stream_seed, sequence, max_line_bytes): (u64, u64, usize),
    payload: &[u8],
) {
    ingest.read_bytes(payload.len());
    let name = format!("stream {stream} message {sequence}");
    let seed = stream_seed ^ xxhash_rust::xxh3::xxh3_64(&sequence.to_le_bytes());
    body::lines(payload, max_line_bytes, |piece| {
        let origin = Origin {
            name: &name,
            stream: seed,
            line: piece.number,
            offset: piece.offset,
        };
        ingest.line(origin, piece.line);
    });
}

/// What the acknowledging task learns of a chunk: its messages, held until it settles,
/// then whether it was made safe.
enum Settle {
    Held(u64, Vec<Acker>),
    Settled(u64, bool),
}

/// A chunk until it is safe: said safe then, and unsafe when it is dropped without
/// being made safe (a destination stopped taking events, the dead-letter store failed,
/// Sluice stopped).
struct Settling {
    chunk: u64,
    settled: mpsc::UnboundedSender<Settle>,
    safe: bool,
}

impl Settling {
    fn safe(mut self) {
        self.safe = true;
        let _ = self.settled.send(Settle::Settled(self.chunk, true));
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        if !self.safe {
            let _ = self.settled.send(Settle::Settled(self.chunk, false));
        }
    }
}

/// Acknowledges each chunk's messages once it is safe, and refuses them (`nak`, to be
/// delivered again after `nak_delay`) when it is not, in the background: a chunk's
/// settling must not wait on the network. Meanwhile, every third of `ack_wait`, it tells
/// the server the held messages are still in hand (`in progress`), so that a slow or
/// failing destination does not make the server deliver them again, each time as a new
/// copy. Ends when every chunk has settled and the source has stopped, once the server
/// has the last acknowledgements.
async fn acknowledge(
    mut settled: mpsc::UnboundedReceiver<Settle>,
    config: JetStreamSourceConfig,
    client: async_nats::Client,
) {
    let mut held: std::collections::HashMap<u64, Vec<Acker>> = std::collections::HashMap::new();
    let mut progress = tokio::time::interval(config.ack_wait / 3);
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    progress.tick().await;
    loop {
        tokio::select! {
            next = settled.recv() => match next {
                Some(Settle::Held(chunk, ackers)) => {
                    held.insert(chunk, ackers);
                }
                Some(Settle::Settled(chunk, safe)) => {
                    for acker in held.remove(&chunk).unwrap_or_default() {
                        // A failed acknowledgement is a message delivered again after
                        // `ack_wait`, with the same ids: at least once.
                        let _ = match safe {
                            true => acker.ack().await,
                            false => acker.ack_with(AckKind::Nak(Some(config.nak_delay))).await,
                        };
                    }
                }
                None => break,
            },
            _ = progress.tick() => {
                for acker in held.values().flatten() {
                    let _ = acker.ack_with(AckKind::Progress).await;
                }
            }
        }
    }
    let _ = client.flush().await;
}

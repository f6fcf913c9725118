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
    let at = format!("source `{}`", figures.label);
    let auth = NatsAuth::read(NatsCredentials {
        token: config.token.as_ref(),
        basic_auth: config.basic_auth.as_ref(),
        nkey: config.nkey.as_ref(),
        nats_credentials: config.nats_credentials.as_ref(),
    })
    .with_context(|| at.clone())?;
    let tls_config = match config.url.tls {
        true => Some(crate::client_tls::config_with(
            config.ca_file.as_deref(),
            None,
        )?),
        false => None,
    };
    let connection = NatsConnection::new(
        &config.url,
        auth,
        tls_config,
        Duration::from_secs(10),
        format!("sluice {}", figures.label),
    );
    let Some(mut messages) = subscribe(&config, &connection, &figures, &stop).await else {
        return Ok(());
    };
    tracing::info!(source = %figures.label, url = %connection.url, stream = %config.stream, consumer = %config.consumer, "jetstream source: reading the stream");
    let (settled, acknowledging) = mpsc::unbounded_channel();
    tokio::spawn(acknowledge(acknowledging, config.nak_delay));
    let stream_seed = xxhash_rust::xxh3::xxh3_64(config.stream.as_bytes());
    let mut ingest = Ingest::new(router, source, stop.clone());
    let max_line_bytes = ingest.max_line_bytes();
    loop {
        let first = tokio::select! {
            next = messages.next() => next,
            () = stop.cancelled() => break,
        };
        let mut taken = Vec::new();
        let mut next = first;
        loop {
            match next {
                Some(Ok(message)) => taken.push(message),
                Some(Err(error)) => {
                    figures.set_problem(Some(format!("reading the stream: {error}")));
                    tracing::warn!(source = %figures.label, %error, "jetstream source: reading the stream failed; the client tries again");
                }
                None => anyhow::bail!("{at}: the consumer's message stream ended"),
            }
            if taken.len() >= MESSAGES_PER_CHUNK {
                break;
            }
            // What came with it, without waiting for more.
            match futures_util::FutureExt::now_or_never(messages.next()) {
                Some(more) => next = more,
                None => break,
            }
        }
        if taken.is_empty() {
            continue;
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
            take_message(
                &mut ingest,
                &config.stream,
                stream_seed,
                sequence,
                &message.payload,
                max_line_bytes,
            );
        }
        let guard = Settling {
            ackers,
            settled: settled.clone(),
        };
        let mark = Mark::call(move || guard.safe());
        if ingest.flush(Some(mark)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Connects, finds the stream and the consumer (creating it if absent) and starts
/// pulling; tries again every second until it can or `stop`. `None` when stopped.
async fn subscribe(
    config: &JetStreamSourceConfig,
    connection: &NatsConnection,
    figures: &SourceFigures,
    stop: &CancellationToken,
) -> Option<pull::Stream> {
    loop {
        let attempt = async {
            let client = connection.connect().await?;
            let context = jetstream::new(client);
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
            consumer
                .messages()
                .await
                .map_err(|e| format!("consumer {}: {e}", config.consumer))
        };
        let failed = tokio::select! {
            attempt = attempt => match attempt {
                Ok(messages) => return Some(messages),
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

/// Hands the lines of one message's payload to `ingest`. The origin's stream is the
/// stream's name and the message's sequence number, so a message delivered again makes
/// the same event ids.
fn take_message(
    ingest: &mut Ingest,
    stream: &str,
    stream_seed: u64,
    sequence: u64,
    payload: &[u8],
    max_line_bytes: usize,
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

/// The messages of one chunk until it is safe: acknowledged then, and refused with
/// `nak` (delivered again after `nak_delay`) when it is dropped without being made safe
/// (a destination stopped taking events, the dead-letter store failed, Sluice stopped).
struct Settling {
    ackers: Vec<Acker>,
    settled: mpsc::UnboundedSender<(Vec<Acker>, bool)>,
}

impl Settling {
    fn safe(mut self) {
        let ackers = std::mem::take(&mut self.ackers);
        let _ = self.settled.send((ackers, true));
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        if !self.ackers.is_empty() {
            let ackers = std::mem::take(&mut self.ackers);
            let _ = self.settled.send((ackers, false));
        }
    }
}

/// Acknowledges (or refuses) each chunk's messages as their chunks settle, in the
/// background: a chunk's acknowledgement must not wait on the network. Ends when every
/// chunk has settled and the source has stopped.
async fn acknowledge(
    mut settled: mpsc::UnboundedReceiver<(Vec<Acker>, bool)>,
    nak_delay: Duration,
) {
    while let Some((ackers, safe)) = settled.recv().await {
        for acker in ackers {
            // A failed acknowledgement is a message delivered again after `ack_wait`,
            // with the same ids: at least once.
            let _ = match safe {
                true => acker.ack().await,
                false => acker.ack_with(AckKind::Nak(Some(nak_delay))).await,
            };
        }
    }
}

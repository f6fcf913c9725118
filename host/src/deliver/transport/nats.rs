//! NATS JetStream (async-nats): each message is published to the subject its module
//! chose, with its event's id as `Nats-Msg-Id`, and counts as delivered once the stream
//! that keeps the subject acknowledged it. A stream de-duplicates by that id within its
//! duplicate window, so a message sent again after a lost acknowledgement, a crash or a
//! retry is kept once (the acknowledgement says `duplicate`, and that is delivered too).
//!
//! The connection is made at the first publish (and by `check --connect`), not when the
//! destination is set up: a broker that is down at start is a retry, as an HTTP
//! endpoint that is down is. Once made, async-nats reconnects by itself; but a request
//! not over within `request_timeout` (a server restarted under it left publishes
//! unacknowledged and the client waiting for them, with nothing to time them out) is a
//! retry on a new connection.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind};
use bytes::Bytes;

use crate::config::{DestinationConfig, SocketEndpoint};
use crate::nats::{NatsAuth, NatsConnection, NatsCredentials};
use sluice_contract::types::{PartialFailure, Refusal};

/// Publish acknowledgements one request awaits at once: the rest of its messages wait
/// to be published until the oldest is acknowledged.
const IN_FLIGHT_PER_REQUEST: usize = 256;

/// Where to publish and how.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    connection: NatsConnection,
    timeout: Duration,
    /// Acknowledgements awaited at once by all of the destination's requests.
    max_in_flight: usize,
}

impl NatsOptions {
    /// The options of a destination whose endpoint is `socket`: its credential
    /// (`token`, `basic_auth`, `nkey` or `nats_credentials`), CA and client certificate.
    pub fn new(socket: &SocketEndpoint, config: &DestinationConfig) -> anyhow::Result<Self> {
        let auth = NatsAuth::read(NatsCredentials {
            token: config.token.as_ref(),
            basic_auth: config.basic_auth.as_ref(),
            nkey: config.nkey.as_ref(),
            nats_credentials: config.nats_credentials.as_ref(),
        })?;
        let tls_config = match socket.tls {
            true => Some(crate::client_tls::config(config)?),
            false => None,
        };
        Ok(NatsOptions {
            connection: NatsConnection::new(
                socket,
                auth,
                tls_config,
                config.request_timeout,
                format!("sluice {}", config.name),
            ),
            timeout: config.request_timeout,
            max_in_flight: IN_FLIGHT_PER_REQUEST * config.concurrency.max(1),
        })
    }
}

/// A JetStream publisher, connected at its first use and again after a request that
/// did not end in time.
#[derive(Debug)]
pub struct NatsTransport {
    options: NatsOptions,
    context: std::sync::Mutex<Option<jetstream::Context>>,
}

/// What became of each message of a request.
#[derive(Debug, Default)]
pub struct Published {
    /// Positions of the messages to send again, and the first reason.
    pub retry: Vec<u32>,
    pub retry_reason: Option<String>,
    /// Messages no broker will take (over its `max_payload`).
    pub refused: Vec<Refusal>,
}

impl Published {
    /// As a partial failure of a request of `count` messages; `None` when all were
    /// delivered.
    pub fn into_failure(self) -> Option<(PartialFailure, Option<String>)> {
        if self.retry.is_empty() && self.refused.is_empty() {
            return None;
        }
        Some((
            PartialFailure {
                retry: self.retry,
                refused: self.refused,
            },
            self.retry_reason,
        ))
    }
}

impl NatsTransport {
    pub fn new(options: NatsOptions) -> Self {
        NatsTransport {
            options,
            context: std::sync::Mutex::default(),
        }
    }

    /// The connection's JetStream context, connecting when there is none.
    async fn context(&self) -> Result<jetstream::Context, String> {
        if let Some(context) = self.context.lock().expect("not poisoned").clone() {
            return Ok(context);
        }
        let client = self.options.connection.connect().await?;
        let context = jetstream::ContextBuilder::new()
            .timeout(self.options.timeout)
            .max_ack_inflight(self.options.max_in_flight)
            .backpressure_on_inflight(true)
            .build(client);
        *self.context.lock().expect("not poisoned") = Some(context.clone());
        Ok(context)
    }

    /// Publishes as [`NatsTransport::publish_within`] does, within twice `request_timeout`;
    /// past it, the connection is dropped (the next request makes a new one) and the
    /// whole request is sent again: the stream keeps once what it had already taken.
    pub async fn publish(
        &self,
        body: &Bytes,
        ends: &[u32],
        subjects: &[&str],
        ids: &[String],
    ) -> Result<Published, String> {
        let publishing = self.publish_within(body, ends, subjects, ids);
        // Each acknowledgement times out by itself after `request_timeout`: this bound
        // is for what nothing else times out.
        match tokio::time::timeout(self.options.timeout * 2, publishing).await {
            Ok(published) => published,
            Err(_) => {
                self.context.lock().expect("not poisoned").take();
                Err(format!(
                    "the messages were not all acknowledged within twice request_timeout ({:?}); sending them again on a new connection",
                    self.options.timeout * 2
                ))
            }
        }
    }

    /// Publishes message i (bytes `ends[i-1]..ends[i]` of `body`) to `subjects[i]` with
    /// de-duplication id `ids[i]`, at most [`IN_FLIGHT_PER_REQUEST`] awaiting their
    /// acknowledgement at once. An `Err` is a failure before anything was published.
    async fn publish_within(
        &self,
        body: &Bytes,
        ends: &[u32],
        subjects: &[&str],
        ids: &[String],
    ) -> Result<Published, String> {
        let context = self.context().await?;
        let mut published = Published::default();
        let mut waiting = VecDeque::with_capacity(IN_FLIGHT_PER_REQUEST);
        let mut start = 0usize;
        for (position, &end) in ends.iter().enumerate() {
            let message = jetstream::message::PublishMessage::build()
                .payload(body.slice(start..end as usize))
                .message_id(&ids[position]);
            start = end as usize;
            let subject = subjects[position].to_owned();
            match context.send_publish(subject, message).await {
                Ok(acknowledgement) => waiting.push_back((position as u32, acknowledgement)),
                Err(error) => note(&mut published, position as u32, subjects[position], &error),
            }
            if waiting.len() >= IN_FLIGHT_PER_REQUEST {
                let (position, acknowledgement) = waiting.pop_front().expect("not empty");
                settle(&mut published, position, subjects, acknowledgement.await);
            }
        }
        for (position, acknowledgement) in waiting {
            settle(&mut published, position, subjects, acknowledgement.await);
        }
        Ok(published)
    }

    /// For `sluice check --connect`: connects (with the credential) and asks which stream
    /// keeps `subject`; an error names a subject no stream takes.
    pub async fn probe(&self, subject: Option<&str>) -> Result<String, String> {
        let context = self.context().await?;
        let Some(subject) = subject else {
            return Ok(format!(
                "connected to {}; the module names no subject to check",
                self.options.connection.url
            ));
        };
        match context.stream_by_subject(subject).await {
            Ok(stream) => Ok(format!(
                "connected to {}; subject {subject} is kept by stream {stream}",
                self.options.connection.url
            )),
            Err(error) => Err(format!(
                "connected to {}, but no stream takes subject {subject} ({error}): create one whose subjects include it",
                self.options.connection.url
            )),
        }
    }
}

/// Counts the acknowledgement (or its failure) of the message at `position`.
fn settle(
    published: &mut Published,
    position: u32,
    subjects: &[&str],
    acknowledged: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
) {
    // A duplicate acknowledgement means the stream has the message already: delivered.
    if let Err(error) = acknowledged {
        note(published, position, subjects[position as usize], &error);
    }
}

/// A message that was not acknowledged: refused when too large for any attempt to help,
/// else sent again.
fn note(
    published: &mut Published,
    position: u32,
    subject: &str,
    error: &jetstream::context::PublishError,
) {
    match error.kind() {
        PublishErrorKind::MaxPayloadExceeded => published.refused.push(Refusal {
            event: position,
            reason: format!("the message is larger than the broker's max_payload ({error})"),
        }),
        PublishErrorKind::StreamNotFound => {
            published.retry.push(position);
            published.retry_reason.get_or_insert_with(|| {
                format!("no stream takes subject {subject}: create one whose subjects include it")
            });
        }
        _ => {
            published.retry.push(position);
            published
                .retry_reason
                .get_or_insert_with(|| format!("publishing to {subject}: {error}"));
        }
    }
}

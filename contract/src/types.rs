//! The contract's values as the host holds them: plain Rust types, one for each record
//! and variant of `wit/sluice.wit` that crosses a stage of the host. The host's module
//! runtime converts between these and the types generated for the contract version a
//! module implements, so that the rest of the host never depends on a version.

use crate::payload::PayloadRef;

/// What the host adds to every event: where it ran and the configured tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// The machine's host name.
    pub host_name: String,
    /// The systemd/D-Bus machine id, empty when the machine has none.
    pub machine_id: String,
    /// The version of the host.
    pub sluice_version: String,
    /// Configured tags, in order.
    pub tags: Vec<(String, String)>,
}

/// A batch's events as columns: one entry per event, except `ingest_times`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// Where each event's JSON ends in the batch's text (it starts where the one
    /// before ends).
    pub ends: Vec<u32>,
    /// Each event's time, milliseconds since the Unix epoch (UTC).
    pub times_ms: Vec<i64>,
    /// The indices, ascending, of the events whose time is the ingest time.
    pub ingest_times: Vec<u32>,
    /// The high 64 bits of each event's id.
    pub ids_high: Vec<u64>,
    /// The low 64 bits of each event's id.
    pub ids_low: Vec<u64>,
}

/// How a module's requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP requests.
    Http,
    /// Framed messages over a byte stream (TCP, TLS).
    Stream,
    /// One message per datagram (UDP).
    Datagram,
    /// Messages published to subjects of a broker (NATS JetStream).
    Publish,
}

/// A module's default batch limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most events in a batch.
    pub max_events: u32,
    /// Most bytes of event JSON in a batch.
    pub max_bytes: u32,
}

/// The header a module's destination authenticates with; the host adds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// The header's name (`Authorization`).
    pub name: String,
    /// Written before the secret (`Splunk `).
    pub prefix: String,
    /// A destination may give no credential; its requests then go without the header.
    pub optional: bool,
}

/// Endpoints a destination chooses among with one of the module's settings (`site`)
/// instead of writing an `endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointChoice {
    /// The setting that chooses; its default is the choice when it is absent.
    pub setting: String,
    /// Each value of the setting and the `https://` URL it stands for.
    pub endpoints: Vec<(String, String)>,
}

/// A setting a module accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingDoc {
    /// Its key in the destination's `settings`.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its value when not set.
    pub default_value: Option<String>,
}

/// What a module says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The module's name.
    pub name: String,
    /// The module's version.
    pub version: String,
    /// How its requests travel.
    pub transport: Transport,
    /// Its default batch limits.
    pub batch: BatchLimits,
    /// The header it authenticates with, if any.
    pub auth: Option<AuthHeader>,
    /// The endpoints a setting chooses among, if any.
    pub endpoint_choice: Option<EndpointChoice>,
    /// The settings it accepts.
    pub settings: Vec<SettingDoc>,
}

/// Whether the host compresses a request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Sent as assembled.
    None,
    /// Gzip, with `Content-Encoding: gzip`.
    Gzip,
}

/// A body or a run of messages, as a module returns it: see [`crate::payload`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload {
    /// The module's own bytes.
    pub text: Vec<u8>,
    /// Packed pieces of the event text then `text`.
    pub pieces: Vec<u64>,
}

impl Payload {
    /// The codec's view of this payload.
    pub fn view(&self) -> PayloadRef<'_> {
        PayloadRef {
            text: &self.text,
            pieces: &self.pieces,
        }
    }
}

/// An HTTP request a module asks the host to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method, an HTTP token.
    pub method: String,
    /// Appended to the destination's endpoint; starts with `/`.
    pub path: String,
    /// Headers other than the framing ones and the credential.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Payload,
    /// Whether the host compresses the body.
    pub compression: Compression,
    /// The batch's events the request carries, by index.
    pub events: Vec<u32>,
}

/// Messages for a stream or datagram transport, each whole and unframed: the host
/// frames them for a stream, or sends each as a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedMessages {
    /// The messages, back to back.
    pub messages: Payload,
    /// Where each message ends in the assembled `messages`.
    pub message_ends: Vec<u32>,
    /// The batch's events the messages carry, by index.
    pub events: Vec<u32>,
}

/// Messages for a publish transport, each with the subject it is published to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedMessages {
    /// The messages and the events they carry, as for a stream (unframed).
    pub messages: FramedMessages,
    /// Each subject once.
    pub subjects: Vec<String>,
    /// Per message, the index of its subject in `subjects`.
    pub subject_of: Vec<u32>,
}

/// One thing to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// An HTTP request.
    Http(HttpRequest),
    /// Framed messages.
    Messages(FramedMessages),
    /// Messages published to subjects.
    Publish(PublishedMessages),
}

/// An event a module or a destination refused, by index, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The event's index (in the batch, or in the request for a verdict).
    pub event: u32,
    /// Why, for the dead-letter record.
    pub reason: String,
}

/// A module's answer to `format`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Formatted {
    /// The requests to send.
    pub requests: Vec<Request>,
    /// Events no request can carry.
    pub refused: Vec<Refusal>,
}

/// A setting a module cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingProblem {
    /// The setting's key.
    pub key: String,
    /// What is wrong with its value.
    pub problem: String,
}

impl std::fmt::Display for SettingProblem {
    /// `settings.index: must not be empty`: the key as it is written in the config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "settings.{}: {}", self.key, self.problem)
    }
}

/// Why a module did not format a batch (an answer, not a failure of the call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// A setting it cannot use: fatal for the destination.
    InvalidSetting(SettingProblem),
    /// Anything else: the batch is tried again.
    Failed(String),
}

/// A request of a module's own that carries no event: a connection check, an
/// acknowledgement poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The method, an HTTP token.
    pub method: String,
    /// Appended to the destination's endpoint; starts with `/`.
    pub path: String,
    /// Headers other than the framing ones and the credential.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A request that tests the connection and the credential without sending an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheck {
    /// What to send.
    pub query: Query,
    /// Statuses that mean: reached, and the credential was taken.
    pub accepted: Vec<u16>,
    /// Statuses that mean: reached, but the credential was refused.
    pub unauthorized: Vec<u16>,
}

/// A destination's answer to a request, for `classify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response's headers (those with a text value).
    pub headers: Vec<(String, String)>,
    /// The body, up to the destination's `max_response_bytes`.
    pub body: Vec<u8>,
    /// The body was longer than `body`: cut at the bound.
    pub truncated: bool,
}

/// What `classify` is told of the request it judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// The request's path.
    pub path: String,
    /// How many events it carried.
    pub event_count: u32,
}

/// Try the request again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAdvice {
    /// Why, for logs and, out of attempts, the dead-letter record.
    pub reason: String,
    /// How long the destination asked to wait.
    pub after_ms: Option<u32>,
}

/// Some events of a request were not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialFailure {
    /// Positions in the request of the events to send again.
    pub retry: Vec<u32>,
    /// Positions in the request of the events refused for good.
    pub refused: Vec<Refusal>,
}

/// What a module makes of a destination's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every event of the request was taken.
    Delivered,
    /// None was: try again.
    Retry(RetryAdvice),
    /// Some were; the rest are retried or refused.
    Partial(PartialFailure),
    /// The request was too large: split it.
    TooLarge,
    /// None was, for good.
    Refused(String),
    /// Every event was taken; the destination confirms later that it kept them. The
    /// ticket is the module's, to ask about them.
    Pending(String),
}

/// What a destination says of a pending ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckState {
    /// It kept the events.
    Confirmed,
    /// Not yet (or lost, where the destination cannot tell).
    Waiting,
    /// It lost them: send them again.
    Lost,
}

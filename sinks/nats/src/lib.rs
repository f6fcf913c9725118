//! NATS JetStream: the reference Sluice module for a message broker.
//!
//! Each event is one message, published to a subject made from a template over the
//! event's fields (`audit.{tenant}`), its payload the event as read (placed by range,
//! never copied) or mapped to ECS or OCSF. The host publishes each message with the
//! event's id as `Nats-Msg-Id` and counts it delivered when the stream acknowledged it;
//! this module never reads an answer. It names the subjects its template makes, each
//! placeholder a wildcard (`audit.*`), as its connection check, so `sluice check
//! --connect` says whether a stream takes them.

pub mod subject;

use sluice_guest::enrich::Stamp;
use sluice_guest::schema::Schema;
use sluice_guest::{
    Batch, BatchLimits, ConnectionCheck, Enrichment, FormatError, Formatted, Info, PayloadBuilder,
    PublishedMessages, Query, Request, SettingDoc, Settings,
};
use subject::SubjectTemplate;

/// The JetStream formatter of one destination.
pub struct Nats {
    subject: SubjectTemplate,
    schema: Schema,
    stamp: Stamp,
}

impl Nats {
    fn docs() -> Vec<SettingDoc> {
        [
            Schema::docs(),
            vec![
                Stamp::doc(),
                SettingDoc {
                    name: "subject",
                    description: "the subject of each message: literal tokens and `{field.path}` placeholders, each replaced by the event's value as one token (bytes other than letters, digits, `-` and `_` become `_`)",
                    default: Some("audit.events"),
                },
                SettingDoc {
                    name: "subject_missing",
                    description: "the token of a placeholder whose field the event lacks (or holds null or \"\")",
                    default: Some("unknown"),
                },
            ],
        ]
        .concat()
    }
}

impl sluice_guest::Formatter for Nats {
    fn info() -> Info {
        Info {
            batch: BatchLimits {
                max_events: 1000,
                max_bytes: 1_000_000,
            },
            settings: Nats::docs(),
            ..Info::publish("nats", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        let template = settings
            .text("subject")
            .unwrap_or_else(|| "audit.events".into());
        let missing = settings
            .text("subject_missing")
            .unwrap_or_else(|| "unknown".into());
        Ok(Nats {
            subject: SubjectTemplate::parse(&template, &missing)?,
            schema: Schema::from_settings(settings)?,
            stamp: Stamp::from_settings(settings, enrichment)?,
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        let mut messages = PayloadBuilder::with_capacity(batch, 0, batch.len());
        let mut ends = Vec::with_capacity(batch.len());
        let mut subjects: Vec<String> = Vec::new();
        let mut subject_of = Vec::with_capacity(batch.len());
        let fixed = (!self.subject.has_fields()).then(|| self.subject.render(|_| None));
        for event in batch.events() {
            match self.schema.map(&event) {
                Some(document) => messages.push(&self.stamp.extend_document(&event, document)),
                None => self.stamp.push_event(&mut messages, &event),
            }
            ends.push(messages.len() as u32);
            let subject = match &fixed {
                Some(subject) => subject.clone(),
                None => self.subject.render(|path| event.field(path)),
            };
            // Most batches go to a few subjects: each is listed once.
            let index = match subjects.iter().position(|known| *known == subject) {
                Some(index) => index,
                None => {
                    subjects.push(subject);
                    subjects.len() - 1
                }
            };
            subject_of.push(index as u32);
        }
        Ok(Formatted {
            requests: vec![Request::Publish(PublishedMessages {
                messages: messages.finish(),
                message_ends: ends,
                events: (0..batch.len() as u32).collect(),
                subjects,
                subject_of,
            })],
            refused: Vec::new(),
        })
    }

    fn connection_check(&self) -> Option<ConnectionCheck> {
        Some(ConnectionCheck {
            query: Query {
                method: "GET".into(),
                path: format!("/{}", self.subject.filter()),
                headers: Vec::new(),
                body: Vec::new(),
            },
            accepted: Vec::new(),
            unauthorized: Vec::new(),
        })
    }
}

sluice_guest::export_formatter!(Nats);

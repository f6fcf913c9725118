//! Syslog messages, one per event, all in one request of messages:
//!
//! - RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [sluice@PEN eventId="…"
//!   timeSource="ingest" field="…" tag="…"] BOM{event JSON}`, the time in UTC with
//!   milliseconds, the MSG the event's JSON, the text of one of its fields, or the
//!   event's CEF or LEEF line (`payload`);
//! - RFC 3164: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PROCID]: {event JSON}`, the time in UTC
//!   (a module does not know the host's zone).
//!
//! PRI is the facility and the event's severity (the SDK's one mapping). The event's
//! JSON is placed by its range, never copied, unless it holds what a receiver could
//! take for a line break (a TAB or CR between members, DEL, a C1 control or a Unicode
//! line separator in a string): then it is written as one clean line of the same JSON
//! value ([`json_one_line`]). A `message_field`'s text has every control character and
//! line separator replaced by a space ([`single_line`]): no MSG holds a second message.
//! The SD-PARAMs Sluice writes (`eventId`, `timeSource`) are never written twice: an
//! `sd_fields` entry of those names is refused, and a tag of such a name, or of an
//! `sd_fields` name or an earlier tag's, is left out with a warning.

use sluice_guest::escape::{json_one_line, single_line, syslog_sd_value};
use sluice_guest::time::rfc3339_utc;
use sluice_guest::{
    Batch, Enrichment, Event, Formatted, FramedMessages, PayloadBuilder, Request, TimeSource,
};

use crate::config::{Payload, Rfc, SyslogConfig};
use crate::header;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Builds the messages of one destination's batches.
#[derive(Debug)]
pub struct SyslogEncoder {
    config: SyslogConfig,
    /// ` HOSTNAME APP-NAME PROCID `, between the time and the MSGID (RFC 5424), or
    /// ` HOSTNAME TAG[PROCID]:` after the time (RFC 3164).
    header: Vec<u8>,
    /// The host's enrichment (its name, machine id and version) and tags as SD-PARAMs
    /// (` name="value"`), written once.
    tag_params: Vec<u8>,
}

impl SyslogEncoder {
    pub fn new(config: SyslogConfig, enrichment: &Enrichment) -> Self {
        let header = match config.rfc {
            Rfc::Rfc5424 => format!(
                " {} {} {} ",
                config.hostname, config.app_name, config.procid
            ),
            Rfc::Rfc3164 => {
                // TAG: alphanumeric, at most 32 characters.
                let tag: String = config
                    .app_name
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(32)
                    .collect();
                let tag = if tag.is_empty() { "sluice".into() } else { tag };
                match config.procid.as_str() {
                    "-" => format!(" {} {tag}:", config.hostname),
                    // `]` and `:` would end the TAG[PROCID]: part early.
                    procid => format!(
                        " {} {tag}[{}]:",
                        config.hostname,
                        procid.replace(['[', ']', ':'], "_")
                    ),
                }
            }
        };
        // The host's own enrichment, then its tags: Sluice's part of every element.
        let mut tag_params = Vec::new();
        for (name, value) in [
            ("host", &enrichment.host_name),
            ("machineId", &enrichment.machine_id),
            ("version", &enrichment.sluice_version),
        ] {
            if config.enriched && !value.is_empty() {
                tag_params.extend_from_slice(
                    format!(" {name}=\"{}\"", syslog_sd_value(value)).as_bytes(),
                );
            }
        }
        let mut written: Vec<String> = config.sd_fields.clone();
        for (name, value) in &enrichment.tags {
            let Some(name) = header::sd_name(name) else {
                continue;
            };
            if header::WRITTEN_PARAMS.contains(&name.as_str()) || written.contains(&name) {
                sluice_guest::log::warn(&format!(
                    "tag `{name}` is not written as an SD-PARAM: a parameter of that name is written already"
                ));
                continue;
            }
            tag_params
                .extend_from_slice(format!(" {name}=\"{}\"", syslog_sd_value(value)).as_bytes());
            written.push(name);
        }
        SyslogEncoder {
            config,
            header: header.into_bytes(),
            tag_params,
        }
    }

    /// One request of messages for the whole batch.
    pub fn encode(&self, batch: &Batch<'_>) -> Formatted {
        let mut messages = PayloadBuilder::with_capacity(batch, batch.len() * 160, batch.len() * 2);
        let mut ends = Vec::with_capacity(batch.len());
        for event in batch.events() {
            match self.config.rfc {
                Rfc::Rfc5424 => self.write_5424(&mut messages, &event),
                Rfc::Rfc3164 => self.write_3164(&mut messages, &event),
            }
            self.write_msg(&mut messages, &event);
            ends.push(messages.len() as u32);
        }
        Formatted {
            requests: vec![Request::Messages(FramedMessages {
                messages: messages.finish(),
                message_ends: ends,
                events: (0..batch.len() as u32).collect(),
            })],
            refused: Vec::new(),
        }
    }

    fn pri(&self, event: &Event<'_>) -> String {
        let severity = self.config.severity.of(event).syslog();
        format!("<{}>", self.config.facility * 8 + severity)
    }

    /// Everything of an RFC 5424 message before the SP and the MSG.
    fn write_5424(&self, out: &mut PayloadBuilder, event: &Event<'_>) {
        out.push_with(|text| {
            text.extend_from_slice(self.pri(event).as_bytes());
            text.extend_from_slice(b"1 ");
            text.extend_from_slice(rfc5424_time(event.time_ms()).as_bytes());
            text.extend_from_slice(&self.header);
            text.extend_from_slice(self.msgid(event).as_bytes());
            text.push(b' ');
            match &self.config.sd_id {
                None => text.push(b'-'),
                Some(sd_id) => {
                    text.push(b'[');
                    text.extend_from_slice(sd_id.as_bytes());
                    if self.config.event_id {
                        text.extend_from_slice(b" eventId=\"");
                        event.id().write_hex(text);
                        text.push(b'"');
                    }
                    if event.time_source() == TimeSource::Ingest {
                        text.extend_from_slice(b" timeSource=\"ingest\"");
                    }
                    for name in &self.config.sd_fields {
                        if let Some(value) = event.field(name) {
                            let value = match value {
                                serde_json::Value::String(text) => text,
                                other => other.to_string(),
                            };
                            text.extend_from_slice(
                                format!(" {name}=\"{}\"", syslog_sd_value(&value)).as_bytes(),
                            );
                        }
                    }
                    text.extend_from_slice(&self.tag_params);
                    text.push(b']');
                }
            }
        });
    }

    /// The MSG: the event's CEF or LEEF line, the configured field's text, or the
    /// event's JSON placed by its range;
    /// the SP before it, and the BOM (RFC 5424) when it has one.
    fn write_msg(&self, out: &mut PayloadBuilder, event: &Event<'_>) {
        let field = match &self.config.payload {
            Payload::Cef(cef) => Some(cef.line(event)),
            Payload::Leef(leef) => Some(leef.line(event)),
            Payload::Json => {
                let name = self.config.message_field.as_deref();
                name.map(|name| match event.field(name) {
                    // A field's text may hold line breaks, a forged message after them.
                    Some(serde_json::Value::String(text)) => single_line(&text).into_owned(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                })
            }
        };
        if field.as_deref() == Some("") {
            // No MSG: no SP either (RFC 5424, section 6).
            return;
        }
        out.push_with(|text| {
            text.push(b' ');
            if self.config.bom && self.config.rfc == Rfc::Rfc5424 {
                text.extend_from_slice(BOM);
            }
        });
        match field {
            Some(message) => out.push(message.as_bytes()),
            None => match json_one_line(event.json()) {
                std::borrow::Cow::Borrowed(_) => out.push_event(event),
                std::borrow::Cow::Owned(clean) => out.push(clean.as_bytes()),
            },
        }
    }

    /// Everything of an RFC 3164 message before the MSG.
    fn write_3164(&self, out: &mut PayloadBuilder, event: &Event<'_>) {
        out.push_with(|text| {
            text.extend_from_slice(self.pri(event).as_bytes());
            text.extend_from_slice(bsd_time(event.time_ms()).as_bytes());
            text.extend_from_slice(&self.header);
        });
    }

    /// The MSGID: the text of the configured field, cleaned to 32 printable characters.
    fn msgid(&self, event: &Event<'_>) -> String {
        let value = self
            .config
            .msgid_field
            .as_deref()
            .and_then(|name| event.field(name));
        match value {
            Some(serde_json::Value::String(text)) => header::field(&text, 32),
            Some(number @ serde_json::Value::Number(_)) => header::field(&number.to_string(), 32),
            _ => "-".to_owned(),
        }
    }
}

/// RFC 3339 in UTC, with milliseconds unless the time is a whole second.
fn rfc5424_time(ms: i64) -> String {
    let text = rfc3339_utc(ms);
    match text.strip_suffix(".000Z") {
        Some(whole) => format!("{whole}Z"),
        None => text,
    }
}

/// `Mmm dd hh:mm:ss` in UTC, the day padded with a space (`Oct  1`).
fn bsd_time(ms: i64) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    timestamp
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%b %e %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsd_time_pads_the_day_with_a_space() {
        // 2024-10-01T22:14:15Z
        assert_eq!(bsd_time(1_727_820_855_000), "Oct  1 22:14:15");
    }
}

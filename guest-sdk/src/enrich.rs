//! One enrichment rule for every module: what the host adds to every event (its host
//! name, machine id, Sluice's version, the `[events] tags`) and what it knows of each
//! event (its id, and whether its time is the event's own or the time it was read),
//! placed the same way by every JSON module and written as pairs by the line formats.
//!
//! In a JSON document it is one member, `"sluice"`, ahead of the event's own:
//! `{"sluice":{"event_id":"…","time_source":"event","host":"…","machine_id":"…",
//! "version":"…","tags":{"team":"sec"}},…the event…}` (an empty machine id or tags left
//! out). An event with a top-level `sluice` of its own keeps it, without Sluice's: a
//! second member of one name is a document some receivers refuse (Elasticsearch does)
//! and the rest read as the last one. A module gives its users `enrichment = "none"` to
//! send the events as they are ([`Stamp::from_settings`]).

use std::sync::Arc;

use crate::json::{MemberProbe, write_str};
use crate::{
    Enrichment, Event, FormatError, PayloadBuilder, Piece, SettingDoc, Settings, TimeSource,
};

/// The member's name.
pub const MEMBER: &str = "sluice";

/// The member up to its event id.
const MEMBER_START: &[u8] = b"\"sluice\":{\"event_id\":\"";
/// Bytes of an event id's text.
const ID_LEN: usize = 32;

/// What follows the event id: the end of its string and the time source.
fn time_source_part(source: TimeSource) -> &'static [u8] {
    match source {
        TimeSource::Event => b"\",\"time_source\":\"event\"",
        TimeSource::Ingest => b"\",\"time_source\":\"ingest\"",
    }
}

/// The enrichment of one module instance, written once.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// `,"host":…,"version":…,"tags":{…}}`: what follows the per-event part.
    fixed: Arc<[u8]>,
    /// The same and the comma before the event's own members: one piece per event.
    fixed_then_comma: Arc<[u8]>,
    enrichment: Enrichment,
    /// `enrichment = "none"`: nothing is added.
    off: bool,
    /// Finds an event's own `sluice`.
    own_member: MemberProbe,
}

impl Stamp {
    /// The `enrichment` setting, for a module's [`crate::Info::settings`].
    pub fn doc() -> SettingDoc {
        SettingDoc {
            name: "enrichment",
            description: "`object`: a `sluice` member with the event id, time source, host, machine id, version and tags; `none`: the events as they are",
            default: Some("object"),
        }
    }

    /// A stamp that adds nothing, for an encoder made without the host's enrichment.
    pub fn off() -> Stamp {
        Stamp {
            fixed: Arc::from(Vec::new()),
            fixed_then_comma: Arc::from(Vec::new()),
            enrichment: Enrichment {
                host_name: String::new(),
                machine_id: String::new(),
                sluice_version: String::new(),
                tags: Vec::new(),
            },
            off: true,
            own_member: MemberProbe::new(MEMBER),
        }
    }

    /// The stamp of `enrichment`, always on.
    pub fn new(enrichment: &Enrichment) -> Stamp {
        let mut fixed = Vec::new();
        for (key, value) in [
            ("host", &enrichment.host_name),
            ("machine_id", &enrichment.machine_id),
            ("version", &enrichment.sluice_version),
        ] {
            if !value.is_empty() {
                fixed.push(b',');
                write_str(&mut fixed, key);
                fixed.push(b':');
                write_str(&mut fixed, value);
            }
        }
        if !enrichment.tags.is_empty() {
            fixed.extend_from_slice(b",\"tags\":{");
            for (n, (key, value)) in enrichment.tags.iter().enumerate() {
                if n > 0 {
                    fixed.push(b',');
                }
                write_str(&mut fixed, key);
                fixed.push(b':');
                write_str(&mut fixed, value);
            }
            fixed.push(b'}');
        }
        fixed.push(b'}');
        Stamp {
            fixed_then_comma: Arc::from([&fixed[..], b","].concat()),
            fixed: Arc::from(fixed),
            enrichment: enrichment.clone(),
            off: false,
            own_member: MemberProbe::new(MEMBER),
        }
    }

    /// The stamp a destination's `enrichment` setting asks for.
    pub fn from_settings(
        settings: &Settings,
        enrichment: &Enrichment,
    ) -> Result<Stamp, FormatError> {
        let off = match settings.get("enrichment").unwrap_or("object") {
            "object" => false,
            "none" => true,
            other => {
                return Err(FormatError::setting(
                    "enrichment",
                    format!("`{other}`: use object or none"),
                ));
            }
        };
        Ok(Stamp {
            off,
            ..Stamp::new(enrichment)
        })
    }

    /// Whether the destination asked for nothing (`enrichment = "none"`).
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Whether `event` gets the member: the stamp is on and the event has no `sluice`.
    pub fn applies(&self, event: &Event<'_>) -> bool {
        !self.off && !self.own_member.is_in(event.json())
    }

    /// Writes `"sluice":{…}` for `event` (no comma around it).
    pub fn write_member(&self, event: &Event<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(MEMBER_START);
        event.id().write_hex(out);
        out.extend_from_slice(time_source_part(event.time_source()));
        out.extend_from_slice(&self.fixed);
    }

    /// Pushes `event` with the member ahead of its own, the event placed by range (not
    /// copied); the event as it is when the stamp does not apply.
    pub fn push_event(&self, payload: &mut PayloadBuilder, event: &Event<'_>) {
        let has_own = self.own_member.is_in(event.json());
        self.push_event_after(payload, event, b"", has_own);
    }

    /// The same with `leading` members of the module's own first (`"@timestamp":"…"`,
    /// written without braces or commas; empty for none). `has_own`: whether the event
    /// has a top-level [`MEMBER`] of its own; a module that asks of each event whether it
    /// has members of other names asks for this one in the same pass
    /// (`MemberProbe::of(&[enrich::MEMBER, "@timestamp"])`).
    pub fn push_event_after(
        &self,
        payload: &mut PayloadBuilder,
        event: &Event<'_>,
        leading: &[u8],
        has_own: bool,
    ) {
        let stamped = !self.off && !has_own;
        if !stamped && leading.is_empty() {
            payload.push_pieces([Piece::event(event)]);
            return;
        }
        let members = Piece::event_members(event);
        payload.push_with(|text| {
            text.push(b'{');
            text.extend_from_slice(leading);
            if stamped {
                if !leading.is_empty() {
                    text.push(b',');
                }
                text.extend_from_slice(MEMBER_START);
                event.id().write_hex(text);
                text.extend_from_slice(time_source_part(event.time_source()));
            }
        });
        // The same for every event: written once in the payload, placed for each.
        match (members, stamped) {
            (Some(members), true) => {
                payload.push_repeated(&self.fixed_then_comma);
                payload.push_pieces([members]);
            }
            (Some(members), false) => {
                payload.push(b",");
                payload.push_pieces([members]);
            }
            (None, true) => {
                payload.push_repeated(&self.fixed);
                payload.push(b"}");
            }
            (None, false) => payload.push(b"}"),
        }
    }

    /// Bytes [`Stamp::push_event`] adds to `event`, for a module that sizes its bodies
    /// before writing them.
    pub fn added_len(&self, event: &Event<'_>) -> usize {
        if !self.applies(event) {
            return 0;
        }
        // Counted, not written: the member is written once, by `push_event`.
        let member = MEMBER_START.len()
            + ID_LEN
            + time_source_part(event.time_source()).len()
            + self.fixed.len();
        // The comma after it; an empty object gains the member alone.
        member + usize::from(Piece::event_members(event).is_some())
    }

    /// `document` (a JSON object the module made of `event`: a schema's mapping) with
    /// the member ahead of its own.
    pub fn extend_document(&self, event: &Event<'_>, document: Vec<u8>) -> Vec<u8> {
        if self.off || self.own_member.find_in_document(&document).any() {
            return document;
        }
        let mut out = Vec::with_capacity(document.len() + 256);
        out.push(b'{');
        self.write_member(event, &mut out);
        let rest = &document[1..];
        if !rest
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| b == b'}')
        {
            out.push(b',');
        }
        out.extend_from_slice(rest);
        out
    }

    /// The same as flat pairs, for a format of keys and values: `sluiceEventId`,
    /// `sluiceTimeSource` (only `ingest`: the event's own time is the rule), `sluiceHost`,
    /// `sluiceMachineId`, `sluiceVersion`, and `sluiceTags`, the tags as one JSON object
    /// (a tag by its own name could take a key the format or the event has).
    pub fn pairs(&self, event: &Event<'_>) -> Vec<(String, String)> {
        if self.off {
            return Vec::new();
        }
        let mut id = Vec::new();
        event.id().write_hex(&mut id);
        let mut pairs = vec![(
            "sluiceEventId".to_owned(),
            String::from_utf8(id).expect("hex"),
        )];
        if event.time_source() == TimeSource::Ingest {
            pairs.push(("sluiceTimeSource".into(), "ingest".into()));
        }
        let fixed = [
            ("sluiceHost", &self.enrichment.host_name),
            ("sluiceMachineId", &self.enrichment.machine_id),
            ("sluiceVersion", &self.enrichment.sluice_version),
        ];
        pairs.extend(
            fixed
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(key, value)| (key.to_owned(), value.clone())),
        );
        if !self.enrichment.tags.is_empty() {
            let tags: serde_json::Map<String, serde_json::Value> = self
                .enrichment
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            pairs.push((
                "sluiceTags".into(),
                serde_json::Value::Object(tags).to_string(),
            ));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, EventId};

    fn enrichment() -> Enrichment {
        Enrichment {
            host_name: "web-1".into(),
            machine_id: "m1".into(),
            sluice_version: "0.1.0".into(),
            tags: vec![("team".into(), "sec \"ops\"".into())],
        }
    }

    fn pushed(stamp: &Stamp, json: &str, source: TimeSource) -> serde_json::Value {
        let mut batch = Batch::new();
        batch.push(json, 0, source, EventId(0xab));
        let mut payload = PayloadBuilder::with_capacity(&batch, 64, 4);
        stamp.push_event(&mut payload, &batch.event(0));
        serde_json::from_slice(&payload.finish().assemble(&batch)).unwrap()
    }

    #[test]
    fn the_member_goes_ahead_of_the_events_own_and_an_events_own_sluice_wins() {
        let stamp = Stamp::new(&enrichment());
        for (json, source) in [
            (r#"{"a":1}"#, TimeSource::Ingest),
            ("{}", TimeSource::Event),
        ] {
            let mut batch = Batch::new();
            batch.push(json, 0, source, EventId(1));
            let mut payload = PayloadBuilder::with_capacity(&batch, 64, 4);
            stamp.push_event(&mut payload, &batch.event(0));
            let added = payload.finish().assemble(&batch).len() - json.len();
            assert_eq!(stamp.added_len(&batch.event(0)), added, "{json}");
        }
        let value = pushed(&stamp, r#"{"a":1}"#, TimeSource::Ingest);
        assert_eq!(value["a"], 1);
        assert_eq!(
            value["sluice"]["event_id"],
            "000000000000000000000000000000ab"
        );
        assert_eq!(value["sluice"]["time_source"], "ingest");
        assert_eq!(value["sluice"]["host"], "web-1");
        assert_eq!(value["sluice"]["tags"]["team"], "sec \"ops\"");
        assert_eq!(
            pushed(&stamp, "{}", TimeSource::Event)["sluice"]["machine_id"],
            "m1"
        );
        let own = pushed(&stamp, r#"{"sluice":"mine"}"#, TimeSource::Event);
        assert_eq!(own, serde_json::json!({"sluice": "mine"}));
        let mut batch = Batch::new();
        batch.push("{}", 0, TimeSource::Event, EventId(1));
        let document = stamp.extend_document(&batch.event(0), b"{}".to_vec());
        let document: serde_json::Value = serde_json::from_slice(&document).unwrap();
        assert_eq!(document["sluice"]["version"], "0.1.0");
    }
}

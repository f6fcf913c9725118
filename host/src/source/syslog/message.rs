//! A syslog message made an event. RFC 5424 and RFC 3164 are both read (syslog_loose,
//! Vector's parser, which takes what it can of a message that follows neither).
//!
//! A MSG that is a JSON object is the event, as a file's line would be: producers that
//! log audit events as JSON over syslog keep their shape. Any other message becomes an
//! object of its parts: `timestamp` (RFC 3339; a 3164 time without a year takes the
//! current one, in the machine's time zone), `hostname`, `appname`, `procid`, `msgid`,
//! `facility` and `severity` (by name), `structured_data` (`{"id": {"param": "value"}}`)
//! and `message`, each only when the message has it. A parameter named more than once
//! in an element (or in two elements of one id) keeps every value, as an array. A line
//! without a PRI (`<N>`) is not a syslog message: it is `{"message": line}`, unchanged.

use serde::de::IgnoredAny;
use serde_json::{Map, Value};
use syslog_loose::{ProcId, Variant};

/// The event `text` (one message, UTF-8) makes, as one line of JSON. A MSG that starts
/// as a JSON object is offered to `take_json` first, which parses it as a line of a file
/// (the one pass over it) and says whether it was JSON; when it was, there is nothing
/// left to take (`None`), nor for a message with nothing in it.
pub fn event(text: &str, take_json: impl FnOnce(&str) -> bool) -> Option<String> {
    let text = text.trim_end_matches(['\n', '\r', '\0']);
    if text.trim().is_empty() {
        return None;
    }
    if !text.trim_start().starts_with('<') {
        return Some(serde_json::json!({ "message": text }).to_string());
    }
    let message = syslog_loose::parse_message(text, Variant::Either);
    let msg = message.msg.trim_start_matches('\u{feff}').trim();
    if msg.starts_with('{') {
        // memchr, not `str::contains`, which goes char by char: this was a tenth of the
        // source's CPU.
        let taken = match memchr::memchr2(b'\n', b'\r', msg.as_bytes()).is_some() {
            // Made one line first, which only valid JSON may be (`1 2` would become `12`).
            true => {
                serde_json::from_str::<IgnoredAny>(msg).is_ok()
                    && take_json(&super::super::compact_json(msg))
            }
            false => take_json(msg),
        };
        if taken {
            return None;
        }
    }
    let mut event = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            event.insert(key.to_owned(), value);
        }
    };
    put(
        "timestamp",
        message.timestamp.map(|time| time.to_rfc3339().into()),
    );
    put("hostname", message.hostname.map(Value::from));
    put("appname", message.appname.map(Value::from));
    put(
        "procid",
        message.procid.map(|procid| match procid {
            ProcId::PID(pid) => pid.into(),
            ProcId::Name(name) => name.into(),
        }),
    );
    put("msgid", message.msgid.map(Value::from));
    put("facility", message.facility.map(|f| f.as_str().into()));
    put("severity", message.severity.map(|s| s.as_str().into()));
    let mut structured = Map::new();
    for element in &message.structured_data {
        let params = structured
            .entry(element.id.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(params) = params else {
            unreachable!("made an object above")
        };
        for (name, value) in element.params() {
            let value = Value::from(value.to_string());
            let name: &str = name;
            match params.get_mut(name) {
                None => {
                    params.insert(name.to_string(), value);
                }
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
            }
        }
    }
    put(
        "structured_data",
        (!structured.is_empty()).then_some(Value::Object(structured)),
    );
    put(
        "message",
        Some(message.msg.trim_start_matches('\u{feff}').into()),
    );
    Some(Value::Object(event).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event `text` makes, its JSON MSG taken when valid as the line parser would.
    fn made(text: &str) -> Option<String> {
        let mut json = None;
        let parts = event(text, |msg| {
            let valid = serde_json::from_str::<IgnoredAny>(msg).is_ok();
            json = valid.then(|| msg.to_owned());
            valid
        });
        assert!(json.is_none() || parts.is_none(), "made once");
        json.or(parts)
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(&made(text).unwrap()).unwrap()
    }

    #[test]
    fn an_rfc_5424_message_gives_its_parts() {
        let event = parsed(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] An application event",
        );
        assert_eq!(
            event,
            serde_json::json!({
                "timestamp": "2003-10-11T22:14:15.003+00:00",
                "hostname": "mymachine.example.com",
                "appname": "evntslog",
                "procid": 42,
                "msgid": "ID47",
                "facility": "local4",
                "severity": "notice",
                "structured_data": {"exampleSDID@32473": {"iut": "3", "eventSource": "Application"}},
                "message": "An application event",
            })
        );
    }

    #[test]
    fn an_rfc_3164_message_gives_its_parts() {
        let event = parsed("<34>Oct 11 22:14:15 mymachine su[77]: 'su root' failed");
        assert_eq!(event["hostname"], "mymachine");
        assert_eq!(event["appname"], "su");
        assert_eq!(event["procid"], 77);
        assert_eq!(event["facility"], "auth");
        assert_eq!(event["severity"], "crit");
        assert_eq!(event["message"], "'su root' failed");
    }

    #[test]
    fn a_json_object_message_is_the_event() {
        let text = "<14>1 2026-12-06T10:00:00Z h app - - - \u{feff}{\"action\":\"login\",\n \"user\":\"bob\"}";
        assert_eq!(
            made(text).unwrap(),
            "{\"action\":\"login\",\"user\":\"bob\"}"
        );
        // Not an object, or not JSON: a message like any other.
        assert_eq!(parsed("<14>1 - h app - - - [1, 2]")["message"], "[1, 2]");
        assert_eq!(parsed("<14>1 - h app - - - {x}")["message"], "{x}");
        assert_eq!(
            parsed("<14>1 - h app - - - {\"a\": 1\n 2}")["message"],
            "{\"a\": 1\n 2}"
        );
    }

    #[test]
    fn a_line_without_a_pri_is_a_message_as_it_is_and_an_empty_one_no_event() {
        for line in ["-5 hello", "- hello", " - x<14>1 - - - after", "just text"] {
            assert_eq!(parsed(line), serde_json::json!({ "message": line }));
        }
        assert_eq!(made("  \r\n"), None);
    }

    #[test]
    fn a_parameter_named_twice_keeps_both_values() {
        let event = parsed("<14>1 - h app - - [a b=\"1\" b=\"2\" c=\"3\"][a b=\"4\"] m");
        assert_eq!(
            event["structured_data"],
            serde_json::json!({"a": {"b": ["1", "2", "4"], "c": "3"}})
        );
    }
}

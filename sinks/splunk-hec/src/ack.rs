//! Indexer acknowledgement (Splunk's HEC documentation): with `ack = true`, HEC answers
//! each request with an `ackId`, unique within the request's channel, and
//! `POST /services/collector/ack` with `{"acks":[ids]}` says which it has indexed
//! (`true`, then forgotten) and which not yet (`false`: pending or lost, HEC never says
//! which; the host's `acknowledgement.timeout` decides).

use serde_json::Value;
use sha2::{Digest, Sha256};
use sluice_guest::{AckState, Enrichment, HttpResponse, Query};

use crate::config::SplunkHecConfig;

/// HEC's acknowledgement endpoint.
pub const ACK_PATH: &str = "/services/collector/ack";

/// A channel for a destination that names none: the same for every instance of the
/// destination (they poll each other's tickets), and on every start on this machine,
/// because it is derived from the machine and the settings.
pub fn derived_channel(config: &SplunkHecConfig, enrichment: &Enrichment) -> String {
    let mut hash = Sha256::new();
    for part in [
        "sluice splunk-hec channel",
        &enrichment.machine_id,
        &enrichment.host_name,
        config.index.as_deref().unwrap_or(""),
        &config.sourcetype,
        &config.source,
        &config.path,
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes: [u8; 16] = digest[..16].try_into().expect("16 of 32 bytes");
    // A version 8 (custom) RFC 9562 UUID.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The poll for `tickets` (ackIds, as `classify` gave them), on `headers`' channel.
pub fn query(tickets: &[String], headers: Vec<(String, String)>) -> Query {
    let ids: Vec<u64> = tickets.iter().filter_map(|t| t.parse().ok()).collect();
    Query {
        method: "POST".into(),
        path: ACK_PATH.into(),
        headers,
        body: serde_json::to_vec(&serde_json::json!({ "acks": ids })).expect("numbers"),
    }
}

/// Reads `{"acks":{"0":true,"1":false}}`: true is confirmed, false or absent waiting
/// (HEC forgets an id it confirmed, and an id of a channel it dropped: the timeout
/// sends those again). Any other answer says nothing of the tickets.
pub fn read(response: &HttpResponse, tickets: &[String]) -> Result<Vec<AckState>, String> {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let acks = match (response.status, body.get("acks")) {
        (200, Some(Value::Object(acks))) => acks,
        (status, _) => {
            let text = body
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| response.body_text().chars().take(200).collect());
            return Err(match body.get("code").and_then(Value::as_i64) {
                Some(code) => format!("HEC code {code} (HTTP {status}) to an ack poll: {text}"),
                None => format!("HTTP {status} to an ack poll: {text}"),
            });
        }
    };
    Ok(tickets
        .iter()
        .map(|ticket| match acks.get(ticket) {
            Some(Value::Bool(true)) => AckState::Confirmed,
            _ => AckState::Waiting,
        })
        .collect())
}

/// The `ackId` of a successful answer, as a ticket.
pub fn ticket(body: &Value) -> Option<String> {
    body.get("ackId")
        .and_then(Value::as_u64)
        .map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn the_poll_names_the_ids_on_the_channel() {
        let channel = vec![("X-Splunk-Request-Channel".to_owned(), "c".to_owned())];
        let query = query(&["0".into(), "1".into(), "5".into()], channel.clone());
        assert_eq!(query.path, "/services/collector/ack");
        assert_eq!(query.headers, channel);
        assert_eq!(query.body, br#"{"acks":[0,1,5]}"#);
    }

    #[test]
    fn true_confirms_and_false_or_absent_waits() {
        let tickets = ["0".to_owned(), "1".to_owned(), "5".to_owned()];
        let states = read(&response(200, r#"{"acks":{"0":true,"1":false}}"#), &tickets);
        assert_eq!(
            states,
            Ok(vec![
                AckState::Confirmed,
                AckState::Waiting,
                AckState::Waiting
            ])
        );
    }

    #[test]
    fn an_error_says_nothing_of_the_tickets() {
        let answer = read(
            &response(400, r#"{"text":"ACK is disabled","code":14}"#),
            &["0".to_owned()],
        );
        assert_eq!(
            answer,
            Err("HEC code 14 (HTTP 400) to an ack poll: ACK is disabled".into())
        );
        assert!(read(&response(503, "busy"), &["0".to_owned()]).is_err());
    }

    fn machine() -> Enrichment {
        Enrichment {
            machine_id: "m1".into(),
            host_name: "h1".into(),
            sluice_version: "0.1.0".into(),
            tags: Vec::new(),
        }
    }

    #[test]
    fn a_derived_channel_is_a_stable_guid_per_destination() {
        let config = |index: &str| {
            let settings = sluice_guest::Settings::new(
                vec![("index".into(), index.into())],
                SplunkHecConfig::docs(),
            );
            SplunkHecConfig::from_settings(&settings, &machine()).unwrap()
        };
        let machine = machine();
        let channel = derived_channel(&config("audit"), &machine);
        assert_eq!(channel, derived_channel(&config("audit"), &machine));
        assert_ne!(channel, derived_channel(&config("main"), &machine));
        let groups: Vec<usize> = channel.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(channel.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}

//! Every line of the five sample audit logs, in ECS and OCSF: recognised by its shape,
//! with the fields each schema requires, and no value lost (every string of the event
//! is in the mapped document, mapped or under `unmapped`).

use serde_json::Value;
use sluice_guest::schema::{Schema, SchemaKind, Shape};
use sluice_guest::{Batch, EventId, TimeSource};

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn every_sample_line_maps_to_ecs_and_ocsf_without_losing_a_value() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data");
    let mut lines = 0;
    for name in [
        "proxy-audit.jsonl",
        "devops-agent-audit.jsonl",
        "assistant-security-audit.jsonl",
        "idp-audit.jsonl",
        "secrets-audit.jsonl",
    ] {
        let text = std::fs::read_to_string(format!("{data}/{name}")).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            lines += 1;
            let event: Value = serde_json::from_str(line).unwrap();
            assert_ne!(
                Shape::of(event.as_object().unwrap()),
                Shape::Unknown,
                "{name}: {line}"
            );
            let mut wanted = Vec::new();
            strings(&event, &mut wanted);
            let mut batch = Batch::new();
            batch.push(line, 1_795_161_600_000, TimeSource::Event, EventId(1));
            for kind in [SchemaKind::Ecs, SchemaKind::Ocsf] {
                let mapped = Schema::new(kind).map(&batch.event(0)).unwrap();
                let mapped: Value = serde_json::from_slice(&mapped).unwrap();
                match kind {
                    SchemaKind::Ecs => {
                        assert!(mapped["@timestamp"].is_string(), "{mapped}");
                        assert!(mapped["event"]["category"][0].is_string(), "{mapped}");
                        assert!(mapped["event"]["outcome"].is_string(), "{mapped}");
                    }
                    _ => {
                        let class = mapped["class_uid"].as_u64().unwrap();
                        assert!([3001, 3002, 6003].contains(&class), "{mapped}");
                        assert_eq!(
                            mapped["type_uid"].as_u64().unwrap(),
                            class * 100 + mapped["activity_id"].as_u64().unwrap()
                        );
                        assert!(mapped["metadata"]["product"]["name"].is_string());
                        let needs: &[&str] = match class {
                            3002 => &["user", "service"],
                            6003 => &["actor", "api", "src_endpoint"],
                            _ => &["user"],
                        };
                        for key in needs {
                            assert!(mapped[key].is_object(), "{key} in {mapped}");
                        }
                    }
                }
                let mut found = Vec::new();
                strings(&mapped, &mut found);
                for value in &wanted {
                    assert!(found.contains(value), "{kind:?} lost `{value}` of {line}");
                }
            }
        }
    }
    assert_eq!(lines, 290);
}

//! Archive: the reference Sluice module for an object store (`s3://`, `gs://`,
//! `az://`, `file://`), where each batch becomes one object of JSON Lines, gzipped by
//! default.
//!
//! The host names the object (the destination's `object_name`, by time, host, run and
//! sequence) and writes it once; this module makes its body and says its suffix
//! as the request's path after its `/` (`/.jsonl.gz`), and its type as `Content-Type`. A batch is not
//! cut: its size and age limits (`batch.max_bytes`, `batch.timeout`) are the object's.
//! With `schema = "ecs"` or `"ocsf"` each line is the event mapped to that schema; with
//! `raw` (the default) the event as read, placed by range without being copied here.
//!
//! An object store answers no request with a body to read: the host says whether the
//! object was written, and `classify` is never asked.

use sluice_guest::enrich::Stamp;
use sluice_guest::schema::Schema;
use sluice_guest::{
    Batch, BatchLimits, Enrichment, FormatError, Formatted, HttpResponse, Info, PayloadBuilder,
    SentRequest, SettingDoc, Settings, Verdict,
};

/// The archive formatter of one destination.
pub struct Archive {
    schema: Schema,
    gzip: bool,
    stamp: Stamp,
}

impl sluice_guest::Formatter for Archive {
    fn info() -> Info {
        Info {
            // An object of 10 MB of events (1 to 2 MB gzipped) or whatever came in five
            // minutes (the host's default age for an object store), as Vector's S3 sink.
            batch: BatchLimits {
                max_events: 100_000,
                max_bytes: 10_000_000,
            },
            settings: [
                Schema::docs(),
                vec![
                Stamp::doc(),
                SettingDoc {
                    name: "gzip",
                    description: "compress each object (its name ends `.jsonl.gz`, else `.jsonl`)",
                    default: Some("true"),
                },
                ],
            ]
            .concat(),
            ..Info::http("archive", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, enrichment: &Enrichment) -> Result<Self, FormatError> {
        Ok(Archive {
            schema: Schema::from_settings(settings)?,
            gzip: settings.flag("gzip")?,
            stamp: Stamp::from_settings(settings, enrichment)?,
        })
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        let mut body = PayloadBuilder::with_capacity(batch, 64, 2 * batch.len());
        for event in batch.events() {
            match self.schema.map(&event) {
                Some(mapped) => body.push(&self.stamp.extend_document(&event, mapped)),
                None => self.stamp.push_event(&mut body, &event),
            }
            body.push(b"\n");
        }
        Ok(Formatted::one_object(
            batch,
            "jsonl",
            "application/x-ndjson",
            body.finish(),
            self.gzip,
        ))
    }

    /// Asked only if the destination is an HTTP endpoint, which stores the object the
    /// request PUTs: any 2xx.
    fn classify(&self, response: &HttpResponse, _request: &SentRequest) -> Verdict {
        Verdict::from_status(response)
    }
}

sluice_guest::export_formatter!(Archive);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_guest::{Compression, Formatter, Request};

    fn archive(settings: Vec<(String, String)>) -> Archive {
        let settings = Settings::new(settings, Archive::info().settings);
        Archive::new(&settings, &sluice_guest::testing::enrichment()).unwrap()
    }

    #[test]
    fn a_batch_is_one_gzipped_object_of_its_events_as_read() {
        let events = sluice_sink_cases::edge_case_events();
        let batch = sluice_sink_cases::batch_of(&events);
        let formatted = archive(vec![("enrichment".into(), "none".into())])
            .format(&batch)
            .unwrap();
        assert_eq!(formatted.requests.len(), 1);
        let Request::Http(http) = &formatted.requests[0] else {
            panic!("HTTP")
        };
        assert_eq!(
            (http.path.as_str(), http.compression),
            ("/.jsonl.gz", Compression::Gzip)
        );
        assert_eq!(http.events.len(), events.len());
        let body = String::from_utf8(http.body.assemble(&batch)).unwrap();
        assert_eq!(
            body.lines().collect::<Vec<_>>(),
            events.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }

    #[test]
    fn by_default_every_line_carries_the_hosts_enrichment() {
        let events = sluice_sink_cases::edge_case_events();
        let batch = sluice_sink_cases::batch_of(&events);
        let formatted = archive(Vec::new()).format(&batch).unwrap();
        let Request::Http(http) = &formatted.requests[0] else {
            panic!("HTTP")
        };
        let body = String::from_utf8(http.body.assemble(&batch)).unwrap();
        for line in body.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["sluice"]["host"], "test-host", "{line:.200}");
        }
    }

    #[test]
    fn a_schema_maps_every_line_and_gzip_can_be_off() {
        let events = sluice_sink_cases::edge_case_events();
        let batch = sluice_sink_cases::batch_of(&events);
        let formatted = archive(vec![
            ("schema".into(), "ocsf".into()),
            ("gzip".into(), "false".into()),
        ])
        .format(&batch)
        .unwrap();
        let Request::Http(http) = &formatted.requests[0] else {
            panic!("HTTP")
        };
        assert_eq!(
            (http.path.as_str(), http.compression),
            ("/.jsonl", Compression::None)
        );
        let body = String::from_utf8(http.body.assemble(&batch)).unwrap();
        let lines: Vec<serde_json::Value> = body
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), events.len());
        assert!(
            lines
                .iter()
                .all(|line| line["metadata"]["version"] == "1.1.0"),
            "{body}"
        );
    }

    #[test]
    fn an_unknown_schema_is_a_setting_to_fix() {
        let settings = Settings::new(
            vec![("schema".into(), "cef".into())],
            Archive::info().settings,
        );
        assert!(Archive::new(&settings, &sluice_guest::testing::enrichment()).is_err());
    }
}

//! The reload tests' "new version" of `misbehave` (same settings, same transport): each
//! batch a JSON array to `/ingest`, every event wrapped as `{"v":2,"event":...}`, so
//! that a test sees which version formatted it.

use sluice_guest::{
    Batch, Compression, Enrichment, FormatError, Formatted, Formatter, HttpRequest, Info,
    PayloadBuilder, Request, SettingDoc, Settings,
};

pub struct ProbeV2;

impl Formatter for ProbeV2 {
    fn info() -> Info {
        Info {
            settings: vec![SettingDoc::new("mode", "taken, and ignored", Some("ok"))],
            ..Info::http("misbehave", "2.0.0")
        }
    }

    fn new(_settings: &Settings, _enrichment: &Enrichment) -> Result<Self, FormatError> {
        Ok(ProbeV2)
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        let mut body = PayloadBuilder::with_capacity(batch, 16 * batch.len(), 3 * batch.len());
        body.push(b"[");
        for (i, event) in batch.events().enumerate() {
            body.push(if i == 0 {
                b"{\"v\":2,\"event\":"
            } else {
                b",{\"v\":2,\"event\":"
            });
            body.push_event(&event);
            body.push(b"}");
        }
        body.push(b"]");
        let request = HttpRequest {
            method: "POST".into(),
            path: "/ingest".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.finish(),
            compression: Compression::None,
            events: (0..batch.len() as u32).collect(),
        };
        Ok(Formatted {
            requests: vec![Request::Http(request)],
            refused: Vec::new(),
        })
    }
}

sluice_guest::export_formatter!(ProbeV2);

//! `{name}`: a Sluice module. Each batch becomes one POST of newline-delimited JSON
//! (the events unchanged) to the `path` setting, with the destination's token as a
//! bearer token. Change `format` to write what your destination reads.

use sluice_guest::{
    AuthHeader, Batch, Compression, Enrichment, FormatError, Formatted, Formatter, HttpRequest,
    Info, PayloadBuilder, Request, SettingDoc, Settings,
};

/// The formatter of one destination, made from its settings.
#[derive(Debug)]
pub struct Module {
    path: String,
}

impl Formatter for Module {
    fn info() -> Info {
        Info {
            settings: vec![SettingDoc::new(
                "path",
                "where the events are posted",
                Some("/ingest"),
            )],
            auth: Some(AuthHeader::bearer()),
            ..Info::http("{name}", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, _enrichment: &Enrichment) -> Result<Self, FormatError> {
        let path = settings.text("path").unwrap_or_default();
        if !path.starts_with('/') {
            return Err(FormatError::setting("path", "must start with `/`"));
        }
        Ok(Module { path })
    }

    fn format(&self, batch: &Batch) -> Result<Formatted, FormatError> {
        let mut body = PayloadBuilder::with_capacity(batch, batch.len(), 2 * batch.len());
        for event in batch.events() {
            body.push_event(&event); // placed by the host: never copied here
            body.push(b"\n");
        }
        let request = HttpRequest {
            method: "POST".into(),
            path: self.path.clone(),
            headers: vec![("Content-Type".into(), "application/x-ndjson".into())],
            body: body.finish(),
            compression: Compression::Gzip,
            events: (0..batch.len() as u32).collect(),
        };
        Ok(Formatted {
            requests: vec![Request::Http(request)],
            refused: Vec::new(),
        })
    }
    // `classify` reads the answer; the default knows HTTP status codes (2xx delivered;
    // 408, 429 and 5xx retried; 413 split; any other refused).
}

sluice_guest::export_formatter!(Module);

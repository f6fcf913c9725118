//! An example module: Grafana Loki's push API (`POST /loki/api/v1/push`, JSON), a
//! vendor the reference set lacks, written as a module author would.
//!
//! Each batch is one request of one stream, labelled `job` (a setting), whose values are
//! `[nanoseconds, line]` pairs: the event's time and its JSON as the log line.
//! UNCONFIRMED (no Loki here; written from its documented API): 204 on success; 400 for
//! an entry Loki will never take (too old, too long), refused; 429 and 5xx retried; a
//! multi-tenant Loki reads the tenant from `X-Scope-OrgID`.

use sluice_guest::{
    AuthHeader, Batch, Compression, Enrichment, FormatError, Formatted, Formatter, HttpRequest,
    Info, PayloadBuilder, Request, SettingDoc, Settings, json,
};

/// The Loki formatter of one destination.
#[derive(Debug)]
pub struct Loki {
    job: String,
    tenant: Option<String>,
}

impl Formatter for Loki {
    fn info() -> Info {
        Info {
            settings: vec![
                SettingDoc::new("job", "the stream's `job` label", Some("sluice")),
                SettingDoc::new("tenant", "X-Scope-OrgID, for a multi-tenant Loki", None),
            ],
            // The host adds the destination's `token` (or `basic_auth`); the module never sees it.
            auth: Some(AuthHeader::bearer()),
            ..Info::http("loki", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, _enrichment: &Enrichment) -> Result<Self, FormatError> {
        let job = settings.text("job");
        let job = job.ok_or_else(|| FormatError::setting("job", "a label cannot be empty"))?;
        let tenant = settings.text("tenant");
        Ok(Loki { job, tenant })
    }

    fn format(&self, batch: &Batch) -> Result<Formatted, FormatError> {
        let mut body = PayloadBuilder::with_capacity(batch, batch.text_len() * 2, batch.len());
        body.push_with(|out| {
            out.extend_from_slice(br#"{"streams":[{"stream":{"job":"#);
            json::write_str(out, &self.job);
            out.extend_from_slice(br#"},"values":["#);
        });
        for (i, event) in batch.events().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let nanoseconds = i128::from(event.time_ms()) * 1_000_000;
            body.push_with(|out| {
                out.extend_from_slice(format!(r#"{comma}["{nanoseconds}","#).as_bytes());
                json::write_str(out, event.json()); // the event as one escaped string
                out.push(b']');
            });
        }
        body.push(b"]}]}");
        let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        if let Some(tenant) = &self.tenant {
            headers.push(("X-Scope-OrgID".to_owned(), tenant.clone()));
        }
        let request = HttpRequest {
            method: "POST".into(),
            path: "/loki/api/v1/push".into(),
            headers,
            body: body.finish(),
            compression: Compression::Gzip,
            events: (0..batch.len() as u32).collect(),
        };
        Ok(Formatted {
            requests: vec![Request::Http(request)],
            refused: Vec::new(),
        })
    }
    // No `classify`: the SDK's default reads the status, which says all Loki says.
}

sluice_guest::export_formatter!(Loki);

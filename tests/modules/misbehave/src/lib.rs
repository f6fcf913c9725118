//! A module for the host's tests. With `mode = "ok"` it posts each batch as a JSON array
//! to `/ingest`; `sign` does the same with an `X-Signature` header, the hex HMAC-SHA256
//! of the body under the signing key `webhook`; the other modes fail the way a broken or
//! hostile module would:
//! `trap` panics, `loop` never returns, `alloc` allocates until memory runs out,
//! `huge-output` returns far more bytes than any batch could need.

use sluice_guest::{
    Batch, Compression, FormatError, Formatted, Formatter, HttpRequest, Info, Request, SettingDoc,
    Settings,
};

pub struct Misbehave;

impl Formatter for Misbehave {
    fn info() -> Info {
        Info {
            settings: vec![SettingDoc {
                name: "mode",
                description: "ok, sign, trap, loop, alloc or huge-output",
                default: Some("ok"),
            }],
            ..Info::http("misbehave", env!("CARGO_PKG_VERSION"))
        }
    }

    fn format(batch: &Batch, settings: &Settings) -> Result<Formatted, FormatError> {
        match settings.get("mode").unwrap_or("ok") {
            "ok" => Ok(json_array(batch)),
            "sign" => {
                let mut formatted = json_array(batch);
                if let Some(Request::Http(request)) = formatted.requests.first_mut() {
                    let signature = sluice_guest::sign::hmac_sha256("webhook", &request.body)
                        .map_err(FormatError::Failed)?;
                    let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
                    request.headers.push(("X-Signature".into(), hex));
                }
                Ok(formatted)
            }
            "trap" => panic!("misbehave: trap on purpose"),
            "loop" => loop {
                std::hint::black_box(batch.len());
            },
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "huge-output" => {
                let mut formatted = json_array(batch);
                if let Some(Request::Http(request)) = formatted.requests.first_mut() {
                    request.body = vec![b' '; 12 << 20];
                }
                Ok(formatted)
            }
            other => Err(FormatError::setting(
                "mode",
                format!("unknown mode `{other}`"),
            )),
        }
    }
}

fn json_array(batch: &Batch) -> Formatted {
    let mut body = b"[".to_vec();
    for (i, event) in batch.events().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event.json().as_bytes());
    }
    body.push(b']');
    Formatted {
        requests: vec![Request::Http(HttpRequest {
            method: "POST".into(),
            path: "/ingest".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
            compression: Compression::None,
            events: (0..batch.len() as u32).collect(),
        })],
        refused: Vec::new(),
    }
}

sluice_guest::export_formatter!(Misbehave);

//! A module for the host's tests; every mode answers the host's trial event well (see
//! `is_the_hosts_trial`). With `mode = "ok"` it posts each batch as a JSON array
//! to `/ingest`, reading the events' text from the host; `sign` does the same with an
//! `X-Signature` header, the hex HMAC-SHA256 of the body under the signing key
//! `webhook`; the other modes fail the way a broken or hostile module would:
//! `trap` panics, `loop` never returns, `alloc` allocates until memory runs out,
//! `huge-output` returns far more bytes than any batch could need, `bad-piece` places
//! bytes that do not exist, `bad-event` sends an event that does not exist, `bad-path`
//! tries to send to another host, `bad-header` to frame the request itself, `bad-method` to smuggle a request in its method,
//! `bad-verdict` answers every response with a partial failure of an event the request
//! does not have, `forget` sends only the first half of the batch and says nothing
//! of the rest, `twice` both sends and refuses the first event, `chatty` logs a
//! thousand messages per batch, and `forge` logs a message with line breaks and
//! terminal escapes that would forge host log lines if written raw; `measure` refuses
//! every response, saying how much of its body it got and whether it was cut;
//! `forge-reason` refuses the first event and every response with such a message as
//! the reason; `sleep` sleeps for a day in `format`; `flood` answers a batch with
//! 20,000 requests; `alias` answers with a hundred refusals whose reasons all point at
//! one string of a MiB in its memory (100 MiB, were the host to copy each).

use sluice_guest::{
    Batch, Compression, Enrichment, FormatError, Formatted, Formatter, HttpRequest, HttpResponse,
    Info, PartialFailure, Payload, Refusal, Request, SentRequest, SettingDoc, Settings, Verdict,
};

/// The message of `forge` and `forge-reason`: a line break, then what would pass for
/// the host's own summary line, then terminal escapes.
const FORGED: &str = "innocent\n2026-01-01T00:00:00Z  INFO sluice: sluice stopped events=999 delivered=999\r\x1b[2K\u{2028}end";

const MODES: [&str; 21] = [
    "ok",
    "sign",
    "trap",
    "loop",
    "alloc",
    "huge-output",
    "bad-piece",
    "bad-event",
    "bad-path",
    "bad-header",
    "bad-method",
    "bad-verdict",
    "forget",
    "chatty",
    "twice",
    "forge",
    "measure",
    "forge-reason",
    "sleep",
    "flood",
    "alias",
];

pub struct Misbehave {
    mode: &'static str,
}

impl Formatter for Misbehave {
    fn info() -> Info {
        Info {
            settings: vec![SettingDoc {
                name: "mode",
                description: "ok, sign, trap, loop, alloc, huge-output, bad-piece, bad-event, bad-path, bad-header, bad-method, bad-verdict, forget, chatty, twice, forge, measure, forge-reason, sleep, flood or alias",
                default: Some("ok"),
            }],
            ..Info::http("misbehave", env!("CARGO_PKG_VERSION"))
        }
    }

    fn new(settings: &Settings, _enrichment: &Enrichment) -> Result<Self, FormatError> {
        let mode = settings.get("mode").unwrap_or("ok");
        match MODES.iter().find(|known| **known == mode) {
            Some(mode) => Ok(Misbehave { mode }),
            None => Err(FormatError::setting(
                "mode",
                format!("unknown mode `{mode}`"),
            )),
        }
    }

    fn format(&self, batch: &Batch<'_>) -> Result<Formatted, FormatError> {
        let mut formatted = json_array(batch);
        if is_the_hosts_trial(batch) {
            return Ok(formatted);
        }
        let Some(Request::Http(request)) = formatted.requests.first_mut() else {
            return Ok(formatted);
        };
        match self.mode {
            "sign" => {
                let signature = sluice_guest::sign::hmac_sha256("webhook", &request.body.text)
                    .map_err(FormatError::Failed)?;
                let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
                request.headers.push(("X-Signature".into(), hex));
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
            "huge-output" => request.body = vec![b' '; 12 << 20].into(),
            "bad-piece" => {
                request.body.pieces = vec![u64::from(u32::MAX)];
            }
            "bad-event" => request.events.push(u32::MAX),
            "bad-path" => request.path = "@127.0.0.1:9/steal".into(),
            "bad-header" => request.headers.push(("Content-Length".into(), "0".into())),
            "bad-method" => {
                request.method = "GET /x HTTP/1.1\r\nHost: elsewhere\r\n\r\nPOST".into()
            }
            "forget" => request.events.truncate(batch.len() / 2),
            "twice" => formatted.refused.push(Refusal {
                event: 0,
                reason: "refused and sent".into(),
            }),
            "forge" => sluice_guest::log::warn(FORGED),
            "forge-reason" => {
                request.events.retain(|&event| event != 0);
                formatted.refused.push(Refusal {
                    event: 0,
                    reason: FORGED.into(),
                });
            }
            "alias" => formatted.refused = aliased_refusals(),
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(86_400)),
            "flood" => {
                let mut empty = request.clone();
                empty.events.clear();
                empty.body = b"[]".to_vec().into();
                formatted
                    .requests
                    .extend(std::iter::repeat_n(Request::Http(empty), 20_000));
            }
            "chatty" => {
                for n in 0..1000 {
                    sluice_guest::log::info(&format!("chatty message {n}"));
                }
            }
            _ => {}
        }
        Ok(formatted)
    }

    fn classify(&self, response: &HttpResponse, request: &SentRequest) -> Verdict {
        match self.mode {
            "bad-verdict" => Verdict::Partial(PartialFailure {
                retry: vec![request.event_count],
                refused: Vec::new(),
            }),
            "forge-reason" => Verdict::Refused(FORGED.into()),
            "measure" => Verdict::Refused(format!(
                "got {} bytes of the body, truncated: {}",
                response.body.len(),
                response.truncated
            )),
            _ => Verdict::from_status(response),
        }
    }
}

/// A hundred refusals of event 0 whose reasons share one buffer of a MiB: the answer
/// is a MiB in the module's memory, and would be 100 MiB copied out of it.
#[allow(unsafe_code, reason = "aliasing one buffer is the hostile part")]
fn aliased_refusals() -> Vec<Refusal> {
    let mut text = std::mem::ManuallyDrop::new(vec![b'x'; 1 << 20]);
    let (pointer, length) = (text.as_mut_ptr(), text.len());
    (0..100)
        .map(|_| Refusal {
            event: 0,
            // SAFETY: none. Every string claims the same buffer; the host reads the
            // answer before the module could free any of them (and then fails the call).
            reason: unsafe { String::from_raw_parts(pointer, length, length) },
        })
        .collect()
}

/// The one sample event the host formats before it starts (or reloads) a destination:
/// every mode answers it well, so that a start passes its checks and the mode shows
/// on the events of the run, as a module that only some input breaks would.
fn is_the_hosts_trial(batch: &Batch<'_>) -> bool {
    batch.len() == 1
        && batch
            .event(0)
            .json()
            .contains(r#""event_type":"sluice.check""#)
}

fn json_array(batch: &Batch<'_>) -> Formatted {
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
            body: Payload::from(body),
            compression: Compression::None,
            events: (0..batch.len() as u32).collect(),
        })],
        refused: Vec::new(),
    }
}

sluice_guest::export_formatter!(Misbehave);

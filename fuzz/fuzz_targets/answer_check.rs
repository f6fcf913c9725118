//! The host's check of a module's answer to `format`, against arbitrary answers: what
//! it accepts names only events the batch has, each once; places only bytes that
//! exist; keeps requests on the endpoint (a path starting with `/`, a method and
//! headers that are tokens and values, no framing header). And `forgotten` lists
//! exactly the events the answer neither sends nor refuses.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sluice_contract::answer::{check, forgotten};
use sluice_contract::http::{is_field_value, is_framing_header, is_token};
use sluice_contract::payload::unpack;
use sluice_contract::types::{Compression, Formatted, HttpRequest, Payload, Refusal, Request};

#[derive(Debug, Arbitrary)]
struct Answer {
    events: u8,
    event_text_len: u16,
    requests: Vec<(
        String,
        String,
        Vec<(String, String)>,
        Vec<u8>,
        Vec<u64>,
        Vec<u32>,
    )>,
    refused: Vec<u32>,
}

fuzz_target!(|answer: Answer| {
    let formatted = Formatted {
        requests: answer
            .requests
            .into_iter()
            .map(|(method, path, headers, text, pieces, events)| {
                Request::Http(HttpRequest {
                    method,
                    path,
                    headers,
                    body: Payload { text, pieces },
                    compression: Compression::None,
                    events,
                })
            })
            .collect(),
        refused: answer
            .refused
            .into_iter()
            .map(|event| Refusal {
                event,
                reason: String::new(),
            })
            .collect(),
    };
    let events = usize::from(answer.events);
    let text_len = usize::from(answer.event_text_len);
    let Ok(_) = check(&formatted, events, text_len, Some("Authorization")) else {
        return;
    };
    let mut placed = vec![0; events];
    for request in &formatted.requests {
        let Request::Http(http) = request else {
            unreachable!()
        };
        assert!(http.path.starts_with('/'));
        assert!(is_token(&http.method));
        for (name, value) in &http.headers {
            assert!(is_token(name) && is_field_value(value) && !is_framing_header(name));
        }
        let space = text_len + http.body.text.len();
        for &piece in &http.body.pieces {
            let (start, end) = unpack(piece);
            assert!(start <= end && end as usize <= space);
        }
        for &event in &http.events {
            placed[event as usize] += 1;
        }
    }
    for refusal in &formatted.refused {
        placed[refusal.event as usize] += 1;
    }
    assert!(placed.iter().all(|&n| n <= 1), "an event placed twice");
    let expected: Vec<u32> = (0..events as u32)
        .filter(|&i| placed[i as usize] == 0)
        .collect();
    assert_eq!(forgotten(&formatted, events), expected);
});

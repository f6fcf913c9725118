//! The host's check of a module's payload, against arbitrary pieces: it never accepts
//! a piece outside the payload's space (events, then the module's own text), and what
//! it accepts assembles without a panic into exactly the length it reported, each piece
//! the bytes of its range.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_contract::payload::{PayloadRef, unpack};

fuzz_target!(|input: (Vec<u8>, Vec<u8>, Vec<u64>)| {
    let (events, text, pieces) = input;
    let payload = PayloadRef {
        text: &text,
        pieces: &pieces,
    };
    let space = events.len() as u64 + text.len() as u64;
    let inside = pieces.iter().all(|&piece| {
        let (start, end) = unpack(piece);
        start <= end && u64::from(end) <= space
    });
    match payload.check(events.len()) {
        Ok(len) => {
            assert!(inside, "a piece outside the space was accepted");
            let assembled = payload.assemble(&events);
            assert_eq!(assembled.len(), len);
            let whole: Vec<u8> = events.iter().chain(&text).copied().collect();
            let expected: Vec<u8> = if pieces.is_empty() {
                text.clone()
            } else {
                pieces
                    .iter()
                    .flat_map(|&piece| {
                        let (start, end) = unpack(piece);
                        whole[start as usize..end as usize].to_vec()
                    })
                    .collect()
            };
            assert_eq!(assembled, expected);
        }
        Err(outside) => {
            assert!(!inside, "a payload inside its space was refused: {outside}");
        }
    }
});

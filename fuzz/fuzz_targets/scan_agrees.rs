//! The reader's plain scan held to its serde scan: whatever the plain scan answers for a
//! line (it leaves the unusual ones to the serde scan), the serde scan answers the same:
//! valid, the same captured fields, the same verdict on repeated keys.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_reader::scan::{Wanted, plain_scan, serde_scan};

fuzz_target!(|line: &[u8]| {
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let wanted = Wanted::new(&[
        vec!["ts".to_owned()],
        vec!["a".to_owned(), "b".to_owned()],
        vec!["n".to_owned()],
    ]);
    for max_depth in [4, 64] {
        if let Some(plain) = plain_scan(line, &wanted, max_depth) {
            let reference = serde_scan(line, &wanted, max_depth);
            assert_eq!(reference.ok(), Some(plain), "depth {max_depth}");
        }
    }
});

//! The module natively, as the host would configure and call it.

use sluice_guest::testing::{batch, configure};
use sluice_guest::{Formatter, Request};
use {crate_name}::Module;

#[test]
fn a_batch_is_one_post_of_the_events_one_per_line() {
    let batch = batch(&[r#"{"a":1}"#, r#"{"b":"x"}"#]);
    let module: Module = configure(&[("path", "/logs")]).unwrap();
    let formatted = module.format(&batch).unwrap();
    let Request::Http(request) = &formatted.requests[0] else {
        panic!("an HTTP request")
    };
    assert_eq!(request.path, "/logs");
    assert_eq!(request.events, [0, 1]);
    let body = String::from_utf8(request.body.assemble(&batch)).unwrap();
    assert_eq!(body, "{\"a\":1}\n{\"b\":\"x\"}\n");
}

#[test]
fn a_path_without_a_slash_is_refused() {
    assert!(configure::<Module>(&[("path", "logs")]).is_err());
}

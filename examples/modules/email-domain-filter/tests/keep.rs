//! The e-mail domain filter natively, on events shaped like the DevOps agent sample.

use sluice_email_domain_filter::EmailDomainFilter;
use sluice_guest::filter::Filter;
use sluice_guest::testing::{batch, configure_filter};

#[test]
fn events_of_listed_domains_are_dropped_whatever_their_case() {
    let filter: EmailDomainFilter =
        configure_filter(&[("domains", "contractor.example, @Vendor.test")]).unwrap();
    let batch = batch(&[
        r#"{"actor_email":"ana.silva@example.com"}"#,
        r#"{"actor_email":"bob@CONTRACTOR.example"}"#,
        r#"{"actor_email":"eve@vendor.test"}"#,
        r#"{"actor_email":"mallory@notvendor.test"}"#,
        r#"{"actor":"no address"}"#,
        r#"{"actor_email":null}"#,
    ]);
    let kept: Vec<bool> = batch.events().map(|event| filter.keep(&event)).collect();
    assert_eq!(kept, [true, false, false, true, true, true]);
}

#[test]
fn another_field_by_its_dotted_path() {
    let filter: EmailDomainFilter =
        configure_filter(&[("domains", "b.test"), ("field", "actor.email")]).unwrap();
    let batch = batch(&[
        r#"{"actor":{"email":"x@b.test"}}"#,
        r#"{"actor_email":"x@b.test"}"#,
    ]);
    let kept: Vec<bool> = batch.events().map(|event| filter.keep(&event)).collect();
    assert_eq!(kept, [false, true]);
}

#[test]
fn no_domain_is_a_setting_to_fix() {
    let error = configure_filter::<EmailDomainFilter>(&[("domains", " , ")]).unwrap_err();
    assert!(format!("{error:?}").contains("domains"), "{error:?}");
}

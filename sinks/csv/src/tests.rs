use sluice_guest::{Formatter, Request};

use super::*;

fn csv(settings: &[(&str, &str)]) -> Result<Csv, FormatError> {
    sluice_guest::testing::configure::<Csv>(settings)
}

/// The body `settings` make of `events`.
fn body(settings: &[(&str, &str)], events: &[&str]) -> String {
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    let batch = sluice_sink_cases::batch_of(&events);
    let formatted = csv(settings).unwrap().format(&batch).unwrap();
    let Request::Http(http) = &formatted.requests[0] else {
        panic!("HTTP")
    };
    String::from_utf8(http.body.assemble(&batch)).unwrap()
}

#[test]
fn a_header_then_a_row_per_event_quoted_as_rfc_4180_says() {
    let text = body(
        &[("columns", "actor.id, note,n,flags,missing")],
        &[
            r#"{"actor":{"id":"u1"},"note":"plain","n":3,"flags":[1,2]}"#,
            r#"{"actor":{"id":"u,2"},"note":"say \"hi\"\nthen go","n":-4.5,"flags":{"a":true},"missing":null}"#,
        ],
    );
    assert_eq!(
        text,
        "actor.id,note,n,flags,missing\r\n\
         u1,plain,3,\"[1,2]\",\r\n\
         \"u,2\",\"say \"\"hi\"\"\nthen go\",-4.5,\"{\"\"a\"\":true}\",\r\n"
    );
}

#[test]
fn text_a_spreadsheet_would_run_is_shown_as_text_and_numbers_stay_numbers() {
    let events = [
        r#"{"a":"=HYPERLINK(\"http://evil\")","b":"+1","c":"-2","d":"@SUM(A1)","e":"\tx","f":"\ry","g":-3,"h":-0,"i":1e400}"#,
    ];
    let text = body(&[("columns", "a,b,c,d,e,f,g,h,i")], &events);
    assert_eq!(
        text.lines().nth(1).unwrap(),
        "\"'=HYPERLINK(\"\"http://evil\"\")\",\"'+1\",\"'-2\",\"'@SUM(A1)\",\"'\tx\",\"'\ry\",-3,-0,1e400"
    );
    let off = body(
        &[("columns", "c,g"), ("neutralize_formulas", "false")],
        &events,
    );
    assert_eq!(off, "c,g\r\n-2,-3\r\n");
}

/// From a hostile run: a spreadsheet splitting a `.csv` on `;` (or `,`) found a formula
/// in an unquoted cell, and a byte-order mark hid one from the rule.
#[test]
fn every_list_separator_is_quoted_and_a_byte_order_mark_does_not_hide_a_formula() {
    let events = [r#"{"a":"x;=cmd|' /C calc'!A0","b":"y,=1+1","c":"\ufeff=1+1"}"#];
    for (delimiter, separator) in [(",", ","), (";", ";"), ("tab", "\t")] {
        let text = body(
            &[
                ("columns", "a,b,c"),
                ("delimiter", delimiter),
                ("header", "false"),
            ],
            &events,
        );
        let cells = [
            "\"x;=cmd|' /C calc'!A0\"",
            "\"y,=1+1\"",
            "\"'\u{feff}=1+1\"\r\n",
        ];
        assert_eq!(text, cells.join(separator), "delimiter {delimiter}");
    }
}

#[test]
fn the_hosts_fields_a_delimiter_and_no_header() {
    let text = body(
        &[
            ("columns", "sluice.host,sluice.time_source,sluice.tags,x"),
            ("delimiter", ";"),
            ("header", "false"),
        ],
        &[r#"{"x":"a;b"}"#],
    );
    assert_eq!(text, "test-host;event;{};\"a;b\"\r\n");
}

#[test]
fn columns_are_required_and_checked() {
    let problem = |settings: &[(&str, &str)]| match csv(settings) {
        Ok(_) => panic!("accepted {settings:?}"),
        Err(error) => format!("{error:?}"),
    };
    assert!(problem(&[]).contains("columns"));
    assert!(problem(&[("columns", "a,,b")]).contains("has no name"));
    assert!(problem(&[("columns", "sluice.nope")]).contains("not one of the host's fields"));
    assert!(problem(&[("columns", "a"), ("delimiter", "|")]).contains("`|`"));
    assert!(problem(&[("columns", "a"), ("delimiter", " ")]).contains("give `,`"));
}

//! The `csv` module: each batch one CSV file in a `file://` directory, read back by
//! Python's `csv` module (an independent reader of RFC 4180): a header row, the columns
//! asked for, quotes, delimiters and line breaks inside cells kept, and a cell a
//! spreadsheet would run as a formula shown as text.

use crate::support::{Harness, transcript};

/// Events with every kind of cell: plain, quoted, multi-line, a formula, a number, an
/// array, a missing field.
fn events() -> Vec<String> {
    (0..250)
        .map(|n| {
            let note = match n % 5 {
                0 => "plain".to_owned(),
                1 => "a, \\\"quoted\\\" note".to_owned(),
                2 => "two\\nlines".to_owned(),
                3 => "=HYPERLINK(\\\"http://evil.example\\\",\\\"click\\\")".to_owned(),
                _ => "@SUM(1+1)".to_owned(),
            };
            let actor = match n % 7 {
                0 => String::new(),
                _ => format!(r#","actor":{{"id":"u-{n}","roles":["a","b"]}}"#),
            };
            format!(r#"{{"n":{n},"note":"{note}","delta":-{n}{actor}}}"#)
        })
        .collect()
}

/// The rows Python's csv module reads from `path`, as JSON.
pub(crate) fn rows_read_by_python(path: &std::path::Path) -> Vec<Vec<String>> {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg("import csv, json, sys\nwith open(sys.argv[1], newline='', encoding='utf-8') as f:\n    print(json.dumps(list(csv.reader(f))))")
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn csv_files_read_back_by_pythons_csv_module_with_formulas_neutralized() {
    let harness = Harness::new();
    harness.write("data/events.jsonl", events().join("\n") + "\n");
    let files = harness.path("files");
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/events.jsonl\"]\n\n[[destinations]]\nname = \"sheet\"\nmodule = \"csv\"\nendpoint = \"file://{}\"\nobject_name = \"{{seq}}\"\nsettings = {{ columns = \"n,note,delta,actor.id,actor.roles,sluice.event_id\" }}\nbatch = {{ max_events = 100 }}\n",
        files.display()
    ));
    let output = harness.run_ok(&[]).await;
    let mut names: Vec<_> = std::fs::read_dir(&files)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}\n{}", transcript(&output));
    let mut rows = Vec::new();
    for name in &names {
        assert!(name.to_string_lossy().ends_with(".csv"), "{name:?}");
        let read = rows_read_by_python(name);
        assert_eq!(
            read[0],
            [
                "n",
                "note",
                "delta",
                "actor.id",
                "actor.roles",
                "sluice.event_id"
            ],
            "every file starts with the header"
        );
        rows.extend(read.into_iter().skip(1));
    }
    rows.sort_by_key(|row| row[0].parse::<u64>().unwrap());
    assert_eq!(rows.len(), 250);
    for (n, row) in rows.iter().enumerate() {
        let note = match n % 5 {
            0 => "plain",
            1 => "a, \"quoted\" note",
            2 => "two\nlines",
            3 => "'=HYPERLINK(\"http://evil.example\",\"click\")",
            _ => "'@SUM(1+1)",
        };
        let (id, roles) = match n % 7 {
            0 => (String::new(), ""),
            _ => (format!("u-{n}"), r#"["a","b"]"#),
        };
        assert_eq!(
            row[..5],
            [
                n.to_string(),
                note.to_owned(),
                format!("-{n}"),
                id,
                roles.to_owned()
            ],
            "row {n}"
        );
        assert_eq!(row[5].len(), 32, "the event id: {row:?}");
    }
}

#[tokio::test]
async fn check_says_which_setting_a_csv_destination_lacks() {
    let harness = Harness::new();
    harness.write("data/events.jsonl", "");
    harness.config(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/events.jsonl\"]\n\n[[destinations]]\nname = \"sheet\"\nmodule = \"csv\"\nendpoint = \"file:///tmp/sluice-csv-never-written\"\nsettings = { columns = \"a,,b\" }\n",
    );
    let output = harness.sluice(&["check", "-c", "sluice.toml"], &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    assert!(
        stderr.contains("columns") && stderr.contains("a column has no name"),
        "{stderr}"
    );
}

//! The object store archive: the `archive` module's JSON Lines objects, named by
//! `object_name` and written once, to a directory (`file://`) and to S3 through moto's
//! server, which checks the Signature V4 of every request against the key it made.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::moto::MotoServer;
use crate::support::{Harness, check_fails, transcript, write_events};

const BUCKET: &str = "audit-archive";
/// The tests that compare what was archived with the lines written: the events as they
/// are (`tests/e2e/enrichment.rs` checks the default).
const ENRICHMENT_NONE: &str = "enrichment = \"none\"";

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => pending.push(path),
                false => found.push(path.strip_prefix(dir).unwrap().display().to_string()),
            }
        }
    }
    found.sort();
    found
}

fn gunzipped_lines(path: &std::path::Path) -> Vec<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_owned).collect()
}

fn written_lines(harness: &Harness) -> Vec<String> {
    std::fs::read_to_string(harness.path("data/events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_directory_archive_holds_every_event_once_in_private_objects_named_by_the_template() {
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 1000);
    let archive = harness.path("archive");
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\n[[destinations]]\nname = \"archive\"\nmodule = \"archive\"\nendpoint = \"file://{}/audit\"\nsettings = {{ enrichment = \"none\" }}\nobject_name = \"%Y/%m/%d/%H/{{host}}-{{start}}-{{seq}}\"\nbatch = {{ max_events = 300 }}\n",
        archive.display()
    ));
    let output = harness.run_ok(&[]).await;

    let root = archive.join("audit");
    let names = files_under(&root);
    assert_eq!(
        names.len(),
        4,
        "1000 events, 300 an object: {names:?}\n{}",
        transcript(&output)
    );
    let pattern = partitioned_by_hour(&names[0]);
    assert!(
        pattern,
        "{:?} is %Y/%m/%d/%H/host-start-seq.jsonl.gz",
        names[0]
    );
    let mut sequences: Vec<&str> = names
        .iter()
        .map(|name| &name[name.len() - "000001.jsonl.gz".len()..name.len() - ".jsonl.gz".len()])
        .collect();
    sequences.sort();
    assert_eq!(sequences, ["000001", "000002", "000003", "000004"]);
    let mut archived: Vec<String> = names
        .iter()
        .flat_map(|name| gunzipped_lines(&root.join(name)))
        .collect();
    let mut events = written_lines(&harness);
    archived.sort();
    events.sort();
    assert_eq!(archived, events, "every event once, as read");
    for name in &names {
        let mode = std::fs::metadata(root.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let year = root.join(names[0].split('/').next().unwrap());
    for dir in [&archive, &year] {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o700,
            "{} is a directory Sluice made",
            dir.display()
        );
    }
}

/// Found by a hostile run: a symbolic link planted under the archive sent the objects
/// wherever it pointed. An object goes nowhere but under the endpoint's directory.
#[tokio::test]
async fn a_link_under_the_archive_directory_is_not_followed() {
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 5);
    let archive = harness.path("archive");
    let elsewhere = harness.path("elsewhere");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, archive.join("sub")).unwrap();
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\n[[destinations]]\nname = \"archive\"\nmodule = \"archive\"\nendpoint = \"file://{}\"\nobject_name = \"sub/{{seq}}\"\nretry = {{ max_attempts = 2, initial_backoff = \"10ms\" }}\n",
        archive.display()
    ));
    let output = harness.run_expecting(3, &[]).await;
    assert!(
        files_under(&elsewhere).is_empty(),
        "{}",
        transcript(&output)
    );
    let dead = harness.dead_letters();
    assert_eq!(dead.len(), 5, "{}", transcript(&output));
    assert!(
        dead[0].to_string().contains("not a directory Sluice made"),
        "{}",
        dead[0]
    );
}

/// `YYYY/MM/DD/HH/<host>-<YYYYMMDDTHHMMSSZ>-<seq>.jsonl.gz`, checked by hand.
fn partitioned_by_hour(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let digits =
        |text: &str, len: usize| text.len() == len && text.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 5
        && digits(parts[0], 4)
        && parts[1..4].iter().all(|part| digits(part, 2))
        && parts[4].ends_with(".jsonl.gz")
        && parts[4].split('-').count() >= 3
}

#[tokio::test]
async fn an_object_that_exists_is_never_overwritten_the_next_name_is_taken() {
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 10);
    let archive = harness.path("archive");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join("000001.jsonl.gz"), "someone else's").unwrap();
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\n[[destinations]]\nname = \"archive\"\nmodule = \"archive\"\nendpoint = \"file://{}\"\nsettings = {{ enrichment = \"none\" }}\nobject_name = \"{{seq}}\"\nretry = {{ initial_backoff = \"10ms\" }}\n",
        archive.display()
    ));
    let output = harness.run_ok(&[]).await;
    assert_eq!(
        std::fs::read_to_string(archive.join("000001.jsonl.gz")).unwrap(),
        "someone else's"
    );
    assert_eq!(
        gunzipped_lines(&archive.join("000002.jsonl.gz")),
        written_lines(&harness),
        "{}",
        transcript(&output)
    );
    assert!(
        transcript(&output).contains("name is taken"),
        "{}",
        transcript(&output)
    );
}

/// Found by a hostile run: a retry that found its name taken counted the batch as
/// delivered, though the first attempt had never written it and the object there was
/// another's. Now the object is read back: only its own bytes make a delivery.
#[tokio::test(flavor = "multi_thread")]
async fn a_retry_that_finds_another_writers_object_at_its_name_writes_the_next_name() {
    use tokio::io::AsyncBufReadExt;
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 10);
    let archive = harness.path("archive");
    // The first attempt fails: where its directory should be, a file is.
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join("sub"), "in the way").unwrap();
    harness.config(&format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\n[[destinations]]\nname = \"archive\"\nmodule = \"archive\"\nendpoint = \"file://{}\"\nsettings = {{ enrichment = \"none\" }}\nobject_name = \"sub/{{seq}}\"\nbatch = {{ max_wait = \"50ms\" }}\nretry = {{ initial_backoff = \"2s\" }}\n",
        archive.display()
    ));
    let mut child = harness.start_run();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        said.push_str(&line);
        said.push('\n');
        if line.contains("retrying") {
            break;
        }
    }
    assert!(said.contains("retrying"), "{said}");
    // Before the retry: the way is clear, and another writer has the name.
    std::fs::remove_file(archive.join("sub")).unwrap();
    std::fs::create_dir(archive.join("sub")).unwrap();
    std::fs::write(archive.join("sub/000001.jsonl.gz"), "another writer's").unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        said.push_str(&line);
        said.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{said}");
    assert_eq!(
        std::fs::read_to_string(archive.join("sub/000001.jsonl.gz")).unwrap(),
        "another writer's"
    );
    assert_eq!(
        gunzipped_lines(&archive.join("sub/000002.jsonl.gz")),
        written_lines(&harness),
        "{said}"
    );
}

fn s3_config(moto: &MotoServer, settings: &str, batch: &str) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\npaths = [\"data/*.jsonl\"]\n\n[[destinations]]\nname = \"archive\"\nmodule = \"archive\"\nendpoint = \"s3://{BUCKET}/sluice/audit\"\ns3_endpoint = \"{}\"\naws = {{ region = \"us-east-1\", service = \"s3\", access_key_id = {{ env = \"S3_KEY_ID\" }}, secret_access_key = {{ env = \"S3_SECRET\" }} }}\nsettings = {{ {settings} }}\nbatch = {{ {batch} }}\nretry = {{ max_attempts = 2, initial_backoff = \"50ms\" }}\n",
        moto.endpoint()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_objects_arrive_signed_with_their_type_and_encoding() {
    let moto = MotoServer::start_for_s3().await;
    let key = moto.setup_s3(BUCKET).await;
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 500);
    harness.config(&s3_config(&moto, ENRICHMENT_NONE, "max_events = 200"));
    let env = [
        ("S3_KEY_ID", key.id.as_str()),
        ("S3_SECRET", key.secret.as_str()),
    ];

    let checked = harness
        .sluice(&["check", "--connect", "-c", "sluice.toml"], &env)
        .await;
    assert!(checked.status.success(), "{}", transcript(&checked));
    // A bucket that is not there is said at check, not found by the events.
    let elsewhere =
        s3_config(&moto, ENRICHMENT_NONE, "max_events = 200").replace(BUCKET, "no-such-bucket");
    harness.config(&elsewhere);
    let missing = harness
        .sluice(&["check", "--connect", "-c", "sluice.toml"], &env)
        .await;
    assert!(!missing.status.success(), "{}", transcript(&missing));
    assert!(
        transcript(&missing).contains("NoSuchBucket"),
        "{}",
        transcript(&missing)
    );
    harness.config(&s3_config(&moto, ENRICHMENT_NONE, "max_events = 200"));

    let output = harness.run_ok(&env).await;
    assert!(!transcript(&output).contains(&key.secret));
    let objects = moto.objects(&key, BUCKET).await;
    assert_eq!(objects.len(), 3, "{objects:?}\n{}", transcript(&output));
    for object in &objects {
        let name = object["key"].as_str().unwrap();
        assert!(
            name.starts_with("sluice/audit/") && name.ends_with(".jsonl.gz"),
            "{name}"
        );
        assert_eq!(object["content_type"], "application/x-ndjson");
        assert_eq!(object["content_encoding"], "gzip");
    }
    let mut archived: Vec<String> = objects
        .iter()
        .flat_map(|object| object["lines"].as_array().unwrap().clone())
        .map(|line| line.as_str().unwrap().to_owned())
        .collect();
    let mut events = written_lines(&harness);
    archived.sort();
    events.sort();
    assert_eq!(archived, events);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_past_the_single_put_size_goes_up_in_parts_whole() {
    let moto = MotoServer::start_for_s3().await;
    let key = moto.setup_s3(BUCKET).await;
    let harness = Harness::new();
    // About 12 MB uncompressed: two parts of a multipart upload.
    let padding = "x".repeat(300);
    let text: String = (0..36_000)
        .map(|n| {
            format!("{{\"timestamp\":\"2026-11-20T08:00:00Z\",\"n\":{n},\"pad\":\"{padding}\"}}\n")
        })
        .collect();
    harness.write("data/events.jsonl", &text);
    harness.config(&s3_config(
        &moto,
        "gzip = false, enrichment = \"none\"",
        "max_bytes = 20_000_000, max_events = 100_000",
    ));
    let env = [
        ("S3_KEY_ID", key.id.as_str()),
        ("S3_SECRET", key.secret.as_str()),
    ];
    let output = harness.run_ok(&env).await;
    let objects = moto.objects(&key, BUCKET).await;
    assert_eq!(objects.len(), 1, "{}", transcript(&output));
    let lines: Vec<&str> = objects[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        text.lines().collect::<Vec<_>>(),
        "every event, in order"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_refused_by_s3_dead_letters_and_is_never_shown() {
    let moto = MotoServer::start_for_s3().await;
    let key = moto.setup_s3(BUCKET).await;
    let harness = Harness::new();
    write_events(&harness, "data/events.jsonl", 20);
    harness.config(&s3_config(&moto, "", "max_events = 100"));
    let wrong = "wrong-secret-value-0123456789";
    let env = [("S3_KEY_ID", key.id.as_str()), ("S3_SECRET", wrong)];
    let refused = harness
        .sluice(&["check", "--connect", "-c", "sluice.toml"], &env)
        .await;
    assert!(!refused.status.success(), "{}", transcript(&refused));
    let output = harness.run_expecting(3, &env).await;
    let said = transcript(&output);
    assert!(!said.contains(wrong), "{said}");
    let dead: Vec<Value> = harness.dead_letters();
    assert_eq!(dead.len(), 20, "{said}");
    assert!(!dead[0].to_string().contains(wrong));
    assert!(moto.objects(&key, BUCKET).await.is_empty());
}

#[tokio::test]
async fn check_refuses_an_archive_that_could_not_work_or_would_leak() {
    let harness = Harness::new();
    let destination = |rest: &str| {
        format!(
            "[[sources]]\ntype = \"stdin\"\n[[destinations]]\nname = \"archive\"\nmodule = \"archive\"\n{rest}\n"
        )
    };
    for (rest, expected) in [
        (
            "endpoint = \"s3://bucket/p\"",
            "an s3:// endpoint needs `aws",
        ),
        (
            "endpoint = \"s3://bucket/p\"\naws = { region = \"eu-west-1\", service = \"logs\" }",
            "aws.service: an s3:// endpoint is signed for `s3`",
        ),
        (
            "endpoint = \"file:///tmp/a\"\nobject_name = \"%Y/{host}\"",
            "object_name: it has no {seq}",
        ),
        (
            "endpoint = \"s3://bucket/p\"\naws = { region = \"eu-west-1\", service = \"s3\" }\ns3_endpoint = \"http://minio.example:9000\"",
            "s3_endpoint: the events would cross the network unencrypted",
        ),
        (
            "endpoint = \"gs://bucket/p\"\ntoken = { env = \"T\" }",
            "a gs:// store takes its service account",
        ),
        ("endpoint = \"s3:///p\"", "names no bucket"),
        (
            "endpoint = \"https://siem.example\"\nobject_name = \"{seq}\"",
            "object_name: only an object store endpoint",
        ),
        (
            "endpoint = \"s3://bucket/p\"\naws = { region = \"eu-west-1\", service = \"s3\" }\ns3_endpoint = \"http://admin:hunter2@127.0.0.1:9000\"",
            "s3_endpoint: credentials go in `aws`",
        ),
        (
            "endpoint = \"s3://bucket/p\"\naws = { region = \"eu-west-1\", service = \"s3\" }\ns3_endpoint = \"https://minio.example/sub?x=1\"",
            "s3_endpoint: a server is a scheme, a host and a port",
        ),
        (
            "endpoint = \"s3://admin:hunter2@bucket/p\"",
            "credentials go in `aws`",
        ),
        ("endpoint = \"s3://bucket/a/../b\"", "a `.` or `..` part"),
        ("endpoint = \"gs://bucket//p\"", "may not hold `//`"),
        ("endpoint = \"gs://bucket/n%0Ab\"", "a control character"),
        (
            "endpoint = \"gs://bucket/p%zz\"",
            "not followed by two hex digits",
        ),
        ("endpoint = \"gs://bucket:99/p\"", "has no port"),
        (
            "endpoint = \"gs://Bucket/p\"",
            "is not a bucket or container name",
        ),
        (
            "endpoint = \"file:///tmp/x\"\nobject_name = \"{seq\"",
            "`{seq` is not closed",
        ),
    ] {
        let stderr = check_fails(&harness, &destination(rest), &[("T", "t")]).await;
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "a password is never repeated: {stderr}"
        );
    }
}

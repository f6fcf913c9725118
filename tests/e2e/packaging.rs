//! What a newcomer installs from: a runnable example configuration for every built-in
//! module, each accepted by `sluice check` and previewed on the sample logs, and the
//! systemd unit, verified by `systemd-analyze` where the machine has it.

use std::path::{Path, PathBuf};

use crate::support::{Harness, builtins, transcript};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The variables the `{ env = "..." }` secrets of `config` name.
fn secret_variables(config: &str) -> Vec<String> {
    config
        .match_indices("env = \"")
        .map(|(at, found)| {
            let rest = &config[at + found.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_builtin_module_has_an_example_that_checks_and_previews() {
    let harness = Harness::new();
    let samples = repository().join("examples/data/idp-audit.jsonl");
    let samples = std::fs::read(samples).unwrap();
    let builtins = builtins();
    assert!(builtins.len() >= 8, "{builtins:?}");
    for module in builtins {
        let example = repository().join(format!("examples/{module}.toml"));
        let config = std::fs::read_to_string(&example)
            .unwrap_or_else(|e| panic!("{}: {e}", example.display()));
        assert!(
            config.contains(&format!("module = \"{module}\"")),
            "{module}: {config}"
        );
        let variables = secret_variables(&config);
        // A variable that holds a URL (a secret endpoint) gets one.
        let mut env: Vec<(&str, &str)> = variables
            .iter()
            .map(|v| match v.ends_with("_URL") {
                true => (
                    v.as_str(),
                    "https://collector.example/receiver/v1/http/dummy",
                ),
                false => (v.as_str(), "dummy"),
            })
            .collect();
        let cache = harness.path("cache").display().to_string();
        env.push(("XDG_CACHE_HOME", &cache));
        let path = example.display().to_string();
        let checked = harness.sluice(&["check", "-c", &path], &env).await;
        assert!(
            checked.status.success(),
            "{module}: {}",
            transcript(&checked)
        );
        let previewed = harness
            .sluice_with_input(&["preview", "-c", &path], &[], &samples)
            .await;
        assert!(
            previewed.status.success(),
            "{module}: {}",
            transcript(&previewed)
        );
        let stdout = String::from_utf8_lossy(&previewed.stdout);
        let count = samples
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert!(
            stdout.contains(&format!("{count} events"))
                || stdout.contains(&format!("{count} messages")),
            "{module}: {stdout}"
        );
        assert!(
            !stdout.contains("dummy"),
            "{module}: a secret in the preview: {stdout}"
        );
    }
}

#[tokio::test]
async fn the_systemd_unit_verifies() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!(
            "systemd-analyze is not installed: the unit is not verified here (.ci/test-deps installs it)"
        );
        return;
    }
    let unit =
        std::fs::read_to_string(repository().join("examples/systemd/sluice.service")).unwrap();
    for needed in [
        "ExecStartPre=/usr/local/bin/sluice check",
        "ExecReload=/usr/local/bin/sluice check",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "StateDirectory=sluice",
        "CacheDirectory=sluice",
        "UMask=0077",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
    // Verified as installed, with the binary under test where the unit expects sluice.
    let harness = Harness::new();
    let unit = unit.replace("/usr/local/bin/sluice", env!("CARGO_BIN_EXE_sluice"));
    let path = harness.write("sluice.service", unit);
    let output = tokio::process::Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", transcript(&output));
    assert!(output.stderr.is_empty(), "{}", transcript(&output));
}

/// Validates each of `instances` (JSON files) against `schema` with Python's jsonschema
/// (an implementation of its own, not the code that wrote the schema): the names of
/// those it refuses, with why.
async fn refused_by_schema(schema: &Path, instances: &[PathBuf]) -> Option<String> {
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  jsonschema.Draft202012Validator.check_schema(schema)\n\
                  for path in sys.argv[2:]:\n\
                  \x20   errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(path))))\n\
                  \x20   for error in errors:\n\
                  \x20       print(path, list(error.absolute_path), error.message)\n";
    let output = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(schema)
        .args(instances)
        .output()
        .await
        .ok()?;
    if String::from_utf8_lossy(&output.stderr).contains("No module named 'jsonschema'") {
        return None;
    }
    assert!(output.status.success(), "{}", transcript(&output));
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn every_example_matches_the_configuration_schema() {
    let harness = Harness::new();
    let schema = harness.sluice(&["config", "schema"], &[]).await;
    assert!(schema.status.success(), "{}", transcript(&schema));
    let schema_path = harness.write("schema.json", &schema.stdout);
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repository().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 9, "{examples:?}");
    let mut instances = Vec::new();
    for example in &examples {
        let value: toml::Value =
            toml::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
        let name = example
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".toml", ".json");
        instances.push(harness.write(&name, serde_json::to_vec(&value).unwrap()));
    }
    // And one with a misspelt key, which the schema must refuse as sluice does.
    instances.push(harness.write(
        "misspelt.json",
        r#"{"sources":[{"type":"stdin"}],"destinations":[{"name":"d","module":"http","endpont":"https://x"}]}"#,
    ));
    let Some(refused) = refused_by_schema(&schema_path, &instances).await else {
        eprintln!(
            "python3 with jsonschema is not installed: the examples are not validated here (.ci/test-deps installs it)"
        );
        return;
    };
    let lines: Vec<&str> = refused.lines().collect();
    assert!(
        lines.iter().all(|line| line.contains("misspelt.json")),
        "examples the schema refuses:\n{refused}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("'endpont' was unexpected")),
        "{refused}"
    );
}

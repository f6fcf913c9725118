//! Every TOML block of README.md is something a user will paste: each configuration must
//! pass `sluice check`, and each filter policy must compile, so README cannot drift from
//! the code. A block is taken as written, with what a user's machine would have around
//! it: the files and directories it names (under a temporary root instead of `/etc`,
//! `/var` and `/run`), a value for every secret variable, the modules it names from a
//! modules directory, and, for a block that shows only part of a configuration, a source
//! and a destination to make it whole.

use std::path::Path;

use crate::support::{Harness, test_module, tls::test_pki, transcript};

/// The absolute roots README's examples use; a block's paths under them are made in the
/// test's directory. Module settings such as `path = "/audit"` are under none of them.
const ROOTS: [&str; 3] = ["/etc/", "/var/", "/run/"];

/// The module README's authoring guide builds: `tests/e2e/authoring.rs` checks the blocks
/// that name it, with the module it built from `sluice module new`.
pub const AUTHORED_MODULE: &str = "my-siem";

/// The blocks of `markdown` fenced as `language`, each with the line its fence opens on.
/// A fence may be indented (inside a list item); its lines lose that indentation.
pub fn fenced_blocks(markdown: &str, language: &str) -> Vec<(usize, String)> {
    let opening = format!("```{language}");
    let mut blocks = Vec::new();
    let mut open: Option<(usize, usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None if trimmed == opening => open = Some((index + 1, indent, String::new())),
            Some((start, _, text)) if trimmed == "```" => {
                blocks.push((*start, std::mem::take(text)));
                open = None;
            }
            Some((_, indent, text)) => {
                text.push_str(line.get(*indent..).unwrap_or(line.trim_start()));
                text.push('\n');
            }
            None => {}
        }
    }
    assert!(open.is_none(), "README ends inside a {language} block");
    blocks
}

/// README's text.
pub fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

/// A filter policy's file name, when the block is one: it starts `# filters/NAME.toml`.
fn policy_file(block: &str) -> Option<&str> {
    let rest = block.strip_prefix("# ")?;
    let name = rest.split([':', ' ', '\n']).next()?;
    (name.starts_with("filters/") && name.ends_with(".toml")).then_some(name)
}

/// Makes what `value` (a configuration, or a part of one) names: the files, the secret
/// variables and the modules directories with the modules it names.
/// The value of every secret README's configurations name: base64, as a workspace key
/// must be, and a token a header can carry.
const README_SECRET: &str = "cmVhZG1lLXNlY3JldA==";

/// The `[integrity] signing_key` of README's configurations: an Ed25519 key, as
/// `sluice keygen` writes one.
const README_SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----
MFECAQEwBQYDK2VwBCIEIHxxiwkGMxNQ3vMNzJe/u/sXZ9vsYnnhGIQwh/fn8q8I
gSEAI8Dl+MxVU2eU+adAUGHRfXMFKL7xQ9bYoX1tAqSP8ZE=
-----END PRIVATE KEY-----
";

/// What the environment variable `name` holds: a URL for a secret endpoint (`..._URL`).
fn secret_for(name: &str) -> &'static str {
    match name.ends_with("_URL") {
        true => "https://collector.example/receiver/v1/http/readme",
        false => README_SECRET,
    }
}

fn provide(value: &toml::Value, modules: &[(&str, &[u8])], env: &mut Vec<(String, String)>) {
    let pki = test_pki();
    let mut modules_dirs = Vec::new();
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    match (key.as_str(), value) {
                        ("ca_file" | "client_cert", toml::Value::String(path)) => {
                            write_file(path, &pki.ca_pem)
                        }
                        ("signing_key", toml::Value::Table(key)) => {
                            if let Some(toml::Value::String(path)) = key.get("file") {
                                write_file(path, README_SIGNING_KEY)
                            }
                        }
                        ("file", toml::Value::String(path)) => write_file(path, README_SECRET),
                        ("env", toml::Value::String(name)) => {
                            env.push((name.clone(), secret_for(name).into()))
                        }
                        ("modules_dirs", toml::Value::Array(dirs)) => {
                            modules_dirs.extend(dirs.iter().filter_map(|d| d.as_str()))
                        }
                        _ => pending.push(value),
                    }
                }
            }
            toml::Value::Array(values) => pending.extend(values),
            _ => {}
        }
    }
    for dir in modules_dirs {
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in modules {
            std::fs::write(Path::new(dir).join(format!("{name}.wasm")), bytes).unwrap();
        }
    }
}

fn write_file(path: &str, contents: &str) {
    let path = Path::new(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// The block as a whole configuration: a part without sources reads standard input,
/// and a part without destinations writes to a capture folder.
fn whole(block: &str) -> String {
    let mut text = block.to_owned();
    if !block.contains("[[destinations]]") {
        text.push_str("\n[[destinations]]\nname = \"c\"\nmodule = \"splunk-hec\"\nendpoint = \"capture:captured\"\n");
    }
    if !block.contains("[[sources]]") {
        text.push_str("\n[[sources]]\ntype = \"stdin\"\n");
    }
    text
}

/// README's TOML blocks, each with the line it starts on.
pub struct Readme {
    /// Filter policies, each starting `# filters/NAME.toml`.
    policies: Vec<(usize, String)>,
    /// Configurations, or parts of one.
    pub configurations: Vec<(usize, String)>,
}

impl Readme {
    pub fn read() -> Readme {
        let (policies, configurations) = fenced_blocks(&readme(), "toml")
            .into_iter()
            .partition(|(_, block)| policy_file(block).is_some());
        Readme {
            policies,
            configurations,
        }
    }

    /// Runs `sluice check` on the configuration block at `line`, made whole, with
    /// `modules` in each of its modules directories; fails the test unless it passes.
    pub async fn check(&self, line: usize, block: &str, modules: &[(&str, &[u8])]) {
        let harness = Harness::new();
        // The configuration blocks name README's policies by their files.
        for (_, policy) in &self.policies {
            harness.write(policy_file(policy).unwrap(), policy);
        }
        let mut text = block.to_owned();
        for prefix in ROOTS {
            let moved = format!("\"{}{prefix}", harness.path("root").display());
            text = text.replace(&format!("\"{prefix}"), &moved);
        }
        let whole = whole(&text);
        let value: toml::Value = toml::from_str(&whole)
            .unwrap_or_else(|error| panic!("README line {line}: not TOML: {error}\n{block}"));
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-cache");
        let mut env = vec![("XDG_CACHE_HOME".to_owned(), cache.display().to_string())];
        provide(&value, modules, &mut env);
        harness.write("sluice.toml", &whole);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let output = harness.sluice(&["check", "-c", "sluice.toml"], &env).await;
        assert!(
            output.status.success(),
            "README line {line}: the configuration is refused:\n{block}\n{}",
            transcript(&output)
        );
    }
}

#[tokio::test]
async fn every_filter_policy_of_readme_compiles() {
    let readme = Readme::read();
    assert!(
        readme.policies.len() >= 2,
        "README's policies: {}",
        readme.policies.len()
    );
    for (line, policy) in &readme.policies {
        let harness = Harness::new();
        let file = harness.write(policy_file(policy).unwrap(), policy);
        let output = harness
            .sluice(&["preview", "--filter", file.to_str().unwrap()], &[])
            .await;
        assert!(
            output.status.success(),
            "README line {line}: the policy is refused:\n{policy}\n{}",
            transcript(&output)
        );
    }
}

#[tokio::test]
async fn every_configuration_of_readme_passes_check() {
    let readme = Readme::read();
    assert!(
        readme.configurations.len() >= 10,
        "README's configurations: {}",
        readme.configurations.len()
    );
    let filter = std::fs::read(test_module("email-domain-filter")).unwrap();
    let authored = format!("module = \"{AUTHORED_MODULE}\"");
    for (line, block) in &readme.configurations {
        if !block.contains(&authored) {
            readme
                .check(*line, block, &[("email-domain-filter", &filter)])
                .await;
        }
    }
}

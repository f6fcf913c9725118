//! The guest SDK as `sluice module new` writes it beside a new module, so the module
//! builds on any machine with Rust, not only inside a checkout: the sources of
//! `guest-sdk/` and `contract/`, the contract's WIT, and manifests that stand alone.
//!
//! The workspace's manifests inherit from the workspace root (`version.workspace =
//! true`, shared dependencies and lints); a module's folder has no such root, so each
//! inherited value is written out in full, and a path dependency points at its sibling
//! folder. The workspace's `Cargo.lock` goes along, so the module builds with the same
//! versions of wit-bindgen and serde the SDK was tested with.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// The workspace folders the SDK is made of, and where a module's crate holds each.
const PACKAGES: [(&str, &str); 2] = [
    ("guest-sdk", "sluice-sdk/guest-sdk"),
    ("contract", "sluice-sdk/contract"),
];

/// Writes `OUT_DIR/sdk.rs`: `SDK_FILES`, each file of the SDK as (path in the
/// module's crate, bytes).
pub fn package(workspace: &Path, out_dir: &Path) {
    let root: Table = read(&workspace.join("Cargo.toml"))
        .parse()
        .expect("the workspace manifest is TOML");
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (folder, shipped) in PACKAGES {
        let manifest = standalone_manifest(&workspace.join(folder).join("Cargo.toml"), &root);
        let written = out_dir.join("sdk").join(folder).join("Cargo.toml");
        std::fs::create_dir_all(written.parent().unwrap()).expect("creating OUT_DIR/sdk");
        super::write_if_changed(&written, manifest.as_bytes());
        files.push((format!("{shipped}/Cargo.toml"), written));
        for source in rust_files(&workspace.join(folder).join("src")) {
            let relative = source.strip_prefix(workspace.join(folder)).unwrap();
            files.push((format!("{shipped}/{}", relative.display()), source));
        }
    }
    // The SDK generates its bindings from `../wit`, beside its own folder.
    files.push((
        "sluice-sdk/wit/sluice.wit".into(),
        workspace.join("wit/sluice.wit"),
    ));
    files.push(("Cargo.lock".into(), workspace.join("Cargo.lock")));

    let mut table = String::from(
        "/// The guest SDK a new module builds with: (path in the module's crate, bytes).\npub static SDK_FILES: &[(&str, &[u8])] = &[\n",
    );
    for (shipped, source) in &files {
        table.push_str(&format!(
            "    ({shipped:?}, include_bytes!({:?})),\n",
            source.display().to_string()
        ));
    }
    table.push_str("];\n");
    super::write_if_changed(&out_dir.join("sdk.rs"), table.as_bytes());
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The `.rs` files under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `{ workspace = true }`, alone or with other keys.
fn inherits(value: &Value) -> bool {
    value
        .get("workspace")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The manifest at `path` with what it inherits from the workspace `root` written out,
/// its path dependencies pointing at their sibling folders, and no dev-dependencies
/// (the SDK's own tests are not shipped).
fn standalone_manifest(path: &Path, root: &Table) -> String {
    let mut manifest: Table = read(path)
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let workspace = root["workspace"].as_table().expect("[workspace]");
    if let Some(Value::Table(package)) = manifest.get_mut("package") {
        for (key, value) in package.iter_mut() {
            if inherits(value) {
                *value = workspace["package"][key.as_str()].clone();
            }
        }
    }
    if let Some(Value::Table(dependencies)) = manifest.get_mut("dependencies") {
        for (name, value) in dependencies.iter_mut() {
            if inherits(value) {
                *value = Value::Table(inherited_dependency(name, value, workspace));
            }
        }
    }
    manifest.remove("dev-dependencies");
    if manifest.get("lints").is_some_and(inherits) {
        manifest.insert("lints".into(), workspace["lints"].clone());
    }
    format!(
        "# Written by `sluice module new` from the Sluice workspace's manifest.\n{}",
        toml::to_string(&manifest).expect("a manifest is TOML")
    )
}

/// Dependency `name` as the workspace declares it, with the member's own features.
fn inherited_dependency(name: &str, member: &Value, workspace: &Table) -> Table {
    let mut dependency = match &workspace["dependencies"][name] {
        Value::String(version) => Table::from_iter([("version".into(), version.clone().into())]),
        Value::Table(table) => table.clone(),
        other => panic!("workspace dependency {name}: {other}"),
    };
    if let Some(Value::String(path)) = dependency.get("path") {
        let folder = Path::new(path).file_name().unwrap().to_str().unwrap();
        assert!(
            PACKAGES.iter().any(|(shipped, _)| *shipped == folder),
            "the SDK depends on {path}, which `sluice module new` does not write"
        );
        dependency.insert("path".into(), format!("../{folder}").into());
    }
    for (key, value) in member.as_table().into_iter().flatten() {
        match (key.as_str(), value) {
            ("workspace", _) => {}
            ("features", Value::Array(features)) => {
                let all = dependency
                    .entry("features")
                    .or_insert_with(|| Value::Array(Vec::new()));
                all.as_array_mut().unwrap().extend(features.iter().cloned());
            }
            _ => {
                dependency.insert(key.clone(), value.clone());
            }
        }
    }
    dependency
}

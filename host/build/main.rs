//! Compiles the WebAssembly modules of the workspace and hands them to the host crate:
//! the reference sinks of `sinks/` are embedded in the binary (`builtins.rs`), the test
//! modules of `tests/modules/` and the examples of `examples/modules/` are left in
//! `OUT_DIR/test-modules` for the end-to-end
//! tests (path in `SLUICE_TEST_MODULES`), and the guest SDK's sources are listed for
//! `sluice module new` (`sdk.rs`, see the `sdk` module).
//!
//! The nested cargo uses its own target directory (sharing the outer one deadlocks on
//! its lock), runs without the outer build's rustflags and clippy wrapper (they are for
//! the host target), and a `.wasm` is copied only when its bytes change, so an
//! unchanged module does not rebuild the host.

mod sdk;
mod version;

use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip2";
const GUEST_PROFILE: &str = "guest";

struct Guest {
    /// Module name: the crate's folder name.
    name: String,
    /// File stem cargo gives the `.wasm` (the crate name with `_`).
    artifact: String,
}

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env("OUT_DIR"));
    for watched in [
        "wit",
        "contract",
        "guest-sdk",
        "sinks",
        "tests/modules",
        "examples/modules",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    version::describe(&workspace);

    let sinks = guests_in(&workspace.join("sinks"));
    // The example modules are built and tested as the test modules are.
    let mut test_modules = guests_in(&workspace.join("tests/modules"));
    test_modules.extend(guests_in(&workspace.join("examples/modules")));
    build(&workspace, sinks.iter().chain(&test_modules));

    let built = workspace
        .join("target/guest")
        .join(GUEST_TARGET)
        .join(GUEST_PROFILE);
    let mut table = String::from(
        "/// Embedded modules: (name, component bytes).\npub static BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for sink in &sinks {
        let dest = out_dir.join(format!("{}.wasm", sink.name));
        copy_if_changed(&built.join(format!("{}.wasm", sink.artifact)), &dest);
        table.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            sink.name,
            dest.display().to_string()
        ));
    }
    table.push_str("];\n");
    write_if_changed(&out_dir.join("builtins.rs"), table.as_bytes());

    let test_dir = out_dir.join("test-modules");
    std::fs::create_dir_all(&test_dir).expect("creating test-modules dir");
    for module in &test_modules {
        copy_if_changed(
            &built.join(format!("{}.wasm", module.artifact)),
            &test_dir.join(format!("{}.wasm", module.name)),
        );
    }
    println!("cargo:rustc-env=SLUICE_TEST_MODULES={}", test_dir.display());

    sdk::package(&workspace, &out_dir);
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is set by cargo"))
}

/// Every crate folder under `dir`, sorted by name.
fn guests_in(dir: &Path) -> Vec<Guest> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut guests: Vec<Guest> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let manifest = std::fs::read_to_string(path.join("Cargo.toml")).ok()?;
            let crate_name = manifest.lines().find_map(|line| {
                line.trim()
                    .strip_prefix("name = ")?
                    .trim_matches('"')
                    .to_owned()
                    .into()
            })?;
            Some(Guest {
                name: path.file_name()?.to_str()?.to_owned(),
                artifact: crate_name.replace('-', "_"),
            })
        })
        .collect();
    guests.sort_by(|a, b| a.name.cmp(&b.name));
    guests
}

fn build<'a>(workspace: &Path, guests: impl Iterator<Item = &'a Guest>) {
    let mut command = Command::new(env("CARGO"));
    command
        .current_dir(workspace)
        .args([
            "build",
            "--locked",
            "--target",
            GUEST_TARGET,
            "--profile",
            GUEST_PROFILE,
            "--target-dir",
        ])
        .arg(workspace.join("target/guest"));
    let mut any = false;
    for guest in guests {
        command.args(["-p", &guest.artifact.replace('_', "-")]);
        any = true;
    }
    if !any {
        return;
    }
    for key in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        command.env_remove(key);
    }
    // SIMD, which wasmtime runs on every host it supports: searching an event's text
    // (for its own `sluice` or `@timestamp`) a byte at a time cost the JSON modules more
    // than the rest of their work.
    command.env(
        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
        "-C target-feature=+simd128",
    );
    let status = command
        .status()
        .expect("running cargo for the wasm modules");
    assert!(
        status.success(),
        "building the wasm modules failed (is the {GUEST_TARGET} target installed? `rustup target add {GUEST_TARGET}`)"
    );
}

fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    write_if_changed(to, &bytes);
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(bytes) {
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

//! What `sluice --version` and the `sluice_build_info` metric say of the build: the
//! commit it was built from, the compiler, and the wasmtime it embeds. Each falls back
//! to `unknown` (a source tarball has no `.git`), never failing the build.

use std::path::Path;
use std::process::Command;

pub fn describe(workspace: &Path) {
    let git = workspace.join(".git");
    // A path that does not exist would make cargo build the crate again every time
    // (a fresh repository has no `packed-refs`).
    for watched in ["HEAD", "refs/heads", "packed-refs"] {
        let path = git.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let commit = output(
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(workspace),
    );
    let compiler = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc = output(Command::new(compiler).arg("--version"));
    let wasmtime = locked_version(&workspace.join("Cargo.lock"), "wasmtime");
    for (key, value) in [
        ("SLUICE_COMMIT", commit),
        ("SLUICE_RUSTC", rustc),
        ("SLUICE_WASMTIME", wasmtime),
    ] {
        println!(
            "cargo:rustc-env={key}={}",
            value.unwrap_or_else(|| "unknown".into())
        );
    }
}

/// The first line a command prints, if it ran and succeeded.
fn output(command: &mut Command) -> Option<String> {
    let output = command.output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?;
    text.lines().next().map(|line| line.trim().to_owned())
}

/// The version of `package` in the lock file.
fn locked_version(lock: &Path, package: &str) -> Option<String> {
    let text = std::fs::read_to_string(lock).ok()?;
    let wanted = format!("name = \"{package}\"");
    let mut lines = text.lines();
    lines.find(|line| *line == wanted)?;
    let version = lines.next()?.strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_owned())
}

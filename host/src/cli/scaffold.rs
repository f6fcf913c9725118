//! `sluice module new NAME`: a module crate that builds, passes its native tests and
//! `sluice preview` as written, for an author to change into their own.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The files of a new module, with `{name}`, `{crate_name}` and `{sdk}` to fill in.
const FILES: [(&str, &str); 7] = [
    (
        "Cargo.toml",
        include_str!("../../templates/module/Cargo.template.toml"),
    ),
    ("src/lib.rs", include_str!("../../templates/module/lib.rs")),
    (
        "tests/format.rs",
        include_str!("../../templates/module/format.rs"),
    ),
    (
        "README.md",
        include_str!("../../templates/module/README.md"),
    ),
    // One event of each audit shape the SDK knows, for `sluice preview`.
    (
        "events.jsonl",
        include_str!("../../templates/module/events.jsonl"),
    ),
    // The toolchain Sluice is built with, and the module target.
    (
        "rust-toolchain.toml",
        include_str!("../../../rust-toolchain.toml"),
    ),
    (".gitignore", "/target\n"),
];

// `SDK_FILES`: the guest SDK this binary was built with, as the host's build script
// packaged it to stand alone in a module's folder (`host/build/sdk.rs`).
include!(concat!(env!("OUT_DIR"), "/sdk.rs"));

/// Where the crate's manifest finds the SDK it carries.
const CARRIED_SDK: &str = "sluice-sdk/guest-sdk";

/// Writes the crate of module `name` into `dir/name` and returns the crate's folder. The
/// crate depends on the SDK at `sdk` when given; otherwise on a copy of the SDK this
/// binary was built with, written into the crate (`sluice-sdk/`, with the `Cargo.lock`
/// it was tested with), so the crate builds on any machine, with no checkout around.
pub fn new_module(name: &str, dir: &Path, sdk: Option<&Path>) -> Result<PathBuf> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a module name: lowercase letters, digits and `-`, starting with a letter (it names the `.wasm` and destinations use it)"
        );
    }
    let sdk = match sdk {
        Some(sdk) => sdk
            .canonicalize()
            .with_context(|| {
                format!(
                    "the Sluice guest SDK is not at {}; give its folder (`guest-sdk` of a Sluice checkout), or leave --sdk out to use the one this binary carries",
                    sdk.display()
                )
            })?
            .display()
            .to_string(),
        None => CARRIED_SDK.to_owned(),
    };
    let root = dir.join(name);
    if root.exists() {
        bail!(
            "{} exists already; choose another name or folder",
            root.display()
        );
    }
    for (relative, template) in FILES {
        let text = template
            .replace("{name}", name)
            .replace("{crate_name}", &name.replace('-', "_"))
            .replace("{sdk}", &sdk);
        write(&root, relative, text.as_bytes())?;
    }
    if sdk == CARRIED_SDK {
        for (relative, bytes) in SDK_FILES {
            write(&root, relative, bytes)?;
        }
    }
    Ok(root)
}

fn write(root: &Path, relative: &str, bytes: &[u8]) -> Result<()> {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("a file in the crate"))
        .with_context(|| format!("creating {}", root.display()))?;
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}

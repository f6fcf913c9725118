//! `sluice module new NAME`: a module crate that builds, passes its native tests and
//! `sluice preview` as written, for an author to change into their own.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The files of a new module, with `{name}`, `{crate_name}` and `{sdk}` to fill in.
const FILES: [(&str, &str); 6] = [
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
    // The toolchain Sluice is built with, and the module target.
    (
        "rust-toolchain.toml",
        include_str!("../../../rust-toolchain.toml"),
    ),
    (".gitignore", "/target\n"),
];

/// The SDK of the source tree this binary was built from.
const SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

/// Writes the crate of module `name` into `dir/name`, depending on the SDK at `sdk` (by
/// default the one this binary was built with); returns the crate's folder.
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
    let sdk = sdk.unwrap_or(Path::new(SDK));
    let sdk = sdk.canonicalize().with_context(|| {
        format!(
            "the Sluice guest SDK is not at {}; give its folder (`guest-sdk` of a Sluice checkout) with --sdk",
            sdk.display()
        )
    })?;
    let root = dir.join(name);
    if root.exists() {
        bail!(
            "{} exists already; choose another name or folder",
            root.display()
        );
    }
    for (relative, template) in FILES {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a file in the crate"))
            .with_context(|| format!("creating {}", root.display()))?;
        let text = template
            .replace("{name}", name)
            .replace("{crate_name}", &name.replace('-', "_"))
            .replace("{sdk}", &sdk.display().to_string());
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(root)
}

//! `sluice module new NAME`: a module crate that builds, passes its native tests and
//! `sluice preview` as written, for an author to change into their own.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The language a new module is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A crate built with cargo for `wasm32-wasip2`, on the `sluice-guest` SDK.
    #[default]
    Rust,
    /// A project built with componentize-py, on the `sluice_module` helper package.
    Python,
    /// A project built with componentize-js, on the `sluice.js` helper module.
    Javascript,
}

/// A file of a new module: a template, with `{name}`, `{crate_name}` and `{sdk}` to fill
/// in, or a file carried as it is (the helper library, the contract).
type File = (&'static str, Template);

#[derive(Clone, Copy)]
enum Template {
    Fill(&'static str),
    Carry(&'static str),
}

/// One event of each audit shape the SDK knows, for `sluice preview`.
const EVENTS: File = (
    "events.jsonl",
    Template::Carry(include_str!("../../templates/module/events.jsonl")),
);

/// The contract, which componentize-py and componentize-js generate the types from.
const WIT: File = (
    "wit/sluice.wit",
    Template::Carry(include_str!("../../../wit/sluice.wit")),
);

const RUST: [File; 7] = [
    (
        "Cargo.toml",
        Template::Fill(include_str!("../../templates/module/Cargo.template.toml")),
    ),
    (
        "src/lib.rs",
        Template::Fill(include_str!("../../templates/module/lib.rs")),
    ),
    (
        "tests/format.rs",
        Template::Fill(include_str!("../../templates/module/format.rs")),
    ),
    (
        "README.md",
        Template::Fill(include_str!("../../templates/module/README.md")),
    ),
    EVENTS,
    // The toolchain Sluice is built with, and the module target.
    (
        "rust-toolchain.toml",
        Template::Carry(include_str!("../../../rust-toolchain.toml")),
    ),
    (".gitignore", Template::Carry("/target\n")),
];

const PYTHON: [File; 9] = [
    (
        "app.py",
        Template::Fill(include_str!("../../templates/module-python/app.py")),
    ),
    (
        "tests/test_format.py",
        Template::Fill(include_str!(
            "../../templates/module-python/tests/test_format.py"
        )),
    ),
    (
        "pyproject.toml",
        Template::Fill(include_str!("../../templates/module-python/pyproject.toml")),
    ),
    (
        "README.md",
        Template::Fill(include_str!("../../templates/module-python/README.md")),
    ),
    (
        ".gitignore",
        Template::Carry(include_str!("../../templates/module-python/.gitignore")),
    ),
    (
        "sluice_module/__init__.py",
        Template::Carry(include_str!("../../../guest-py/sluice_module/__init__.py")),
    ),
    (
        "sluice_module/testing.py",
        Template::Carry(include_str!("../../../guest-py/sluice_module/testing.py")),
    ),
    EVENTS,
    WIT,
];

const JAVASCRIPT: [File; 10] = [
    (
        "module.js",
        Template::Fill(include_str!("../../templates/module-javascript/module.js")),
    ),
    (
        "app.js",
        Template::Carry(include_str!("../../templates/module-javascript/app.js")),
    ),
    (
        "test/module.test.js",
        Template::Carry(include_str!(
            "../../templates/module-javascript/test/module.test.js"
        )),
    ),
    (
        "package.json",
        Template::Fill(include_str!(
            "../../templates/module-javascript/package.json"
        )),
    ),
    (
        "README.md",
        Template::Fill(include_str!("../../templates/module-javascript/README.md")),
    ),
    (
        ".gitignore",
        Template::Carry(include_str!("../../templates/module-javascript/.gitignore")),
    ),
    (
        "sluice.js",
        Template::Carry(include_str!("../../../guest-js/sluice.js")),
    ),
    (
        "testing.js",
        Template::Carry(include_str!("../../../guest-js/testing.js")),
    ),
    EVENTS,
    WIT,
];

impl Lang {
    fn files(self) -> &'static [File] {
        match self {
            Lang::Rust => &RUST,
            Lang::Python => &PYTHON,
            Lang::Javascript => &JAVASCRIPT,
        }
    }

    /// What to run in the module's folder to build it (README.md there has the rest).
    pub fn build_command(self, name: &str) -> String {
        match self {
            Lang::Rust => "cargo build --release --target wasm32-wasip2".to_owned(),
            Lang::Python => format!(
                "componentize-py -d wit/sluice.wit -w formatter componentize app -o {name}.wasm"
            ),
            Lang::Javascript => "npm install && npm run build".to_owned(),
        }
    }
}

// `SDK_FILES`: the guest SDK this binary was built with, as the host's build script
// packaged it to stand alone in a module's folder (`host/build/sdk.rs`).
include!(concat!(env!("OUT_DIR"), "/sdk.rs"));

/// Where the crate's manifest finds the SDK it carries.
const CARRIED_SDK: &str = "sluice-sdk/guest-sdk";

/// Writes the project of module `name` in `lang` into `dir/name` and returns its folder.
/// A Rust crate depends on the SDK at `sdk` when given; otherwise on a copy of the SDK
/// this binary was built with, written into the crate (`sluice-sdk/`, with the
/// `Cargo.lock` it was tested with), so the crate builds on any machine, with no checkout
/// around. A Python or JavaScript project carries its helper library and the contract.
pub fn new_module(name: &str, lang: Lang, dir: &Path, sdk: Option<&Path>) -> Result<PathBuf> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a module name: lowercase letters, digits and `-`, starting with a letter (it names the `.wasm` and destinations use it)"
        );
    }
    if sdk.is_some() && lang != Lang::Rust {
        bail!(
            "--sdk names the Rust SDK; a Python or JavaScript module carries its own helper library"
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
    for (relative, template) in lang.files() {
        let text = match template {
            Template::Fill(text) => text
                .replace("{name}", name)
                .replace("{crate_name}", &name.replace('-', "_"))
                .replace("{sdk}", &sdk),
            Template::Carry(text) => (*text).to_owned(),
        };
        write(&root, relative, text.as_bytes())?;
    }
    if lang == Lang::Rust && sdk == CARRIED_SDK {
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

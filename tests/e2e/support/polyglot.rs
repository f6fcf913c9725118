//! Modules written in Python and JavaScript, built as their authors build them: in a
//! project laid out as `sluice module new --lang` writes one (the module's files, the
//! helper library and the contract's WIT side by side), with componentize-py and
//! componentize-js from the toolchains `.ci/test-deps` installs in `target/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Python,
    JavaScript,
}

pub const LANGS: [Lang; 2] = [Lang::Python, Lang::JavaScript];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The helper library's files, each from the workspace to where a project holds it.
fn helper_files(lang: Lang) -> &'static [(&'static str, &'static str)] {
    match lang {
        Lang::Python => &[
            (
                "guest-py/sluice_module/__init__.py",
                "sluice_module/__init__.py",
            ),
            (
                "guest-py/sluice_module/testing.py",
                "sluice_module/testing.py",
            ),
            ("wit/sluice.wit", "wit/sluice.wit"),
        ],
        Lang::JavaScript => &[
            ("guest-js/sluice.js", "sluice.js"),
            ("guest-js/testing.js", "testing.js"),
            ("wit/sluice.wit", "wit/sluice.wit"),
        ],
    }
}

/// A project in `dir` made of the files of the workspace folder `source` and the helper
/// library, as `sluice module new` would lay it out.
pub fn project_from(lang: Lang, source: &str, dir: &Path) {
    copy_tree(&workspace().join(source), dir);
    for (from, to) in helper_files(lang) {
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(workspace().join(from), to).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let skipped = ["bindings", "node_modules", "__pycache__", ".pytest_cache"];
        if skipped.iter().any(|skip| name == *skip) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

fn componentize_py() -> PathBuf {
    workspace().join("target/componentize-venv/bin/componentize-py")
}

/// A command run in the project `dir`, with the JavaScript toolchain's programs on `PATH`
/// (as `npm install` in the project would put them).
fn in_project(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    let tools = workspace().join("target/js-toolchain/node_modules/.bin");
    let path = std::env::var("PATH").unwrap_or_default();
    command
        .current_dir(dir)
        .env("PATH", format!("{}:{path}", tools.display()));
    command
}

fn succeeded(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what}: {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs the project's native tests (pytest, `npm test`) as its README says; their output.
pub fn native_tests(lang: Lang, dir: &Path) -> String {
    let output = match lang {
        Lang::Python => {
            let bindings = in_project(componentize_py(), dir)
                .args([
                    "-d",
                    "wit/sluice.wit",
                    "-w",
                    "formatter",
                    "bindings",
                    "bindings",
                ])
                .output()
                .unwrap();
            succeeded("componentize-py bindings", bindings);
            let python = workspace().join("target/componentize-venv/bin/python");
            in_project(python, dir)
                .args(["-m", "pytest", "-q"])
                .output()
        }
        Lang::JavaScript => in_project("npm", dir).args(["test"]).output(),
    };
    let output = succeeded("the native tests", output.unwrap());
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds the project's module as its README says; the `.wasm`'s path.
pub fn build(lang: Lang, dir: &Path, name: &str) -> PathBuf {
    let wasm = dir.join(format!("{name}.wasm"));
    let output = match lang {
        Lang::Python => in_project(componentize_py(), dir)
            .args([
                "-d",
                "wit/sluice.wit",
                "-w",
                "formatter",
                "componentize",
                "app",
                "-o",
            ])
            .arg(&wasm)
            .output(),
        // What the project's `npm run build` runs, with the output named here.
        Lang::JavaScript => in_project("componentize-js", dir)
            .args([
                "--wit",
                "wit",
                "--world-name",
                "formatter",
                "--disable",
                "http",
                "fetch-event",
                "-o",
            ])
            .arg(&wasm)
            .arg("app.js")
            .output(),
    };
    succeeded("the build", output.unwrap());
    wasm
}

/// The module of workspace folder `source` in `lang`, built once per test run.
pub fn built(lang: Lang, source: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<(Lang, String), PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap();
    let built = built.get_or_insert_with(|| {
        // Last run's projects, gone before this run's are made.
        let _ = std::fs::remove_dir_all(projects());
        HashMap::new()
    });
    built
        .entry((lang, source.to_owned()))
        .or_insert_with(|| {
            let dir = projects().join(format!("{lang:?}-{}", source.replace('/', "-")));
            project_from(lang, source, &dir);
            let wasm = build(lang, &dir, "module");
            compile_into_cache(&wasm, &dir);
            wasm
        })
        .clone()
}

/// Compiles `wasm` into the module cache the tests share (`sluice modules` loads it), so
/// that a test's timed run does not spend Cranelift's 10 s on each such module.
fn compile_into_cache(wasm: &Path, dir: &Path) {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    let config = dir.join("compile.toml");
    std::fs::write(
        &config,
        format!(
            "cache_dir = {:?}\n[[sources]]\ntype = \"stdin\"\n[[destinations]]\nname = \"compile\"\n\
             module = {:?}\nendpoint = \"http://127.0.0.1:9\"\n",
            cache.display().to_string(),
            wasm.display().to_string()
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["modules", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    succeeded("compiling into the module cache", output);
}

fn projects() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("polyglot")
}

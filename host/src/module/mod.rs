//! The module runtime: one wasmtime engine, modules compiled once (and cached on
//! disk), instantiated from a pre-linked `InstancePre`, and called under limits.
//!
//! Limits, per call: linear memory (`StoreLimits`), time (epoch deadline: a ticker
//! thread advances the engine's epoch, and a call past its deadline traps), and output
//! size (checked on the returned requests). A trap, a timeout, an oversized output or
//! an impossible answer (see [`sluice_contract::answer`]) fails that call only; the instance is then
//! discarded and the next call gets a fresh one, since a trapped store may hold broken
//! state.

mod bindings;
mod builtin;
mod cache;
mod clock;
mod contract;
mod convert;
mod event_text;
mod exports;
mod filtering;
mod instance;
mod limiter;
mod sandbox;
mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::Digest;
use sluice_contract::types::Info;

use crate::config::{Config as SluiceConfig, InsecureModulePaths, ModuleLimitsConfig};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

pub use bindings::CONTRACT_VERSION;
pub use contract::SERVED_VERSIONS;
pub use filtering::{FilterInstance, FilterModule};
pub use instance::{CallError, FormatterInstance, Setup};
pub use state::SigningKeys;
pub(crate) use state::one_line;

use exports::Pre;
use state::ModuleState;

/// How often the epoch advances; call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-call limits of every module instance.
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: usize,
    pub call_timeout: Duration,
    pub max_output_bytes: usize,
}

impl From<&ModuleLimitsConfig> for Limits {
    fn from(config: &ModuleLimitsConfig) -> Self {
        Limits {
            memory_bytes: config.module_memory_bytes,
            call_timeout: config.module_call_timeout,
            max_output_bytes: config.module_output_bytes,
        }
    }
}

impl Default for Limits {
    /// The defaults of `[limits]`.
    fn default() -> Self {
        Limits::from(&ModuleLimitsConfig::default())
    }
}

/// Where a module's bytes come from.
#[derive(Debug, Clone)]
pub enum ModuleSource {
    Builtin(&'static str),
    File(PathBuf),
}

impl ModuleSource {
    /// A built-in name, a `.wasm` in one of `dirs` (which override built-ins of the
    /// same name), or a path.
    pub fn resolve(name_or_path: &str, dirs: &[PathBuf]) -> Result<Self> {
        let looks_like_path = name_or_path.ends_with(".wasm") || name_or_path.contains('/');
        if !looks_like_path {
            if let Some(path) = dirs
                .iter()
                .map(|dir| dir.join(format!("{name_or_path}.wasm")))
                .find(|p| p.is_file())
            {
                return Ok(ModuleSource::File(path));
            }
            if let Some(name) = builtin::names().find(|name| *name == name_or_path) {
                return Ok(ModuleSource::Builtin(name));
            }
            let builtins: Vec<&str> = builtin::names().collect();
            anyhow::bail!(
                "no module named `{name_or_path}` in the modules directories, and no built-in (built-ins: {})",
                builtins.join(", ")
            );
        }
        let path = Path::new(name_or_path);
        anyhow::ensure!(
            path.is_file(),
            "module file {} does not exist",
            path.display()
        );
        Ok(ModuleSource::File(path.to_path_buf()))
    }

    /// The module's bytes; a file only when nobody but the running user (or root) could
    /// have written it or its directory, or with a warning when `insecure` allows.
    fn bytes(&self, insecure: InsecureModulePaths) -> Result<std::borrow::Cow<'static, [u8]>> {
        match self {
            ModuleSource::Builtin(name) => {
                Ok(builtin::find(name).expect("resolved built-in").into())
            }
            ModuleSource::File(path) => {
                check_trusted(path, insecure)?;
                Ok(std::fs::read(path)
                    .with_context(|| format!("reading module {}", path.display()))?
                    .into())
            }
        }
    }

    /// Says when a file takes the place of a built-in module, or calls itself by
    /// another name than its file's: either may be a mistake, or a module planted to
    /// pass for another.
    fn say_what_it_replaces(&self, info: &Info) {
        let ModuleSource::File(path) = self else {
            return;
        };
        let Some(stem) = path.file_stem().and_then(|stem| stem.to_str()) else {
            return;
        };
        if builtin::names().any(|name| name == stem) {
            tracing::warn!(module = %path.display(), "this file overrides the built-in module `{stem}`");
        }
        // Cargo names the file of module `my-siem` `my_siem.wasm`: that is its name too.
        if info.name != stem && info.name.replace('-', "_") != stem {
            tracing::warn!(module = %path.display(), "the module in this file calls itself `{}`; destinations name it by its file's name in modules_dirs (`{stem}`)", info.name);
        }
    }
}

/// Refuses (or, as `insecure` says, warns of) a module file that a user other than
/// the one running sluice or root owns or could replace: see
/// [`crate::ownership::check_module_file`].
fn check_trusted(path: &Path, insecure: InsecureModulePaths) -> Result<()> {
    match (crate::ownership::check_module_file(path).err(), insecure) {
        (None, _) => Ok(()),
        (Some(problem), InsecureModulePaths::Refuse) => anyhow::bail!(
            "{problem}: another user could replace the module (make it writable only by the user running sluice or root, or set `insecure_module_paths = \"warn\"`)"
        ),
        (Some(problem), InsecureModulePaths::Warn) => {
            tracing::warn!(module = %path.display(), "loading it although {problem} (insecure_module_paths = \"warn\")");
            Ok(())
        }
    }
}

impl std::fmt::Display for ModuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleSource::Builtin(name) => write!(f, "built-in module `{name}`"),
            ModuleSource::File(path) => write!(f, "module {}", path.display()),
        }
    }
}

/// The engine and linker every module shares.
pub struct Runtime {
    engine: Engine,
    linker: Linker<ModuleState>,
    cache: cache::ArtifactCache,
    limits: Limits,
    /// Whether module files others could write are refused.
    insecure_paths: InsecureModulePaths,
    ticker: Arc<EpochTicker>,
}

impl Runtime {
    /// The runtime a configuration asks for: its limits, cache and module path checks.
    pub fn configured(config: &SluiceConfig) -> Result<Self> {
        let mut runtime = Runtime::new(Limits::from(&config.limits), config.cache_dir())?;
        runtime.insecure_paths = config.insecure_module_paths;
        Ok(runtime)
    }

    /// A runtime with `limits`, compiled modules cached in `cache_dir` (when it can be
    /// trusted), module files others could write refused.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self> {
        let mut config = Config::new();
        // Epochs rather than fuel: a deadline check costs a load and a compare at loop
        // heads, fuel costs a counter update per basic block.
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        clock::shadow_monotonic_clock(&mut linker)?;
        bindings::Formatter::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )?;
        exports::v0_5::add_to_linker(&mut linker)?;
        exports::v0_4::add_to_linker(&mut linker)?;
        exports::v0_3::add_to_linker(&mut linker)?;

        Ok(Runtime {
            ticker: EpochTicker::start(&engine)?,
            engine,
            linker,
            cache: cache::ArtifactCache::new(cache_dir),
            limits,
            insecure_paths: InsecureModulePaths::Refuse,
        })
    }

    /// Compiles (or loads from cache), checks the contract version and pre-links a
    /// formatter module, then asks it to describe itself.
    pub fn load_formatter(&self, source: &ModuleSource) -> Result<Arc<FormatterModule>> {
        let load = || -> Result<Arc<FormatterModule>> {
            let bytes = source.bytes(self.insecure_paths)?;
            let component = self.compile(&bytes)?;
            let version = contract::check_formatter(&self.engine, &component)?;
            let pre = Pre::new(version, self.linker.instantiate_pre(&component)?)?;
            let mut module = FormatterModule {
                contract_version: version,
                digest: sha2::Sha256::digest(&bytes).into(),
                label: source.to_string().into(),
                pre,
                limits: self.limits.clone(),
                info: None,
                _ticker: self.ticker.clone(),
            };
            let info = module.instantiate(Setup::default())?.describe()?;
            source.say_what_it_replaces(&info);
            module.info = Some(info);
            Ok(Arc::new(module))
        };
        load().with_context(|| format!("loading {source}"))
    }
}

impl Runtime {
    /// The component of `bytes`, compiled or from the cache.
    fn compile(&self, bytes: &[u8]) -> Result<Component> {
        // wasmtime would say more, and less clearly (a text file is "unknown binary
        // version", with the bytes in hex).
        anyhow::ensure!(
            bytes.starts_with(b"\0asm"),
            "not a WebAssembly file (it does not start with the `\\0asm` magic bytes)"
        );
        self.cache.load(&self.engine, bytes)
    }
}

/// The first key of `settings` that is not one of `declared`, with why: ``{what}
/// `{name}` has no such setting (it accepts: a, b)``. Formatter and filter modules alike.
pub fn undeclared_setting<'a>(
    what: &str,
    name: &str,
    declared: &[&str],
    settings: &'a [(String, String)],
) -> Option<(&'a str, String)> {
    let (key, _) = settings
        .iter()
        .find(|(key, _)| !declared.contains(&key.as_str()))?;
    let accepted = match declared {
        [] => "none".to_owned(),
        _ => declared.join(", "),
    };
    Some((
        key,
        format!("{what} `{name}` has no such setting (it accepts: {accepted})"),
    ))
}

/// The thread that advances the engine's epoch, which is what ends a call past its
/// deadline. The runtime and every module loaded from it hold it: it stops when the
/// last of them is gone, never while a module can still run.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Result<Arc<Self>> {
        let stop = Arc::new(AtomicBool::new(false));
        let ticking_engine = engine.clone();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("sluice-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticking_engine.increment_epoch();
                }
            })?;
        Ok(Arc::new(EpochTicker { stop }))
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A compiled, checked formatter module, ready to instantiate.
pub struct FormatterModule {
    /// The SHA-256 of its bytes: a reload of the same file changes nothing.
    digest: [u8; 32],
    label: Arc<str>,
    /// The contract version it implements, one of [`SERVED_VERSIONS`].
    contract_version: &'static str,
    pre: Pre,
    limits: Limits,
    info: Option<Info>,
    /// Keeps the time limit of its calls running, whatever became of the runtime.
    _ticker: Arc<EpochTicker>,
}

impl FormatterModule {
    /// Whether `other` was loaded from the same bytes.
    pub fn same_bytes(&self, other: &FormatterModule) -> bool {
        self.digest == other.digest
    }

    /// The SHA-256 of its bytes, hex: what an operator compares with what they shipped.
    pub fn sha256(&self) -> String {
        hex::encode(self.digest)
    }

    /// The contract version it implements.
    pub fn contract_version(&self) -> &'static str {
        self.contract_version
    }

    /// Where the module came from, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// What the module said of itself when loaded.
    pub fn info(&self) -> &Info {
        self.info.as_ref().expect("described at load")
    }

    /// Finds the first key of `settings` the module does not declare, and says which
    /// keys it accepts: `module `splunk-hec` has no such setting (it accepts: index, ...)`.
    pub fn unknown_setting<'a>(
        &self,
        settings: &'a [(String, String)],
    ) -> Option<(&'a str, String)> {
        let info = self.info();
        let declared: Vec<&str> = info.settings.iter().map(|doc| doc.name.as_str()).collect();
        undeclared_setting("module", &info.name, &declared, settings)
    }

    /// A new instance with its own store, configured with `setup` before its first
    /// `format`.
    pub fn instantiate(&self, setup: Setup) -> Result<FormatterInstance, CallError> {
        // None while the module is being described at load: that call sends nothing.
        let credential_header = self
            .info
            .as_ref()
            .and_then(|info| info.auth.as_ref())
            .map(|auth| auth.name.clone());
        FormatterInstance::new(
            self.label.clone(),
            credential_header,
            &self.pre,
            &self.limits,
            setup,
        )
    }
}

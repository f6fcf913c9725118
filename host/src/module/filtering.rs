//! Filter modules (the contract's `filter` world): loaded, checked and limited as
//! formatters are, asked which events of each batch their destination is sent. Filters
//! came with contract 0.4.0; the `filter` world has not changed since, but its types
//! belong to a versioned package, so the filters of each older version have bindings of
//! their own (`v0_5`, `v0_4`), dispatched here as formatters' are in `exports/`.

use std::sync::Arc;

use anyhow::{Context, Result};
use sha2::Digest;
use wasmtime::Store;
use wasmtime::component::{Component, Resource};

use super::sandbox::{Instantiate, Sandbox};
use super::state::ModuleState;
use super::{CONTRACT_VERSION, CallError, EpochTicker, Limits, ModuleSource, Runtime, contract};
use crate::event::Events;
use sluice_contract::answer;

mod bindings {
    #![allow(missing_docs, clippy::all, reason = "generated bindings")]
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "filter",
        with: {
            "sluice:module/types": crate::module::bindings::types,
            "sluice:module/host": crate::module::bindings::sluice::module::host,
        },
    });
}

mod v0_5 {
    #![allow(missing_docs, clippy::all, reason = "generated bindings")]
    wasmtime::component::bindgen!({
        path: "../wit/previous/0.5.0",
        world: "filter",
        with: {
            "sluice:module/types": crate::module::exports::v0_5::bindings::sluice::module::types,
            "sluice:module/host": crate::module::exports::v0_5::bindings::sluice::module::host,
        },
    });
}

mod v0_4 {
    #![allow(missing_docs, clippy::all, reason = "generated bindings")]
    wasmtime::component::bindgen!({
        path: "../wit/previous/0.4.0",
        world: "filter",
        with: {
            "sluice:module/types": crate::module::exports::v0_4::bindings::sluice::module::types,
            "sluice:module/host": crate::module::exports::v0_4::bindings::sluice::module::host,
        },
    });
}

/// A filter module pre-linked for the contract version it implements.
#[derive(Clone)]
enum FilterPre {
    Current(bindings::FilterPre<ModuleState>),
    V0_5(v0_5::FilterPre<ModuleState>),
    V0_4(v0_4::FilterPre<ModuleState>),
}

/// A filter instance's exports, as the bindings of its version call them.
enum Filter {
    Current(bindings::Filter),
    V0_5(v0_5::Filter),
    V0_4(v0_4::Filter),
}

impl Instantiate for FilterPre {
    type Exports = Filter;

    fn engine(&self) -> &wasmtime::Engine {
        match self {
            FilterPre::Current(pre) => pre.engine(),
            FilterPre::V0_5(pre) => pre.engine(),
            FilterPre::V0_4(pre) => pre.engine(),
        }
    }

    fn instantiate(&self, store: &mut Store<ModuleState>) -> wasmtime::Result<Filter> {
        Ok(match self {
            FilterPre::Current(pre) => Filter::Current(pre.instantiate(store)?),
            FilterPre::V0_5(pre) => Filter::V0_5(pre.instantiate(store)?),
            FilterPre::V0_4(pre) => Filter::V0_4(pre.instantiate(store)?),
        })
    }
}

/// Runs `$body` with `$exports` the filtering interface of `$filter` and `$convert` the
/// conversions of its version: the calls are written once for every version.
macro_rules! with_version {
    ($filter:expr, |$exports:ident $(, $convert:ident)?| $body:expr) => {
        match $filter {
            Filter::Current(filter) => {
                $(use super::convert::current as $convert;)?
                let $exports = filter.sluice_module_filtering();
                $body
            }
            Filter::V0_5(filter) => {
                $(use super::exports::v0_5::convert as $convert;)?
                let $exports = filter.sluice_module_filtering();
                $body
            }
            Filter::V0_4(filter) => {
                $(use super::exports::v0_4::convert as $convert;)?
                let $exports = filter.sluice_module_filtering();
                $body
            }
        }
    };
}

/// What a filter module says of itself.
#[derive(Debug, Clone)]
pub struct FilterInfo {
    pub name: String,
    pub version: String,
    /// The settings it accepts, by name.
    pub settings: Vec<String>,
}

/// A compiled, checked filter module, ready to instantiate.
pub struct FilterModule {
    digest: [u8; 32],
    label: Arc<str>,
    pre: FilterPre,
    limits: Limits,
    info: FilterInfo,
    _ticker: Arc<EpochTicker>,
}

impl Runtime {
    /// Compiles (or loads from cache), checks the contract version and pre-links a
    /// filter module, then asks it to describe itself.
    pub fn load_filter(&self, source: &ModuleSource) -> Result<Arc<FilterModule>> {
        let load = || -> Result<Arc<FilterModule>> {
            let bytes = source.bytes(self.insecure_paths)?;
            let component: Component = self.compile(&bytes)?;
            let instance_pre = self.linker.instantiate_pre(&component)?;
            let pre = match contract::check_filter(&self.engine, &component)? {
                super::exports::v0_5::VERSION => {
                    FilterPre::V0_5(v0_5::FilterPre::new(instance_pre)?)
                }
                super::exports::v0_4::VERSION => {
                    FilterPre::V0_4(v0_4::FilterPre::new(instance_pre)?)
                }
                _ => FilterPre::Current(bindings::FilterPre::new(instance_pre)?),
            };
            let label: Arc<str> = source.to_string().into();
            let mut sandbox = Sandbox::new(label.clone(), &pre, &self.limits, Arc::default())?;
            let described = sandbox.call(|store, filter| {
                with_version!(filter, |exports| {
                    let described = exports.call_describe(store)?;
                    Ok(FilterInfo {
                        name: described.name,
                        version: described.version,
                        settings: described.settings.into_iter().map(|doc| doc.name).collect(),
                    })
                })
            })?;
            answer::check_identity(&described.name, &described.version)
                .map_err(|problem| sandbox.invalid_answer(problem))?;
            Ok(Arc::new(FilterModule {
                digest: sha2::Sha256::digest(&bytes).into(),
                label,
                pre,
                limits: self.limits.clone(),
                info: described,
                _ticker: self.ticker.clone(),
            }))
        };
        load().with_context(|| format!("loading filter {source}"))
    }
}

impl FilterModule {
    pub fn info(&self) -> &FilterInfo {
        &self.info
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The contract version the module implements.
    pub fn contract_version(&self) -> &'static str {
        match self.pre {
            FilterPre::Current(_) => CONTRACT_VERSION,
            FilterPre::V0_5(_) => super::exports::v0_5::VERSION,
            FilterPre::V0_4(_) => super::exports::v0_4::VERSION,
        }
    }

    /// The SHA-256 of its bytes, hex.
    pub fn sha256(&self) -> String {
        hex::encode(self.digest)
    }

    /// Whether `other` was loaded from the same bytes.
    pub fn same_bytes(&self, other: &FilterModule) -> bool {
        self.digest == other.digest
    }

    /// A new instance, configured with `settings` before its first `keep`.
    pub fn instantiate(
        &self,
        settings: Vec<(String, String)>,
    ) -> Result<FilterInstance, CallError> {
        Ok(FilterInstance {
            sandbox: Sandbox::new(self.label.clone(), &self.pre, &self.limits, Arc::default())?,
            settings,
        })
    }
}

/// A filter module's instance; calls run on the caller's thread.
pub struct FilterInstance {
    sandbox: Sandbox<FilterPre>,
    settings: Vec<(String, String)>,
}

impl FilterInstance {
    /// Runs the module's `configure` unless it ran on this instance already.
    pub fn configure(&mut self) -> Result<(), CallError> {
        if self.sandbox.configured()? {
            return Ok(());
        }
        let settings = self.settings.clone();
        let answer = self.sandbox.call(|store, filter| {
            with_version!(filter, |exports| {
                let answer = exports.call_configure(store, &settings)?;
                Ok(answer.map_err(sluice_contract::types::FormatError::from))
            })
        })?;
        answer.map_err(|error| CallError::Configure {
            module: self.sandbox.label.clone(),
            error,
        })?;
        self.sandbox.set_configured();
        Ok(())
    }

    /// Which of `events` to keep: one flag per event, or the call failed (a trap, its
    /// time or memory limit, a wrong number of flags).
    pub fn keep(&mut self, events: &Arc<Events>) -> Result<Vec<bool>, CallError> {
        self.configure()?;
        let flags = self.sandbox.call(|store, filter| {
            let text = store.data_mut().lend(events.clone())?;
            let borrowed = Resource::new_borrow(text.rep());
            let flags = with_version!(filter, |exports, convert| {
                let mut batch = convert::empty_batch();
                convert::fill_batch(&mut batch, &events.columns);
                exports.call_keep(&mut *store, &batch, borrowed)
            });
            store.data_mut().take_back(text)?;
            flags
        })?;
        if flags.len() != events.len() {
            self.sandbox.discard();
            return Err(self.sandbox.invalid_answer(format!(
                "{} flags for a batch of {} events",
                flags.len(),
                events.len()
            )));
        }
        Ok(flags)
    }
}

//! Filter modules (the contract's `filter` world): loaded, checked and limited as
//! formatters are, asked which events of each batch their destination is sent.

use std::sync::Arc;

use anyhow::{Context, Result};
use sha2::Digest;
use wasmtime::Store;
use wasmtime::component::{Component, Resource};

use super::sandbox::{Instantiate, Sandbox};
use super::state::ModuleState;
use super::{CallError, EpochTicker, Limits, ModuleSource, Runtime, contract};
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

use bindings::{Filter, FilterPre};

impl Instantiate for FilterPre<ModuleState> {
    type Exports = Filter;

    fn engine(&self) -> &wasmtime::Engine {
        FilterPre::engine(self)
    }

    fn instantiate(&self, store: &mut Store<ModuleState>) -> wasmtime::Result<Filter> {
        FilterPre::instantiate(self, store)
    }
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
    pre: FilterPre<ModuleState>,
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
            contract::check_filter(&self.engine, &component)?;
            let pre = FilterPre::new(self.linker.instantiate_pre(&component)?)?;
            let label: Arc<str> = source.to_string().into();
            let mut sandbox = Sandbox::new(label.clone(), &pre, &self.limits, Arc::default())?;
            let described = sandbox
                .call(|store, filter| filter.sluice_module_filtering().call_describe(store))?;
            answer::check_identity(&described.name, &described.version)
                .map_err(|problem| sandbox.invalid_answer(problem))?;
            Ok(Arc::new(FilterModule {
                digest: sha2::Sha256::digest(&bytes).into(),
                label,
                pre,
                limits: self.limits.clone(),
                info: FilterInfo {
                    name: described.name,
                    version: described.version,
                    settings: described.settings.into_iter().map(|doc| doc.name).collect(),
                },
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
    sandbox: Sandbox<FilterPre<ModuleState>>,
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
            filter
                .sluice_module_filtering()
                .call_configure(store, &settings)
        })?;
        answer.map_err(|error| CallError::Configure {
            module: self.sandbox.label.clone(),
            error: error.into(),
        })?;
        self.sandbox.set_configured();
        Ok(())
    }

    /// Which of `events` to keep: one flag per event, or the call failed (a trap, its
    /// time or memory limit, a wrong number of flags).
    pub fn keep(&mut self, events: &Arc<Events>) -> Result<Vec<bool>, CallError> {
        self.configure()?;
        let mut batch = super::convert::current::empty_batch();
        super::convert::current::fill_batch(&mut batch, &events.columns);
        let flags = self.sandbox.call(|store, filter| {
            let text = store.data_mut().lend(events.clone())?;
            let borrowed = Resource::new_borrow(text.rep());
            let flags = filter
                .sluice_module_filtering()
                .call_keep(&mut *store, &batch, borrowed);
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

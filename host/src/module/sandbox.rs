//! A module instance in a store of its own, called under the runtime's limits: memory
//! (`StoreLimits`), time (an epoch deadline per call) and a fresh instance after any
//! failed call, since a trapped store may hold broken state. Formatter and filter
//! instances are each one of these with their own exports.

use std::sync::Arc;

use wasmtime::{Engine, Store, StoreLimitsBuilder, Trap};

use super::state::{ModuleState, SigningKeys, one_line};
use super::{CallError, EPOCH_TICK, Limits};

/// A pre-linked module of some world: what makes its instances.
pub(super) trait Instantiate: Clone {
    /// The instance's exports, as its bindings call them.
    type Exports: Send;

    fn engine(&self) -> &Engine;

    fn instantiate(&self, store: &mut Store<ModuleState>) -> wasmtime::Result<Self::Exports>;
}

/// A live instance: its store, its exports, and whether `configure` has run.
struct Live<X> {
    store: Store<ModuleState>,
    exports: X,
    configured: bool,
}

pub(super) struct Sandbox<P: Instantiate> {
    pub label: Arc<str>,
    pub limits: Limits,
    pre: P,
    /// The secrets its `sign` may use.
    keys: SigningKeys,
    live: Option<Live<P::Exports>>,
}

impl<P: Instantiate> Sandbox<P> {
    /// Instantiates the module at once: a module that cannot be is refused early.
    pub fn new(
        label: Arc<str>,
        pre: &P,
        limits: &Limits,
        keys: SigningKeys,
    ) -> Result<Self, CallError> {
        let mut sandbox = Sandbox {
            label,
            limits: limits.clone(),
            pre: pre.clone(),
            keys,
            live: None,
        };
        sandbox.live()?;
        Ok(sandbox)
    }

    /// The live instance, instantiating anew after a failed call.
    fn live(&mut self) -> Result<&mut Live<P::Exports>, CallError> {
        if self.live.is_none() {
            let limits = StoreLimitsBuilder::new()
                .memory_size(self.limits.memory_bytes)
                .instances(8)
                .build();
            let state = ModuleState::new(self.label.clone(), limits, self.keys.clone());
            let mut store = Store::new(self.pre.engine(), state);
            store.limiter(|state| &mut state.limits);
            store.set_epoch_deadline(self.deadline_ticks());
            let exports = self
                .pre
                .instantiate(&mut store)
                .map_err(|e| CallError::Instantiate {
                    module: self.label.clone(),
                    message: format!("{e:#}"),
                })?;
            self.live = Some(Live {
                store,
                exports,
                configured: false,
            });
        }
        Ok(self.live.as_mut().expect("just set"))
    }

    /// Whether `configure` ran on the live instance (a new one after a failed call).
    pub fn configured(&mut self) -> Result<bool, CallError> {
        Ok(self.live()?.configured)
    }

    pub fn set_configured(&mut self) {
        if let Some(live) = &mut self.live {
            live.configured = true;
        }
    }

    /// Drops the instance: its answer broke the contract, so its state is suspect.
    pub fn discard(&mut self) {
        self.live = None;
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// Runs `call` with a fresh deadline; any error discards the instance.
    pub fn call<R>(
        &mut self,
        call: impl FnOnce(&mut Store<ModuleState>, &mut P::Exports) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let ticks = self.deadline_ticks();
        let Live { store, exports, .. } = self.live()?;
        store.set_epoch_deadline(ticks);
        store.data_mut().start_call();
        let result = call(store, exports);
        store.data_mut().end_call();
        result.map_err(|error| {
            self.live = None;
            if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                CallError::Timeout {
                    module: self.label.clone(),
                    limit: self.limits.call_timeout,
                }
            } else {
                CallError::Trap {
                    module: self.label.clone(),
                    message: one_line(&format!("{error:#}")),
                }
            }
        })
    }

    pub fn invalid_answer(&self, problem: String) -> CallError {
        CallError::InvalidAnswer {
            module: self.label.clone(),
            problem,
        }
    }
}

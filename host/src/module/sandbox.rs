//! A module instance in a store of its own, called under the runtime's limits: memory
//! (`StoreLimits`), time (an epoch deadline per call) and a fresh instance after any
//! failed call, since a trapped store may hold broken state. Formatter and filter
//! instances are each one of these with their own exports.

use std::sync::Arc;

use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};

use super::limiter::Limiter;
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

/// Most elements of one table. A module's tables hold its function references (a few
/// thousand for a large module); the host keeps each element, so without a bound a
/// module could make it allocate gigabytes (`table.grow`, or a huge initial size)
/// outside its memory limit.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Most core instances, tables and memories of one module instance: a Rust component
/// has one main module and a few shims; a Python one (componentize-py) links CPython and
/// its libraries as 14 core modules; a JavaScript one (componentize-js) has 4. A module
/// may not multiply what it is bounded by beyond that.
const MAX_INSTANCES: usize = 32;
const MAX_TABLES: usize = 8;
const MAX_MEMORIES: usize = 2;

/// What an answer may make the host hold besides its payload bytes: the requests,
/// pieces, headers and refusals around them (well under 1 MiB for a batch of 1,000).
const ANSWER_STRUCTURE_BYTES: usize = 16 << 20;

/// Most bytes the host allocates to take in one answer of a module (or the arguments of
/// one of its calls to the host), counted by wasmtime as it copies them out of the
/// sandbox ("hostcall fuel"): past it the call fails before any more is copied. Without
/// it, a hundred refusals whose reasons all point at one string of a MiB in the
/// module's memory were each copied (wasmtime's own bound is 128 MiB a call) before the
/// output limit was checked.
fn answer_bytes(limits: &Limits) -> usize {
    limits
        .max_output_bytes
        .saturating_add(ANSWER_STRUCTURE_BYTES)
}

/// The bounds of one module instance's store: `limits.memory_bytes` per linear memory,
/// and the counts above.
fn store_limits(limits: &Limits) -> StoreLimits {
    StoreLimitsBuilder::new()
        .memory_size(limits.memory_bytes)
        .table_elements(MAX_TABLE_ELEMENTS)
        .instances(MAX_INSTANCES)
        .tables(MAX_TABLES)
        .memories(MAX_MEMORIES)
        .build()
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
            let limits = Limiter::new(store_limits(&self.limits));
            let state = ModuleState::new(self.label.clone(), limits, self.keys.clone());
            let mut store = Store::new(self.pre.engine(), state);
            store.limiter(|state| &mut state.limits);
            store.set_hostcall_fuel(answer_bytes(&self.limits));
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

    /// Runs `call` with a fresh deadline; any error discards the instance, and so does a
    /// memory grown past half its limit (see [`super::limiter`]).
    pub fn call<R>(
        &mut self,
        call: impl FnOnce(&mut Store<ModuleState>, &mut P::Exports) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let ticks = self.deadline_ticks();
        let limit = self.limits.call_timeout;
        let Live { store, exports, .. } = self.live()?;
        store.set_epoch_deadline(ticks);
        store.data_mut().start_call(limit);
        let result = call(store, exports);
        store.data_mut().end_call();
        let grown_to = store.data().limits.memory_bytes();
        if result.is_ok() && grown_to > self.limits.memory_bytes / 2 {
            tracing::debug!(module = %self.label, grown_to, "module instance renewed: its memory grew past half its limit");
            self.live = None;
        }
        result.map_err(|error| {
            self.live = None;
            if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                CallError::Timeout {
                    module: self.label.clone(),
                    limit: self.limits.call_timeout,
                }
            } else {
                // The backtrace only at debug: the trap says what happened, and a module
                // built with the SDK has logged its panic's message and place.
                tracing::debug!(module = %self.label, error = %one_line(&format!("{error:?}")), "module call failed");
                let message = match error.downcast_ref::<Trap>() {
                    Some(trap) => trap.to_string(),
                    None => format!("{error:#}"),
                };
                CallError::Trap {
                    module: self.label.clone(),
                    message: one_line(&message),
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

#[cfg(test)]
mod tests {
    use wasmtime::{Instance, Module};

    use super::*;

    /// A core module (in the binary format: the engine has no text parser) whose table
    /// starts with `initial` elements and exports `grow`, which adds `by` more.
    fn table_module(initial: u32, by: u32) -> Vec<u8> {
        let leb = |mut n: u32| {
            let mut out = Vec::new();
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    return out;
                }
                out.push(byte | 0x80);
            }
        };
        let section = |id: u8, body: Vec<u8>| {
            let mut out = vec![id];
            out.extend(leb(body.len() as u32));
            out.extend(body);
            out
        };
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        // type 0: [] -> [i32]
        module.extend(section(1, vec![1, 0x60, 0, 1, 0x7f]));
        module.extend(section(3, vec![1, 0]));
        // a funcref table of `initial` elements, no maximum
        let mut table = vec![1, 0x70, 0];
        table.extend(leb(initial));
        module.extend(section(4, table));
        module.extend(section(
            7,
            [vec![1, 4], b"grow".to_vec(), vec![0, 0]].concat(),
        ));
        // table.grow 0 (ref.null func) (i32.const by)
        let mut body = vec![0, 0xd0, 0x70, 0x41];
        body.extend(leb_signed(by));
        body.extend([0xfc, 15, 0, 0x0b]);
        let mut code = vec![1];
        code.extend(leb(body.len() as u32));
        code.extend(body);
        module.extend(section(10, code));
        module
    }

    fn leb_signed(n: u32) -> Vec<u8> {
        let mut n = i64::from(n);
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            let done = (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0);
            out.push(if done { byte } else { byte | 0x80 });
            if done {
                return out;
            }
        }
    }

    fn limited_store(engine: &Engine) -> Store<StoreLimits> {
        let mut store = Store::new(engine, store_limits(&Limits::default()));
        store.limiter(|limits| limits);
        store
    }

    #[test]
    fn a_table_cannot_grow_past_its_bound() {
        let engine = Engine::default();
        let module = Module::new(&engine, table_module(10, 1_000)).unwrap();
        let mut store = limited_store(&engine);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let grow = instance
            .get_typed_func::<(), i32>(&mut store, "grow")
            .unwrap();
        assert_eq!(
            grow.call(&mut store, ()).unwrap(),
            10,
            "a small growth works"
        );

        let module = Module::new(&engine, table_module(10, 50_000_000)).unwrap();
        let mut store = limited_store(&engine);
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let grow = instance
            .get_typed_func::<(), i32>(&mut store, "grow")
            .unwrap();
        assert_eq!(grow.call(&mut store, ()).unwrap(), -1, "refused");
    }

    #[test]
    fn a_table_cannot_start_past_its_bound() {
        let engine = Engine::default();
        let module = Module::new(&engine, table_module(50_000_000, 0)).unwrap();
        let error = Instance::new(&mut limited_store(&engine), &module, &[]).unwrap_err();
        assert!(format!("{error:#}").contains("table"), "{error:#}");
    }
}

//! One instance of a formatter module, called under the runtime's limits.

use std::sync::Arc;

use wasmtime::{Store, StoreLimitsBuilder, Trap};

use super::bindings::types::{
    FormatError, Formatted, HttpResponse, Info, Request, SentRequest, Verdict,
};
use super::bindings::{Formatter, FormatterPre};
use super::state::{ModuleState, SigningKeys};
use super::{EPOCH_TICK, Limits};

/// Why a call into a module failed. The module's own `format-error` is not here: it is
/// an answer, not a failure of the call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{module} ran past its time limit of {limit:?}")]
    Timeout {
        module: Arc<str>,
        limit: std::time::Duration,
    },
    #[error("{module} trapped: {message}")]
    Trap { module: Arc<str>, message: String },
    #[error("{module} returned {bytes} bytes of requests, over the limit of {limit}")]
    OutputTooLarge {
        module: Arc<str>,
        bytes: usize,
        limit: usize,
    },
    #[error("{module} could not be instantiated: {message}")]
    Instantiate { module: Arc<str>, message: String },
}

/// A module instance with its own store. Calls run synchronously on the caller's
/// thread; callers on an async runtime use `spawn_blocking`.
pub struct FormatterInstance {
    label: Arc<str>,
    pre: FormatterPre<ModuleState>,
    limits: Limits,
    keys: SigningKeys,
    live: Option<(Store<ModuleState>, Formatter)>,
}

impl FormatterInstance {
    pub(super) fn new(
        label: Arc<str>,
        pre: &FormatterPre<ModuleState>,
        limits: &Limits,
        keys: SigningKeys,
    ) -> anyhow::Result<Self> {
        let mut instance = FormatterInstance {
            label,
            pre: pre.clone(),
            limits: limits.clone(),
            keys,
            live: None,
        };
        instance.live()?;
        Ok(instance)
    }

    /// The live store and bindings, instantiating anew after a failed call.
    fn live(&mut self) -> Result<&mut (Store<ModuleState>, Formatter), CallError> {
        if self.live.is_none() {
            let limits = StoreLimitsBuilder::new()
                .memory_size(self.limits.memory_bytes)
                .instances(8)
                .build();
            let state = ModuleState::new(self.label.clone(), limits, self.keys.clone());
            let mut store = Store::new(self.pre.engine(), state);
            store.limiter(|state| &mut state.limits);
            store.set_epoch_deadline(self.deadline_ticks());
            let bindings =
                self.pre
                    .instantiate(&mut store)
                    .map_err(|e| CallError::Instantiate {
                        module: self.label.clone(),
                        message: format!("{e:#}"),
                    })?;
            self.live = Some((store, bindings));
        }
        Ok(self.live.as_mut().expect("just set"))
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// Runs `call` with a fresh deadline; any error discards the instance.
    fn call<R>(
        &mut self,
        call: impl FnOnce(&mut Store<ModuleState>, &Formatter) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let ticks = self.deadline_ticks();
        let (store, bindings) = self.live()?;
        store.set_epoch_deadline(ticks);
        let result = call(store, bindings);
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
                    message: format!("{error:#}"),
                }
            }
        })
    }

    pub fn describe(&mut self) -> Result<Info, CallError> {
        self.call(|store, bindings| bindings.sluice_module_formatting().call_describe(store))
    }

    pub fn format(
        &mut self,
        batch: &super::types::Batch,
        settings: &Vec<(String, String)>,
    ) -> Result<Result<Formatted, FormatError>, CallError> {
        let result = self.call(|store, bindings| {
            bindings
                .sluice_module_formatting()
                .call_format(store, batch, settings)
        })?;
        if let Ok(formatted) = &result {
            let bytes = output_bytes(&formatted.requests);
            if bytes > self.limits.max_output_bytes {
                return Err(CallError::OutputTooLarge {
                    module: self.label.clone(),
                    bytes,
                    limit: self.limits.max_output_bytes,
                });
            }
        }
        Ok(result)
    }

    pub fn classify(
        &mut self,
        response: &HttpResponse,
        request: &SentRequest,
    ) -> Result<Verdict, CallError> {
        self.call(|store, bindings| {
            bindings
                .sluice_module_formatting()
                .call_classify(store, response, request)
        })
    }
}

fn output_bytes(requests: &[Request]) -> usize {
    requests
        .iter()
        .map(|request| match request {
            Request::Http(http) => {
                http.body.len()
                    + http
                        .headers
                        .iter()
                        .map(|(k, v)| k.len() + v.len())
                        .sum::<usize>()
            }
            Request::Messages(framed) => framed.messages.iter().map(Vec::len).sum(),
        })
        .sum()
}

//! One instance of a formatter module, called under the runtime's limits.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Resource;

use sluice_contract::types::{
    AckState, ConnectionCheck, Enrichment, FormatError, Formatted, HttpResponse, Info, Query,
    SentRequest, Verdict,
};

use super::Limits;
use super::exports::{Exports, Pre};
use super::sandbox::{Instantiate, Sandbox};
use super::state::{ModuleState, SigningKeys};
use crate::event::Events;
use sluice_contract::answer;

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
    #[error("{module} returned an impossible answer: {problem}")]
    InvalidAnswer { module: Arc<str>, problem: String },
    #[error("{module} could not be instantiated: {message}")]
    Instantiate { module: Arc<str>, message: String },
    #[error("{}", configure_message(module, error))]
    Configure {
        module: Arc<str>,
        error: FormatError,
    },
}

fn configure_message(module: &str, error: &FormatError) -> String {
    match error {
        FormatError::InvalidSetting(problem) => problem.to_string(),
        FormatError::Failed(reason) => format!("{module} refused its configuration: {reason}"),
    }
}

/// What an instance is configured with for its whole life. The default (no settings,
/// an empty enrichment, no keys) is enough to describe a module.
#[derive(Clone, Default)]
pub struct Setup {
    /// The destination's settings, passed to the module's `configure`.
    pub settings: Vec<(String, String)>,
    pub enrichment: Enrichment,
    /// The secrets its `sign` may use.
    pub keys: SigningKeys,
}

/// A formatter module's instance. Calls run synchronously on the caller's thread;
/// callers on an async runtime use `spawn_blocking`.
pub struct FormatterInstance {
    sandbox: Sandbox<Pre>,
    /// The header the host sends the destination's credential in (the module's `auth`):
    /// a module's own header of that name fails its call.
    credential_header: Option<String>,
    setup: Setup,
}

impl Instantiate for Pre {
    type Exports = Box<dyn Exports>;

    fn engine(&self) -> &wasmtime::Engine {
        Pre::engine(self)
    }

    fn instantiate(&self, store: &mut Store<ModuleState>) -> wasmtime::Result<Self::Exports> {
        Pre::instantiate(self, store)
    }
}

impl FormatterInstance {
    /// Instantiates the module; `configure` runs before the first `format` or
    /// `classify`, so an instance that only describes the module needs no settings.
    pub(super) fn new(
        label: Arc<str>,
        credential_header: Option<String>,
        pre: &Pre,
        limits: &Limits,
        setup: Setup,
    ) -> Result<Self, CallError> {
        Ok(FormatterInstance {
            sandbox: Sandbox::new(label, pre, limits, setup.keys.clone())?,
            credential_header,
            setup,
        })
    }

    /// Runs the module's `configure` unless it ran on this instance already.
    pub fn configure(&mut self) -> Result<(), CallError> {
        if self.sandbox.configured()? {
            return Ok(());
        }
        let Setup {
            settings,
            enrichment,
            ..
        } = self.setup.clone();
        let answer = self
            .sandbox
            .call(|store, exports| exports.configure(store, &settings, enrichment))?;
        answer.map_err(|error| CallError::Configure {
            module: self.sandbox.label.clone(),
            error,
        })?;
        self.sandbox.set_configured();
        Ok(())
    }

    /// What the module says it is; its name and version are checked, since the host
    /// logs and lists them ([`answer::check_identity`]).
    pub fn describe(&mut self) -> Result<Info, CallError> {
        let info = self
            .sandbox
            .call(|store, exports| exports.describe(store))?;
        answer::check_identity(&info.name, &info.version)
            .map_err(|problem| self.sandbox.invalid_answer(problem))?;
        Ok(info)
    }

    /// Formats `events`, lent to the module by handle for the call. The answer is checked
    /// against the batch ([`answer::check`]), and its size against the output limit.
    pub fn format(
        &mut self,
        events: &Arc<Events>,
    ) -> Result<Result<Formatted, FormatError>, CallError> {
        self.configure()?;
        let result = self.sandbox.call(|store, exports| {
            let text = store.data_mut().lend(events.clone())?;
            let borrowed = Resource::new_borrow(text.rep());
            let result = exports.format(&mut *store, &events.columns, borrowed);
            store.data_mut().take_back(text)?;
            result
        })?;
        if let Ok(formatted) = &result {
            let bytes = answer::check(
                formatted,
                events.len(),
                events.text.len(),
                self.credential_header.as_deref(),
            )
            .map_err(|problem| {
                self.sandbox.discard();
                self.sandbox.invalid_answer(problem)
            })?;
            if bytes > self.sandbox.limits.max_output_bytes {
                self.sandbox.discard();
                return Err(CallError::OutputTooLarge {
                    module: self.sandbox.label.clone(),
                    bytes,
                    limit: self.sandbox.limits.max_output_bytes,
                });
            }
        }
        Ok(result)
    }

    /// Classifies the response to `request`; a `partial` verdict is checked against the
    /// request's events ([`answer::check_verdict`]).
    pub fn classify(
        &mut self,
        response: HttpResponse,
        request: &SentRequest,
    ) -> Result<Verdict, CallError> {
        self.configure()?;
        let event_count = request.event_count;
        let request = request.clone();
        let verdict = self
            .sandbox
            .call(|store, exports| exports.classify(store, response, request))?;
        answer::check_verdict(&verdict, event_count)
            .map_err(|problem| self.sandbox.invalid_answer(problem))?;
        Ok(verdict)
    }

    /// The module's request to test the connection, checked as any request it makes.
    pub fn connection_check(&mut self) -> Result<Option<ConnectionCheck>, CallError> {
        self.configure()?;
        let Some(check) = self
            .sandbox
            .call(|store, exports| exports.check_connection(store))?
        else {
            return Ok(None);
        };
        answer::check_query(&check.query, self.credential_header.as_deref())
            .map_err(|problem| self.sandbox.invalid_answer(problem))?;
        Ok(Some(check))
    }

    /// The module's request asking about `tickets` of its `pending` verdicts, checked as
    /// any request it makes; none from a module without acknowledgements.
    pub fn ack_query(&mut self, tickets: &[String]) -> Result<Option<Query>, CallError> {
        self.configure()?;
        let Some(query) = self
            .sandbox
            .call(|store, exports| exports.ack_query(store, tickets))?
        else {
            return Ok(None);
        };
        answer::check_query(&query, self.credential_header.as_deref())
            .map_err(|problem| self.sandbox.invalid_answer(problem))?;
        Ok(Some(query))
    }

    /// Reads the answer to an `ack_query` about `tickets`: one state per ticket, or why
    /// the answer says nothing of them.
    pub fn read_acks(
        &mut self,
        response: HttpResponse,
        tickets: &[String],
    ) -> Result<Result<Vec<AckState>, String>, CallError> {
        self.configure()?;
        let answer = self
            .sandbox
            .call(|store, exports| exports.read_acks(store, response, tickets))?;
        let states = match answer {
            Ok(states) => states,
            Err(reason) => return Ok(Err(reason)),
        };
        answer::check_ack_states(&states, tickets.len())
            .map_err(|problem| self.sandbox.invalid_answer(problem))?;
        Ok(Ok(states))
    }
}

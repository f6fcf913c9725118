//! The exports of a module of the latest contract version, in the host's types.

use wasmtime::Store;
use wasmtime::component::Resource;

use sluice_contract::types::{
    AckState, Columns, ConnectionCheck, Enrichment, FormatError, Formatted, HttpResponse, Info,
    Query, SentRequest, Verdict,
};

use super::Exports;
use crate::module::bindings::{Formatter, FormatterPre, types as wit};
use crate::module::convert::current as convert;
use crate::module::event_text::EventText;
use crate::module::state::{ModuleState, one_line};

/// A module of the latest version, and its batch columns as the bindings lower them
/// (refilled for each call, reusing their allocations).
pub(super) struct Current {
    bindings: Formatter,
    batch: wit::Batch,
}

impl Current {
    pub fn instantiate(
        pre: &FormatterPre<ModuleState>,
        store: &mut Store<ModuleState>,
    ) -> wasmtime::Result<Self> {
        Ok(Current {
            bindings: pre.instantiate(store)?,
            batch: convert::empty_batch(),
        })
    }
}

impl Exports for Current {
    shared_exports!();

    fn ack_query(
        &self,
        store: &mut Store<ModuleState>,
        tickets: &[String],
    ) -> wasmtime::Result<Option<Query>> {
        let query = self
            .bindings
            .sluice_module_formatting()
            .call_ack_query(store, tickets)?;
        Ok(query.map(Query::from))
    }

    fn read_acks(
        &self,
        store: &mut Store<ModuleState>,
        response: HttpResponse,
        tickets: &[String],
    ) -> wasmtime::Result<Result<Vec<AckState>, String>> {
        let response = wit::HttpResponse::from(response);
        let answer = self
            .bindings
            .sluice_module_formatting()
            .call_read_acks(store, &response, tickets)?;
        Ok(answer
            .map(|states| states.into_iter().map(AckState::from).collect())
            .map_err(|reason| one_line(&reason)))
    }
}

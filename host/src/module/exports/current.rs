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
use crate::module::state::ModuleState;

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
    super::shared_exports!();

    super::acknowledgement_exports!();
}

//! Contract 0.3.0, served next to the latest so that a module built for it keeps
//! working: its bindings (from the frozen `wit/previous/0.3.0`), its host imports
//! (the latest's, under the old names), and its exports in the host's types.
//!
//! 0.3.0 has everything of 0.4.0 but acknowledgements: its verdicts are never
//! `pending`, it answers no acknowledgement query, and its connection check is a flat
//! record rather than one that holds a `query`.

use wasmtime::Store;
use wasmtime::component::Resource;

use sluice_contract::types::{
    AckState, Columns, ConnectionCheck, Enrichment, FormatError, Formatted, HttpResponse, Info,
    Query, SentRequest, Verdict,
};

use super::Exports;
use crate::module::event_text::EventText;
use crate::module::state::ModuleState;

#[allow(missing_docs, clippy::all, reason = "generated bindings")]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/previous/0.3.0",
        world: "formatter",
        with: {
            "sluice:module/types.event-text": crate::module::event_text::EventText,
        },
        imports: {
            "sluice:module/types.[method]event-text.read": trappable,
        },
    });
}

use bindings::sluice::module::host as wit_host;
use bindings::sluice::module::types as wit;
pub use bindings::{Formatter, FormatterPre};

/// The version these bindings implement.
pub const VERSION: &str = "0.3.0";

mod convert {
    use sluice_contract::types as host;

    use super::wit;

    // 0.3.0 has only what every version has.
    crate::module::convert::shared_conversions!(verdicts: [], transports: [], requests: []);

    impl From<wit::ConnectionCheck> for host::ConnectionCheck {
        fn from(check: wit::ConnectionCheck) -> Self {
            host::ConnectionCheck {
                query: host::Query {
                    method: check.method,
                    path: check.path,
                    headers: check.headers,
                    body: check.body,
                },
                accepted: check.accepted,
                unauthorized: check.unauthorized,
            }
        }
    }
}

/// Adds the imports of 0.3.0 modules to a linker that has the latest's.
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<ModuleState>,
) -> wasmtime::Result<()> {
    Formatter::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
}

super::legacy_host_imports!();

/// A module of contract 0.3.0, and its batch columns as its bindings lower them.
pub struct Exported {
    bindings: Formatter,
    batch: wit::Batch,
}

impl Exported {
    pub fn instantiate(
        pre: &FormatterPre<ModuleState>,
        store: &mut Store<ModuleState>,
    ) -> wasmtime::Result<Self> {
        Ok(Exported {
            bindings: pre.instantiate(store)?,
            batch: convert::empty_batch(),
        })
    }
}

impl Exports for Exported {
    super::shared_exports!();

    /// 0.3.0 has no acknowledgements: its modules never answer `pending`.
    fn ack_query(
        &self,
        _store: &mut Store<ModuleState>,
        _tickets: &[String],
    ) -> wasmtime::Result<Option<Query>> {
        Ok(None)
    }

    fn read_acks(
        &self,
        _store: &mut Store<ModuleState>,
        _response: HttpResponse,
        _tickets: &[String],
    ) -> wasmtime::Result<Result<Vec<AckState>, String>> {
        Ok(Err("contract 0.3.0 has no acknowledgements".into()))
    }
}

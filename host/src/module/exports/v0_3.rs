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
    crate::module::convert::legacy_info_conversion!();

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

super::legacy_version!();

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

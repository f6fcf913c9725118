//! Contract 0.5.0, served next to the latest so that a module built for it keeps
//! working: its bindings (from the frozen `wit/previous/0.5.0`), its host imports
//! (the latest's, under the old names), and its exports in the host's types.
//!
//! 0.5.0 has everything of 0.6.0 but optional credentials and endpoint choices: its
//! credential is always required, and its destinations always write an `endpoint`.

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
pub(in crate::module) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/previous/0.5.0",
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
pub const VERSION: &str = "0.5.0";

/// Also the conversions of 0.5.0 filter modules (`filtering.rs`).
pub(in crate::module) mod convert {
    use sluice_contract::types as host;

    use super::wit;

    crate::module::convert::publishing_conversions!();
    crate::module::convert::legacy_info_conversion!();
}

super::legacy_version!();

impl Exports for Exported {
    super::shared_exports!();

    super::acknowledgement_exports!();
}

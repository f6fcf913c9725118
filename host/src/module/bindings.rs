//! Host-side bindings of the latest contract version. Older versions served side by
//! side, as Zed and proxy-wasm hosts serve theirs, have bindings of their own generated
//! from their frozen WIT (`exports/v0_5.rs`, ...); `exports/` hides which one a module uses.

#![allow(missing_docs, clippy::all, reason = "generated bindings")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "formatter",
    with: {
        "sluice:module/types.event-text": crate::module::event_text::EventText,
    },
    imports: {
        // A handle the host did not hand out is a broken module: trap.
        "sluice:module/types.[method]event-text.read": trappable,
    },
});

pub use self::sluice::module::types;

/// The contract version of these bindings (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.6.0";

/// The export a formatter module must have, without its version suffix.
pub const FORMATTER_EXPORT: &str = "sluice:module/formatting";
/// The export of a filter module, named to explain a module loaded in the wrong place.
pub const FILTER_EXPORT: &str = "sluice:module/filtering";

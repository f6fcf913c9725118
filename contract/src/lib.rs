//! The plain parts of the contract between the Sluice host and its modules, written
//! once and used on both sides: the host checks and assembles what modules answer with
//! this code, and the guest SDK builds and (in native tests) assembles with the same
//! code, so a module's native tests apply the rules the host applies.
//!
//! Nothing here knows the generated WIT types: each side converts its own (the host in
//! `module/`, the SDK in its private bindings) to the borrowed views defined here.

#![deny(missing_docs)]

pub mod answer;
pub mod http;
pub mod id;
pub mod payload;
pub mod types;

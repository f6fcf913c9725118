//! Sluice: an audit-log export host. Events flow through the stages in the order of
//! the modules below: `source` -> `pipeline` -> `buffer` -> `deliver`, with `module`
//! (the WebAssembly runtime) beside delivery. `run` wires them together; the `sluice`
//! binary is a thin command line over this library.

pub mod ack;
pub mod buffer;
pub mod cli;
pub mod config;
pub mod dead_letter;
pub mod deliver;
pub mod event;
pub mod metrics;
pub mod module;
pub mod pipeline;
pub mod run;
pub mod source;

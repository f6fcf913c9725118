//! Sluice: an audit-log export host. Events flow through the stages in the order of
//! the modules below: `source` -> `pipeline` -> `buffer` -> `deliver`, with `module`
//! (the WebAssembly runtime) beside delivery. `run` wires them together; the `sluice`
//! binary is a thin command line over this library.
//!
//! Public: the command line (for the binary), and what the benchmarks drive directly
//! (the event batch and the module runtime). The stages stay private until an
//! embedding API is designed for them.

mod ack;
mod admin;
mod buffer;
mod build_info;
pub mod cli;
mod client_tls;
mod config;
mod dead_letter;
mod deliver;
pub mod event;
mod fleet;
pub mod integrity;
mod load;
mod metrics;
pub mod module;
mod nats;
mod ownership;
mod persist;
mod pipeline;
mod private_fs;
mod reload;
mod run;
mod serve;
mod source;
mod tasks;
mod watch;

#[cfg(test)]
mod layering;

//! The configuration, from its own crate (`config/`): read and checked before anything
//! starts, so that it can be tested and fuzzed without the runtime.

pub use sluice_config::*;

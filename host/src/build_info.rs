//! What this build is, for `sluice --version` and the `sluice_build_info` metric (the
//! build script finds the commit, the compiler and the wasmtime version).

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("SLUICE_COMMIT");
pub const RUSTC: &str = env!("SLUICE_RUSTC");
pub const WASMTIME: &str = env!("SLUICE_WASMTIME");

/// `sluice --version`'s line after the name.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SLUICE_COMMIT"),
    "; ",
    env!("SLUICE_RUSTC"),
    "; wasmtime ",
    env!("SLUICE_WASMTIME"),
    ")"
);

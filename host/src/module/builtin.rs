//! The reference modules compiled from `sinks/` by the build script and embedded in the
//! binary, so a fresh install needs no modules directory.

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The embedded module named `name` (its `sinks/` folder name), if any.
pub fn find(name: &str) -> Option<&'static [u8]> {
    BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// Names of the embedded modules.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, _)| *name)
}

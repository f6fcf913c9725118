//! Reading which contract a component implements, before instantiating it.

use anyhow::{Result, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::bindings::{CONTRACT_VERSION, FILTER_EXPORT, FORMATTER_EXPORT};

/// Checks that `component` exports the formatter interface at a version this host
/// serves; the error says what it found instead.
pub fn check_formatter(engine: &Engine, component: &Component) -> Result<()> {
    let component_type = component.component_type();
    let exports: Vec<&str> = component_type
        .exports(engine)
        .map(|(name, _)| name)
        .collect();
    let version_of = |interface: &str| {
        exports.iter().find_map(|name| {
            name.strip_prefix(interface)?
                .strip_prefix('@')
                .map(str::to_owned)
        })
    };
    match version_of(FORMATTER_EXPORT) {
        Some(version) if version == CONTRACT_VERSION => Ok(()),
        Some(version) => bail!(
            "the module implements contract sluice:module@{version}, but this host serves \
             sluice:module@{CONTRACT_VERSION}; rebuild it against a matching sluice-guest"
        ),
        None if version_of(FILTER_EXPORT).is_some() => {
            bail!("this is a filter module (it exports {FILTER_EXPORT}), not a formatter")
        }
        None => bail!(
            "the component does not export {FORMATTER_EXPORT}@{CONTRACT_VERSION} (its exports: {}); \
             modules are built with the sluice-guest SDK",
            if exports.is_empty() {
                "none".to_owned()
            } else {
                exports.join(", ")
            }
        ),
    }
}

//! Reading which contract a component implements, before instantiating it.

use anyhow::{Result, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::bindings::{CONTRACT_VERSION, FILTER_EXPORT, FORMATTER_EXPORT};

/// The contract versions this host serves, the latest first. A version is served for
/// at least a year after the next one ships (README, "The contract").
pub const SERVED_VERSIONS: [&str; 4] = [
    CONTRACT_VERSION,
    super::exports::v0_5::VERSION,
    super::exports::v0_4::VERSION,
    super::exports::v0_3::VERSION,
];

/// The names `component` exports.
fn exports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The contract versions this host serves for filter modules, which are new with 0.4.0.
pub const SERVED_FILTER_VERSIONS: [&str; 3] = [
    CONTRACT_VERSION,
    super::exports::v0_5::VERSION,
    super::exports::v0_4::VERSION,
];

/// Checks that `component` exports the filter interface at a version this host serves
/// for filters, and returns it.
pub fn check_filter(engine: &Engine, component: &Component) -> Result<&'static str> {
    let exports = exports(engine, component);
    let served = SERVED_FILTER_VERSIONS;
    if let Some(version) = served
        .iter()
        .find(|version| exports.contains(&format!("{FILTER_EXPORT}@{version}")))
    {
        return Ok(version);
    }
    let wanted = format!("{FILTER_EXPORT}@{CONTRACT_VERSION}");
    if let Some(other) = exports.iter().find(|name| name.starts_with(FILTER_EXPORT)) {
        bail!(
            "the module exports {other}, but this host serves {FILTER_EXPORT}@{}; rebuild it against a matching sluice-guest",
            served.join(" and @")
        );
    }
    if exports
        .iter()
        .any(|name| name.starts_with(FORMATTER_EXPORT))
    {
        bail!("this is a formatter module (it exports {FORMATTER_EXPORT}), not a filter");
    }
    bail!(
        "the component does not export {wanted} (its exports: {}); filter modules are built with the sluice-guest SDK",
        if exports.is_empty() {
            "none".to_owned()
        } else {
            exports.join(", ")
        }
    )
}

/// Checks that `component` exports the formatter interface at a version this host
/// serves, and returns it; the error says what it found instead.
pub fn check_formatter(engine: &Engine, component: &Component) -> Result<&'static str> {
    let exports = exports(engine, component);
    let version_of = |interface: &str| {
        exports.iter().find_map(|name| {
            name.strip_prefix(interface)?
                .strip_prefix('@')
                .map(str::to_owned)
        })
    };
    match version_of(FORMATTER_EXPORT) {
        Some(version) => match SERVED_VERSIONS.iter().find(|served| **served == version) {
            Some(served) => Ok(served),
            None => bail!(
                "the module implements contract sluice:module@{version}, but this host serves \
                 sluice:module@{}; rebuild it against a matching sluice-guest",
                SERVED_VERSIONS.join(" and @")
            ),
        },
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

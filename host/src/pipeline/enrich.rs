//! What the host adds to every event: where it ran and the configured tags.

use std::collections::BTreeMap;

use crate::event::Enrichment;

/// Built once at start-up; each module instance receives it once, in `configure`.
pub fn enrichment(tags: &BTreeMap<String, String>) -> Enrichment {
    Enrichment {
        host_name: gethostname::gethostname().to_string_lossy().into_owned(),
        machine_id: machine_id().unwrap_or_default(),
        sluice_version: env!("CARGO_PKG_VERSION").to_owned(),
        tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

/// The systemd/D-Bus machine id, when the machine has one.
fn machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
}

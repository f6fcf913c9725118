//! An example filter module: drops the events whose actor's e-mail address is in one of
//! the `domains` of its settings (a list a policy's `glob` could hold too, but one that
//! changes with the organisation, and that this module could look up instead).

use sluice_guest::filter::{Filter, FilterInfo};
use sluice_guest::{Event, FormatError, SettingDoc, Settings};

/// The filter of one destination.
#[derive(Debug)]
pub struct EmailDomainFilter {
    /// The field that holds the address (a dotted path).
    field: String,
    /// The domains dropped, lowercase, each with its leading `@`.
    domains: Vec<String>,
}

impl Filter for EmailDomainFilter {
    fn info() -> FilterInfo {
        let settings = vec![
            SettingDoc::new(
                "domains",
                "comma-separated domains whose events are dropped",
                None,
            ),
            SettingDoc::new(
                "field",
                "the field with the e-mail address",
                Some("actor_email"),
            ),
        ];
        FilterInfo::new("email-domain-filter", env!("CARGO_PKG_VERSION"), settings)
    }

    fn new(settings: &Settings) -> Result<Self, FormatError> {
        let listed = settings.text("domains").unwrap_or_default();
        let domains: Vec<String> = listed
            .split(',')
            .map(|domain| domain.trim().trim_start_matches('@').to_lowercase())
            .filter(|domain| !domain.is_empty())
            .map(|domain| format!("@{domain}"))
            .collect();
        if domains.is_empty() {
            return Err(FormatError::setting("domains", "name at least one domain"));
        }
        let field = settings.text("field").unwrap_or_default();
        Ok(EmailDomainFilter { field, domains })
    }

    /// An event without an address (or with one that is not text) is kept.
    fn keep(&self, event: &Event<'_>) -> bool {
        let Some(serde_json::Value::String(address)) = event.field(&self.field) else {
            return true;
        };
        let address = address.to_lowercase();
        !self
            .domains
            .iter()
            .any(|domain| address.ends_with(domain.as_str()))
    }
}

sluice_guest::export_filter!(EmailDomainFilter);

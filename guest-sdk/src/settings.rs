//! A destination's settings with the defaults a module declares, and typed getters
//! whose errors name the key.

use crate::FormatError;
use crate::wit::sluice::module::types as wit;

/// A setting a module accepts, shown by `sluice check` and used for defaults.
#[derive(Debug, Clone)]
pub struct SettingDoc {
    /// The key in the destination's `settings`.
    pub name: &'static str,
    /// What it does, for `sluice check` and error messages.
    pub description: &'static str,
    /// Its value when not set, if it has one.
    pub default: Option<&'static str>,
}

impl SettingDoc {
    /// A setting named `name`, described by `description`, with its value when not set.
    pub const fn new(
        name: &'static str,
        description: &'static str,
        default: Option<&'static str>,
    ) -> Self {
        SettingDoc {
            name,
            description,
            default,
        }
    }
}

impl From<SettingDoc> for wit::SettingDoc {
    fn from(doc: SettingDoc) -> Self {
        wit::SettingDoc {
            name: doc.name.to_owned(),
            description: doc.description.to_owned(),
            default_value: doc.default.map(str::to_owned),
        }
    }
}

/// The settings of one destination. The host has already refused undeclared keys.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: Vec<(String, String)>,
    docs: Vec<SettingDoc>,
}

impl Settings {
    /// The destination's `values`, checked against the module's `docs`.
    pub fn new(values: Vec<(String, String)>, docs: Vec<SettingDoc>) -> Self {
        Settings { values, docs }
    }

    /// The configured value, else the declared default.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.docs.iter().find(|d| d.name == key)?.default)
    }

    /// The value (configured, else the default) when it is not blank, owned: how a
    /// module reads a text setting.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key)
            .filter(|value| !value.trim().is_empty())
            .map(str::to_owned)
    }

    /// The value parsed as `T`, or `None` when neither set nor defaulted.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, FormatError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(key)
            .map(|raw| {
                raw.parse::<T>()
                    .map_err(|e| FormatError::setting(key, format!("`{raw}`: {e}")))
            })
            .transpose()
    }

    /// Checks that each of `keys` has a value (set and not blank, or a declared
    /// default), naming every one that does not in one error, so a user fixes them all
    /// at once rather than one run at a time.
    pub fn require(&self, keys: &[&str]) -> Result<(), FormatError> {
        let missing: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|key| self.text(key).is_none())
            .collect();
        match missing.split_first() {
            None => Ok(()),
            Some((first, [])) => Err(FormatError::setting(first, "required")),
            Some((first, rest)) => {
                let rest: Vec<String> = rest.iter().map(|key| format!("`{key}`")).collect();
                Err(FormatError::setting(
                    first,
                    format!("required (missing too: {})", rest.join(", ")),
                ))
            }
        }
    }

    /// A boolean: `true`/`false` (as TOML writes them), also `yes`/`no`, `on`/`off`.
    pub fn flag(&self, key: &str) -> Result<bool, FormatError> {
        match self.get(key) {
            None => Ok(false),
            Some("true" | "yes" | "on" | "1") => Ok(true),
            Some("false" | "no" | "off" | "0") => Ok(false),
            Some(other) => Err(FormatError::setting(
                key,
                format!("`{other}` is not a boolean (use true or false)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_names_every_missing_key_at_once() {
        let docs = vec![
            SettingDoc::new("a", "", None),
            SettingDoc::new("b", "", None),
            SettingDoc::new("c", "", None),
            SettingDoc::new("d", "", Some("4")),
        ];
        let settings = Settings::new(vec![("b".into(), " ".into())], docs);
        let problem = |keys: &[&str]| match settings.require(keys) {
            Ok(()) => None,
            Err(FormatError::InvalidSetting(problem)) => Some((problem.key, problem.problem)),
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(
            problem(&["a", "b", "c", "d"]),
            Some(("a".into(), "required (missing too: `b`, `c`)".into()))
        );
        assert_eq!(problem(&["d", "c"]), Some(("c".into(), "required".into())));
        assert_eq!(problem(&["d"]), None);
    }
}

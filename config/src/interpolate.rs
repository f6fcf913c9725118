//! `${VAR}` and `${VAR:-default}` in the configuration's string values: containers set
//! endpoints, paths and names through the environment. The file is read as TOML first
//! and only string values are expanded, so a variable can never add a key or end a
//! string; a document without `${` is left byte for byte as written. Secrets are never
//! expanded: they stay `{ env = "VAR" }` or `{ file = "PATH" }`, which the host reads
//! when it needs them and never shows (a `${VAR}` there is refused, so a secret cannot
//! end up in a plain setting by mistake). `$${` writes a literal `${`.

use anyhow::{Result, bail};
use toml_edit::{DocumentMut, Formatted, Item, Value};

/// Keys whose values are secrets, wherever they are (`token`, `admin.token`,
/// `oauth2.client_secret`, `basic_auth.password`, `client_key`, `signing_keys.NAME`).
const SECRET_KEYS: [&str; 5] = [
    "token",
    "client_key",
    "client_secret",
    "password",
    "signing_keys",
];

/// `text` with the variables of its string values expanded from `lookup`.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    if !text.contains("${") {
        return Ok(text.to_owned());
    }
    // A document that does not parse is left to the full parse, which says where.
    let Ok(mut document) = text.parse::<DocumentMut>() else {
        return Ok(text.to_owned());
    };
    let mut changed = false;
    for (key, item) in document.iter_mut() {
        expand_item(item, key.get(), lookup, &mut changed)?;
    }
    Ok(match changed {
        true => document.to_string(),
        false => text.to_owned(),
    })
}

fn expand_item(
    item: &mut Item,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    changed: &mut bool,
) -> Result<()> {
    match item {
        Item::Value(value) => expand_value(value, path, lookup, changed),
        Item::Table(table) => {
            for (key, item) in table.iter_mut() {
                expand_item(item, &format!("{path}.{}", key.get()), lookup, changed)?;
            }
            Ok(())
        }
        Item::ArrayOfTables(tables) => {
            for (index, table) in tables.iter_mut().enumerate() {
                for (key, item) in table.iter_mut() {
                    let at = format!("{path}[{index}].{}", key.get());
                    expand_item(item, &at, lookup, changed)?;
                }
            }
            Ok(())
        }
        Item::None => Ok(()),
    }
}

fn expand_value(
    value: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    changed: &mut bool,
) -> Result<()> {
    match value {
        Value::String(text) => {
            if !text.value().contains("${") {
                return Ok(());
            }
            if is_secret(path) {
                bail!(
                    "{path}: `${{...}}` is not expanded in a secret; write {{ env = \"VAR\" }} (or {{ file = \"PATH\" }}) instead"
                );
            }
            let expanded = expand_text(text.value(), lookup)
                .map_err(|problem| anyhow::anyhow!("{path}: {problem}"))?;
            if expanded != *text.value() {
                let decor = text.decor().clone();
                *text = Formatted::new(expanded);
                *text.decor_mut() = decor;
                *changed = true;
            }
            Ok(())
        }
        Value::Array(values) => {
            for (index, value) in values.iter_mut().enumerate() {
                expand_value(value, &format!("{path}[{index}]"), lookup, changed)?;
            }
            Ok(())
        }
        Value::InlineTable(table) => {
            for (key, value) in table.iter_mut() {
                expand_value(value, &format!("{path}.{}", key.get()), lookup, changed)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `path` (`destinations[0].token.env`) is in a secret.
fn is_secret(path: &str) -> bool {
    path.split(['.', '['])
        .any(|part| SECRET_KEYS.contains(&part))
}

/// `text` with each `${VAR}` and `${VAR:-default}` replaced, `$${` kept as `${`.
fn expand_text(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("`{rest}` has no closing `}}`"))?;
            let (name, default) = match after[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&after[..end], None),
            };
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!("`${{{}}}` does not name a variable", &after[..end]));
            }
            match (lookup(name).filter(|v| !v.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!(
                        "${{{name}}} is not set (give a default with ${{{name}:-default}})"
                    ));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("splunk.example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_and_defaults_are_expanded_in_strings_only() {
        let text = "# ${HOST} in a comment stays\nendpoint = \"https://${HOST}:8088\" # here\nname = \"${UNSET:-fallback}-${EMPTY:-x}\"\nliteral = \"$${HOST} $5\"\n";
        let expanded = expand(text, &env).unwrap();
        assert_eq!(
            expanded,
            "# ${HOST} in a comment stays\nendpoint = \"https://splunk.example.com:8088\" # here\nname = \"fallback-x\"\nliteral = \"${HOST} $5\"\n"
        );
    }

    #[test]
    fn a_value_cannot_escape_its_string() {
        let quote = |name: &str| (name == "EVIL").then(|| "\"\nadmin = true\nx = \"".to_owned());
        let expanded = expand("name = \"${EVIL}\"\n", &quote).unwrap();
        let value: toml::Value = toml::from_str(&expanded).unwrap();
        let table = value.as_table().unwrap();
        assert_eq!(table.len(), 1, "{expanded}");
        assert_eq!(table["name"].as_str(), Some("\"\nadmin = true\nx = \""));
    }

    #[test]
    fn unset_variables_bad_names_and_secrets_are_refused_with_where() {
        let error = |text: &str| expand(text, &env).unwrap_err().to_string();
        assert_eq!(
            error("[[destinations]]\nendpoint = \"${NOPE}\"\n"),
            "destinations[0].endpoint: ${NOPE} is not set (give a default with ${NOPE:-default})"
        );
        assert!(error("a = \"${1X}\"\n").contains("does not name a variable"));
        assert!(error("a = \"${HOST\"\n").contains("has no closing"));
        for secret in [
            "[[destinations]]\ntoken = { env = \"${HOST}\" }\n",
            "[admin]\ntoken = { file = \"/run/${HOST}\" }\n",
            "[[destinations]]\nsigning_keys = { hook = { env = \"${HOST}\" } }\n",
            "[[destinations]]\noauth2 = { client_secret = { env = \"${HOST}\" } }\n",
        ] {
            assert!(
                error(secret).contains("is not expanded in a secret"),
                "{secret}"
            );
        }
    }

    #[test]
    fn a_file_without_variables_is_untouched() {
        let text = "a   =   \"x\"   # spacing kept\n";
        assert_eq!(expand(text, &env).unwrap(), text);
    }
}

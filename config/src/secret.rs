//! Secrets in configuration: named by an environment variable or a file, read once at
//! start-up, never printed (`Debug` masks them) and never handed to a module.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// Where a secret comes from: `{ env = "NAME" }` or `{ file = "/run/secrets/x" }`.
/// Literal values are not accepted, so a configuration file never holds a credential.
/// Two are equal when they name the same variable or file (a reload compares them so).
#[derive(Debug, Clone, PartialEq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

const LITERAL_REFUSED: &str = "literal secrets are refused, so that a config file never holds a credential: give the name of an environment variable, { env = \"NAME\" }, or of a file, { file = \"PATH\" }";

/// The table form, the only one accepted: exactly one of its keys.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SecretTable {
    env: Option<String>,
    file: Option<PathBuf>,
}

/// The schema of a secret is that of its table.
impl JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SecretTable::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SecretRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("{ env = \"NAME\" } or { file = \"PATH\" }")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_REFUSED))
            }

            // A number or a boolean is refused the same way, without its value (serde's
            // own message quotes it).
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_REFUSED))
            }

            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_REFUSED))
            }

            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_REFUSED))
            }

            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_REFUSED))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SecretRef, A::Error> {
                let table =
                    SecretTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                match (table.env, table.file) {
                    (Some(name), None) => Ok(SecretRef::Env(name)),
                    (None, Some(path)) => Ok(SecretRef::File(path)),
                    _ => Err(serde::de::Error::custom(
                        "give one of { env = \"NAME\" } and { file = \"PATH\" }",
                    )),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl SecretRef {
    /// Reads the secret; a file's trailing newline is dropped. The error names the
    /// variable or file, never a value.
    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretRef::Env(name) => std::env::var(name)
                .map_err(|_| format!("environment variable {name} is not set"))?,
            SecretRef::File(path) => read_bounded(path)
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        };
        if value.is_empty() {
            return Err(format!("{self} is empty"));
        }
        Ok(Secret(value))
    }
}

/// Most bytes of a secret file: a key or a token, never more (a secret that names
/// `/dev/zero` or a log file by mistake is refused instead of read without end).
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

fn read_bounded(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Without waiting: a FIFO named by mistake (or planted) would block the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions());
    if mode & 0o077 != 0 {
        // Read all the same (a group that needs it is the operator's choice), and said.
        tracing::warn!(file = %path.display(), mode = format!("{:o}", mode & 0o777), "a secret file other users can read or write: make it 0600 (chmod 600), owned by the user sluice runs as");
    }
    let mut text = String::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "longer than {MAX_SECRET_FILE_BYTES} bytes: not a secret"
        )));
    }
    Ok(text)
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "environment variable {name}"),
            SecretRef::File(path) => write!(f, "secret file {}", path.display()),
        }
    }
}

/// A resolved secret. Only [`Secret::expose`] gives the value; it is overwritten with
/// zeros when dropped, so a freed buffer does not keep it (the copies a request or a
/// signature makes are the HTTP client's and the signer's).
#[derive(Clone)]
pub struct Secret(String);

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `basic_auth = { user = "elastic", password = { env = "ES_PASSWORD" } }`: HTTP Basic
/// credentials, encoded by the host, sent in the module's credential header.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub user: String,
    pub password: SecretRef,
}

/// `aws = { region, service, access_key_id = {...}, secret_access_key = {...},
/// session_token = {...} }`: requests signed with AWS Signature V4 by the host. Without
/// keys, the standard chain: the environment, then the shared credentials file.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The region the requests are signed for (`eu-west-1`).
    pub region: String,
    /// The service they are signed for: `logs` (CloudWatch Logs), `s3`...
    pub service: String,
    pub access_key_id: Option<SecretRef>,
    pub secret_access_key: Option<SecretRef>,
    pub session_token: Option<SecretRef>,
}

/// `azure_shared_key = { workspace_id = "...", key = {...} }`: requests to the Log
/// Analytics Data Collector API signed with the workspace's shared key by the host.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureSharedKey {
    /// The Log Analytics workspace id (a GUID).
    pub workspace_id: String,
    /// The workspace's primary or secondary key, base64 as the portal shows it.
    pub key: SecretRef,
}

impl BasicAuth {
    /// `base64(user:password)`, the value after `Basic `.
    pub fn resolve(&self) -> Result<Secret, String> {
        use base64::Engine;
        if self.user.contains(':') {
            return Err("user: a Basic user name cannot hold `:`".into());
        }
        let password = self.password.resolve()?;
        let pair = zeroize::Zeroizing::new(format!("{}:{}", self.user, password.expose()));
        Ok(Secret(
            base64::engine::general_purpose::STANDARD.encode(&*pair),
        ))
    }
}

/// `oauth2 = { token_url = "...", client_id = "...", client_secret = { env = "..." },
/// scope = "..." }`: the host obtains a token with the client-credentials grant, keeps
/// it until shortly before it expires, and sends it as `Bearer` in the module's
/// credential header (Microsoft Entra ID for Sentinel, and any such server).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    #[schemars(with = "String")]
    pub token_url: url::Url,
    pub client_id: String,
    pub client_secret: SecretRef,
    pub scope: String,
}

impl Secret {
    /// A secret the host obtained at run time (an OAuth2 token).
    pub fn obtained(value: String) -> Secret {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Elasticsearch's own example: `elastic:changeme`.
    #[test]
    fn basic_credentials_are_encoded_as_the_test_vector_says() {
        let password_file =
            std::env::temp_dir().join(format!("sluice-basic-{}", std::process::id()));
        std::fs::write(&password_file, "changeme\n").unwrap();
        let basic = BasicAuth {
            user: "elastic".into(),
            password: SecretRef::File(password_file.clone()),
        };
        assert_eq!(
            basic.resolve().unwrap().expose(),
            "ZWxhc3RpYzpjaGFuZ2VtZQ=="
        );
        std::fs::remove_file(password_file).unwrap();
    }

    /// A secret file that never ends used to be read without end, and a FIFO named as
    /// one blocked the host (at `check`, at start) until it was killed.
    #[test]
    fn a_secret_file_is_a_regular_file_read_up_to_a_bound() {
        let long = std::env::temp_dir().join(format!("sluice-long-{}", std::process::id()));
        std::fs::write(&long, "x".repeat(70_000)).unwrap();
        let error = SecretRef::File(long.clone()).resolve().unwrap_err();
        assert!(
            error.contains("longer than 65536 bytes: not a secret"),
            "{error}"
        );
        std::fs::remove_file(long).unwrap();
        for special in ["/dev/zero", "/proc/self"] {
            let error = SecretRef::File(special.into()).resolve().unwrap_err();
            assert!(
                error.contains("not a regular file") || error.contains("directory"),
                "{error}"
            );
        }
        let fifo = std::env::temp_dir().join(format!("sluice-fifo-{}", std::process::id()));
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let error = SecretRef::File(fifo.clone()).resolve().unwrap_err();
        assert!(error.contains("not a regular file"), "{error}");
        std::fs::remove_file(fifo).unwrap();
    }
}

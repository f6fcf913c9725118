//! AWS Signature Version 4, computed by the host over each request a module formatted,
//! with keys the module never sees: the canonical request (method, path, sorted query,
//! every header sent, the body's SHA-256), the string to sign, the signing key derived
//! from the secret, the date, the region and the service, and the `Authorization` header.
//! Checked against AWS's published test suite (the tests below).
//!
//! The keys come from the destination's `aws` table, else from the standard chain: the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then
//! the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//! `~/.aws/credentials`), profile `AWS_PROFILE` or `default`.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::{AwsConfig, Secret};

/// What signs a destination's requests.
#[derive(Debug, Clone)]
pub struct AwsSigner {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
    region: String,
    service: String,
}

/// The keys a signer holds.
pub struct AwsKeys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a Secret,
    pub session_token: Option<&'a Secret>,
}

/// A request as it goes on the wire, for signing.
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a url::Url,
    /// Every header sent besides `Host` and the ones signing adds.
    pub headers: &'a [(&'a str, String)],
    pub body: &'a [u8],
}

impl AwsSigner {
    /// The signer `config` asks for, its keys read now.
    pub fn new(config: &AwsConfig) -> Result<Self> {
        let (access_key_id, secret_access_key, session_token) =
            match (&config.access_key_id, &config.secret_access_key) {
                (Some(id), Some(secret)) => (
                    id.resolve()
                        .map_err(|e| anyhow::anyhow!("aws.access_key_id: {e}"))?
                        .expose()
                        .to_owned(),
                    secret
                        .resolve()
                        .map_err(|e| anyhow::anyhow!("aws.secret_access_key: {e}"))?,
                    config
                        .session_token
                        .as_ref()
                        .map(|token| token.resolve())
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("aws.session_token: {e}"))?,
                ),
                (None, None) => standard_chain()?,
                _ => bail!("aws: give access_key_id and secret_access_key together"),
            };
        Ok(AwsSigner {
            access_key_id,
            secret_access_key,
            session_token,
            region: config.region.clone(),
            service: config.service.clone(),
        })
    }

    /// Its keys, for a client that signs by itself (the S3 archive's).
    pub fn keys(&self) -> AwsKeys<'_> {
        AwsKeys {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: self.session_token.as_ref(),
        }
    }

    /// Its secret key and session token.
    pub fn secrets(&self) -> Vec<Secret> {
        std::iter::once(self.secret_access_key.clone())
            .chain(self.session_token.clone())
            .collect()
    }

    /// The headers that sign `request` at `amz_date` (`YYYYMMDDTHHMMSSZ`): `x-amz-date`,
    /// `x-amz-content-sha256`, `x-amz-security-token` when there is one, and
    /// `Authorization`.
    pub fn sign(&self, request: &Unsigned<'_>, amz_date: &str) -> Vec<(String, Secret)> {
        let payload_hash = hex::encode(Sha256::digest(request.body));
        let mut added = vec![
            ("x-amz-date".to_owned(), amz_date.to_owned()),
            ("x-amz-content-sha256".to_owned(), payload_hash.clone()),
        ];
        if let Some(token) = &self.session_token {
            added.push(("x-amz-security-token".to_owned(), token.expose().to_owned()));
        }
        let mut signed: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), canonical_value(value)))
            .chain(
                added
                    .iter()
                    .map(|(name, value)| (name.clone(), value.clone())),
            )
            .chain([("host".to_owned(), host(request.url))])
            .collect();
        signed.sort();
        let scope = Scope {
            date: &amz_date[..8],
            region: &self.region,
            service: &self.service,
        };
        let canonical = canonical_request(
            request.method,
            &canonical_uri(request.url.path(), self.service == "s3"),
            &canonical_query(request.url),
            &signed,
            &payload_hash,
        );
        let signature = signature(
            self.secret_access_key.expose(),
            &scope,
            amz_date,
            &canonical,
        );
        let names: Vec<&str> = signed.iter().map(|(name, _)| name.as_str()).collect();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={signature}",
            self.access_key_id,
            scope.text(),
            names.join(";")
        );
        let mut headers: Vec<(String, Secret)> = added
            .into_iter()
            .map(|(name, value)| (name, Secret::obtained(value)))
            .collect();
        headers.push(("Authorization".to_owned(), Secret::obtained(authorization)));
        headers
    }
}

/// The date and time now, as SigV4 writes them.
pub fn amz_date_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// The keys of the environment, else of the shared credentials file.
fn standard_chain() -> Result<(String, Secret, Option<Secret>)> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            return Ok((
                id,
                Secret::obtained(secret),
                env("AWS_SESSION_TOKEN").map(Secret::obtained),
            ));
        }
        (Some(_), None) => bail!("aws: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        (None, Some(_)) => bail!("aws: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
        (None, None) => {}
    }
    let path = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|home| std::path::Path::new(&home).join(".aws/credentials")))
        .context(
            "aws: no keys in the table, the environment or a credentials file ($HOME is not set)",
        )?;
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "aws: no keys in the table or the environment (AWS_ACCESS_KEY_ID), and the credentials file {} cannot be read",
            path.display()
        )
    })?;
    let keys = profile_keys(&text, &profile)
        .map_err(|problem| anyhow::anyhow!("aws: {}: {problem}", path.display()))?;
    match (
        keys.get("aws_access_key_id"),
        keys.get("aws_secret_access_key"),
    ) {
        (Some(id), Some(secret)) => Ok((
            (*id).to_owned(),
            Secret::obtained((*secret).to_owned()),
            keys.get("aws_session_token")
                .map(|token| Secret::obtained((*token).to_owned())),
        )),
        _ => bail!(
            "aws: profile [{profile}] of {} has no aws_access_key_id and aws_secret_access_key",
            path.display()
        ),
    }
}

/// The `key = value` lines of `[profile]` in a shared credentials file; an error names
/// the first line that is neither a section, a key, a comment nor blank, or a key given
/// twice in the profile (which would leave a key that signs nothing AWS takes).
fn profile_keys<'a>(
    text: &'a str,
    profile: &str,
) -> Result<std::collections::HashMap<&'a str, &'a str>, String> {
    let mut keys = std::collections::HashMap::new();
    let mut inside = false;
    for (number, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            let name = line
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .ok_or_else(|| format!("line {}: a section without its `]`", number + 1))?;
            inside = name.trim() == profile;
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: neither `[section]` nor `key = value`", number + 1))?;
        if inside && keys.insert(key.trim(), value.trim()).is_some() {
            return Err(format!(
                "line {}: {} given twice in [{profile}]",
                number + 1,
                key.trim()
            ));
        }
    }
    Ok(keys)
}

/// The credential scope: `date/region/service/aws4_request`.
struct Scope<'a> {
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

impl Scope<'_> {
    fn text(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// `host[:port]` as the `Host` header carries it (the port only when not the scheme's).
fn host(url: &url::Url) -> String {
    let name = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{name}:{port}"),
        None => name.to_owned(),
    }
}

/// A header value as signed: trimmed, runs of spaces made one.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 3986 encoding of everything but the unreserved characters (and `/` in a path).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// The path as signed, from the path as sent (already percent-encoded): S3 signs it as
/// sent (encoded once), every other service encodes it once more.
fn canonical_uri(sent: &str, s3: bool) -> String {
    let path = if sent.is_empty() { "/" } else { sent };
    match s3 {
        true => {
            let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            encode(&decoded, true)
        }
        false => encode(path, true),
    }
}

/// The query's parameters decoded, encoded again, sorted by name then value.
fn canonical_query(url: &url::Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| (encode(&key, false), encode(&value, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
) -> String {
    let mut text = format!("{method}\n{uri}\n{query}\n");
    for (name, value) in headers {
        let _ = writeln!(text, "{name}:{value}");
    }
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    let _ = write!(text, "\n{}\n{payload_hash}", names.join(";"));
    text
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The hex signature of `canonical` (a canonical request) at `amz_date` in `scope`.
fn signature(secret: &str, scope: &Scope<'_>, amz_date: &str, canonical: &str) -> String {
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        scope.text(),
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = [scope.date, scope.region, scope.service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| {
            hmac(&key, part.as_bytes())
        });
    hex::encode(hmac(&key, string_to_sign.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's SigV4 test suite: its example credentials and scope.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";
    const SCOPE: Scope<'static> = Scope {
        date: "20150830",
        region: "us-east-1",
        service: "service",
    };
    const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn suite(method: &str, uri: &str, query: &str) -> String {
        let headers = [
            ("host".to_owned(), "example.amazonaws.com".to_owned()),
            ("x-amz-date".to_owned(), DATE.to_owned()),
        ];
        let canonical = canonical_request(method, uri, query, &headers, EMPTY_HASH);
        signature(SECRET, &SCOPE, DATE, &canonical)
    }

    #[test]
    fn the_published_test_suite_signs_alike() {
        // get-vanilla, get-vanilla-query-order-key-case, post-vanilla, get-utf8.
        assert_eq!(
            suite("GET", "/", ""),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        let url =
            url::Url::parse("https://example.amazonaws.com/?Param2=value2&Param1=value1").unwrap();
        assert_eq!(canonical_query(&url), "Param1=value1&Param2=value2");
        assert_eq!(
            suite("GET", "/", &canonical_query(&url)),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
        assert_eq!(
            suite("POST", "/", ""),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
        assert_eq!(
            suite("GET", &canonical_uri("/\u{1234}", true), ""),
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        );
    }

    #[test]
    fn a_signed_request_names_every_header_it_sends_and_the_scope() {
        let signer = AwsSigner {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::obtained(SECRET.into()),
            session_token: Some(Secret::obtained("token".into())),
            region: "eu-west-1".into(),
            service: "logs".into(),
        };
        let url = url::Url::parse("http://127.0.0.1:5000/").unwrap();
        let headers = [("X-Amz-Target", "Logs_20140328.PutLogEvents".to_owned())];
        let signed = signer.sign(
            &Unsigned {
                method: "POST",
                url: &url,
                headers: &headers,
                body: b"{}",
            },
            DATE,
        );
        let authorization = signed
            .iter()
            .find(|(name, _)| name == "Authorization")
            .unwrap()
            .1
            .expose()
            .to_owned();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/logs/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target, Signature="
            ),
            "{authorization}"
        );
        assert!(!authorization.contains(SECRET));
        assert!(
            signed
                .iter()
                .any(|(name, value)| name == "x-amz-security-token" && value.expose() == "token")
        );
    }

    #[test]
    fn a_profile_of_the_shared_credentials_file_is_read() {
        let text = "# keys\n[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[ops]\naws_access_key_id=C\naws_secret_access_key=D\n";
        let keys = |profile: &str| profile_keys(text, profile).unwrap();
        assert_eq!(keys("ops").get("aws_access_key_id"), Some(&"C"));
        assert_eq!(keys("default").get("aws_secret_access_key"), Some(&"B"));
        assert!(keys("none").is_empty());
        assert_eq!(
            profile_keys("[default\na = b\n", "default").unwrap_err(),
            "line 1: a section without its `]`"
        );
        assert!(profile_keys("[default]\ngarbage\n", "default").is_err());
        assert!(profile_keys("[default]\na = 1\na = 2\n", "default").is_err());
    }
}

//! Objects written to an object store (`s3://`, `gs://`, `az://`, `file://`) through
//! the `object_store` crate, which signs each cloud's requests: each request a module
//! makes is one object, its body the object's bytes, named by the destination's
//! `object_name` followed by the request's path after its `/` (the module's suffix:
//! `/.jsonl.gz` ends the name with `.jsonl.gz`).
//!
//! Written once, never overwritten: a body up to [`SINGLE_PUT_MAX`] is one PUT that
//! only creates (`If-None-Match: *` on S3), a larger one a multipart upload of
//! [`PART_BYTES`] parts after a check that the name is free. A request keeps its name
//! for every attempt, so a retry after an answer that was lost finds its object there
//! and counts it delivered rather than writing it twice; a name taken on a first
//! attempt (another writer's) is replaced by the run's next one.
//!
//! The store's own retries are off: the destination's `retry` settings govern, as for
//! every other transport, so attempts are counted and the last one dead-letters.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, RetryConfig, WriteMultipart,
};

use super::{AwsSigner, Sent};
use crate::config::object_name::{
    DEFAULT_OBJECT_NAME, MAX_OBJECT_NAME_BYTES, NameValues, ObjectName,
};
use crate::config::{DestinationConfig, Secret};

/// Largest body written in one PUT; a larger one goes in parts.
const SINGLE_PUT_MAX: usize = 8 << 20;
/// The size of a multipart upload's parts (S3 takes 5 MiB at least, but for the last).
const PART_BYTES: usize = 8 << 20;

/// An object store and how it names objects.
#[derive(Debug)]
pub struct ObjectTransport {
    store: Arc<dyn ObjectStore>,
    /// The endpoint's path, under which every name goes.
    prefix: ObjectPath,
    names: ObjectName,
    host: String,
    start: jiff::Timestamp,
    /// The run's objects so far.
    count: AtomicU64,
    /// `file://`'s directory: each object in it is made 0600 once written.
    local: Option<std::path::PathBuf>,
    /// Secrets the store's errors might quote.
    secrets: Vec<Secret>,
    /// The endpoint as errors show it.
    shown: String,
}

/// One request's object: its name, kept for every attempt.
#[derive(Debug)]
pub struct ObjectWrite {
    name: Mutex<String>,
    /// The module's suffix, kept for a new name.
    suffix: String,
    content_type: Option<String>,
    content_encoding: Option<&'static str>,
    /// Whether an attempt with this name was made: if so, the name found taken is this
    /// request's own object.
    tried: AtomicBool,
}

impl ObjectWrite {
    pub fn name(&self) -> String {
        self.name.lock().expect("object name lock").clone()
    }
}

impl ObjectTransport {
    /// The store `url` names, with the destination's credentials and client settings.
    pub fn new(url: &url::Url, config: &DestinationConfig) -> Result<Self> {
        let names = ObjectName::parse(config.object_name.as_deref().unwrap_or(DEFAULT_OBJECT_NAME))
            .map_err(|problem| anyhow::anyhow!("object_name: {problem}"))?;
        let mut options = ClientOptions::new()
            .with_timeout(config.request_timeout)
            .with_connect_timeout(config.request_timeout);
        if let Some(ca_file) = &config.ca_file {
            let pem = std::fs::read(ca_file)
                .with_context(|| format!("ca_file: cannot read {}", ca_file.display()))?;
            let certificate = object_store::Certificate::from_pem(&pem).with_context(|| {
                format!("ca_file: {} holds no PEM certificate", ca_file.display())
            })?;
            options = options.with_root_certificate(certificate);
        }
        let no_retries = RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        };
        let bucket = url.host_str().unwrap_or_default();
        let mut secrets = Vec::new();
        let mut local = None;
        let (store, prefix): (Arc<dyn ObjectStore>, &str) = match url.scheme() {
            "s3" => {
                let aws = config
                    .aws
                    .as_ref()
                    .context("aws: an s3:// endpoint needs it")?;
                let signer = AwsSigner::new(aws)?;
                let keys = signer.keys();
                secrets = signer.secrets();
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&aws.region)
                    .with_access_key_id(keys.access_key_id)
                    .with_secret_access_key(keys.secret_access_key.expose())
                    .with_retry(no_retries)
                    .with_client_options(options);
                if let Some(token) = keys.session_token {
                    builder = builder.with_token(token.expose());
                }
                if let Some(endpoint) = &config.s3_endpoint {
                    builder = builder
                        .with_endpoint(endpoint.as_str().trim_end_matches('/'))
                        .with_allow_http(endpoint.scheme() == "http");
                }
                (Arc::new(builder.build()?), url.path())
            }
            "gs" => {
                let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(no_retries)
                    .with_client_options(options)
                    .build()?;
                (Arc::new(store), url.path())
            }
            "az" => {
                let store = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(bucket)
                    .with_retry(no_retries)
                    .with_client_options(options)
                    .build()?;
                (Arc::new(store), url.path())
            }
            "file" => {
                let dir = url
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("{url} is not a directory on this machine"))?;
                crate::private_fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)?;
                local = Some(dir);
                (Arc::new(store), "")
            }
            other => bail!("`{other}://` is not an object store"),
        };
        let prefix = ObjectPath::parse(prefix.trim_matches('/'))
            .with_context(|| format!("{url}: the prefix is not an object path"))?;
        Ok(ObjectTransport {
            store,
            prefix,
            names,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            start: jiff::Timestamp::now(),
            count: AtomicU64::new(0),
            local,
            secrets,
            shown: url.to_string(),
        })
    }

    /// Secrets its errors must not show.
    pub fn secrets(&self) -> Vec<Secret> {
        self.secrets.clone()
    }

    /// The run's next object name, with `suffix` after it.
    fn next_name(&self, suffix: &str) -> String {
        let seq = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let name = self.names.render(&NameValues {
            time: &jiff::Timestamp::now(),
            host: &self.host,
            start: &self.start,
            seq,
        });
        format!("{name}{suffix}")
    }

    /// The object a request makes: named now, once for all its attempts. Its suffix is
    /// the request's path after its `/`; its type and encoding its headers'.
    pub fn object_for(
        &self,
        request: &sluice_contract::types::HttpRequest,
        gzip: bool,
    ) -> ObjectWrite {
        let content_type = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value.clone());
        let suffix = request.path.trim_start_matches('/').to_owned();
        ObjectWrite {
            name: Mutex::new(self.next_name(&suffix)),
            suffix,
            content_type,
            content_encoding: gzip.then_some("gzip"),
            tried: AtomicBool::new(false),
        }
    }

    fn location(&self, name: &str) -> Result<ObjectPath, String> {
        let full = match self.prefix.as_ref() {
            "" => name.to_owned(),
            prefix => format!("{prefix}/{name}"),
        };
        if full.len() > MAX_OBJECT_NAME_BYTES {
            return Err(format!(
                "object name {full} is longer than {MAX_OBJECT_NAME_BYTES} bytes"
            ));
        }
        ObjectPath::parse(&full).map_err(|e| format!("object name {full}: {e}"))
    }

    /// Writes `body` as `object`; `Sent::Stored` once the store confirmed it.
    pub async fn put(&self, object: &ObjectWrite, body: &Bytes) -> Result<Sent, String> {
        let location = self.location(&object.name())?;
        let retried = object.tried.swap(true, Ordering::Relaxed);
        let written = match body.len() <= SINGLE_PUT_MAX {
            true => self.put_whole(&location, object, body).await,
            false => self.put_parts(&location, object, body).await,
        };
        match written {
            Ok(()) => {
                self.make_private(&location);
                Ok(Sent::Stored(location.to_string()))
            }
            // An earlier attempt stored it, and its answer was lost.
            Err(object_store::Error::AlreadyExists { .. }) if retried => {
                Ok(Sent::Stored(location.to_string()))
            }
            Err(object_store::Error::AlreadyExists { .. }) => {
                let next = self.next_name(&object.suffix);
                *object.name.lock().expect("object name lock") = next.clone();
                object.tried.store(false, Ordering::Relaxed);
                Err(format!(
                    "{location} exists already in {} (another writer uses the name): writing {next} instead",
                    self.shown
                ))
            }
            Err(error) => Err(format!("writing {location} to {}: {error}", self.shown)),
        }
    }

    fn attributes(object: &ObjectWrite) -> Attributes {
        let mut attributes = Attributes::new();
        if let Some(content_type) = &object.content_type {
            attributes.insert(Attribute::ContentType, content_type.clone().into());
        }
        if let Some(encoding) = object.content_encoding {
            attributes.insert(Attribute::ContentEncoding, encoding.into());
        }
        attributes
    }

    /// A local directory keeps no content type: the name's suffix says it.
    fn attributes_for_store(&self, object: &ObjectWrite) -> Attributes {
        match self.local {
            Some(_) => Attributes::new(),
            None => Self::attributes(object),
        }
    }

    async fn put_whole(
        &self,
        location: &ObjectPath,
        object: &ObjectWrite,
        body: &Bytes,
    ) -> object_store::Result<()> {
        let options = PutOptions {
            mode: PutMode::Create,
            attributes: self.attributes_for_store(object),
            ..PutOptions::default()
        };
        self.store
            .put_opts(location, PutPayload::from_bytes(body.clone()), options)
            .await
            .map(drop)
    }

    /// A multipart upload cannot be made create-only: the name is checked free first
    /// (a race with another writer of the same name is the one case this overwrites).
    async fn put_parts(
        &self,
        location: &ObjectPath,
        object: &ObjectWrite,
        body: &Bytes,
    ) -> object_store::Result<()> {
        match self.store.head(location).await {
            Ok(_) => {
                return Err(object_store::Error::AlreadyExists {
                    path: location.to_string(),
                    source: "found before a multipart upload".into(),
                });
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        let options = PutMultipartOptions {
            attributes: self.attributes_for_store(object),
            ..PutMultipartOptions::default()
        };
        let upload = self.store.put_multipart_opts(location, options).await?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        parts.put(body.clone());
        // `finish` aborts the upload when a part fails.
        parts.finish().await.map(drop)
    }

    /// `file://`: the object holds audit events, so only the running user reads it.
    fn make_private(&self, location: &ObjectPath) {
        use std::os::unix::fs::PermissionsExt;
        let Some(dir) = &self.local else { return };
        let path = location
            .parts()
            .fold(dir.clone(), |path, part| path.join(part.as_ref()));
        let private = std::fs::Permissions::from_mode(crate::private_fs::FILE_MODE);
        if let Err(error) = std::fs::set_permissions(&path, private) {
            tracing::warn!(path = %path.display(), %error, "cannot make the archived object 0600");
        }
    }

    /// For `sluice check --connect`: asks the store about an object that is not there,
    /// which reaches it with the credential without writing anything.
    pub async fn probe(&self) -> Result<String, String> {
        let location = self.location(".sluice-connection-check")?;
        match self.store.head(&location).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {
                Ok(format!("{} answers with the credential given", self.shown))
            }
            Err(object_store::Error::PermissionDenied { .. }) => Err(format!(
                "{} refused to say whether an object exists (permission denied): the key may still write (s3:PutObject without s3:ListBucket), or be refused",
                self.shown
            )),
            Err(error) => Err(format!("{}: {error}", self.shown)),
        }
    }
}

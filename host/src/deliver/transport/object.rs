//! Objects written to an object store (`s3://`, `gs://`, `az://`) through the
//! `object_store` crate, which signs each cloud's requests, or to a directory
//! (`file://`, [`super::local_dir`]): each request a module makes is one object, its
//! body the object's bytes, named by the destination's `object_name` followed by the
//! request's path after its `/` (the module's suffix: `/.jsonl.gz` ends the name with
//! `.jsonl.gz`).
//!
//! Written once, never over another object: one PUT that only creates (`If-None-Match:
//! *` on S3; a hard link in a directory), or, for a body over [`SINGLE_PUT_MAX`] whose
//! name holds the run's random `{run}` (so no other run can make it), a multipart upload
//! of [`PART_BYTES`] parts after a check that the name is free (a multipart upload is
//! not create-only). A request keeps its name for every attempt: when a retry finds the
//! name taken, the object there is read back; the same bytes are this request's (an
//! earlier answer was lost), other bytes another writer's (the run's next name is
//! taken at once, which costs no attempt), and an object that cannot be read back fails
//! the attempt.
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

use super::local_dir::{Created, LocalDir};
use super::{AwsSigner, Sent};
use crate::config::object_name::{
    DEFAULT_OBJECT_NAME, MAX_OBJECT_NAME_BYTES, NameValues, ObjectName,
};
use crate::config::{DestinationConfig, Secret};

/// Largest body written in one PUT; a larger one goes in parts.
const SINGLE_PUT_MAX: usize = 8 << 20;
/// The size of a multipart upload's parts (S3 takes 5 MiB at least, but for the last).
const PART_BYTES: usize = 8 << 20;
/// Names tried for one object before the request fails: each a name another writer
/// had taken.
const MAX_NAMES: usize = 16;

/// What became of one write.
enum Written {
    Done,
    /// The name was taken: nothing was written.
    Exists,
    Failed(String),
}

/// Where the objects go.
#[derive(Debug)]
enum Store {
    Cloud(Arc<dyn ObjectStore>),
    Local(Arc<LocalDir>),
}

/// An object store and how it names objects.
#[derive(Debug)]
pub struct ObjectTransport {
    store: Store,
    /// The endpoint's path, under which every name goes.
    prefix: String,
    names: ObjectName,
    host: String,
    start: jiff::Timestamp,
    /// Random, per run: two runs never make one name.
    run: String,
    /// The run's objects so far.
    count: AtomicU64,
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
    /// Whether an attempt with this name was made: if so, the name found taken may be
    /// this request's own object.
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
        let prefix = percent_encoding::percent_decode_str(url.path().trim_matches('/'))
            .decode_utf8()
            .with_context(|| format!("{url}: the prefix is not UTF-8"))?
            .into_owned();
        let mut secrets = Vec::new();
        let store = match url.scheme() {
            "file" => {
                let dir = url
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("{url} is not a directory on this machine"))?;
                Store::Local(Arc::new(LocalDir::new(dir)))
            }
            _ => {
                let (store, keys) = cloud_store(url, config)?;
                secrets = keys;
                Store::Cloud(store)
            }
        };
        let mut run = [0u8; 4];
        getrandom::fill(&mut run).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        Ok(ObjectTransport {
            store,
            prefix: match url.scheme() {
                "file" => String::new(),
                _ => prefix,
            },
            names,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            start: jiff::Timestamp::now(),
            run: hex::encode(run),
            count: AtomicU64::new(0),
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
            run: &self.run,
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

    /// The full name of `name`, under the prefix, checked.
    fn full_name(&self, name: &str) -> Result<String, String> {
        let full = match self.prefix.as_str() {
            "" => name.to_owned(),
            prefix => format!("{prefix}/{name}"),
        };
        if full.len() > MAX_OBJECT_NAME_BYTES {
            return Err(format!(
                "object name {full} is longer than {MAX_OBJECT_NAME_BYTES} bytes"
            ));
        }
        Ok(full)
    }

    /// Writes `body` as `object`; `Sent::Stored` once the store confirmed it.
    pub async fn put(&self, object: &ObjectWrite, body: &Bytes) -> Result<Sent, String> {
        for _ in 0..MAX_NAMES {
            let full = self.full_name(&object.name())?;
            let retried = object.tried.swap(true, Ordering::Relaxed);
            match self.write(&full, object, body).await {
                Written::Done => return Ok(Sent::Stored(full)),
                // An earlier attempt may have stored it, its answer lost: only the same
                // bytes make it this request's; an object that cannot be read back is
                // neither (the attempt fails, and the next one reads again).
                Written::Exists if retried => match self.holds(&full, body).await {
                    Ok(true) => return Ok(Sent::Stored(full)),
                    Ok(false) => self.rename(object, &full),
                    Err(reason) => {
                        return Err(format!(
                            "{full} exists in {} and cannot be read back to compare: {reason}",
                            self.shown
                        ));
                    }
                },
                Written::Exists => self.rename(object, &full),
                Written::Failed(reason) => return Err(reason),
            }
        }
        Err(format!(
            "{MAX_NAMES} names in a row were taken in {}: is another writer using this object_name?",
            self.shown
        ))
    }

    /// Gives `object` the run's next name: `full` is another writer's.
    fn rename(&self, object: &ObjectWrite, full: &str) {
        let next = self.next_name(&object.suffix);
        let shown = self.full_name(&next).unwrap_or_else(|_| next.clone());
        tracing::warn!(object = %full, next = %shown, endpoint = %self.shown, "the object's name is taken (another writer's object): writing the next name");
        *object.name.lock().expect("object name lock") = next;
        object.tried.store(false, Ordering::Relaxed);
    }

    async fn write(&self, full: &str, object: &ObjectWrite, body: &Bytes) -> Written {
        let store = match &self.store {
            Store::Local(dir) => {
                let (dir, full, body) = (dir.clone(), full.to_owned(), body.clone());
                let created = tokio::task::spawn_blocking(move || dir.write(&full, &body)).await;
                return match created {
                    Ok(Ok(Created::Written)) => Written::Done,
                    Ok(Ok(Created::NameTaken)) => Written::Exists,
                    Ok(Err(reason)) => Written::Failed(reason),
                    Err(e) => Written::Failed(format!("the write stopped: {e}")),
                };
            }
            Store::Cloud(store) => store,
        };
        let location = match ObjectPath::parse(full) {
            Ok(location) => location,
            Err(e) => return Written::Failed(format!("object name {full}: {e}")),
        };
        // In parts only when no other run can make the name: a multipart upload is not
        // create-only. Otherwise one PUT (S3 takes up to 5 GB so).
        let in_parts = body.len() > SINGLE_PUT_MAX && self.names.unique_to_run();
        let written = match in_parts {
            false => put_whole(store, &location, attributes(object), body).await,
            true => put_parts(store, &location, attributes(object), body).await,
        };
        match written {
            Ok(()) => Written::Done,
            Err(object_store::Error::AlreadyExists { .. }) => Written::Exists,
            Err(error) => Written::Failed(format!("writing {full} to {}: {error}", self.shown)),
        }
    }

    /// Whether the object `full` holds exactly `body`; an error when it cannot be read.
    async fn holds(&self, full: &str, body: &Bytes) -> Result<bool, String> {
        match &self.store {
            Store::Local(dir) => dir.holds(full, body),
            Store::Cloud(store) => {
                let location = ObjectPath::parse(full).map_err(|e| e.to_string())?;
                let found = store.get(&location).await.map_err(|e| e.to_string())?;
                let found = found.bytes().await.map_err(|e| e.to_string())?;
                Ok(found == *body)
            }
        }
    }

    /// For `sluice check --connect`: lists the prefix (a cloud store: the bucket must
    /// exist and the key be taken), or makes the directory.
    pub async fn probe(&self) -> Result<String, String> {
        let store = match &self.store {
            Store::Local(dir) => {
                dir.probe()?;
                return Ok(format!(
                    "directory {} is ready and writable",
                    dir.root().display()
                ));
            }
            Store::Cloud(store) => store,
        };
        // The bucket's top level: a prefix in the query is signed differently from how
        // it is sent when it holds a space (the object_store crate's), and the bucket's
        // existence and the key are what is asked.
        match store.list_with_delimiter(None).await {
            Ok(_) => Ok(format!("{} lists with the credential given", self.shown)),
            Err(object_store::Error::PermissionDenied { source, .. }) => Err(format!(
                "{} refused to list the bucket (permission denied): a key allowed s3:PutObject alone can still write, else the key is refused ({source})",
                self.shown
            )),
            Err(error) => Err(format!("{}: {error}", self.shown)),
        }
    }
}

/// The cloud store `url` names, and the secrets it was given.
fn cloud_store(
    url: &url::Url,
    config: &DestinationConfig,
) -> Result<(Arc<dyn ObjectStore>, Vec<Secret>)> {
    let mut options = ClientOptions::new()
        .with_timeout(config.request_timeout)
        .with_connect_timeout(config.request_timeout);
    if let Some(ca_file) = &config.ca_file {
        let pem = std::fs::read(ca_file)
            .with_context(|| format!("ca_file: cannot read {}", ca_file.display()))?;
        let certificate = object_store::Certificate::from_pem(&pem)
            .with_context(|| format!("ca_file: {} holds no PEM certificate", ca_file.display()))?;
        options = options.with_root_certificate(certificate);
    }
    let no_retries = RetryConfig {
        max_retries: 0,
        ..RetryConfig::default()
    };
    let bucket = url.host_str().unwrap_or_default();
    Ok(match url.scheme() {
        "s3" => {
            let aws = config
                .aws
                .as_ref()
                .context("aws: an s3:// endpoint needs it")?;
            let signer = AwsSigner::new(aws)?;
            let keys = signer.keys();
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
            (Arc::new(builder.build()?), signer.secrets())
        }
        "gs" => {
            let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_retry(no_retries)
                .with_client_options(options)
                .build()?;
            (Arc::new(store), Vec::new())
        }
        "az" => {
            let store = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                .with_retry(no_retries)
                .with_client_options(options)
                .build()?;
            (Arc::new(store), Vec::new())
        }
        other => bail!("`{other}://` is not an object store"),
    })
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

async fn put_whole(
    store: &Arc<dyn ObjectStore>,
    location: &ObjectPath,
    attributes: Attributes,
    body: &Bytes,
) -> object_store::Result<()> {
    let options = PutOptions {
        mode: PutMode::Create,
        attributes,
        ..PutOptions::default()
    };
    store
        .put_opts(location, PutPayload::from_bytes(body.clone()), options)
        .await
        .map(drop)
}

/// A multipart upload cannot be made create-only: the name is checked free first
/// (a race with another writer of the same name is the one case this overwrites).
async fn put_parts(
    store: &Arc<dyn ObjectStore>,
    location: &ObjectPath,
    attributes: Attributes,
    body: &Bytes,
) -> object_store::Result<()> {
    match store.head(location).await {
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
        attributes,
        ..PutMultipartOptions::default()
    };
    let upload = store.put_multipart_opts(location, options).await?;
    let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    parts.put(body.clone());
    // `finish` aborts the upload when a part fails.
    parts.finish().await.map(drop)
}

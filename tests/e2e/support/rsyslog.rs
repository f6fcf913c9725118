//! A real rsyslog (Debian's `rsyslog`, with `rsyslog-gnutls` for TLS), started in the
//! foreground on a free loopback port with a config the test writes. Its own parser
//! reads each message, and a template writes what it parsed (PRI, HOSTNAME, APP-NAME,
//! PROCID, MSGID, STRUCTURED-DATA, MSG) as one JSON object per line, so a test checks
//! rsyslog's reading of Sluice's messages, not its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::tls::TestPki;

/// How rsyslog listens.
pub enum Listen<'a> {
    Udp,
    Tcp,
    /// TLS with the test PKI's server certificate (no client certificate asked).
    Tls(&'a TestPki),
}

/// The message that tells a UDP listener is up, and its MSGID.
const PROBE: &str = "<14>1 - - - - sluice-probe - probe";
const PROBE_MSGID: &str = "sluice-probe";

pub struct Rsyslog {
    dir: tempfile::TempDir,
    pub port: u16,
    config: PathBuf,
    child: Option<std::process::Child>,
    udp: bool,
}

impl Rsyslog {
    /// Starts rsyslogd and waits until it listens.
    pub async fn start(listen: Listen<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let udp = matches!(listen, Listen::Udp);
        let port = free_port(udp);
        let config = dir.path().join("rsyslog.conf");
        std::fs::write(&config, config_text(dir.path(), port, &listen)).unwrap();
        let mut rsyslog = Rsyslog {
            dir,
            port,
            config,
            child: None,
            udp,
        };
        rsyslog.run().await;
        rsyslog
    }

    /// Starts it again on the same port, after `stop`.
    pub async fn restart(&mut self) {
        self.run().await;
    }

    async fn run(&mut self) {
        let dir = self.dir.path();
        let child = std::process::Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&self.config)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(std::fs::File::create(dir.join("rsyslogd.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("rsyslogd.err")).unwrap())
            .spawn()
            .expect("rsyslogd (Debian package rsyslog; .ci/run installs it)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        loop {
            let ready = match self.udp {
                // Nothing answers on UDP: rsyslog is ready once a probe it was sent is
                // written out (`parsed` leaves the probes out).
                true => {
                    let _ = probe.send_to(PROBE.as_bytes(), ("127.0.0.1", self.port));
                    std::fs::read_to_string(dir.join("parsed.jsonl"))
                        .is_ok_and(|text| text.contains(PROBE_MSGID))
                }
                false => tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .is_ok(),
            };
            if ready {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "rsyslogd did not start: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops it (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            #[allow(unsafe_code)]
            let sent = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            assert_eq!(sent, 0, "SIGTERM sent to rsyslogd");
            let _ = child.wait();
            let _ = std::fs::remove_file(self.dir.path().join("rsyslogd.pid"));
        }
    }

    pub fn endpoint(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// What rsyslog parsed, one object per message, once `count` arrived (or after 10 s).
    pub async fn parsed(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let parsed = self.read_parsed();
            if parsed.len() >= count || tokio::time::Instant::now() > deadline {
                return parsed;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The whole lines written so far (rsyslog may be halfway through the last one),
    /// without the probes.
    fn read_parsed(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.dir.path().join("parsed.jsonl")).unwrap_or_default();
        let whole = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        whole
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"))
            })
            .filter(|message| message["msgid"] != PROBE_MSGID)
            .collect()
    }

    /// rsyslog's own messages, for assertion messages.
    pub fn log(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("rsyslogd.out"), read("rsyslogd.err"))
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port(udp: bool) -> u16 {
    match udp {
        true => std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        false => std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    }
}

fn config_text(dir: &Path, port: u16, listen: &Listen<'_>) -> String {
    let dir_text = dir.display();
    let input = match listen {
        Listen::Udp => format!(
            "module(load=\"imudp\")\ninput(type=\"imudp\" address=\"127.0.0.1\" port=\"{port}\" rcvbufSize=\"4m\" ruleset=\"parsed\")\n"
        ),
        Listen::Tcp => format!(
            "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"parsed\")\n"
        ),
        Listen::Tls(pki) => {
            let write = |name: &str, pem: &str| {
                let path = dir.join(name);
                std::fs::write(&path, pem).unwrap();
                path.display().to_string()
            };
            let ca = write("ca.pem", &pki.ca_pem);
            let cert = write("server.pem", &pki.server_cert_pem);
            let key = write("server.key", &pki.server_key_pem);
            format!(
                "global(defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{ca}\" defaultNetstreamDriverCertFile=\"{cert}\" defaultNetstreamDriverKeyFile=\"{key}\")\n\
                 module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n\
                 input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"parsed\")\n"
            )
        }
    };
    format!(
        "global(workDirectory=\"{dir_text}\" maxMessageSize=\"64k\")\n\
         {input}\
         template(name=\"parsed\" type=\"list\" option.jsonf=\"on\") {{\n\
           property(outname=\"pri\" name=\"pri\" format=\"jsonf\")\n\
           property(outname=\"hostname\" name=\"hostname\" format=\"jsonf\")\n\
           property(outname=\"app-name\" name=\"app-name\" format=\"jsonf\")\n\
           property(outname=\"procid\" name=\"procid\" format=\"jsonf\")\n\
           property(outname=\"msgid\" name=\"msgid\" format=\"jsonf\")\n\
           property(outname=\"structured-data\" name=\"structured-data\" format=\"jsonf\")\n\
           property(outname=\"msg\" name=\"msg\" format=\"jsonf\")\n\
         }}\n\
         ruleset(name=\"parsed\") {{ action(type=\"omfile\" file=\"{dir_text}/parsed.jsonl\" template=\"parsed\") }}\n"
    )
}

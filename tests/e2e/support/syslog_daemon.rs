//! Real syslog daemons: rsyslog (Debian's `rsyslog`, with `rsyslog-gnutls` for TLS and
//! `rsyslog-relp` for RELP) and
//! syslog-ng (Debian's `syslog-ng-core`, unpacked into `target/syslog-ng` by
//! `.ci/test-deps`), each started in the foreground on a free loopback port with a
//! config the test writes. The daemon's own parser reads each message, and a template
//! writes what it parsed (PRI, HOSTNAME, APP-NAME, PROCID, MSGID, STRUCTURED-DATA, MSG)
//! as one JSON object per line, under the same keys for both, so a test checks the
//! daemon's reading of Sluice's messages, not its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::free_port;
use super::tls::TestPki;

/// How rsyslog listens.
pub enum Listen<'a> {
    Udp,
    Tcp,
    /// TLS with the test PKI's server certificate (no client certificate asked).
    Tls(&'a TestPki),
    /// TLS that asks for a client certificate the test CA signed (mutual TLS).
    MutualTls(&'a TestPki),
    /// RELP (`imrelp`, Debian's `rsyslog-relp`).
    Relp,
}

/// The message that tells a UDP listener is up, and its MSGID.
const PROBE: &str = "<14>1 - - - - sluice-probe - probe";
const PROBE_MSGID: &str = "sluice-probe";

/// Which daemon.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsyslog,
    SyslogNg,
}

pub struct SyslogDaemon {
    kind: Kind,
    dir: tempfile::TempDir,
    pub port: u16,
    config: PathBuf,
    child: Option<std::process::Child>,
    udp: bool,
}

impl SyslogDaemon {
    /// Starts rsyslogd and waits until it listens.
    pub async fn rsyslog(listen: Listen<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let udp = matches!(listen, Listen::Udp);
        let port = free_port(udp);
        let text = rsyslog_config(dir.path(), port, &listen);
        Self::start(Kind::Rsyslog, dir, port, udp, text).await
    }

    /// Starts syslog-ng with its `syslog()` source (RFC 5424, octet counting) on TCP.
    pub async fn syslog_ng() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port(false);
        let text = syslog_ng_config(dir.path(), port);
        Self::start(Kind::SyslogNg, dir, port, false, text).await
    }

    async fn start(kind: Kind, dir: tempfile::TempDir, port: u16, udp: bool, text: String) -> Self {
        let config = dir.path().join("daemon.conf");
        std::fs::write(&config, text).unwrap();
        let mut daemon = SyslogDaemon {
            kind,
            dir,
            port,
            config,
            child: None,
            udp,
        };
        daemon.run().await;
        daemon
    }

    /// Starts it again on the same port, after `stop`.
    pub async fn restart(&mut self) {
        self.run().await;
    }

    async fn run(&mut self) {
        let dir = self.dir.path();
        let mut command = match self.kind {
            Kind::Rsyslog => {
                let mut command = std::process::Command::new("rsyslogd");
                command
                    .arg("-n")
                    .arg("-f")
                    .arg(&self.config)
                    .arg("-i")
                    .arg(dir.join("daemon.pid"));
                command
            }
            Kind::SyslogNg => {
                let root = syslog_ng_root();
                let mut command = std::process::Command::new(root.join("usr/sbin/syslog-ng"));
                command
                    .env("LD_LIBRARY_PATH", root.join("usr/lib/syslog-ng"))
                    .arg("-F")
                    .arg("-f")
                    .arg(&self.config)
                    .arg(format!(
                        "--module-path={}",
                        root.join("usr/lib/syslog-ng/3.38").display()
                    ))
                    .arg("-R")
                    .arg(dir.join("persist"))
                    .arg("-p")
                    .arg(dir.join("daemon.pid"))
                    .arg("-c")
                    .arg(dir.join("control"));
                command
            }
        };
        let child = command
            .stdout(std::fs::File::create(dir.join("daemon.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("daemon.err")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{:?}: {e} (`bash .ci/test-deps` installs the daemons)",
                    command.get_program()
                )
            });
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
                "the syslog daemon did not start: {}",
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
            assert_eq!(sent, 0, "SIGTERM sent to the syslog daemon");
            let _ = child.wait();
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

    /// The daemon's own messages, for assertion messages.
    pub fn log(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("daemon.out"), read("daemon.err"))
    }
}

impl Drop for SyslogDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where `.ci/test-deps` unpacked syslog-ng.
fn syslog_ng_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/syslog-ng")
}

fn syslog_ng_config(dir: &Path, port: u16) -> String {
    let pairs = [
        ("pri", "$PRI"),
        ("hostname", "$HOST"),
        ("app-name", "$PROGRAM"),
        ("procid", "$PID"),
        ("msgid", "$MSGID"),
        ("structured-data", "$SDATA"),
        ("msg", "$MSG"),
    ]
    .map(|(key, value)| format!("--pair {key}={value}"))
    .join(" ");
    format!(
        "@version: 3.38\n\
         options {{ threaded(no); keep-hostname(yes); log-msg-size(65536); }};\n\
         source s_net {{ syslog(ip(\"127.0.0.1\") port({port}) transport(\"tcp\")); }};\n\
         destination d_parsed {{ file(\"{}/parsed.jsonl\" template(\"$(format-json {pairs})\\n\")); }};\n\
         log {{ source(s_net); destination(d_parsed); }};\n",
        dir.display()
    )
}

fn rsyslog_config(dir: &Path, port: u16, listen: &Listen<'_>) -> String {
    let dir_text = dir.display();
    let input = match listen {
        Listen::Udp => format!(
            "module(load=\"imudp\")\ninput(type=\"imudp\" address=\"127.0.0.1\" port=\"{port}\" rcvbufSize=\"4m\" ruleset=\"parsed\")\n"
        ),
        Listen::Tcp => format!(
            "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"parsed\")\n"
        ),
        Listen::Relp => format!(
            "module(load=\"imrelp\")\ninput(type=\"imrelp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"parsed\")\n"
        ),
        Listen::Tls(pki) | Listen::MutualTls(pki) => {
            let write = |name: &str, pem: &str| {
                let path = dir.join(name);
                std::fs::write(&path, pem).unwrap();
                path.display().to_string()
            };
            let ca = write("ca.pem", &pki.ca_pem);
            let cert = write("server.pem", &pki.server_cert_pem);
            let key = write("server.key", &pki.server_key_pem);
            // Mutual TLS: the client's certificate must be signed by the CA.
            let auth = match listen {
                Listen::MutualTls(_) => "x509/certvalid",
                _ => "anon",
            };
            format!(
                "global(defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{ca}\" defaultNetstreamDriverCertFile=\"{cert}\" defaultNetstreamDriverKeyFile=\"{key}\")\n\
                 module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"{auth}\")\n\
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

//! `tcp://` and `tls://`: a module's messages, framed as the destination's `framing`
//! says (RFC 6587: octet counting, the default and the only one over TLS by RFC 5425,
//! or a line feed after each), written on long-lived connections (rustls for TLS:
//! certificates verified against the system's roots and the destination's `ca_file`,
//! an optional client certificate).
//!
//! Connections are opened when a request needs one and none is idle, so there are at
//! most as many as the destination has workers, and each is kept for the next request
//! while it stays healthy.
//!
//! On a `relp://` endpoint each connection carries a RELP session (`relp.rs`), and a
//! request is delivered once the receiver answered each of its messages.
//!
//! What "delivered" means on a plain stream, where the receiver never answers: the request's
//! bytes were written and flushed, the receiver's TCP stack acknowledged every one of
//! them (the kernel's queue of unacknowledged bytes, `SIOCOUTQ`, is empty), and the
//! connection was neither closed nor reset meanwhile. A request that fails any of these
//! is sent again whole on a new connection, with the retry policy's backoff: at least
//! once (the receiver may have had part of it). What no stream protocol without
//! application acknowledgements can tell: a receiver that stops after its kernel took
//! the bytes and before it read them loses them.

#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types;

use super::relp::Session;
use crate::config::{DestinationConfig, Framing, SocketEndpoint};
use sluice_contract::types::Refusal;

/// How often a written request checks that its bytes were acknowledged.
const ACK_CHECK: Duration = Duration::from_millis(1);

pub struct StreamTransport {
    endpoint: SocketEndpoint,
    tls: Option<(TlsConnector, pki_types::ServerName<'static>)>,
    /// Healthy connections between requests.
    idle: tokio::sync::Mutex<Vec<Connection>>,
    /// Longest a connection, or the write of a request and its acknowledgement, takes.
    timeout: Duration,
    framing: Framing,
}

impl std::fmt::Debug for StreamTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// What a request asks of a connection.
enum Exchange<'a> {
    /// Framed messages, delivered once the peer's stack acknowledged them.
    Frames(&'a [u8]),
    /// Messages (ending at these offsets) in the RELP session, each answered.
    Relp(&'a [u8], &'a [u32]),
}

/// A connection, and its RELP session on a `relp://` endpoint.
struct Connection {
    io: Io,
    relp: Option<Session>,
}

enum Io {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl StreamTransport {
    pub fn new(endpoint: SocketEndpoint, config: &DestinationConfig) -> Result<Self> {
        let tls = match endpoint.tls {
            true => {
                let name = pki_types::ServerName::try_from(endpoint.host.clone())
                    .with_context(|| format!("`{}` is not a name TLS can verify", endpoint.host))?;
                Some((
                    TlsConnector::from(Arc::new(crate::client_tls::config(config)?)),
                    name,
                ))
            }
            false => None,
        };
        Ok(StreamTransport {
            endpoint,
            tls,
            idle: tokio::sync::Mutex::default(),
            timeout: config.request_timeout,
            framing: config.framing,
        })
    }

    /// Frames the messages of `messages` (message i ends at `ends[i]`) and writes them
    /// on a healthy connection until the receiver's stack acknowledged them; returns
    /// the messages the framing cannot carry, not sent, with why. An `Err` says why
    /// the others were not delivered (the connection is dropped).
    pub async fn write(&self, messages: &[u8], ends: &[u32]) -> Result<Vec<Refusal>, String> {
        if self.endpoint.relp {
            // RELP frames each message itself, and the receiver answers each.
            self.exchange(Exchange::Relp(messages, ends)).await?;
            return Ok(Vec::new());
        }
        let (bytes, refused) = frame(self.framing, messages, ends);
        if !bytes.is_empty() {
            self.exchange(Exchange::Frames(&bytes)).await?;
        }
        Ok(refused)
    }

    /// Runs `exchange` on a healthy connection within the timeout; keeps the connection
    /// when it succeeds, drops it when it fails.
    async fn exchange(&self, exchange: Exchange<'_>) -> Result<(), String> {
        let mut connection = self.healthy_connection().await?;
        let written = tokio::time::timeout(self.timeout, connection.run(exchange)).await;
        match written {
            Ok(Ok(())) => {
                self.idle.lock().await.push(connection);
                Ok(())
            }
            Ok(Err(error)) => Err(format!("{}: {error}", self.describe())),
            Err(_) => Err(format!(
                "{}: not acknowledged within request_timeout ({:?})",
                self.describe(),
                self.timeout
            )),
        }
    }

    /// Opens a connection (the TLS handshake verifies the certificate) and keeps it,
    /// for `sluice check --connect`.
    pub async fn probe(&self) -> Result<String, String> {
        let connection = self.healthy_connection().await?;
        self.idle.lock().await.push(connection);
        Ok(format!("connected to {}", self.describe()))
    }

    /// An idle connection that is still open, or a new one.
    async fn healthy_connection(&self) -> Result<Connection, String> {
        while let Some(mut connection) = self.idle.lock().await.pop() {
            if connection.closed().is_none() {
                return Ok(connection);
            }
        }
        tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| {
                format!(
                    "{}: no connection within request_timeout ({:?})",
                    self.describe(),
                    self.timeout
                )
            })?
            .map_err(|error| super::tls_advice::explained(format!("{}: {error}", self.describe())))
    }

    async fn connect(&self) -> std::io::Result<Connection> {
        let tcp = TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port)).await?;
        tcp.set_nodelay(true)?;
        let mut io = match &self.tls {
            None => Io::Tcp(tcp),
            Some((connector, name)) => {
                Io::Tls(Box::new(connector.connect(name.clone(), tcp).await?))
            }
        };
        let relp = match self.endpoint.relp {
            true => Some(Session::open(&mut io).await?),
            false => None,
        };
        Ok(Connection { io, relp })
    }

    fn describe(&self) -> String {
        let scheme = match (self.endpoint.relp, self.endpoint.tls) {
            (false, false) => "tcp",
            (false, true) => "tls",
            (true, false) => "relp",
            (true, true) => "relp+tls",
        };
        format!("{scheme}://{}:{}", self.endpoint.host, self.endpoint.port)
    }
}

impl Connection {
    fn tcp(&self) -> &TcpStream {
        match &self.io {
            Io::Tcp(tcp) => tcp,
            Io::Tls(tls) => tls.get_ref().0,
        }
    }

    async fn run(&mut self, exchange: Exchange<'_>) -> std::io::Result<()> {
        match (exchange, &mut self.relp) {
            (Exchange::Frames(bytes), _) => {
                self.io.write_all(bytes).await?;
                self.io.flush().await?;
                self.acknowledged().await
            }
            (Exchange::Relp(messages, ends), Some(session)) => {
                session.send(&mut self.io, messages, ends).await
            }
            (Exchange::Relp(..), None) => unreachable!("a relp:// connection opens a session"),
        }
    }

    /// Waits until the peer's stack acknowledged every byte written, unless the
    /// connection closes or breaks first.
    async fn acknowledged(&mut self) -> std::io::Result<()> {
        loop {
            if let Some(closed) = self.closed() {
                return Err(closed);
            }
            if unacknowledged_bytes(self.tcp())? == 0 {
                return Ok(());
            }
            tokio::time::sleep(ACK_CHECK).await;
        }
    }

    /// Why the connection is no longer usable, if it is not: the peer closed it (a
    /// syslog receiver never sends, so any end of the stream is a close) or it broke.
    fn closed(&mut self) -> Option<std::io::Error> {
        let mut scratch = [0u8; 512];
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        loop {
            let mut buffer = ReadBuf::new(&mut scratch);
            let polled = std::pin::Pin::new(&mut self.io).poll_read(&mut context, &mut buffer);
            return match polled {
                Poll::Pending => None,
                Poll::Ready(Err(error)) => Some(error),
                Poll::Ready(Ok(())) if buffer.filled().is_empty() => Some(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the receiver closed the connection",
                )),
                // A receiver that talks (a TLS alert is an error above): ignored.
                Poll::Ready(Ok(())) => continue,
            };
        }
    }
}

/// The frames of the messages `framing` can carry, back to back, and the others.
pub(super) fn frame(framing: Framing, messages: &[u8], ends: &[u32]) -> (Vec<u8>, Vec<Refusal>) {
    let mut frames = Vec::with_capacity(messages.len() + ends.len() * 6);
    let mut refused = Vec::new();
    let mut start = 0usize;
    for (position, &end) in ends.iter().enumerate() {
        let message = &messages[start..end as usize];
        start = end as usize;
        match framing {
            Framing::OctetCounting => {
                frames.extend_from_slice(message.len().to_string().as_bytes());
                frames.push(b' ');
                frames.extend_from_slice(message);
            }
            Framing::Lf if message.contains(&b'\n') => refused.push(Refusal {
                event: position as u32,
                reason: "the message holds a line feed, which ends a message with framing = \"lf\" (use octet-counting)".into(),
            }),
            Framing::Lf => {
                frames.extend_from_slice(message);
                frames.push(b'\n');
            }
        }
    }
    (frames, refused)
}

impl AsyncRead for Io {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(tcp) => std::pin::Pin::new(tcp).poll_read(context, buffer),
            Io::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_read(context, buffer),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp(tcp) => std::pin::Pin::new(tcp).poll_write(context, bytes),
            Io::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_write(context, bytes),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(tcp) => std::pin::Pin::new(tcp).poll_flush(context),
            Io::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(tcp) => std::pin::Pin::new(tcp).poll_shutdown(context),
            Io::Tls(tls) => std::pin::Pin::new(tls.as_mut()).poll_shutdown(context),
        }
    }
}

/// Bytes written to `socket` that its peer has not acknowledged yet (Linux's
/// `SIOCOUTQ`: unsent plus sent and unacknowledged).
#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "one ioctl that no safe binding offers")]
fn unacknowledged_bytes(socket: &TcpStream) -> std::io::Result<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: the descriptor stays open while `socket` is borrowed, and SIOCOUTQ
    // (TIOCOUTQ on a socket) writes one `c_int` where the pointer points.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    match result {
        0.. => Ok(usize::try_from(queued).unwrap_or(0)),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Elsewhere, a flushed write counts (the weaker promise README states for non-Linux).
#[cfg(not(target_os = "linux"))]
fn unacknowledged_bytes(_socket: &TcpStream) -> std::io::Result<usize> {
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_counting_counts_bytes_and_lf_refuses_a_line_feed() {
        let messages = "<14>1 é\n<14>1 b".as_bytes();
        let ends = [9, 16];
        let (frames, refused) = frame(Framing::OctetCounting, messages, &ends);
        assert_eq!(frames, "9 <14>1 é\n7 <14>1 b".as_bytes());
        assert!(refused.is_empty());
        let (frames, refused) = frame(Framing::Lf, messages, &ends);
        assert_eq!(frames, b"<14>1 b\n");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].event, 0);
    }
}

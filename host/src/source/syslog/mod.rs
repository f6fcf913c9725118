//! `type = "syslog"`: messages over UDP (one per datagram), TCP or TLS (RFC 6587
//! framing, RFC 5425), each made an event ([`message`]).
//!
//! Syslog has no acknowledgement: a sender over UDP never knows whether a datagram
//! arrived (the kernel drops what its receive buffer cannot hold while the pipeline is
//! behind), and one over TCP only that the kernel took the bytes. Sluice reads a
//! connection only as fast as the pipeline takes its events, so a slow destination
//! holds the sender back through TCP rather than losing events; what is read but not yet
//! in the spool when Sluice stops is lost, as with any syslog receiver.

mod framing;
mod message;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sluice_reader::Line;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{READ_BLOCK, random_seed};
use crate::config::{ConnectionLimits, SyslogSourceConfig, SyslogTransport};
use crate::metrics::SourceFigures;
use crate::pipeline::{Ingest, Origin, Router};
use crate::serve::{LEAVING_GRACE, LEAVING_LIMIT};
use framing::{Frame, Framer};

/// A TLS handshake must be over within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest datagram (UDP's own bound).
const MAX_DATAGRAM: usize = 65_535;
/// Datagrams parsed into one chunk at most, when they come faster than they are read.
const DATAGRAMS_PER_CHUNK: usize = 1024;

/// Listens as `config` says until `stop`.
pub async fn run(
    config: SyslogSourceConfig,
    router: Arc<Router>,
    source: (usize, Arc<SourceFigures>),
    stop: CancellationToken,
) -> Result<()> {
    let at = format!("source `{}`", source.1.label);
    let address = config.listen.address;
    match config.listen.transport {
        SyslogTransport::Udp => {
            let socket = tokio::net::UdpSocket::bind(address)
                .await
                .with_context(|| format!("{at}: cannot listen on {}", config.listen))?;
            tracing::info!(source = %source.1.label, listen = %config.listen, "syslog source: one message per datagram");
            let ingest = Ingest::new(router, source, stop.clone());
            datagrams(socket, ingest, stop).await
        }
        SyslogTransport::Tcp | SyslogTransport::Tls => {
            let tls = config
                .tls
                .as_ref()
                .map(|tls| crate::serve::tls_acceptor(tls, &at))
                .transpose()?;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("{at}: cannot listen on {}", config.listen))?;
            tracing::info!(source = %source.1.label, listen = %config.listen, "syslog source: octet-counted or line-fed messages");
            let limits = config.connections;
            streams(listener, (tls, limits), (router, source), stop).await;
            Ok(())
        }
    }
}

/// Reads datagrams until `stop`: each is a message; those that came together make one
/// chunk.
async fn datagrams(
    socket: tokio::net::UdpSocket,
    mut ingest: Ingest,
    stop: CancellationToken,
) -> Result<()> {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    let stream = random_seed();
    let mut number = 0u64;
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut buffer) => received,
            () = stop.cancelled() => {
                // Its stream ends here: the last flush carries its digest.
                ingest.seal_chain(0);
                let _ = ingest.flush(None).await;
                return Ok(());
            }
        };
        let mut received = Some(received.context("receiving a syslog datagram")?);
        let mut taken = 0;
        while let Some((length, peer)) = received {
            number += 1;
            ingest.read_bytes(length);
            let name = format!("syslog udp from {peer}");
            let origin = Origin {
                name: &name,
                stream,
                line: number,
                offset: number,
            };
            take(&mut ingest, origin, Line::Complete(&buffer[..length]));
            taken += 1;
            received = match taken < DATAGRAMS_PER_CHUNK {
                true => socket.try_recv_from(&mut buffer).ok(),
                false => None,
            };
        }
        if ingest.flush(None).await.is_err() {
            return Ok(());
        }
    }
}

/// Makes the event of one message, or hands on what the framing says is not one.
fn take(ingest: &mut Ingest, origin: Origin<'_>, line: Line<'_>) {
    match line {
        Line::Complete(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => {
                let json = |msg: &str| ingest.line_if_json(origin, msg.as_bytes());
                if let Some(event) = message::event(text, json) {
                    ingest.line(origin, Line::Complete(event.as_bytes()));
                }
            }
            // Said as a file's line is: not UTF-8, at which byte.
            Err(_) => ingest.line(origin, line),
        },
        Line::TooLong { .. } => ingest.line(origin, line),
    }
}

/// Accepts connections until `stop`, each read on its own task with its own ingest;
/// then waits for them to hand on what they read.
async fn streams(
    listener: tokio::net::TcpListener,
    (tls, limits): (Option<tokio_rustls::TlsAcceptor>, ConnectionLimits),
    (router, source): (Arc<Router>, (usize, Arc<SourceFigures>)),
    stop: CancellationToken,
) {
    let reading = stop.clone();
    let who = crate::serve::Listening {
        name: format!("syslog source `{}`", source.1.label),
        figures: Some(source.1.clone()),
    };
    crate::serve::accept(
        listener,
        tls,
        (limits, HANDSHAKE_TIMEOUT),
        who,
        stop,
        move |stream, peer, leave| {
            let ingest = Ingest::new(router.clone(), source.clone(), reading.clone());
            read_stream(stream, peer, ingest, (reading.clone(), leave))
        },
    )
    .await;
}

/// Reads one connection's messages until it closes or `stop`. Asked to `leave`, it
/// closes its side first and reads on for a moment: a sender that checks its connection
/// before it writes (rsyslog does) sees it closed and opens another, and what was on
/// its way is still read.
async fn read_stream<S>(
    mut stream: S,
    peer: SocketAddr,
    mut ingest: Ingest,
    (stop, leave): (CancellationToken, CancellationToken),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = format!("syslog from {peer}");
    let seed = random_seed();
    let mut framer = Framer::new(ingest.max_line_bytes());
    let mut block = vec![0u8; READ_BLOCK];
    // Asked to leave: read until the sender is quiet for the grace, and at most until
    // the limit.
    let mut closing: Option<(Instant, Instant)> = None;
    loop {
        let read = tokio::select! {
            // What waits in the socket is read before the grace is looked at: bytes a
            // sender wrote while the pipeline held this reader back are not dropped.
            biased;
            () = stop.cancelled() => break,
            read = stream.read(&mut block) => read,
            () = leave.cancelled(), if closing.is_none() => {
                let _ = stream.shutdown().await;
                let now = Instant::now();
                closing = Some((now + LEAVING_GRACE, now + LEAVING_LIMIT));
                continue;
            }
            // (Built when it is not needed too, but then never polled.)
            () = tokio::time::sleep_until(closing.map_or_else(Instant::now, |(quiet, _)| quiet)), if closing.is_some() => break,
        };
        // Past the limit, what this read brought is still taken, then the connection ends.
        let mut past_limit = false;
        if let Some((quiet, limit)) = &mut closing {
            past_limit = Instant::now() >= *limit;
            *quiet = (Instant::now() + LEAVING_GRACE).min(*limit);
        }
        let read = match read {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%peer, %error, "a syslog connection failed");
                break;
            }
        };
        ingest.read_bytes(read);
        framer.feed(&block[..read], |frame| {
            take(&mut ingest, origin(&name, seed, &frame), frame.line)
        });
        if ingest.flush(None).await.is_err() {
            return;
        }
        if past_limit {
            tracing::warn!(%peer, "a syslog connection asked to leave (to make room) kept sending for {LEAVING_LIMIT:?}: closed, what it sent after that is not read");
            break;
        }
    }
    let cut = framer.finish(|frame| take(&mut ingest, origin(&name, seed, &frame), frame.line));
    if let Some((number, offset, bytes)) = cut {
        let at = Origin {
            name: &name,
            stream: seed,
            line: number,
            offset,
        };
        let reason = "the connection ended in the middle of an octet-counted message";
        ingest.refuse(at, reason, &bytes);
    }
    // Its stream ends with the connection: the last flush carries its digest.
    ingest.seal_chain(0);
    let _ = ingest.flush(None).await;
}

fn origin<'a>(name: &'a str, stream: u64, frame: &Frame<'_>) -> Origin<'a> {
    Origin {
        name,
        stream,
        line: frame.number,
        offset: frame.offset,
    }
}

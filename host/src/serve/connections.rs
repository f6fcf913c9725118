//! The connections a listener has open: how many from each client, and when each last
//! sent a byte, so that a new connection past a bound can take the place of one that
//! has sent nothing for long instead of being closed (see
//! [`crate::config::ConnectionLimits`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::config::ConnectionLimits;

/// Who a connection comes from, for `max_connections_per_client`: its IPv4 address, or
/// the /64 of its IPv6 address (what one machine is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4(u32),
    /// The address's first 64 bits.
    V6(u64),
}

impl Client {
    fn of(address: IpAddr) -> Client {
        match address.to_canonical() {
            IpAddr::V4(v4) => Client::V4(v4.into()),
            IpAddr::V6(v6) => Client::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

/// What the registry keeps of one connection.
struct Entry {
    peer: IpAddr,
    client: Client,
    /// Milliseconds from the registry's start to the last byte read from it.
    heard: Arc<AtomicU64>,
    /// Cancelled when it must give its place.
    leave: CancellationToken,
    /// Asked to leave: no longer counted against the bounds while it closes.
    leaving: bool,
}

/// The connections of one listener.
pub struct Open {
    limits: ConnectionLimits,
    started: Instant,
    entries: Mutex<(u64, HashMap<u64, Entry>)>,
}

/// A connection taken, and what the listener did for it.
pub struct Admitted {
    pub place: Place,
    /// The connection closed to make room, when one was: its peer's address.
    pub evicted: Option<IpAddr>,
}

/// Why a connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Listener,
    Client,
}

impl Open {
    pub fn new(limits: ConnectionLimits) -> Arc<Open> {
        Arc::new(Open {
            limits,
            started: Instant::now(),
            entries: Mutex::new((0, HashMap::new())),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes a connection from `peer`, after asking the one that sent nothing for
    /// longest to leave when a bound is reached and it has been idle long enough.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admitted, Full> {
        let client = Client::of(peer);
        let now = self.now();
        let idle_enough =
            u64::try_from(self.limits.evict_idle_after.as_millis()).unwrap_or(u64::MAX);
        let mut guard = self.entries.lock().expect("not poisoned");
        let (next, entries) = &mut *guard;
        let staying = || entries.values().filter(|entry| !entry.leaving);
        let full = if staying().count() >= self.limits.max {
            Some(Full::Listener)
        } else if staying().filter(|e| e.client == client).count() >= self.limits.per_client {
            Some(Full::Client)
        } else {
            None
        };
        let mut evicted = None;
        if let Some(full) = full {
            let idlest = entries
                .iter_mut()
                .filter(|(_, e)| !e.leaving && (full == Full::Listener || e.client == client))
                .map(|(_, e)| (e.heard.load(Ordering::Relaxed), e))
                .filter(|(heard, _)| now.saturating_sub(*heard) >= idle_enough)
                .min_by_key(|(heard, _)| *heard);
            let Some((_, entry)) = idlest else {
                return Err(full);
            };
            entry.leaving = true;
            entry.leave.cancel();
            evicted = Some(entry.peer);
        }
        *next += 1;
        let id = *next;
        let heard = Arc::new(AtomicU64::new(now));
        let leave = CancellationToken::new();
        let entry = Entry {
            peer,
            client,
            heard: heard.clone(),
            leave: leave.clone(),
            leaving: false,
        };
        entries.insert(id, entry);
        Ok(Admitted {
            place: Place {
                open: self.clone(),
                id,
                heard,
                leave,
            },
            evicted,
        })
    }
}

/// A connection's place in its listener's registry, given back when it is dropped.
pub struct Place {
    open: Arc<Open>,
    id: u64,
    heard: Arc<AtomicU64>,
    leave: CancellationToken,
}

impl Place {
    /// Cancelled when the connection must close to make room for a new one.
    pub fn leave(&self) -> CancellationToken {
        self.leave.clone()
    }

    /// `stream`, each byte read from it noted as the connection's last sign of life.
    pub fn heard<S>(&self, stream: S) -> Heard<S> {
        Heard {
            inner: stream,
            heard: self.heard.clone(),
            open: self.open.clone(),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut entries = self.open.entries.lock().expect("not poisoned");
        entries.1.remove(&self.id);
    }
}

/// A stream that notes when it last read a byte.
pub struct Heard<S> {
    inner: S,
    heard: Arc<AtomicU64>,
    open: Arc<Open>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Heard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.heard.store(self.open.now(), Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Heard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How long a connection asked to leave may take to close.
pub const LEAVING_GRACE: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_client: usize) -> ConnectionLimits {
        ConnectionLimits {
            max,
            per_client,
            evict_idle_after: Duration::from_millis(50),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_at_its_share_is_refused_while_others_are_taken() {
        let open = Open::new(limits(4, 2));
        let _a = open.admit(ip("10.0.0.1")).unwrap();
        let _b = open.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(open.admit(ip("10.0.0.1")).err(), Some(Full::Client));
        let _c = open.admit(ip("10.0.0.2")).unwrap();
        let _d = open.admit(ip("10.0.0.3")).unwrap();
        assert_eq!(open.admit(ip("10.0.0.4")).err(), Some(Full::Listener));
        drop(_c);
        assert!(
            open.admit(ip("10.0.0.4")).is_ok(),
            "a place given back is free"
        );
    }

    #[test]
    fn one_ipv6_machine_is_one_client_and_a_mapped_ipv4_is_its_ipv4() {
        let open = Open::new(limits(8, 1));
        let _a = open.admit(ip("2001:db8::1")).unwrap();
        assert_eq!(open.admit(ip("2001:db8::2")).err(), Some(Full::Client));
        let _b = open.admit(ip("2001:db8:0:1::1")).unwrap();
        let _c = open.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(open.admit(ip("::ffff:10.0.0.1")).err(), Some(Full::Client));
    }

    #[test]
    fn the_connection_idle_longest_leaves_for_a_new_one_once_idle_long_enough() {
        let open = Open::new(limits(2, 2));
        let a = open.admit(ip("10.0.0.1")).unwrap().place;
        let b = open.admit(ip("10.0.0.2")).unwrap().place;
        assert_eq!(
            open.admit(ip("10.0.0.3")).err(),
            Some(Full::Listener),
            "not idle long enough yet"
        );
        std::thread::sleep(Duration::from_millis(60));
        // `a` reads a byte: `b` is now the one idle longest.
        a.heard.store(open.now(), Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(60));
        let c = open.admit(ip("10.0.0.3")).unwrap();
        assert_eq!(c.evicted, Some(ip("10.0.0.2")));
        assert!(b.leave().is_cancelled() && !a.leave().is_cancelled());
        // `b` leaving no longer counts; `a` is the next to go, and only once.
        let d = open.admit(ip("10.0.0.4")).unwrap();
        assert!(a.leave().is_cancelled() && d.evicted == Some(ip("10.0.0.1")));
        assert_eq!(open.admit(ip("10.0.0.5")).err(), Some(Full::Listener));
    }

    #[test]
    fn a_client_at_its_share_replaces_its_own_idle_connection_not_another_s() {
        let open = Open::new(limits(4, 1));
        let other = open.admit(ip("10.0.0.2")).unwrap().place;
        let mine = open.admit(ip("10.0.0.1")).unwrap().place;
        std::thread::sleep(Duration::from_millis(60));
        open.admit(ip("10.0.0.1")).unwrap();
        assert!(mine.leave().is_cancelled() && !other.leave().is_cancelled());
    }
}

//! The connections a listener has open: how many from each client, and how long each
//! has been waited on for bytes, so that a new connection past a bound can take the
//! place of an idle one instead of being closed (see
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

/// Whether a connection is idle: its reader waits on it, and for how long. A reader that
/// is not reading (held back by a full pipeline, or answering a request) is not idle,
/// however long ago its last byte came: the sender's bytes wait in the socket.
struct Activity {
    /// Milliseconds from the registry's start to when the reader began to wait.
    waiting_since: AtomicU64,
    waiting: std::sync::atomic::AtomicBool,
}

impl Activity {
    /// Milliseconds it has waited for a byte at `now`; none while it is not waiting.
    fn idle_for(&self, now: u64) -> Option<u64> {
        let waiting = self.waiting.load(Ordering::Acquire);
        waiting.then(|| now.saturating_sub(self.waiting_since.load(Ordering::Acquire)))
    }
}

/// What the registry keeps of one connection.
struct Entry {
    peer: IpAddr,
    client: Client,
    activity: Arc<Activity>,
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

    /// Takes a connection from `peer`, after asking the one idle longest to leave when
    /// a bound is reached and it has been idle long enough. A client at its share can
    /// only replace one of its own connections, whether or not the listener is full.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admitted, Full> {
        let client = Client::of(peer);
        let now = self.now();
        let idle_enough =
            u64::try_from(self.limits.evict_idle_after.as_millis()).unwrap_or(u64::MAX);
        let mut guard = self.entries.lock().expect("not poisoned");
        let (next, entries) = &mut *guard;
        let staying = || entries.values().filter(|entry| !entry.leaving);
        let full = if staying().filter(|e| e.client == client).count() >= self.limits.per_client {
            Some(Full::Client)
        } else if staying().count() >= self.limits.max {
            Some(Full::Listener)
        } else {
            None
        };
        let mut evicted = None;
        if let Some(full) = full {
            let idlest = entries
                .values_mut()
                .filter(|e| !e.leaving && (full == Full::Listener || e.client == client))
                .filter_map(|e| Some((e.activity.idle_for(now)?, e)))
                .filter(|(idle, _)| *idle >= idle_enough)
                .max_by_key(|(idle, _)| *idle);
            let Some((_, entry)) = idlest else {
                return Err(full);
            };
            entry.leaving = true;
            entry.leave.cancel();
            evicted = Some(entry.peer);
        }
        *next += 1;
        let id = *next;
        // Waiting from the start: a connection that never sends is idle.
        let activity = Arc::new(Activity {
            waiting_since: AtomicU64::new(now),
            waiting: true.into(),
        });
        let leave = CancellationToken::new();
        let entry = Entry {
            peer,
            client,
            activity: activity.clone(),
            leave: leave.clone(),
            leaving: false,
        };
        entries.insert(id, entry);
        Ok(Admitted {
            place: Place {
                open: self.clone(),
                id,
                activity,
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
    activity: Arc<Activity>,
    leave: CancellationToken,
}

impl Place {
    /// Cancelled when the connection must close to make room for a new one.
    pub fn leave(&self) -> CancellationToken {
        self.leave.clone()
    }

    /// `stream`, noting when its reader waits for bytes and when it stops.
    pub fn heard<S>(&self, stream: S) -> Heard<S> {
        Heard {
            inner: stream,
            activity: self.activity.clone(),
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

/// A stream that notes when its reader waits for bytes.
pub struct Heard<S> {
    inner: S,
    activity: Arc<Activity>,
    open: Arc<Open>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Heard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let activity = &self.activity;
        match polled {
            Poll::Pending => {
                if !activity.waiting.load(Ordering::Acquire) {
                    activity
                        .waiting_since
                        .store(self.open.now(), Ordering::Release);
                    activity.waiting.store(true, Ordering::Release);
                }
            }
            Poll::Ready(_) => activity.waiting.store(false, Ordering::Release),
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

/// A connection asked to leave is read until its sender is quiet this long...
pub const LEAVING_GRACE: Duration = Duration::from_secs(2);
/// ...and at most this long: while it leaves, it no longer counts against the bounds.
pub const LEAVING_LIMIT: Duration = Duration::from_secs(30);

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
        // `a` reads a byte and waits again: `b` is now the one idle longest.
        a.activity
            .waiting_since
            .store(open.now(), Ordering::Relaxed);
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

    #[test]
    fn a_full_listener_does_not_let_a_client_past_its_share() {
        let open = Open::new(limits(4, 2));
        let mine: Vec<_> = (0..2)
            .map(|_| open.admit(ip("10.0.0.1")).unwrap().place)
            .collect();
        let others: Vec<_> = (0..2)
            .map(|_| open.admit(ip("10.0.0.2")).unwrap().place)
            .collect();
        // Mine are busy (their readers are not waiting); the others are idle.
        for place in &mine {
            place.activity.waiting.store(false, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(open.admit(ip("10.0.0.1")).err(), Some(Full::Client));
        assert!(others.iter().all(|place| !place.leave().is_cancelled()));
    }

    #[test]
    fn a_connection_whose_reader_is_held_back_is_not_idle() {
        let open = Open::new(limits(1, 1));
        let busy = open.admit(ip("10.0.0.1")).unwrap().place;
        busy.activity.waiting.store(false, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(open.admit(ip("10.0.0.2")).err(), Some(Full::Listener));
        assert!(!busy.leave().is_cancelled());
    }
}

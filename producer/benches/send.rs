//! What the producer costs the service that uses it. `cargo bench -p sluice-producer`
//!
//! 1. `send` on the caller's thread: 200,000 calls with an audit event of about 300
//!    bytes, 100 at a time every millisecond (a busy service's 100,000 events a second),
//!    each timed; the median, p99 and p99.9. Its worker sends to a loopback receiver in
//!    this process that answers as Sluice's HTTP source does.
//! 2. The latency a loopback axum service adds when each request logs one audit event
//!    through the producer: 10,000 sequential requests without, then with, the p50 and
//!    p99 of each and the difference; once with a handler that answers at once, once
//!    with one that waits 1 ms first (a proxy waiting for its upstream, seed 000's case).
//!    Client, service, producer and receiver share this machine's cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sluice_producer::Producer;

const SENDS: usize = 200_000;
const REQUESTS: usize = 10_000;

/// An audit event as a service defines it: a struct, serialized by serde's derive.
#[derive(serde::Serialize)]
struct AuditEvent {
    timestamp: &'static str,
    event_type: &'static str,
    action: &'static str,
    actor: Actor,
    resource: Resource,
    outcome: &'static str,
    request_id: String,
    tenant_id: &'static str,
}

#[derive(serde::Serialize)]
struct Actor {
    id: &'static str,
    email: &'static str,
    ip: &'static str,
}

#[derive(serde::Serialize)]
struct Resource {
    r#type: &'static str,
    path: &'static str,
}

fn event(n: usize) -> AuditEvent {
    AuditEvent {
        timestamp: "2026-12-06T10:00:00.123Z",
        event_type: "SECRET_READ",
        action: "secret.read",
        actor: Actor {
            id: "u-1842",
            email: "bob@example.com",
            ip: "10.1.2.3",
        },
        resource: Resource {
            r#type: "secret",
            path: "/prod/db/password",
        },
        outcome: "success",
        request_id: format!("req-{n}"),
        tenant_id: "acme",
    }
}

/// A receiver that answers as Sluice's HTTP source does, counting requests.
async fn receiver() -> (SocketAddr, Arc<AtomicU64>) {
    let requests = Arc::new(AtomicU64::new(0));
    let counted = requests.clone();
    let app = axum::Router::new().route(
        "/v1/events",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                (
                    [("content-type", "application/json")],
                    r#"{"accepted":1000,"rejected":[]}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, requests)
}

fn producer(address: SocketAddr, capacity: usize) -> Producer {
    Producer::builder()
        .endpoint(format!("http://{address}"))
        .queue_capacity(capacity)
        .build()
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (address, _) = receiver().await;
    let producer = producer(address, SENDS + 1);
    let events: Vec<_> = (0..SENDS).map(event).collect();
    let mut took = Vec::with_capacity(SENDS);
    for burst in events.chunks(100) {
        for event in burst {
            let start = Instant::now();
            producer.send(event).unwrap();
            took.push(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    took.sort();
    println!(
        "send       {SENDS} calls: median {:?}, p99 {:?}, p99.9 {:?} (an event of {} bytes)",
        percentile(&took, 0.5),
        percentile(&took, 0.99),
        percentile(&took, 0.999),
        serde_json::to_vec(&events[0]).unwrap().len()
    );
    let report = producer.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.delivered, SENDS as u64, "{report:?}");

    for upstream in [Duration::ZERO, Duration::from_millis(1)] {
        let without = service_latency(None, upstream).await;
        let producer = Arc::new(producer_for_service(address));
        let with = service_latency(Some(producer), upstream).await;
        for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
            let (a, b) = (percentile(&without, p), percentile(&with, p));
            let percent = (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0;
            println!(
                "service    handler waiting {upstream:?}, {name}: {a:?} without, {b:?} logging one event per request ({percent:+.1}%)"
            );
        }
    }
}

fn producer_for_service(address: SocketAddr) -> Producer {
    producer(address, 10_000)
}

/// The latencies of [`REQUESTS`] sequential requests to a loopback axum service whose
/// handler waits `upstream`, then logs one audit event through `producer`, when given.
async fn service_latency(producer: Option<Arc<Producer>>, upstream: Duration) -> Vec<Duration> {
    let app = axum::Router::new().route(
        "/orders",
        axum::routing::get(move || {
            let producer = producer.clone();
            async move {
                if !upstream.is_zero() {
                    tokio::time::sleep(upstream).await;
                }
                if let Some(producer) = &producer {
                    producer.send(&event(7)).unwrap();
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let url = format!("http://{address}/orders");
    for _ in 0..1000 {
        client.get(&url).send().await.unwrap();
    }
    let mut took = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let start = Instant::now();
        let answer = client.get(&url).send().await.unwrap();
        let _ = answer.bytes().await.unwrap();
        took.push(start.elapsed());
    }
    server.abort();
    took.sort();
    took
}

//! What the producer costs the service that uses it. `cargo bench -p sluice-producer`
//!
//! 1. `send` on the caller's thread: 200,000 calls with an audit event of about 300
//!    bytes, each timed; the median, p99 and p99.9 (the queue never fills: its worker
//!    sends to a loopback receiver that answers as Sluice's HTTP source does).
//! 2. The latency a loopback axum service adds when each request logs one audit event
//!    through the producer: 20,000 sequential requests without, then with, the p50 and
//!    p99 of each and the difference.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_producer::Producer;

const SENDS: usize = 200_000;
const REQUESTS: usize = 20_000;

fn event(n: usize) -> serde_json::Value {
    json!({
        "timestamp": "2026-12-06T10:00:00.123Z",
        "event_type": "SECRET_READ",
        "action": "secret.read",
        "actor": {"id": "u-1842", "email": "bob@example.com", "ip": "10.1.2.3"},
        "resource": {"type": "secret", "path": "/prod/db/password"},
        "outcome": "success",
        "request_id": format!("req-{n}"),
        "tenant_id": "acme",
    })
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
    for event in &events {
        let start = Instant::now();
        producer.send(event).unwrap();
        took.push(start.elapsed());
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

    let (without, with) = (service_latency(None).await, {
        let producer = Arc::new(producer_for_service(address));
        service_latency(Some(producer)).await
    });
    let change = |p: f64| {
        let (a, b) = (percentile(&without, p), percentile(&with, p));
        (a, b, (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0)
    };
    for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
        let (a, b, percent) = change(p);
        println!(
            "service    {name}: {a:?} without, {b:?} logging one event per request ({percent:+.1}%)"
        );
    }
}

fn producer_for_service(address: SocketAddr) -> Producer {
    producer(address, 10_000)
}

/// The latencies of [`REQUESTS`] sequential requests to a loopback axum service whose
/// handler logs one audit event through `producer`, when given.
async fn service_latency(producer: Option<Arc<Producer>>) -> Vec<Duration> {
    let app = axum::Router::new().route(
        "/orders",
        axum::routing::get(move || {
            let producer = producer.clone();
            async move {
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

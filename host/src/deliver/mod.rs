//! Delivery: batch -> format (in the module) -> send (host) -> classify (module) ->
//! delivered, retried, split, or dead-lettered.
//!
//! - [`Destination`] (`destination.rs`): a destination's module, settings, credential,
//!   batch limits and transport, checked against each other once at start; `spawn.rs`
//!   starts its batcher, workers and tracker;
//! - `worker.rs`: the state machine of one batch, with a typed outcome for every call;
//!   each worker has its own module instance and is supervised, so a panic loses
//!   neither the batch nor its count;
//! - `transport/`: how a request travels, one file per kind (`http`, `capture`);
//! - `acknowledgement.rs`: requests a destination took and confirms later (`pending`),
//!   polled until confirmed, sent again when lost or late;
//! - `retry.rs`: when to try again; `circuit.rs`: when to stop trying for a while;
//!   `rate.rs`: how much may be sent; `requests.rs`: how requests ended and how long
//!   they and the module's calls took.
//!
//! Each destination has its own batcher and `concurrency` workers, so a slow or dead
//! destination never blocks another. A batch's acks are settled once every one of its
//! events is delivered or dead-lettered; a batch abandoned at the shutdown deadline
//! leaves them unsettled.

mod access;
mod acknowledgement;
mod circuit;
mod destination;
mod filter_stage;
mod health;
mod rate;
mod redact;
mod requests;
mod retry;
mod sample;
mod spawn;
mod transport;
mod tries;
mod worker;

pub use access::chosen_endpoint;
pub use destination::{Destination, Figures};
pub use filter_stage::FilterStage;
pub use requests::{ModuleCall, RequestResult};

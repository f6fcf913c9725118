//! Payloads as modules return them, seen through the contract's codec
//! ([`sluice_contract::payload`]): the host checks them once, after the call, and
//! assembles the bytes only where it writes them (into the request body or the gzip
//! encoder), so an event the module passed on unchanged is copied once.

use sluice_contract::payload::PayloadRef;

use super::types::Payload;

impl Payload {
    /// The contract's view of this generated type.
    pub fn view(&self) -> PayloadRef<'_> {
        PayloadRef {
            text: &self.text,
            pieces: &self.pieces,
        }
    }
}

#[allow(clippy::derivable_impls, reason = "the type is generated from the WIT")]
impl Default for Payload {
    fn default() -> Self {
        Payload {
            text: Vec::new(),
            pieces: Vec::new(),
        }
    }
}

//! The bounds of an instance's store, and how large its linear memory has grown.
//!
//! Guest runtimes of other languages leak: componentize-py 0.25 keeps each `list<u8>`
//! a module returns (a request body), componentize-js 0.23 part of every answer, so an
//! instance of the Loki example in Python ran out of 64 MiB after about 100 batches of
//! 1,000 events, in JavaScript after 26. The host therefore renews an instance whose
//! memory grew past half its limit, between calls (`Sandbox::call`), before the leak
//! can fail one: a Rust module, whose memory stays a few MiB, is never renewed.

use wasmtime::{ResourceLimiter, StoreLimits};

pub struct Limiter {
    bounds: StoreLimits,
    /// The size of the largest linear memory, as last granted.
    memory_bytes: usize,
}

impl Limiter {
    pub fn new(bounds: StoreLimits) -> Self {
        Limiter {
            bounds,
            memory_bytes: 0,
        }
    }

    /// The size of the instance's largest linear memory.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let granted = self.bounds.memory_growing(current, desired, maximum)?;
        if granted {
            self.memory_bytes = self.memory_bytes.max(desired);
        }
        Ok(granted)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.bounds.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.bounds.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.bounds.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.bounds.instances()
    }

    fn tables(&self) -> usize {
        self.bounds.tables()
    }

    fn memories(&self) -> usize {
        self.bounds.memories()
    }
}

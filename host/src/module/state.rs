//! What each module instance's store holds, and the host functions it may call.

use std::collections::HashMap;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::sluice::module::host::{self, Level, SignAlgorithm};
use super::bindings::types;
use super::event_text::EventText;
use super::limiter::Limiter;
use crate::config::Secret;
use crate::event::Events;

/// Longest log message a module can write; longer ones are cut, so a module cannot
/// flood the host's log.
const MAX_LOG_MESSAGE: usize = 4096;
/// Log messages a module can write per call; further ones are counted, not written.
const MAX_LOG_MESSAGES_PER_CALL: u32 = 100;

/// Secrets a module may use through `sign` by name, without ever reading them.
pub type SigningKeys = Arc<HashMap<String, Secret>>;

pub struct ModuleState {
    /// WASI with nothing granted: no preopened directory, no environment, no
    /// arguments, no network, stdio discarded. It exists because the Rust standard
    /// library of `wasm32-wasip2` imports these interfaces.
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: Limiter,
    module: Arc<str>,
    keys: SigningKeys,
    /// Log messages written in the current call.
    logged: u32,
    /// When the call under way must end; no clock subscription may end later.
    call_deadline: std::time::Instant,
}

impl ModuleState {
    pub fn new(module: Arc<str>, limits: Limiter, keys: SigningKeys) -> Self {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        ModuleState {
            wasi,
            table: ResourceTable::new(),
            limits,
            module,
            keys,
            logged: 0,
            call_deadline: std::time::Instant::now(),
        }
    }

    /// Resets the per-call log budget; the call may run (and wait) for `limit`.
    pub fn start_call(&mut self, limit: std::time::Duration) {
        self.logged = 0;
        self.call_deadline = std::time::Instant::now() + limit;
    }

    /// When the call under way must end.
    pub fn call_deadline(&self) -> std::time::Instant {
        self.call_deadline
    }

    /// Says, once, how many log messages of the call were over the budget; from now
    /// until the next call, nothing may wait.
    pub fn end_call(&mut self) {
        self.call_deadline = std::time::Instant::now();
        if self.logged > MAX_LOG_MESSAGES_PER_CALL {
            tracing::warn!(
                module = &*self.module,
                dropped = self.logged - MAX_LOG_MESSAGES_PER_CALL,
                "log messages over {MAX_LOG_MESSAGES_PER_CALL} in one call were dropped"
            );
        }
    }

    /// Lends `events` to the module for one call, as an `event-text` handle.
    pub fn lend(&mut self, events: Arc<Events>) -> wasmtime::Result<Resource<EventText>> {
        Ok(self.table.push(EventText(events))?)
    }

    /// Takes back what [`lend`](Self::lend) lent.
    pub fn take_back(&mut self, text: Resource<EventText>) -> wasmtime::Result<()> {
        self.table.delete(text)?;
        Ok(())
    }
}

impl WasiView for ModuleState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for ModuleState {}

impl types::HostEventText for ModuleState {
    fn read(&mut self, text: Resource<EventText>) -> wasmtime::Result<String> {
        Ok(self.table.get(&text)?.0.text.clone())
    }

    fn drop(&mut self, text: Resource<EventText>) -> wasmtime::Result<()> {
        self.take_back(text)
    }
}

/// A module's message (or any text from outside: a server's answer) as one line of plain text, cut at [`MAX_LOG_MESSAGE`] bytes:
/// control characters (CR, LF, ESC...) and Unicode line separators are escaped
/// (`\n`, `\u{1b}`), so a module cannot start a forged host log line, hide one with
/// terminal escapes, or flood the log. A trap's message goes through it too: its wasm
/// backtrace spans lines, and names functions as the module's name section says.
pub(crate) fn one_line(message: &str) -> String {
    let mut line = String::with_capacity(message.len().min(MAX_LOG_MESSAGE) + 3);
    for c in message.chars() {
        if line.len() >= MAX_LOG_MESSAGE {
            line.push_str("...");
            break;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

impl host::Host for ModuleState {
    fn log(&mut self, level: Level, message: String) {
        self.logged = self.logged.saturating_add(1);
        if self.logged > MAX_LOG_MESSAGES_PER_CALL {
            return;
        }
        let message = one_line(&message);
        let module = &*self.module;
        match level {
            Level::Trace => tracing::trace!(module, "{message}"),
            Level::Debug => tracing::debug!(module, "{message}"),
            Level::Info => tracing::info!(module, "{message}"),
            Level::Warn => tracing::warn!(module, "{message}"),
            Level::Error => tracing::error!(module, "{message}"),
        }
    }

    fn now_ms(&mut self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }

    fn sign(
        &mut self,
        key_name: String,
        algorithm: SignAlgorithm,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let key = self.keys.get(&key_name).ok_or_else(|| {
            format!("no signing key named `{key_name}` is configured for this destination")
        })?;
        match algorithm {
            SignAlgorithm::HmacSha256 => {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.expose().as_bytes())
                    .map_err(|e| e.to_string())?;
                mac.update(&data);
                Ok(mac.finalize().into_bytes().to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_message_stays_one_bounded_line() {
        assert_eq!(
            one_line("a\nb\r\u{1b}[2K\u{2028}é\t"),
            "a\\nb\\r\\u{1b}[2K\\u{2028}é\\t"
        );
        let long = one_line(&"x".repeat(3 * MAX_LOG_MESSAGE));
        assert_eq!(long.len(), MAX_LOG_MESSAGE + 3);
        assert!(long.ends_with("..."));
    }
}

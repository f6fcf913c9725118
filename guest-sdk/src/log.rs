//! Logging into the host's structured log. The host tags every line with the module's
//! name. Natively (tests, benchmarks) there is no host, and these do nothing.

#[cfg(target_arch = "wasm32")]
fn emit(level: crate::wit::sluice::module::host::Level, message: &str) {
    crate::wit::sluice::module::host::log(level, message);
}

#[cfg(not(target_arch = "wasm32"))]
fn emit(_level: crate::wit::sluice::module::host::Level, _message: &str) {}

macro_rules! levels {
    ($($name:ident => $level:ident),*) => {$(
        #[doc = concat!("Logs `message` at the host's `", stringify!($name), "` level.")]
        pub fn $name(message: &str) {
            emit(crate::wit::sluice::module::host::Level::$level, message);
        }
    )*};
}

levels!(trace => Trace, debug => Debug, info => Info, warn => Warn, error => Error);

/// Has a panic of the module say its message and where, at `error`, before the trap
/// ends the call (`module panicked: acme: boom at src/lib.rs:41`): without it the
/// operator sees only a WebAssembly backtrace. Installed once per instance, by the
/// calls every instance starts with (`describe`, `configure`). Natively (tests) the
/// default hook stays, which prints to the terminal.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn report_panics() {}

#[cfg(target_arch = "wasm32")]
pub(crate) fn report_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|panic| {
            let message = panic
                .payload_as_str()
                .unwrap_or("a panic without a message");
            let place = panic
                .location()
                .map(|at| format!(" at {}:{}", at.file(), at.line()))
                .unwrap_or_default();
            error(&format!("module panicked: {message}{place}"));
        }));
    });
}

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

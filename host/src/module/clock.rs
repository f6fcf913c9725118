//! The WASI monotonic clock as modules get it: a sleep (a clock subscription, which is
//! what `std::thread::sleep` and `poll` with a timeout come down to) may not end past
//! the call's deadline. The epoch deadline ends a call that computes too long, but a
//! module waiting in a host call runs no code to interrupt: before this, a module that
//! slept 100,000 s held its destination until shutdown.
//!
//! A subscription that would end past the deadline fails the call at once, as a call
//! past its time limit (`Trap::Interrupt`); a shorter one is served by WASI's own clock.
//! Reading the clock is unchanged. The other pollables a module can reach (its stdin,
//! stdout and stderr, all empty or discarding) are always ready, so no poll can wait
//! longer than the clock subscriptions it holds.

use std::time::{Duration, Instant};

use wasmtime::Trap;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::clocks::{WasiClocksCtxView, WasiClocksView};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::{
    self, Duration as WasiDuration, Instant as WasiInstant,
};

use super::state::ModuleState;

/// Replaces the monotonic clock of WASI already in `linker` with the bounded one.
pub(super) fn shadow_monotonic_clock(linker: &mut Linker<ModuleState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    monotonic_clock::add_to_linker::<ModuleState, BoundedClock>(linker, |state| {
        BoundedClockView {
            deadline: state.call_deadline(),
            clocks: state.clocks(),
        }
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

struct BoundedClock;

impl HasData for BoundedClock {
    type Data<'a> = BoundedClockView<'a>;
}

struct BoundedClockView<'a> {
    /// When the call under way must end (outside a call: now, so nothing may wait).
    deadline: Instant,
    clocks: WasiClocksCtxView<'a>,
}

impl BoundedClockView<'_> {
    /// Refuses a wait of `wait` that would end past the deadline.
    fn within_deadline(&self, wait: Duration) -> wasmtime::Result<()> {
        match Instant::now().checked_add(wait) {
            Some(end) if end <= self.deadline => Ok(()),
            _ => Err(Trap::Interrupt.into()),
        }
    }
}

impl monotonic_clock::Host for BoundedClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<WasiInstant> {
        monotonic_clock::Host::now(&mut self.clocks)
    }

    fn resolution(&mut self) -> wasmtime::Result<WasiInstant> {
        monotonic_clock::Host::resolution(&mut self.clocks)
    }

    fn subscribe_instant(&mut self, when: WasiInstant) -> wasmtime::Result<Resource<DynPollable>> {
        let now = monotonic_clock::Host::now(&mut self.clocks)?;
        self.within_deadline(Duration::from_nanos(when.saturating_sub(now)))?;
        monotonic_clock::Host::subscribe_instant(&mut self.clocks, when)
    }

    fn subscribe_duration(
        &mut self,
        duration: WasiDuration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.within_deadline(Duration::from_nanos(duration))?;
        monotonic_clock::Host::subscribe_duration(&mut self.clocks, duration)
    }
}

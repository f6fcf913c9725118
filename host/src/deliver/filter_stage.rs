//! A destination's filter module (`filter_module`): asked, before a batch is formatted,
//! which of its events the destination is sent. It is loaded, checked and reloaded as
//! a formatter is; a call that fails (a trap, its time or memory limit, a wrong answer)
//! fails that attempt only: the batch is tried again with the retry policy, then
//! dead-lettered with the reason; the other destinations go on.

use std::sync::{Arc, RwLock};

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::requests::{ModuleCall, Requests};
use super::sample::sample_events;
use crate::event::Events;
use crate::module::{FilterInstance, FilterModule, undeclared_setting};

pub struct FilterStage {
    settings: Vec<(String, String)>,
    /// The module, swapped by a reload, and how many times it was loaded.
    current: RwLock<(Arc<FilterModule>, u64)>,
}

impl FilterStage {
    /// The stage of `module` with the destination's `filter_settings`, once the module
    /// takes them and answers a sample batch.
    pub fn new(module: Arc<FilterModule>, settings: Vec<(String, String)>) -> Result<Self> {
        trial(&module, &settings)?;
        Ok(FilterStage {
            settings,
            current: RwLock::new((module, 1)),
        })
    }

    pub fn module(&self) -> Arc<FilterModule> {
        self.current().0
    }

    fn current(&self) -> (Arc<FilterModule>, u64) {
        self.current.read().expect("not poisoned").clone()
    }

    /// Puts `module` in place of the running one once it passes the checks of a start;
    /// the new generation, none for the same bytes, or why it was refused.
    pub fn reload(&self, module: Arc<FilterModule>) -> Result<Option<u64>> {
        if self.module().same_bytes(&module) {
            return Ok(None);
        }
        trial(&module, &self.settings)?;
        let mut current = self.current.write().expect("not poisoned");
        current.0 = module;
        current.1 += 1;
        Ok(Some(current.1))
    }
}

impl FilterStage {
    /// Which of `events` the module keeps, asked of a new instance: for `sluice
    /// preview`, which runs no worker.
    pub fn keep_once(&self, events: &Arc<Events>) -> Result<Vec<bool>> {
        let (module, _) = self.current();
        let flags = module.instantiate(self.settings.clone())?.keep(events)?;
        Ok(flags)
    }
}

/// Checks that `module` declares every one of `settings`, takes them, and answers a
/// sample batch.
fn trial(module: &FilterModule, settings: &[(String, String)]) -> Result<()> {
    let info = module.info();
    let declared: Vec<&str> = info.settings.iter().map(String::as_str).collect();
    if let Some((key, problem)) =
        undeclared_setting("filter module", &info.name, &declared, settings)
    {
        anyhow::bail!("filter_settings.{key}: {problem}");
    }
    let mut instance = module.instantiate(settings.to_vec())?;
    instance.keep(&Arc::new(sample_events()))?;
    Ok(())
}

/// A worker's filter instance between batches, with its module's generation. (A mutex
/// only to make the worker `Sync`; one worker never calls twice at once.)
#[derive(Default)]
pub(super) struct KeptFilter {
    instance: std::sync::Mutex<Option<FilterInstance>>,
    generation: u64,
}

impl KeptFilter {
    /// Which of `events` `stage` keeps, one flag per event, or why the call failed.
    pub async fn keep(
        &mut self,
        stage: &FilterStage,
        events: &Arc<Events>,
        requests: &Arc<Requests>,
        abort: &CancellationToken,
    ) -> Result<Vec<bool>, String> {
        let (module, generation) = stage.current();
        let kept = self.instance.get_mut().expect("not poisoned");
        if generation != self.generation {
            *kept = None;
            self.generation = generation;
        }
        let instance = match kept.take() {
            Some(instance) => instance,
            None => module
                .instantiate(stage.settings.clone())
                .map_err(|e| e.to_string())?,
        };
        let (events, requests) = (events.clone(), requests.clone());
        let call = tokio::task::spawn_blocking(move || {
            let mut instance = instance;
            let started = std::time::Instant::now();
            let flags = instance.keep(&events);
            requests.called(ModuleCall::Filter, started.elapsed());
            (instance, flags)
        });
        let (instance, flags) = tokio::select! {
            joined = call => joined.map_err(|panic| format!("the call into the filter module panicked: {panic}"))?,
            // The call runs on to its own time limit; the deadline does not wait for it.
            () = abort.cancelled() => return Err("the shutdown deadline passed during a filter call".into()),
        };
        *self.instance.get_mut().expect("not poisoned") = Some(instance);
        flags.map_err(|error| format!("filter module: {error}"))
    }
}

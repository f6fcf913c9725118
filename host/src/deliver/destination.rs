//! A destination: its module, settings, credential, batch limits and transport, checked
//! against each other once at start (its tasks start in `spawn.rs`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sluice_contract::id::IdText;
use tokio_util::sync::CancellationToken;

use super::circuit::Circuit;
use super::filter_stage::FilterStage;
use super::health::Health;
use super::rate::RateLimit;
use super::requests::Requests;
use super::retry::RetryPolicy;
use super::sample::sample_events;
use super::transport::{Credential, CredentialValue, Transport};
use super::tries::Tries;
use crate::buffer::{BatchLimits, QueueGauge, Selection};
use crate::config::{DestinationConfig, Endpoint};
use crate::dead_letter::{DeadLetter, Record, now_rfc3339};
use crate::event::Enrichment;
use crate::event::{Events, from_str_unbounded};
use crate::metrics::{Counters, Throttle, throttle};
use crate::module::{FormatterInstance, FormatterModule, Setup, SigningKeys};
use sluice_contract::types::{ConnectionCheck, FormatError, Query};

/// What one destination needs, shared by its workers.
pub struct Destination {
    pub name: Arc<str>,
    /// The module, swapped by a reload; workers re-read it between batches.
    current: std::sync::RwLock<Current>,
    settings: Vec<(String, String)>,
    /// The configured batch limits, else the module's.
    pub(super) limits: BatchLimits,
    pub(super) transport: Transport,
    pub(super) credential: Option<Credential>,
    /// Masks the secrets it sends in what its answers say (reasons, `check --connect`).
    pub(super) redactor: super::redact::Redactor,
    signing_keys: SigningKeys,
    pub(super) retry: RetryPolicy,
    pub(super) circuit: Circuit,
    pub(super) rate: RateLimit,
    pub(super) dead_letter: Arc<DeadLetter>,
    pub(super) counters: Arc<Counters>,
    pub(super) health: Health,
    /// Dead-lettered events are warned about at most once per [`throttle::EVERY`].
    dead_letter_warnings: Throttle,
    /// And abandoned ones (a backlog of small batches made a line each).
    abandon_warnings: Throttle,
    pub(super) requests: Arc<Requests>,
    /// No answer within this is a timeout, for the requests' figures.
    pub(super) request_timeout: Duration,
    /// The endpoint a setting chose (`site`), as `check` shows it.
    chosen_endpoint: Option<String>,
    /// Whether the destination sends a credential (a `token`, `secret_headers`, a
    /// secret endpoint...), for what `check --connect` can say of it.
    credential_given: bool,
    /// Its events are in the spool until settled: a batch cut short at the shutdown
    /// deadline is delivered after a restart, not abandoned.
    pub(super) spooled: bool,
    /// Why its workers take no batch now (its module file was removed), if they do not.
    paused: tokio::sync::watch::Sender<Option<String>>,
    /// Which of the events offered it takes (its filter, the routes); set by the run.
    pub selection: Arc<Selection>,
    /// Its filter module, if it has one.
    pub filter_stage: Option<FilterStage>,
}

/// A destination's figures at one moment: for the progress line, the summary, and the
/// admin listener's `/status` and `/metrics`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    pub name: String,
    /// Events offered to it (its queue took them).
    pub events_in: u64,
    /// Dropped by its own filter policy.
    pub filtered: u64,
    /// Sent by a route to other destinations only.
    pub routed_away: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    /// Dropped by its buffer's `when_full` policy.
    pub dropped_when_full: u64,
    /// Of batches the shutdown deadline cut short.
    pub abandoned: u64,
    /// Sent again because the destination did not confirm them (they are counted
    /// again in their outcome: not part of the events in).
    pub sent_again: u64,
    /// Events it took and has not settled: in its queue, a batch, a retry, or awaiting
    /// the destination's confirmation (at the end of a run, those abandoned): the
    /// events in minus every outcome.
    pub backlog: u64,
    /// How long the oldest of the backlog has waited since its queue took it (read
    /// as if events settle in the order taken: an old batch retried while newer ones
    /// are delivered reads younger than it is).
    #[serde(rename = "oldest_unsettled_seconds", serialize_with = "seconds")]
    pub oldest_unsettled: Option<std::time::Duration>,
    /// How its requests ended, and how long they and the module's calls took.
    pub requests: Arc<Requests>,
    /// Attempts that failed (each retry, and each give-up).
    pub failed_attempts: u64,
    /// How long it has been failing, while it is.
    #[serde(rename = "failing_for_seconds", serialize_with = "seconds")]
    pub failing_for: Option<std::time::Duration>,
    /// How long it may fail before it is reported, and not ready.
    #[serde(skip)]
    pub alert_after: std::time::Duration,
    /// `closed`, `open` or `half-open`.
    pub circuit: &'static str,
    /// Its module file is gone: it takes no batch until one is back.
    pub paused: bool,
    pub queued_events: usize,
    pub queued_bytes: usize,
    pub spool_records_pending: Option<u64>,
    pub spool_bytes: Option<u64>,
    /// RFC 3339, or `never`.
    pub last_success: String,
    pub last_error_time: String,
    pub last_error: String,
}

impl Figures {
    /// Logs them: `what` says which line (the periodic progress line, or the summary at
    /// the end).
    pub fn log(&self, what: &str) {
        tracing::info!(
            destination = %self.name,
            events_in = self.events_in,
            filtered = self.filtered,
            routed_away = self.routed_away,
            delivered = self.delivered,
            dead_lettered = self.dead_lettered,
            dropped_when_full = self.dropped_when_full,
            abandoned = self.abandoned,
            sent_again = self.sent_again,
            backlog = self.backlog,
            failed_attempts = self.failed_attempts,
            failing = self.failing_for.is_some(),
            circuit = self.circuit,
            queued_events = self.queued_events,
            queued_bytes = self.queued_bytes,
            spool_records_pending = self.spool_records_pending,
            spool_bytes = self.spool_bytes,
            last_success = %self.last_success,
            last_error_time = %self.last_error_time,
            last_error = %self.last_error,
            "{what}"
        );
    }

    /// Failing for longer than it may: reported at ERROR, and not ready.
    pub fn failing_too_long(&self) -> bool {
        self.failing_for
            .is_some_and(|failing| failing >= self.alert_after)
    }
}

fn seconds<S: serde::Serializer>(
    duration: &Option<std::time::Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}

/// The module a destination runs, and how many times it was loaded.
struct Current {
    module: Arc<FormatterModule>,
    generation: u64,
}

impl Destination {
    /// The module workers instantiate now, and its generation: a worker whose
    /// instance is of an older generation replaces it before its next batch.
    pub(super) fn current(&self) -> (Arc<FormatterModule>, u64) {
        let current = self.current.read().expect("not poisoned");
        (current.module.clone(), current.generation)
    }

    /// The module it runs now.
    pub fn module(&self) -> Arc<FormatterModule> {
        self.current().0
    }

    /// Stops its workers from taking batches, for `reason` (its module is gone): its
    /// events wait, queued (the sources then wait too) or in the spool. Batches under
    /// way finish. False when it was paused already.
    pub fn pause(&self, reason: String) -> bool {
        self.paused.send_replace(Some(reason)).is_none()
    }

    /// Lets its workers take batches again; false when it was not paused.
    pub fn resume(&self) -> bool {
        self.paused.send_replace(None).is_some()
    }

    /// Waits while the destination is paused, or until `abort`.
    pub(super) async fn unpaused(&self, abort: &CancellationToken) {
        let mut paused = self.paused.subscribe();
        tokio::select! {
            biased;
            _ = paused.wait_for(Option::is_none) => {}
            () = abort.cancelled() => {}
        }
    }

    /// Puts `module` in place of the running one, after the checks a start makes
    /// (settings, transport, credential, a sample event formatted); requests under
    /// way finish on the module that formatted them, and the next attempt takes the
    /// new one. Returns the new generation, or why the module was refused (the running
    /// one then stays). The same bytes change nothing.
    pub fn reload(
        &self,
        module: Arc<FormatterModule>,
        enrichment: Enrichment,
    ) -> Result<Option<u64>> {
        let running = self.module();
        if running.same_bytes(&module) {
            return Ok(None);
        }
        let info = module.info();
        if let Some((key, problem)) = module.unknown_setting(&self.settings) {
            anyhow::bail!("settings.{key}: {problem}");
        }
        anyhow::ensure!(
            info.auth == running.info().auth
                && info.transport == running.info().transport
                && info.endpoint_choice == running.info().endpoint_choice,
            "module `{}` authenticates, travels or chooses its endpoint otherwise than the running one; restart sluice to change that",
            info.name
        );
        let mut instance = module.instantiate(self.setup(enrichment))?;
        dry_run_instance(&mut instance)?;
        let mut current = self.current.write().expect("not poisoned");
        current.module = module;
        current.generation += 1;
        Ok(Some(current.generation))
    }

    /// Checks the configuration against the module (settings it declares, the transport
    /// it needs, a credential when it wants one) and prepares the transport.
    pub fn new(
        config: &DestinationConfig,
        module: Arc<FormatterModule>,
        filter_stage: Option<FilterStage>,
        dead_letter: Arc<DeadLetter>,
        counters: Arc<Counters>,
        alert_after: Duration,
        spooled: bool,
    ) -> Result<Self> {
        let info = module.info();
        let settings = config.settings()?;
        if let Some((key, problem)) = module.unknown_setting(&settings) {
            anyhow::bail!("settings.{key}: {problem}");
        }
        let super::access::Chosen {
            endpoint,
            shown: chosen_endpoint,
        } = super::access::endpoint(config, info, &settings)?;
        Transport::check_serves(&endpoint, info.transport)
            .map_err(|problem| anyhow::anyhow!("endpoint: module `{}` {problem}", info.name))?;
        anyhow::ensure!(
            config.secret_headers.is_empty()
                || info.transport == sluice_contract::types::Transport::Http,
            "secret_headers: module `{}` sends messages, not HTTP requests: they carry no headers",
            info.name
        );
        let transport =
            Transport::new(endpoint.clone(), config, info.transport).context("endpoint")?;
        let credential = super::access::credential(config, info, &endpoint, &transport)?;
        let mut signing_keys = std::collections::HashMap::new();
        for (name, key) in &config.signing_keys {
            signing_keys.insert(
                name.clone(),
                key.resolve()
                    .map_err(|e| anyhow::anyhow!("signing_keys.{name}: {e}"))?,
            );
        }
        let default_wait = match endpoint {
            Endpoint::Object(_) => crate::buffer::OBJECT_MAX_WAIT,
            _ => crate::buffer::DEFAULT_MAX_WAIT,
        };
        let limits = BatchLimits::configured(&config.batch, info.batch, default_wait);
        let redactor = super::redact::Redactor::new(
            config,
            credential
                .iter()
                .flat_map(Credential::secrets)
                .chain(transport.secrets()),
        );
        let name: Arc<str> = config.name.as_str().into();
        Ok(Destination {
            circuit: Circuit::new(name.clone(), &config.circuit_breaker),
            rate: RateLimit::new(&config.rate_limit),
            spooled,
            name,
            limits,
            current: std::sync::RwLock::new(Current {
                module,
                generation: 1,
            }),
            settings,
            transport,
            redactor,
            credential,
            signing_keys: Arc::new(signing_keys),
            retry: RetryPolicy::new(&config.retry),
            dead_letter,
            counters,
            health: Health::new(alert_after),
            dead_letter_warnings: Throttle::default(),
            abandon_warnings: Throttle::default(),
            requests: Arc::default(),
            request_timeout: config.request_timeout,
            chosen_endpoint,
            credential_given: config.has_credential(),
            paused: tokio::sync::watch::Sender::new(None),
            selection: Arc::default(),
            filter_stage,
        })
    }

    /// What the end of a run says of it: the dead-lettered and abandoned events no
    /// line has counted yet, and where a capture destination's requests are.
    pub fn log_end(&self) {
        let events = self.dead_letter_warnings.rest();
        if events > 0 {
            tracing::warn!(destination = %self.name, events, "events dead-lettered since the last such warning");
        }
        let events = self.abandon_warnings.rest();
        if events > 0 {
            tracing::error!(destination = %self.name, events, "batches abandoned at the shutdown deadline since the last such line");
        }
        if let Some(dir) = self.transport.capture_dir() {
            tracing::info!(destination = %self.name, directory = %dir.display(), "requests captured as files");
        }
    }

    /// Its figures now: `queue` is its queue's gauge, `spooled` the records it has not
    /// settled in the spool and the spool's bytes, when there is one.
    pub fn figures(&self, queue: &QueueGauge, spooled: Option<(u64, u64)>) -> Figures {
        let health = &self.health;
        let read = |figure: &std::sync::atomic::AtomicU64| {
            figure.load(std::sync::atomic::Ordering::Relaxed)
        };
        let (last_error_time, last_error) = health.last_error();
        let (events_in, filtered, routed_away) = (
            queue.taken(),
            read(&self.selection.filtered),
            read(&self.selection.routed_away),
        );
        let (delivered, dead_lettered, dropped_when_full) = (
            read(&health.delivered),
            read(&health.dead_lettered),
            queue.dropped(),
        );
        let abandoned = read(&health.abandoned);
        let settled =
            delivered + dead_lettered + dropped_when_full + filtered + routed_away + abandoned;
        Figures {
            name: self.name.to_string(),
            events_in,
            filtered,
            routed_away,
            delivered,
            dead_lettered,
            dropped_when_full,
            abandoned,
            sent_again: read(&health.sent_again),
            backlog: events_in.saturating_sub(settled),
            oldest_unsettled: queue.oldest_unsettled(settled),
            requests: self.requests.clone(),
            failed_attempts: read(&health.failures),
            failing_for: health.failing_for(),
            alert_after: health.alert_after(),
            circuit: self.circuit.describe(),
            paused: self.paused.borrow().is_some(),
            queued_events: queue.queued_events(),
            queued_bytes: queue.queued_bytes(),
            spool_records_pending: spooled.map(|(records, _)| records),
            spool_bytes: spooled.map(|(_, bytes)| bytes),
            last_success: health.last_success(),
            last_error_time,
            last_error,
        }
    }

    /// One line for `sluice check`: module, version, where it came from, the batch limits
    /// in force.
    pub fn describe(&self) -> String {
        let module = self.module();
        let info = module.info();
        format!(
            "{} {} ({}), {}batches of up to {} events / {} bytes / {:?}",
            info.name,
            info.version,
            self.module().label(),
            self.chosen_endpoint
                .as_ref()
                .map(|shown| format!("{shown}, "))
                .unwrap_or_default(),
            self.limits.max_events,
            self.limits.max_bytes,
            self.limits.max_wait
        )
    }

    /// What each instance of the module is configured with.
    pub(super) fn setup(&self, enrichment: Enrichment) -> Setup {
        Setup {
            settings: self.settings.clone(),
            enrichment,
            keys: self.signing_keys.clone(),
        }
    }

    /// Configures the module with this destination's settings and formats a sample
    /// event, so a setting the module rejects is reported before any event is read.
    pub fn dry_run(&self, enrichment: Enrichment) -> Result<()> {
        let mut instance = self.module().instantiate(self.setup(enrichment))?;
        dry_run_instance(&mut instance)
    }

    /// Reaches the endpoint with the module's connection check (a request that sends no
    /// event) and says whether the credential was taken; without a check, only that
    /// the endpoint answers. For `sluice check --connect`.
    pub async fn connect(&self, enrichment: Enrichment) -> Result<String> {
        if let Some(dir) = self.transport.capture_dir() {
            return Ok(format!("capture directory {} is ready", dir.display()));
        }
        if let Some(probed) = self.transport.probe().await {
            return probed.map_err(|reason| anyhow::anyhow!("cannot reach the endpoint: {reason}"));
        }
        let check = self
            .module()
            .instantiate(self.setup(enrichment))?
            .connection_check()?;
        // A module that publishes names, as its check's path, a subject it publishes to.
        if let Transport::Nats(nats) = &self.transport {
            let subject = check.as_ref().map(|check| &check.query.path[1..]);
            if let Some(subject) = subject {
                sluice_contract::answer::check_subject_filter(subject).map_err(|problem| {
                    anyhow::anyhow!(
                        "the module's connection check names subject {subject:?}: {problem}"
                    )
                })?;
            }
            return nats
                .probe(subject)
                .await
                .map_err(|reason| anyhow::anyhow!("{reason}"));
        }
        // A token the endpoint cannot give is said as such, not as an unreachable
        // destination.
        if let Some(Credential {
            value: CredentialValue::OAuth2(source),
            ..
        }) = &self.credential
        {
            source
                .token()
                .await
                .map_err(|reason| anyhow::anyhow!("no OAuth2 token: {reason}"))?;
        }
        let tested = check.is_some();
        let check = check.unwrap_or_else(|| ConnectionCheck {
            query: Query {
                method: "GET".into(),
                path: "/".into(),
                headers: Vec::new(),
                body: Vec::new(),
            },
            accepted: Vec::new(),
            unauthorized: Vec::new(),
        });
        let response = self
            .transport
            .query(&check.query, self.credential.as_ref())
            .await
            .map_err(|reason| anyhow::anyhow!("cannot reach the endpoint: {reason}"))?;
        // Masked before it is cut: a secret cut in half would not be found.
        let body = self
            .redactor
            .redact(String::from_utf8_lossy(&response.body).trim());
        let answer = format!(
            "HTTP {}: {}",
            response.status,
            crate::module::one_line(&body.chars().take(200).collect::<String>())
        );
        if !tested {
            return Ok(format!(
                "the endpoint answers ({answer}); module `{}` has no connection check, so the credential was not tested",
                self.module().info().name
            ));
        }
        if check.unauthorized.contains(&response.status) {
            anyhow::bail!("the credential was refused: {answer}");
        }
        anyhow::ensure!(
            check.accepted.contains(&response.status),
            "unexpected answer to the connection check {} {}: {answer}",
            check.query.method,
            check.query.path
        );
        let taken = match self.credential_given {
            true => "credential accepted",
            false => "no credential is configured",
        };
        Ok(format!(
            "reached, {taken} ({} {} answered {answer})",
            check.query.method, check.query.path
        ))
    }
}

impl Destination {
    /// Counts and keeps the events of a batch the shutdown deadline cut short, where
    /// an operator can find them (one try: the deadline has passed). The batch stays
    /// unsettled, so a source with checkpoints reads them again too (at least once).
    pub(super) async fn abandon(&self, events: &Events, reason: &str, abort: &CancellationToken) {
        self.count_abandoned(events.len());
        if let Some(events) = self.abandon_warnings.due(events.len() as u64) {
            tracing::error!(destination = %self.name, events, "shutdown deadline passed; batches abandoned (`events`: since the last such line, these included)");
        }
        self.write_records(
            events,
            0..events.len() as u32,
            "shutdown",
            reason,
            &Tries::default(),
            abort,
        )
        .await;
    }
}

impl Destination {
    /// Counts `events` abandoned, for the run and for this destination.
    pub(super) fn count_abandoned(&self, events: usize) {
        Counters::add(&self.counters.abandoned, events);
        Counters::add(&self.health.abandoned, events);
    }

    /// Dead-letters the events of `batch` at `indices` (checked with the module's
    /// answer), with `reason` and what was `tried`; false when the store could not
    /// take them before `give_up` (then they are not counted as dead-lettered).
    pub(super) async fn dead_letter(
        &self,
        batch: &Events,
        indices: &[u32],
        reason: &str,
        tried: &Tries,
        give_up: &CancellationToken,
    ) -> bool {
        if indices.is_empty() {
            return true;
        }
        let stored = self
            .write_records(
                batch,
                indices.iter().copied(),
                "deliver",
                reason,
                tried,
                give_up,
            )
            .await;
        if stored {
            // Said once they are in the store: what the warnings count is there.
            if let Some(events) = self.dead_letter_warnings.due(indices.len() as u64) {
                tracing::warn!(destination = %self.name, events, %reason, "events dead-lettered (`events`: since the last such warning, these included; the next comes in {:?} at the earliest)", throttle::EVERY);
            }
            Counters::add(&self.counters.dead_lettered, indices.len());
            self.health
                .dead_lettered
                .fetch_add(indices.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        stored
    }

    /// Dead-letters every event of `batch`, as [`dead_letter`](Self::dead_letter) does.
    pub(super) async fn dead_letter_all(
        &self,
        batch: &Events,
        reason: &str,
        tried: &Tries,
        give_up: &CancellationToken,
    ) -> bool {
        let all: Vec<u32> = (0..batch.len() as u32).collect();
        self.dead_letter(batch, &all, reason, tried, give_up).await
    }

    /// Writes the events of `batch` at `indices` to the dead-letter store, trying again
    /// until it works or `give_up`.
    pub(super) async fn write_records(
        &self,
        batch: &Events,
        indices: impl Iterator<Item = u32>,
        stage: &'static str,
        reason: &str,
        tried: &Tries,
        give_up: &CancellationToken,
    ) -> bool {
        let time = now_rfc3339();
        let first_error = tried
            .first_error
            .as_deref()
            .filter(|first| *first != reason);
        let records: Vec<Record<'_>> = indices
            .map(|i| i as usize)
            .map(|i| Record {
                time: time.clone(),
                stage,
                destination: Some(&self.name),
                reason,
                attempts: (tried.attempts > 0).then_some(tried.attempts),
                first_error,
                origin: None,
                event_id: Some(IdText(batch.meta(i).id).to_string()),
                event: from_str_unbounded(batch.json(i)).ok(),
                line: None,
            })
            .collect();
        self.dead_letter.store(&records, give_up).await
    }
}

/// Formats a sample event with `instance`, so that a setting the module refuses is
/// reported before any event depends on it.
fn dry_run_instance(instance: &mut FormatterInstance) -> Result<()> {
    match instance.format(&Arc::new(sample_events()))? {
        Ok(_) => Ok(()),
        Err(FormatError::InvalidSetting(problem)) => anyhow::bail!("{problem}"),
        Err(FormatError::Failed(reason)) => {
            anyhow::bail!("the module cannot format a sample event: {reason}")
        }
    }
}

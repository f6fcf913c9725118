//! Requests a destination took and will confirm later (a `pending` verdict: Splunk
//! HEC's indexer acknowledgement), until it confirms them.
//!
//! One tracker per destination holds every ticket its workers were given, with the
//! events the request carried and the batch's acks. Every `poll_interval` it asks the
//! destination about the oldest tickets with the module's query (every second once the
//! workers are done, so a run that ends does not wait ten seconds a round). A
//! confirmed ticket's events count as delivered; a batch's acks are settled once all
//! its tickets are. A lost ticket, or one not confirmed within `timeout`, is sent again
//! as a batch of its own (a failed attempt: after `retry.max_attempts` its events are
//! dead-lettered), by a task of its own, so that a resend that waits out its backoff
//! holds up neither the polls nor the workers. Resending is at least once: a destination
//! that kept the first copy without saying so has two, which the event ids reveal.
//! The events held are bounded by `max_pending_events` (`worker::PendingBound`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Destination;
use super::worker::{self, Awaiting, Kept, Unconfirmed};
use crate::ack::Ack;
use crate::config::AcknowledgementConfig;
use crate::metrics::Counters;
use crate::module::Setup;
use sluice_contract::types::AckState;

/// How often a tracker polls once no new ticket can come.
const DRAINING_POLL: Duration = Duration::from_secs(1);

/// Why the events of a ticket handed out again are sent again.
const FORGOTTEN: &str = "the destination gave its ticket to a newer request (it forgot the first)";

/// The acks of a batch, settled once its last ticket is.
struct Group {
    acks: Vec<Ack>,
    outstanding: usize,
    /// Its share of the pending bound, given back with the group.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// What a tracker holds.
#[derive(Default)]
struct Tracked {
    groups: HashMap<u64, Group>,
    /// By ticket: the events and the group they settle.
    tickets: HashMap<String, (Awaiting, u64)>,
    next_group: u64,
}

impl Tracked {
    fn add(&mut self, unconfirmed: Unconfirmed) -> Vec<(Awaiting, u64)> {
        let group = self.next_group;
        self.next_group += 1;
        self.groups.insert(
            group,
            Group {
                acks: unconfirmed.acks,
                outstanding: 0,
                _permit: unconfirmed.permit,
            },
        );
        self.add_tickets(group, unconfirmed.awaiting)
    }

    /// Adds tickets to `group`; returns those they displace. A destination that
    /// hands out a ticket it already gave has forgotten the first (Splunk numbers a
    /// channel's acks from 0 again after it drops the channel): its events are lost.
    fn add_tickets(&mut self, group: u64, awaiting: Vec<Awaiting>) -> Vec<(Awaiting, u64)> {
        let mut displaced = Vec::new();
        for awaiting in awaiting {
            self.groups
                .get_mut(&group)
                .expect("a group outlives its tickets")
                .outstanding += 1;
            if let Some(old) = self
                .tickets
                .insert(awaiting.ticket.clone(), (awaiting, group))
            {
                displaced.push(old);
            }
        }
        displaced
    }

    /// One ticket of `group` is settled; its acks are, when it was the last.
    fn settle(&mut self, group: u64) {
        let entry = self.groups.get_mut(&group).expect("tracked group");
        entry.outstanding -= 1;
        if entry.outstanding == 0 {
            let done = self.groups.remove(&group).expect("tracked group");
            done.acks.into_iter().for_each(Ack::settle);
        }
    }

    /// The oldest tickets, at most `count`.
    fn oldest(&self, count: usize) -> Vec<String> {
        let mut tickets: Vec<(&String, Instant)> = self
            .tickets
            .iter()
            .map(|(ticket, (awaiting, _))| (ticket, awaiting.taken_at))
            .collect();
        tickets.sort_by_key(|&(_, taken_at)| taken_at);
        tickets
            .into_iter()
            .take(count)
            .map(|(ticket, _)| ticket.clone())
            .collect()
    }

    /// The tickets taken longer than `timeout` ago.
    fn expired(&self, timeout: Duration) -> Vec<String> {
        let now = Instant::now();
        self.tickets
            .iter()
            .filter(|(_, (awaiting, _))| now.duration_since(awaiting.taken_at) >= timeout)
            .map(|(ticket, _)| ticket.clone())
            .collect()
    }
}

/// One destination's tracker.
pub(super) struct Tracker {
    destination: Arc<Destination>,
    setup: Setup,
    config: AcknowledgementConfig,
    kept: Kept,
    tracked: Tracked,
    /// Events being sent again, each by a task (at most `concurrency` at once): what it
    /// reports, and what it took; and those waiting their turn, with why.
    resending: JoinSet<Resent>,
    in_flight: HashMap<tokio::task::Id, (Awaiting, u64)>,
    to_resend: std::collections::VecDeque<(Awaiting, u64, String)>,
    concurrency: usize,
    abort: CancellationToken,
}

/// What a resend did: whether its events were settled or taken again before the
/// shutdown deadline, and the new tickets.
struct Resent {
    settled: bool,
    tickets: Vec<Awaiting>,
}

impl Tracker {
    pub fn new(
        destination: Arc<Destination>,
        setup: Setup,
        (config, concurrency): (AcknowledgementConfig, usize),
        abort: CancellationToken,
    ) -> Self {
        let (_, generation) = destination.current();
        Tracker {
            destination,
            setup,
            config,
            kept: Kept::none(generation),
            tracked: Tracked::default(),
            resending: JoinSet::new(),
            in_flight: HashMap::new(),
            to_resend: Default::default(),
            concurrency: concurrency.max(1),
            abort,
        }
    }

    /// Tracks what the workers send until they are done and every ticket is settled,
    /// or until the shutdown deadline.
    pub async fn run(mut self, mut input: mpsc::Receiver<Unconfirmed>) -> Result<()> {
        let mut open = true;
        let mut next_poll = Instant::now() + self.config.poll_interval;
        loop {
            tokio::select! {
                received = input.recv(), if open => match received {
                    Some(unconfirmed) => {
                        let displaced = self.tracked.add(unconfirmed);
                        self.send_again(displaced, FORGOTTEN);
                    }
                    None => {
                        open = false;
                        next_poll = next_poll.min(Instant::now() + DRAINING_POLL);
                    }
                },
                () = tokio::time::sleep_until(next_poll) => {
                    self.poll().await;
                    next_poll = Instant::now() + match open {
                        true => self.config.poll_interval,
                        false => DRAINING_POLL,
                    };
                }
                Some(joined) = self.resending.join_next_with_id(), if !self.resending.is_empty() => {
                    self.resent(joined);
                }
                () = self.abort.cancelled() => break,
            }
            if !open
                && self.tracked.tickets.is_empty()
                && self.resending.is_empty()
                && self.to_resend.is_empty()
            {
                return Ok(());
            }
        }
        self.leave().await;
        Ok(())
    }

    /// Asks about the oldest tickets; settles the confirmed, sends again the lost and
    /// those past the timeout.
    async fn poll(&mut self) {
        let tickets = self.tracked.oldest(self.config.tickets_per_poll);
        if tickets.is_empty() {
            return;
        }
        let name = &self.destination.name;
        match worker::poll(
            &self.destination,
            &self.setup,
            &mut self.kept,
            tickets.clone(),
            &self.abort,
        )
        .await
        {
            Ok(states) => {
                let mut lost = Vec::new();
                for (ticket, state) in tickets.into_iter().zip(states) {
                    match state {
                        AckState::Confirmed => self.confirmed(&ticket),
                        AckState::Lost => lost.extend(self.tracked.tickets.remove(&ticket)),
                        AckState::Waiting => {}
                    }
                }
                self.send_again(lost, "the destination lost the request");
            }
            Err(reason) => {
                tracing::warn!(destination = %name, %reason, "cannot ask the destination what it kept; asking again at the next poll");
            }
        }
        let expired: Vec<_> = self
            .tracked
            .expired(self.config.timeout)
            .into_iter()
            .filter_map(|ticket| self.tracked.tickets.remove(&ticket))
            .collect();
        let reason = format!(
            "not confirmed within acknowledgement.timeout ({:?})",
            self.config.timeout
        );
        self.send_again(expired, &reason);
    }

    fn confirmed(&mut self, ticket: &str) {
        if let Some((awaiting, group)) = self.tracked.tickets.remove(ticket) {
            let count = awaiting.events.len();
            Counters::add(&self.destination.counters.delivered, count);
            self.destination
                .health
                .delivered(&self.destination.name, count);
            self.tracked.settle(group);
        }
    }

    /// Sends the events of `lost` tickets again, each by a task of its own; their
    /// groups wait for the new tickets.
    fn send_again(&mut self, lost: Vec<(Awaiting, u64)>, reason: &str) {
        for (awaiting, group) in lost {
            let count = awaiting.events.len();
            tracing::warn!(destination = %self.destination.name, ticket = ?awaiting.ticket, events = count, %reason, "sending the events again");
            Counters::add(&self.destination.counters.sent_again_unconfirmed, count);
            Counters::add(&self.destination.health.sent_again, count);
            self.to_resend
                .push_back((awaiting, group, reason.to_owned()));
        }
        self.start_resends();
    }

    /// Starts the resends waiting their turn, up to `concurrency` at once.
    fn start_resends(&mut self) {
        while self.resending.len() < self.concurrency {
            let Some((awaiting, group, reason)) = self.to_resend.pop_front() else {
                return;
            };
            let destination = self.destination.clone();
            let setup = self.setup.clone();
            let abort = self.abort.clone();
            let sent = awaiting.clone();
            let task = self.resending.spawn(async move {
                let (_, generation) = destination.current();
                let mut kept = Kept::none(generation);
                let (settled, tickets) =
                    worker::send_again(&destination, &setup, &mut kept, sent, &reason, &abort)
                        .await;
                Resent { settled, tickets }
            });
            self.in_flight.insert(task.id(), (awaiting, group));
        }
    }

    /// A resend ended: its new tickets join its group, which its lost ticket no longer
    /// holds; one the shutdown deadline (or a panic) cut short stays unsettled.
    fn resent(&mut self, joined: Result<(tokio::task::Id, Resent), tokio::task::JoinError>) {
        let (id, resent) = match joined {
            Ok((id, resent)) => (id, Some(resent)),
            Err(error) => {
                tracing::error!(destination = %self.destination.name, %error, "sending events again failed; they are sent again after acknowledgement.timeout");
                (error.id(), None)
            }
        };
        self.start_resends();
        let Some((awaiting, group)) = self.in_flight.remove(&id) else {
            return;
        };
        match resent {
            Some(Resent {
                settled: true,
                tickets,
            }) => {
                let displaced = self.tracked.add_tickets(group, tickets);
                self.tracked.settle(group);
                self.send_again(displaced, FORGOTTEN);
            }
            _ => {
                let ticket = awaiting.ticket.clone();
                self.tracked.tickets.insert(ticket, (awaiting, group));
            }
        }
    }

    /// At the shutdown deadline: what is not confirmed stays unsettled, so a source
    /// with checkpoints or the spool sends it again at the next run; without them, the
    /// events are kept in the dead-letter store as abandoned.
    async fn leave(mut self) {
        // Resends cut short by the deadline: their events are as unconfirmed as the rest.
        self.resending.abort_all();
        let waiting = self.to_resend.drain(..).map(|(a, g, _)| (a, g));
        for (awaiting, group) in self
            .in_flight
            .drain()
            .map(|(_, taken)| taken)
            .chain(waiting)
        {
            let ticket = awaiting.ticket.clone();
            self.tracked.tickets.insert(ticket, (awaiting, group));
        }
        let events: usize = self
            .tracked
            .tickets
            .values()
            .map(|(awaiting, _)| awaiting.events.len())
            .sum();
        if events == 0 {
            return;
        }
        if self.destination.spooled {
            tracing::info!(destination = %self.destination.name, events, "shutdown deadline passed before the destination confirmed these events; they stay in the spool for the next run");
            return;
        }
        for (awaiting, _) in self.tracked.tickets.values() {
            self.destination
                .abandon(
                    &awaiting.events,
                    "abandoned: the destination did not confirm them within shutdown_timeout (it may have kept them)",
                    &self.abort,
                )
                .await;
        }
    }
}

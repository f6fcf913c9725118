//! What one destination takes of the events every destination is offered: those its
//! own filter policy keeps, and that the global policies' `[[route]]` tables send to it
//! (or to no one in particular). Decided on the fields the policies name, scanned from
//! the event's JSON: no value tree is built.

use std::sync::Arc;

use sluice_filter::{Event, Number, Policy, Value};

use super::scan::{self, Captured, Wanted};

/// Policies, each with the scan slots of its fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slotted {
    policies: Vec<(Arc<Policy>, Vec<FieldSlots>)>,
}

/// Where a scan captures one field named by a dotted path: as modules read a field,
/// the whole path is first a key of the event's top level (`"actor.id"`), then keys
/// through nested objects.
#[derive(Debug, Clone)]
pub(crate) struct FieldSlots {
    whole: Option<usize>,
    nested: usize,
}

impl FieldSlots {
    /// The field at `path` (its keys), captured by `wanted`.
    pub(crate) fn of(path: &[String], wanted: &mut Wanted) -> FieldSlots {
        FieldSlots {
            whole: (path.len() > 1).then(|| wanted.slot(&[path.join(".")])),
            nested: wanted.slot(path),
        }
    }

    /// The field's value in `captured`.
    pub(crate) fn value<'c>(&self, captured: &'c [Option<Captured>]) -> Option<&'c Captured> {
        self.whole
            .and_then(|whole| captured[whole].as_ref())
            .or(captured[self.nested].as_ref())
    }
}

impl Slotted {
    /// Adds `policy`, whose fields `wanted` captures.
    pub(crate) fn add(&mut self, policy: Arc<Policy>, wanted: &mut Wanted) {
        let fields = policy
            .paths()
            .iter()
            .map(|path| FieldSlots::of(path, wanted))
            .collect();
        self.policies.push((policy, fields));
    }

    /// Each policy with the values of its fields in `captured`.
    pub(crate) fn with_values<'c>(
        &self,
        captured: &'c [Option<Captured>],
    ) -> impl Iterator<Item = (&Policy, Vec<Option<Value<'c>>>)> {
        self.policies.iter().map(move |(policy, fields)| {
            let values = fields
                .iter()
                .map(|field| field.value(captured).map(filter_value))
                .collect();
            (policy.as_ref(), values)
        })
    }
}

/// A captured field as a filter compares it.
fn filter_value(captured: &Captured) -> Value<'_> {
    match captured {
        Captured::Text(text) => Value::Text(text.as_str().into()),
        Captured::Integer(n) => Value::Number(Number::Integer(*n)),
        Captured::Float(x) => Value::Number(Number::Float(*x)),
        Captured::Bool(b) => Value::Bool(*b),
        Captured::Null => Value::Null,
        Captured::Other => Value::Other,
    }
}

/// Why a destination does not take an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A route sends it to other destinations.
    RoutedAway,
    /// The destination's own filter drops it.
    Filtered,
}

/// One destination's selection of the events.
#[derive(Debug, Clone)]
pub struct Selector {
    destination: String,
    wanted: Wanted,
    routing: Slotted,
    filter: Slotted,
    max_depth: u32,
}

impl Selector {
    /// The selection of `destination`: `filter` its own policy, `routing` the global
    /// policies that route; none when there is nothing to decide.
    pub fn new(
        destination: &str,
        filter: Option<Arc<Policy>>,
        routing: impl IntoIterator<Item = Arc<Policy>>,
        max_depth: u32,
    ) -> Option<Selector> {
        let mut wanted = Wanted::default();
        let mut routes = Slotted::default();
        for policy in routing.into_iter().filter(|policy| policy.routes()) {
            routes.add(policy, &mut wanted);
        }
        let mut own = Slotted::default();
        if let Some(policy) = filter {
            own.add(policy, &mut wanted);
        }
        if routes.policies.is_empty() && own.policies.is_empty() {
            return None;
        }
        Some(Selector {
            destination: destination.to_owned(),
            wanted,
            routing: routes,
            filter: own,
            max_depth,
        })
    }

    /// Whether the destination skips `json`, an event the reader accepted (so it
    /// scans; should it not, the event is taken: the destination's checks see it),
    /// whose time is `time_ms`.
    pub fn skips(&self, json: &str, time_ms: i64) -> Option<Skip> {
        let scanned = scan::scan(json, &self.wanted, self.max_depth).ok()?;
        let captured = &scanned.captured;
        let event = Event { json, time_ms };
        let routed_away = self.routing.with_values(captured).any(|(policy, values)| {
            policy
                .route(&values, &event)
                .is_some_and(|to| !to.contains(&self.destination))
        });
        if routed_away {
            return Some(Skip::RoutedAway);
        }
        let dropped = self
            .filter
            .with_values(captured)
            .any(|(policy, values)| !policy.keeps(&values, &event));
        dropped.then_some(Skip::Filtered)
    }

    /// Where the global routes send `json`: the destinations named by every route that
    /// matches it (one per routing policy); none when no route matches, and the event
    /// goes to every destination that takes its source. For `sluice preview`.
    pub fn routed_to(&self, json: &str, time_ms: i64) -> Option<Vec<String>> {
        let scanned = scan::scan(json, &self.wanted, self.max_depth).ok()?;
        let event = Event { json, time_ms };
        let mut to: Option<Vec<String>> = None;
        for (policy, values) in self.routing.with_values(&scanned.captured) {
            if let Some(targets) = policy.route(&values, &event) {
                to = Some(match to {
                    None => targets.to_vec(),
                    Some(so_far) => so_far.into_iter().filter(|t| targets.contains(t)).collect(),
                });
            }
        }
        to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Arc<Policy> {
        Arc::new(Policy::parse(text).unwrap())
    }

    #[test]
    fn routes_decide_first_then_the_destinations_own_filter() {
        let routing = policy(
            r#"
[[route]]
when = { field = "tenant", eq = "acme" }
to = ["acme"]
"#,
        );
        let own = policy(r#"drop = { field = "path", prefix = "/health" }"#);
        let acme = Selector::new("acme", Some(own), [routing.clone()], 64).unwrap();
        let other = Selector::new("other", None, [routing], 64).unwrap();

        let for_acme = r#"{"tenant":"acme","path":"/login"}"#;
        assert_eq!(acme.skips(for_acme, 0), None);
        assert_eq!(other.skips(for_acme, 0), Some(Skip::RoutedAway));
        let health = r#"{"tenant":"acme","path":"/health/live"}"#;
        assert_eq!(acme.skips(health, 0), Some(Skip::Filtered));
        let unrouted = r#"{"tenant":"else","path":"/x"}"#;
        assert_eq!(acme.skips(unrouted, 0), None);
        assert_eq!(other.skips(unrouted, 0), None);
    }

    #[test]
    fn nothing_to_decide_is_no_selector() {
        let keep_only = policy(r#"keep = { field = "a", exists = true }"#);
        assert!(Selector::new("d", None, [keep_only], 64).is_none());
    }
}

//! What `serve` counts for `GET /metrics`: events, actions, notifications and ledger operations,
//! the time deliveries and actions take, and the deliveries in flight, in the Prometheus text
//! format (version 0.0.4) that `prometheus-client` writes.
//!
//! # Layout
//! - [`Metrics`]: the registry, with a handle for every label combination registered once at
//!   start-up, so that counting is an atomic add on a handle, never a lookup by labels;
//!   [`Metrics::render`] writes the page.
//! - [`EventOutcome`]: what became of an event, the `outcome` of `aml_events_total`;
//!   [`NotificationStatus`]: how a post to a target ended.
//! - [`Tally`]: a delivery's events by function, counted when the delivery fails as a whole;
//!   [`DeliveryTimer`]: a delivery in flight, timed when it is answered.
//! - [`ledger`]: [`CountedLedger`], the ledger counting its operations
//!   ([`Metrics::count_ledger`]).
//!
//! Every label value comes from a fixed list (the functions, actions, statuses, target kinds,
//! ledger operations): never event content, an id, a URL or a target's name, so the number of
//! series stays what start-up registered whatever arrives. Nothing here is process-global: the
//! registry belongs to the [`AppContext`](crate::AppContext), so each context counts its own.

pub mod ledger;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use aml_events::{
    Event, Function,
    envelope::Decoded,
    ledger::Ledger,
    notify::{Delivered, Kind, NotifyError},
};
use prometheus_client::{
    encoding::prometheus_text,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::{
    functions::HandlerError,
    outcome::{Action, ActionReport, ActionStatus, Outcome},
};
use ledger::{CountedLedger, LedgerCounts};

/// The path `serve` answers the page at.
pub const PATH: &str = "/metrics";

/// The page's `Content-Type`: the Prometheus text format, version 0.0.4.
/// See <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The `function` label of what no function handles (an event of another type, a delivery
/// that names no function and holds no event of ours).
const NO_FUNCTION: &str = "none";

/// One `function` label per function, and [`NO_FUNCTION`].
const FUNCTIONS: usize = Function::ALL.len() + 1;

/// Bucket bounds of both histograms, in seconds: from a dry run's fraction of a millisecond to
/// Event Grid's 30 s, finer near the default `AML_DEADLINE_SECONDS` of 25.
const SECONDS: [f64; 18] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
    20.0, 25.0, 30.0,
];

/// What became of an event: the `outcome` label of `aml_events_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Its function ran; what each action came to is in `aml_actions_total`.
    Done,
    /// Acknowledged on purpose without acting: another type, a workspace outside
    /// `AML_WORKSPACES`, no route matched, a monitor run that did not fail.
    Acknowledged,
    /// A redelivery of an event already handled: each of its actions was done before.
    Duplicate,
    /// Malformed (answered 400), or in a delivery with a malformed event: Event Grid does not
    /// retry it, and dead-letters it when the subscription has a dead-letter destination.
    Rejected,
    /// Not finished for now (an action failed for now or was deferred, or the deadline came):
    /// answered 503 or a failed invocation, so Event Grid delivers it again.
    Redelivered,
    /// Azure refused the handlers' identity (answered 500): redelivered until that is fixed.
    Misconfigured,
}

impl EventOutcome {
    /// Every outcome, in the order of their declaration.
    pub const ALL: [EventOutcome; 6] = [
        EventOutcome::Done,
        EventOutcome::Acknowledged,
        EventOutcome::Duplicate,
        EventOutcome::Rejected,
        EventOutcome::Redelivered,
        EventOutcome::Misconfigured,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Done => "done",
            EventOutcome::Acknowledged => "acknowledged",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Rejected => "rejected",
            EventOutcome::Redelivered => "redelivered",
            EventOutcome::Misconfigured => "misconfigured",
        }
    }

    /// What an event handled without failing came to.
    pub fn of(outcome: &Outcome) -> EventOutcome {
        let duplicate = |report: &ActionReport| report.status == ActionStatus::Duplicate;
        if outcome.note.is_some() {
            EventOutcome::Acknowledged
        } else if !outcome.actions.is_empty() && outcome.actions.iter().all(duplicate) {
            EventOutcome::Duplicate
        } else {
            EventOutcome::Done
        }
    }

    /// What the events of a delivery that failed with `failure` come to: the host answers
    /// for the delivery as a whole.
    pub fn of_failure(failure: &HandlerError) -> EventOutcome {
        match failure {
            HandlerError::BadEvent(_) => EventOutcome::Rejected,
            HandlerError::Transient { .. }
            | HandlerError::Deferred { .. }
            | HandlerError::DeadlineExceeded { .. } => EventOutcome::Redelivered,
            HandlerError::Unauthorized { .. } => EventOutcome::Misconfigured,
        }
    }
}

/// How a post of a notice to a target ended: the `status` label of `aml_notifications_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationStatus {
    /// The target took it (2xx).
    Sent,
    /// The target refused it for good (a 4xx other than 408 and 429), or its URL cannot be
    /// used: it is not asked again.
    Refused,
    /// It could not be delivered for now (no connection, a timeout, 408, 429 or 5xx through
    /// the retries the deadline allowed): the event is redelivered and the post tried again.
    Failed,
}

impl NotificationStatus {
    /// Every status, in the order of their declaration.
    pub const ALL: [NotificationStatus; 3] = [
        NotificationStatus::Sent,
        NotificationStatus::Refused,
        NotificationStatus::Failed,
    ];

    /// How a post that answered `answer` ended: a failure that may pass (what the notifier
    /// retries) is `Failed`, any other `Refused`.
    pub fn of(answer: &Result<Delivered, NotifyError>) -> NotificationStatus {
        match answer {
            Ok(_) => NotificationStatus::Sent,
            Err(err) if err.is_transient() => NotificationStatus::Failed,
            Err(_) => NotificationStatus::Refused,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Sent => "sent",
            NotificationStatus::Refused => "refused",
            NotificationStatus::Failed => "failed",
        }
    }
}

/// The registry and every handle, built once per context.
pub struct Metrics {
    registry: Registry,
    events: [[Counter; EventOutcome::ALL.len()]; FUNCTIONS],
    actions: [[Counter; ActionStatus::ALL.len()]; Action::ALL.len()],
    notifications: [[Counter; NotificationStatus::ALL.len()]; Kind::ALL.len()],
    ledger: Arc<LedgerCounts>,
    delivery_seconds: [Histogram; FUNCTIONS],
    action_seconds: [Histogram; Action::ALL.len()],
    in_flight: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Two labels, both from fixed lists.
type Labels = [(&'static str, &'static str); 2];
/// One label from a fixed list.
type Label = [(&'static str, &'static str); 1];

impl Metrics {
    /// A registry with every metric and label combination at zero.
    pub fn new() -> Metrics {
        let events = Family::<Labels, Counter>::default();
        let actions = Family::<Labels, Counter>::default();
        let notifications = Family::<Labels, Counter>::default();
        let ledger_operations = Family::<Labels, Counter>::default();
        let delivery_seconds = Family::<Label, Histogram>::new_with_constructor(seconds as _);
        let action_seconds = Family::<Label, Histogram>::new_with_constructor(seconds as _);
        let in_flight = Gauge::default();
        // A family is a handle on the registry's own: the series created below are on the page.
        let mut registry = Registry::default();
        registry.register(
            "aml_events",
            "Events delivered, by function and by what became of them",
            events.clone(),
        );
        registry.register(
            "aml_actions",
            "Actions taken or considered, by action and by status as the outcome reports it",
            actions.clone(),
        );
        registry.register(
            "aml_notifications",
            "Notices posted to notification targets, by the target's kind and by how the post ended",
            notifications.clone(),
        );
        registry.register(
            "aml_ledger_operations",
            "Ledger operations, by operation and result",
            ledger_operations.clone(),
        );
        registry.register(
            "aml_delivery_duration_seconds",
            "Time from a delivery's arrival to its answer, by function",
            delivery_seconds.clone(),
        );
        registry.register(
            "aml_action_duration_seconds",
            "Time an action's effect took (its requests and retries), by action",
            action_seconds.clone(),
        );
        registry.register(
            "aml_deliveries_in_flight",
            "Deliveries being handled now",
            in_flight.clone(),
        );
        Metrics {
            registry,
            events: std::array::from_fn(|function| {
                std::array::from_fn(|outcome| {
                    events.get_or_create_owned(&[
                        ("function", function_name(function)),
                        ("outcome", EventOutcome::ALL[outcome].as_str()),
                    ])
                })
            }),
            actions: std::array::from_fn(|action| {
                std::array::from_fn(|status| {
                    actions.get_or_create_owned(&[
                        ("action", Action::ALL[action].as_str()),
                        ("status", ActionStatus::ALL[status].as_str()),
                    ])
                })
            }),
            notifications: std::array::from_fn(|kind| {
                std::array::from_fn(|status| {
                    notifications.get_or_create_owned(&[
                        ("kind", Kind::ALL[kind].as_str()),
                        ("status", NotificationStatus::ALL[status].as_str()),
                    ])
                })
            }),
            ledger: Arc::new(LedgerCounts::new(&ledger_operations)),
            delivery_seconds: std::array::from_fn(|function| {
                delivery_seconds.get_or_create_owned(&[("function", function_name(function))])
            }),
            action_seconds: std::array::from_fn(|action| {
                action_seconds.get_or_create_owned(&[("action", Action::ALL[action].as_str())])
            }),
            in_flight,
        }
    }

    /// `ledger`, its operations counted here.
    pub fn count_ledger(&self, ledger: Arc<dyn Ledger>) -> Arc<dyn Ledger> {
        Arc::new(CountedLedger::new(ledger, Arc::clone(&self.ledger)))
    }

    /// The page: every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut page = String::new();
        // Its only error is the writer's, and writing to a `String` does not fail.
        let _ = prometheus_text::encode(&mut page, &self.registry);
        page
    }

    /// A delivery starting, for `function` (the one it names, if any): in flight until the
    /// timer is dropped, when its time is recorded.
    pub fn delivery(&self, function: Option<Function>) -> DeliveryTimer<'_> {
        self.in_flight.inc();
        DeliveryTimer {
            metrics: self,
            function,
            started: Instant::now(),
        }
    }

    /// The events of a delivery by function, before they are handled: `function` when the
    /// delivery names one, else each event's own.
    pub fn tally(&self, events: &[Event<Decoded>], function: Option<Function>) -> Tally {
        let mut tally = Tally([0; FUNCTIONS]);
        for event in events {
            tally.0[function_index(function.or_else(|| event.function()))] += 1;
        }
        tally
    }

    /// Counts the events of a delivery once it is handled: each outcome as it came to, or,
    /// when the delivery failed, every event of its `tally` as the failure makes it.
    pub fn events(&self, tally: &Tally, handled: &Result<Vec<Outcome>, HandlerError>) {
        match handled {
            Ok(outcomes) => {
                for outcome in outcomes {
                    let function = function_index(outcome.function);
                    self.events[function][EventOutcome::of(outcome) as usize].inc();
                }
            }
            Err(failure) => {
                let outcome = EventOutcome::of_failure(failure) as usize;
                for (function, count) in tally.0.iter().enumerate() {
                    if *count > 0 {
                        self.events[function][outcome].inc_by(u64::from(*count));
                    }
                }
            }
        }
    }

    /// Counts a delivery whose body could not be read as events (answered 400) as one
    /// rejected event of `function` (the one it names, if any).
    pub fn unreadable(&self, function: Option<Function>) {
        self.events[function_index(function)][EventOutcome::Rejected as usize].inc();
    }

    /// Counts the reports of an event's actions.
    pub fn actions(&self, reports: &[ActionReport]) {
        for report in reports {
            self.actions[report.action as usize][report.status as usize].inc();
        }
    }

    /// Records how long an effect of `action` took.
    pub fn action_took(&self, action: Action, took: Duration) {
        self.action_seconds[action as usize].observe(took.as_secs_f64());
    }

    /// Counts a post of a notice to a target of `kind`.
    pub fn notified(&self, kind: Kind, status: NotificationStatus) {
        self.notifications[kind as usize][status as usize].inc();
    }
}

/// A delivery's events by function (the index of [`function_index`]).
#[derive(Debug)]
pub struct Tally([u32; FUNCTIONS]);

/// A delivery in flight: counted in `aml_deliveries_in_flight` until dropped, when its time
/// goes to `aml_delivery_duration_seconds`. Dropped with the request's future too, so a
/// delivery whose caller hung up does not stay in flight.
#[derive(Debug)]
#[must_use = "a delivery is timed until its timer is dropped"]
pub struct DeliveryTimer<'a> {
    metrics: &'a Metrics,
    function: Option<Function>,
    started: Instant,
}

impl DeliveryTimer<'_> {
    /// Names the delivery's function when the request named none: its first event's.
    pub fn name_after(&mut self, events: &[Event<Decoded>]) {
        if self.function.is_none() {
            self.function = events.first().and_then(Event::function);
        }
    }
}

impl Drop for DeliveryTimer<'_> {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        self.metrics.delivery_seconds[function_index(self.function)].observe(seconds);
        self.metrics.in_flight.dec();
    }
}

/// A new histogram with [`SECONDS`]' buckets.
fn seconds() -> Histogram {
    Histogram::new(SECONDS)
}

/// The index of a `function` label: the function's place in [`Function::ALL`], or the last
/// for none.
fn function_index(function: Option<Function>) -> usize {
    function.map_or(FUNCTIONS - 1, |function| function as usize)
}

/// The `function` label at `index`.
fn function_name(index: usize) -> &'static str {
    Function::ALL
        .get(index)
        .map_or(NO_FUNCTION, |function| function.name())
}

#[cfg(test)]
mod tests;

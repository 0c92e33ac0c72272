//! The actions the functions share: notify, enrich, retrain, smoke-test. Whether and how an
//! action runs comes from the routes an event matched (a file's, or the implicit routes of the
//! `AML_*` settings): one path, whichever way they were configured. Each effect is de-duplicated
//! by its identity (a target's kind, URL and routing key; a job's name; a scoring URI), runs
//! once across instances through the ledger ([`once`]), and is reported; in a dry run the
//! request it would make is reported instead.
//!
//! # Layout
//! - [`Delivery`]: what one delivery shares (clients bounded by its deadline, the ledger);
//!   [`Actions`]: the actions of one of its events under the routes it matched.
//! - [`Acted`]: an action's reports and the failure, if any, that must have Event Grid
//!   redeliver the event; [`Handled`]: a function's outcome so far and that failure.
//! - [`once`], [`notify`], [`enrich`], [`retrain`], [`smoke_test`]: one job each;
//!   [`quiet`]: noise control, which a retrain and a notification pass through.
//!
//! Failures are sorted where they happen: Azure refusing the identity (401/403) and a failure
//! that outlasted its retries make the delivery fail after every other action was carried out
//! (a breach is still announced when its retrain fails); a permanent failure is reported in
//! the outcome; a deferred effect (claimed elsewhere, the ledger unreachable) is never
//! reported as the effect's own failure.

pub mod enrich;
pub mod notify;
pub mod once;
pub mod quiet;
pub mod retrain;
pub mod smoke_test;

use std::{sync::Arc, time::Duration};

use aml_events::{
    Event, WorkspaceId,
    azure::{AmlClient, CallbackError},
    chain,
    ledger::Recorded,
    notify::Notifier,
};
use tokio::time::Instant;
use tracing::{error, warn};

use super::HandlerError;
use crate::{
    AppContext,
    outcome::{Action, ActionReport, ActionStatus, Outcome},
    routes::{Route, Routes},
    traces::spans,
};
use once::{Claims, Once, Unsettled};

/// Why a workspace action cannot run for an event whose source is not a workspace.
const NO_WORKSPACE: &str = "the event's topic/source is not an Azure ML workspace resource id";

/// What one delivery shares: the clients bounded by its deadline (the Azure client unless this
/// is a dry run; the notifier unless notifications are held back), the ledger, and the time
/// by which effects stop being claimed.
pub struct Delivery<'a> {
    ctx: &'a AppContext,
    client: Option<AmlClient>,
    notifier: Option<Notifier>,
    claim_by: Instant,
}

impl<'a> Delivery<'a> {
    /// A delivery answered by `answer_by`. Claims end a reserve earlier, so that what was done
    /// is recorded and reported in time. Azure calls (enrich, retrain) come before the notice
    /// in every function, so they end earlier still, leaving the notice one attempt: a breach
    /// is announced even when Azure hangs. A notification's attempt in flight is never cut
    /// (the notifier starts no retry it cannot finish by `answer_by`).
    pub fn new(ctx: &'a AppContext, answer_by: Instant) -> Self {
        let before = |time: Duration| answer_by.checked_sub(time).unwrap_or(answer_by);
        let claim_by = before(ctx.reserve());
        let notice_takes = ctx.notifier.as_ref().map_or(Duration::ZERO, |notifier| {
            notifier.options().request_timeout
        });
        let azure_by = before(ctx.reserve() + notice_takes);
        Delivery {
            ctx,
            client: (ctx.client.as_ref()).map(|client| client.with_deadline(azure_by)),
            notifier: (ctx.notifier.as_ref()).map(|notifier| notifier.with_deadline(answer_by)),
            claim_by,
        }
    }

    /// The actions of `event` under the routes it `matched`.
    pub fn actions<'b>(&'b self, event: &'b Event<()>, matched: Vec<&'b Route>) -> Actions<'b>
    where
        'a: 'b,
    {
        Actions {
            delivery: self,
            routes: &self.ctx.config.routes,
            matched,
            event,
            claims: Claims {
                ledger: Arc::clone(&self.ctx.ledger),
                source: event.source.clone().unwrap_or_default(),
                event_id: event.id.clone(),
                lease: self.ctx.lease(),
                claim_by: self.claim_by,
                metrics: Arc::clone(&self.ctx.metrics),
            },
        }
    }
}

/// The actions of one event: what its routes ask for, and the means to do it. A function
/// reads nothing else.
pub struct Actions<'a> {
    delivery: &'a Delivery<'a>,
    routes: &'a Routes,
    matched: Vec<&'a Route>,
    event: &'a Event<()>,
    claims: Claims,
}

/// What an action did for an event: one report per effect (target, job, endpoint), and the
/// failure that must have Event Grid redeliver the event, if any.
#[derive(Debug, Default)]
pub struct Acted {
    /// The reports.
    pub reports: Vec<ActionReport>,
    /// A failure for now, a deferral or a refused identity.
    pub failure: Option<HandlerError>,
}

impl Acted {
    /// One report, nothing failing.
    pub fn report(report: ActionReport) -> Acted {
        Acted {
            reports: vec![report],
            failure: None,
        }
    }

    /// Whether a report is deferred or the action failed for now: what it came to is not
    /// known yet.
    pub fn is_unsettled(&self) -> bool {
        self.failure.is_some()
            || self
                .reports
                .iter()
                .any(|report| report.status == ActionStatus::Deferred)
    }

    fn push(&mut self, report: ActionReport, failure: Option<HandlerError>) {
        self.reports.push(report);
        keep_first(&mut self.failure, failure);
    }
}

/// What an action's span reports: its first report's status (enrich has one).
impl spans::Reported for Acted {
    fn status(&self) -> Option<ActionStatus> {
        self.reports.first().map(|report| report.status)
    }
}

/// The reports of an action's effects, each with the failure it brings, if any.
impl FromIterator<(ActionReport, Option<HandlerError>)> for Acted {
    fn from_iter<I: IntoIterator<Item = (ActionReport, Option<HandlerError>)>>(each: I) -> Acted {
        let mut acted = Acted::default();
        for (report, failure) in each {
            acted.push(report, failure);
        }
        acted
    }
}

/// A function's outcome so far, and the failure that must have the event redelivered.
#[derive(Debug)]
pub struct Handled {
    outcome: Outcome,
    failure: Option<HandlerError>,
}

impl Handled {
    /// An outcome with nothing failing yet.
    pub fn new(outcome: Outcome) -> Handled {
        Handled {
            outcome,
            failure: None,
        }
    }

    /// What an action did, added.
    pub fn with(mut self, acted: Acted) -> Handled {
        self.outcome.actions.extend(acted.reports);
        keep_first(&mut self.failure, acted.failure);
        self
    }

    /// The outcome, and the failure that must have the event redelivered, if any (with it,
    /// the outcome is what was done so far, for the log: the host drops a failed delivery's
    /// answer).
    pub fn finish(self) -> (Outcome, Option<HandlerError>) {
        (self.outcome, self.failure)
    }
}

impl From<Outcome> for Handled {
    fn from(outcome: Outcome) -> Handled {
        Handled::new(outcome)
    }
}

/// Keeps the failure that says most: a refused identity (the delivery fails as misconfigured)
/// over a failure for now, else the first.
fn keep_first(kept: &mut Option<HandlerError>, new: Option<HandlerError>) {
    match (kept.as_ref(), new) {
        (_, None) => {}
        (None, new) => *kept = new,
        (Some(HandlerError::Unauthorized { .. }), _) => {}
        (Some(_), Some(new @ HandlerError::Unauthorized { .. })) => *kept = Some(new),
        (Some(_), Some(_)) => {}
    }
}

impl<'a> Actions<'a> {
    /// Why this event gets no notification, if it gets none: no matched route notifies (the
    /// first route's words: `RunCompleted is not in AML_NOTIFY_ON`, or a file's).
    pub fn silence(&self) -> Option<&str> {
        self.matched
            .iter()
            .all(|route| route.notify.is_empty())
            .then(|| self.first().why_not.notify.as_ref())
    }

    /// The first matched route (there is always one: an event no route matches has no
    /// actions).
    fn first(&self) -> &Route {
        self.matched[0]
    }

    /// The event's id, for logs.
    fn event_id(&self) -> &str {
        &self.event.id
    }

    /// What became of an effect, as its report and the failure that has the event redelivered.
    /// An effect that failed for good is logged at error, naming the `effect` (a target's or
    /// job's name, an endpoint): the event is done with, so the log is where it shows.
    fn settle(
        &self,
        action: Action,
        effect: &str,
        request: String,
        result: Result<Once, Unsettled>,
    ) -> (ActionReport, Option<HandlerError>) {
        let event_id = self.event_id().to_owned();
        match result {
            Ok(Once::Fresh(recorded)) => {
                let report = ActionReport::recorded(action, request, recorded);
                if report.status == ActionStatus::Failed {
                    error!(event_id = %event_id, action = action.as_str(), effect, error = %report.detail, "action failed");
                }
                (report, None)
            }
            Ok(Once::Duplicate(recorded)) => (ActionReport::duplicate_of(action, recorded), None),
            Ok(Once::Deferred(deferral)) | Err(Unsettled::Deferred(deferral)) => {
                let report =
                    ActionReport::deferred(action, Some(request), format!("deferred: {deferral}"));
                warn!(event_id = %event_id, action = action.as_str(), reason = %deferral, "effect deferred; the event will be redelivered");
                let failure = HandlerError::Deferred {
                    event_id,
                    action,
                    source: Box::new(deferral),
                };
                (report, Some(failure))
            }
            Err(Unsettled::Transient(source)) => {
                let why = chain(&*source).to_string();
                let report = ActionReport::failed_for_now(action, request, why);
                let failure = HandlerError::Transient {
                    event_id,
                    action,
                    source,
                };
                (report, Some(failure))
            }
            Err(Unsettled::Unauthorized(source)) => {
                let why = chain(&*source).to_string();
                error!(event_id = %event_id, action = action.as_str(), error = %why, "Azure refused the handlers' identity");
                let report = ActionReport::failed(action, request, why);
                let failure = HandlerError::Unauthorized {
                    event_id,
                    action,
                    source,
                };
                (report, Some(failure))
            }
        }
    }

    /// A permanent failure of a call, logged at error with the event's id and every cause.
    fn failed(&self, action: Action, request: String, err: &CallbackError) -> ActionReport {
        let why = chain(err).to_string();
        error!(event_id = %self.event_id(), action = action.as_str(), error = %why, "action failed");
        ActionReport::failed(action, request, why)
    }

    fn arm_url(&self, workspace: &WorkspaceId) -> String {
        format!(
            "{}{}",
            self.delivery
                .ctx
                .config
                .azure
                .arm_endpoint
                .as_str()
                .trim_end_matches('/'),
            workspace.resource_id()
        )
    }
}

/// Sorts a failed Azure call of an effect: a refused identity and a transient failure give the
/// claim back (the event is redelivered); anything else is what the effect came to.
fn unsettled_or_failed(err: CallbackError) -> Result<Recorded, Unsettled> {
    if err.is_unauthorized() {
        Err(Unsettled::Unauthorized(Box::new(err)))
    } else if err.is_transient() {
        Err(Unsettled::Transient(Box::new(err)))
    } else {
        Ok(Recorded::new(
            ActionStatus::Failed.as_str(),
            chain(&err).to_string(),
        ))
    }
}

/// The reports of one action (several jobs or smoke tests) as a notice shows them: what each
/// came to (a duplicate's as it was first done), joined, and `{"status", "detail"}` (an array
/// of them when there are several).
pub fn summarize(reports: &[ActionReport]) -> (String, serde_json::Value) {
    let detail = reports
        .iter()
        .map(|report| report.came_to().1)
        .collect::<Vec<_>>()
        .join("; ");
    let each = |report: &ActionReport| {
        let (status, detail) = report.came_to();
        serde_json::json!({ "status": status, "detail": detail })
    };
    let value = match reports {
        [one] => each(one),
        many => serde_json::Value::Array(many.iter().map(each).collect()),
    };
    (detail, value)
}

#[cfg(test)]
mod tests {
    use super::{once::Deferral, *};
    use crate::functions::BoxError;

    fn boxed(err: impl std::error::Error + Send + Sync + 'static) -> BoxError {
        Box::new(err)
    }

    #[test]
    fn a_refused_identity_is_the_failure_kept() {
        let transient = || HandlerError::Deferred {
            event_id: "e".into(),
            action: Action::Notify,
            source: boxed(Deferral::Lost),
        };
        let refused = || HandlerError::Unauthorized {
            event_id: "e".into(),
            action: Action::Retrain,
            source: boxed(Deferral::Lost),
        };
        let mut kept = None;
        keep_first(&mut kept, Some(transient()));
        keep_first(&mut kept, Some(refused()));
        keep_first(&mut kept, Some(transient()));
        assert!(matches!(kept, Some(HandlerError::Unauthorized { .. })));
    }
}

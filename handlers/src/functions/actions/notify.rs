//! Notify: one notice to every target the matched routes name, each target once per event even
//! when several routes (or two names for the same target) ask for it, reported under the name
//! of the first route's target. Sent with or without Azure credentials; only `AML_DRY_RUN=1`
//! holds it back.

use std::sync::Arc;

use aml_events::{
    chain,
    ledger::Recorded,
    notify::{Notice, Notifier},
    redact::{self, Show},
};

use super::{Acted, Actions, once::Unsettled};
use crate::{
    outcome::{Action, ActionReport, ActionStatus},
    routes::NamedTarget,
};

/// Why a PagerDuty target is not sent a notice.
const NOT_AN_ALERT: &str = "PagerDuty is sent only failures, breaches and drift";

impl Actions<'_> {
    /// Sends `notice` to each target the matched routes name, once per target. One report per
    /// target; a target still failing for now has the event redelivered (the targets that
    /// took it are not sent it again: the ledger says they are done).
    pub async fn notify(&self, notice: Notice) -> Acted {
        let mut wanted: Vec<(&NamedTarget, &str)> = Vec::new();
        for route in &self.matched {
            for index in &route.notify {
                let target = self.routes.target(*index);
                if !wanted
                    .iter()
                    .any(|(seen, _)| seen.identity == target.identity)
                {
                    wanted.push((target, &route.name));
                }
            }
        }
        if wanted.is_empty() {
            let why = self.first().why_not.notify.as_ref();
            return Acted::report(ActionReport::skipped(Action::Notify, why));
        }
        let notice = Arc::new(notice);
        let sends = wanted
            .into_iter()
            .map(|(target, route)| self.notify_one(target, route, Arc::clone(&notice)));
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .collect()
    }

    async fn notify_one(
        &self,
        named: &NamedTarget,
        route: &str,
        notice: Arc<Notice>,
    ) -> (ActionReport, Option<crate::functions::HandlerError>) {
        let target = &named.target;
        let request = format!(
            "POST {}",
            redact::url_text(target.url.expose(), Show::Origin)
        );
        let label = |report: ActionReport| report.to(&named.name, target.kind).by(route);
        if !Notifier::wants(target, &notice) {
            return (
                label(ActionReport::skipped(Action::Notify, NOT_AN_ALERT)),
                None,
            );
        }
        let Some(notifier) = self.delivery.notifier.clone() else {
            let detail = format!("would post: {}", notice.summary);
            return (
                label(ActionReport::dry_run(Action::Notify, request, detail)),
                None,
            );
        };
        let (sent_to, sent) = (target.clone(), Arc::clone(&notice));
        let effect = async move {
            match notifier.send(&sent_to, &sent).await {
                Ok(delivered) => Ok(Recorded::new(
                    ActionStatus::Done.as_str(),
                    format!("{} took it: {}", delivered.status, sent.summary),
                )),
                Err(err) if err.is_transient() => Err(Unsettled::Transient(Box::new(err))),
                // A refusal is final: recorded, so a redelivery does not ask again.
                Err(err) => Ok(Recorded::new(
                    ActionStatus::Failed.as_str(),
                    chain(&err).to_string(),
                )),
            }
        };
        let result = self
            .claims
            .once(Action::Notify.as_str(), &named.identity, effect)
            .await;
        let (report, failure) = self.settle(Action::Notify, &named.name, request, result);
        (label(report), failure)
    }
}

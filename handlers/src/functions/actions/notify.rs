//! Notify: one notice to every target the matched routes name, each target once per event even
//! when several routes (or two names for the same target) ask for it. Sent with or without
//! Azure credentials; only `AML_DRY_RUN=1` holds it back. A route's `notify_every` holds back
//! all but one notice per target and group in its interval ([`super::quiet`]), never a
//! PagerDuty alert; a target that several matching routes name is held back only when each of
//! them has a `notify_every`.
//!
//! One route decides for a target, and its report names it (`report.by`): the first matched
//! route that names the target, unless that one has a `notify_every` and a later one has none
//! (then the first of those). The target is named as the first route that names it calls it
//! (two names for the same target are one target).

use std::sync::Arc;

use aml_events::{
    chain,
    ledger::Recorded,
    notify::{Held, Notice, Notifier, Target},
};

use super::{
    Acted, Actions,
    once::Unsettled,
    quiet::{NotifyEvery, holds_back, notify_key},
};
use crate::{
    metrics::{Metrics, NotificationStatus},
    outcome::{Action, ActionReport, ActionStatus},
    routes::{NamedTarget, Route, interval},
    traces::spans,
};
use url::Url;

/// Why a PagerDuty target is not sent a notice.
const NOT_AN_ALERT: &str = "PagerDuty is sent only failures, breaches and drift";

impl Actions<'_> {
    /// Sends `notice` to each target the matched routes name, once per target. One report per
    /// target; a target still failing for now has the event redelivered (the targets that
    /// took it are not sent it again: the ledger says they are done).
    pub async fn notify(&self, notice: Notice) -> Acted {
        let mut wanted: Vec<(&NamedTarget, &Route)> = Vec::new();
        for route in &self.matched {
            for index in &route.notify {
                let target = self.routes.target(*index);
                match wanted
                    .iter_mut()
                    .find(|(seen, _)| seen.identity == target.identity)
                {
                    None => wanted.push((target, route)),
                    // Every event notifies when any route that names the target says so.
                    Some((_, chosen))
                        if chosen.notify_every.is_some() && route.notify_every.is_none() =>
                    {
                        *chosen = route;
                    }
                    Some(_) => {}
                }
            }
        }
        if wanted.is_empty() {
            let why = self.first().why_not.notify.as_ref();
            return Acted::report(ActionReport::skipped(Action::Notify, why));
        }
        let notice = Arc::new(notice);
        let sends = wanted.into_iter().map(|(target, route)| {
            let send = || self.notify_one(target, route, Arc::clone(&notice));
            spans::action(Action::Notify, &route.name, || target.name.clone(), send)
        });
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .collect()
    }

    async fn notify_one(
        &self,
        named: &NamedTarget,
        route: &Route,
        notice: Arc<Notice>,
    ) -> (ActionReport, Option<crate::functions::HandlerError>) {
        let target = &named.target;
        let request = named.request.clone();
        let label = |report: ActionReport| report.to(&named.name, target.kind).by(&route.name);
        let notify_every = route.notify_every.filter(|_| holds_back(target.kind));
        // Named where noise control judges the notice.
        let judged = |report: ActionReport| match notify_every {
            Some(_) => label(report).in_group(&notice.group),
            None => label(report),
        };
        if !Notifier::wants(target, &notice) {
            return (
                label(ActionReport::skipped(Action::Notify, NOT_AN_ALERT)),
                None,
            );
        }
        let Some(notifier) = self.delivery.notifier.clone() else {
            let every = notify_every.map_or(String::new(), |every| {
                format!(
                    " (unless notify_every {} holds it back for {})",
                    interval::show(every),
                    notice.group
                )
            });
            let detail = format!("would post{every}: {}", notice.summary);
            return (
                judged(ActionReport::dry_run(Action::Notify, request, detail)),
                None,
            );
        };
        let quiet = notify_every.map(|every| NotifyEvery {
            ledger: Arc::clone(&self.claims.ledger),
            key: notify_key(
                self.event.workspace().as_ref(),
                &route.name,
                &named.identity,
                &notice.group,
            ),
            group: notice.group.clone(),
            target: named.name.clone(),
            source: self.claims.source.clone(),
            event_id: self.event_id().to_owned(),
            every,
        });
        let (sent_to, notice) = (target.clone(), Arc::clone(&notice));
        let (post_url, metrics) = (named.post_url.clone(), Arc::clone(&self.claims.metrics));
        let post = move |held| post(notifier, sent_to, post_url, notice, held, metrics);
        // Judged inside the claim: a redelivery of a held notice stays held.
        let effect = async move {
            match quiet {
                None => post(None).await,
                Some(quiet) => quiet.send(post).await,
            }
        };
        let result = self
            .claims
            .once(Action::Notify, &named.identity, effect)
            .await;
        let (report, failure) = self.settle(Action::Notify, &named.name, request, result);
        (judged(report), failure)
    }
}

/// Posts `notice` to `target` at `post_url` (its [`Target::post_url`]), reporting `held` if
/// any: what it came to.
async fn post(
    notifier: Notifier,
    target: Target,
    post_url: Option<Url>,
    notice: Arc<Notice>,
    held: Option<Held>,
    metrics: Arc<Metrics>,
) -> Result<Recorded, Unsettled> {
    let sent = match held {
        None => notice,
        Some(held) => Arc::new(reporting(&notice, held)),
    };
    let answer = notifier.send_to(&target, post_url.as_ref(), &sent).await;
    metrics.notified(target.kind, NotificationStatus::of(&answer));
    match answer {
        Ok(delivered) => {
            let reported = sent.held.map_or(String::new(), |held| {
                format!(" (and {} held back since {})", held.count, held.since)
            });
            Ok(Recorded::new(
                ActionStatus::Done.as_str(),
                format!("{} took it{reported}: {}", delivered.status, sent.summary),
            ))
        }
        Err(err) if err.is_transient() => Err(Unsettled::Transient(Box::new(err))),
        // A refusal is final: recorded, so a redelivery does not ask again.
        Err(err) => Ok(Recorded::new(
            ActionStatus::Failed.as_str(),
            chain(&err).to_string(),
        )),
    }
}

/// `notice`, reporting the notices held back before it ([`Notice::held`]: every renderer
/// says it, the plain webhook as `held: {"count", "since"}`).
fn reporting(notice: &Notice, held: Held) -> Notice {
    let mut notice = notice.clone();
    notice.held = Some(held);
    notice
}

//! Retrain: create the retraining job of every matched route that retrains, for drift that
//! reaches its threshold and for every model-monitor breach (the monitor already judged). A
//! job's name comes from the event id and the route, so a redelivery finds it already there;
//! the ledger keeps a job that was created from being asked for again. Noise control
//! ([`super::quiet`]) holds a retrain back while the route's last job for the same group
//! runs, and within its cooldown.

use std::sync::Arc;

use aml_events::{
    WorkspaceId,
    azure::{JobOutcome, ML_API_VERSION},
    ledger::Recorded,
};
use serde_json::{Value, json};

use super::{
    Acted, Actions, NO_WORKSPACE,
    quiet::{OneAtATime, retrain_key},
    unsettled_or_failed,
};
use crate::{
    outcome::{Action, ActionReport, ActionStatus},
    routes::{Retrain, Route, interval, job},
    settings::AML_RETRAIN_DRIFT_THRESHOLD,
    traces::spans,
};

/// Why a retraining job is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetrainReason {
    /// A v1 dataset monitor's drift coefficient, held to the route's `drift_threshold` (or
    /// `AML_RETRAIN_DRIFT_THRESHOLD`).
    Drift(Option<f64>),
    /// A model monitor's breach: the monitor already judged, no threshold applies.
    MonitorBreach,
}

impl Actions<'_> {
    /// Creates the job of each matched route that retrains, one at a time per route and
    /// `group` (and not within the route's cooldown): one report per job.
    pub async fn retrain(
        &self,
        workspace: Option<&WorkspaceId>,
        reason: RetrainReason,
        group: &str,
        placeholder: impl Fn(&str) -> String,
    ) -> Acted {
        let retraining: Vec<(&Route, &Retrain)> = (self.matched.iter())
            .filter_map(|route| Some((*route, route.retrain.as_ref()?)))
            .collect();
        if retraining.is_empty() {
            let why = self.first().why_not.retrain.as_ref();
            return Acted::report(ActionReport::skipped(Action::Retrain, why));
        }
        let placeholder = &placeholder;
        let runs = retraining.into_iter().map(|(route, retrain)| async move {
            let job_name = || job::job_name(self.event_id(), route.job_part.as_deref());
            let create = || self.create_job(route, retrain, workspace, reason, group, placeholder);
            let (report, failure) =
                spans::action(Action::Retrain, &route.name, job_name, create).await;
            (report.by(&route.name), failure)
        });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect()
    }

    /// The drift coefficient at which the matched routes retrain, for the notice: the first
    /// retraining route's `drift_threshold`, else `AML_RETRAIN_DRIFT_THRESHOLD`; `None` when no
    /// matched route retrains.
    pub fn drift_threshold(&self) -> Option<f64> {
        let retrain = self
            .matched
            .iter()
            .find_map(|route| route.retrain.as_ref())?;
        let default_threshold = self.delivery.ctx.config.actions.retrain_drift_threshold;
        Some(retrain.drift_threshold.unwrap_or(default_threshold))
    }

    async fn create_job(
        &self,
        route: &Route,
        retrain: &Retrain,
        workspace: Option<&WorkspaceId>,
        reason: RetrainReason,
        group: &str,
        placeholder: &impl Fn(&str) -> String,
    ) -> (ActionReport, Option<crate::functions::HandlerError>) {
        let default_threshold = self.delivery.ctx.config.actions.retrain_drift_threshold;
        let threshold = retrain.drift_threshold.unwrap_or(default_threshold);
        let why = match reason {
            RetrainReason::Drift(None) => {
                let why = "the event carries no driftCoefficient";
                return (ActionReport::skipped(Action::Retrain, why), None);
            }
            RetrainReason::Drift(Some(drift)) if drift < threshold => {
                let threshold_name = match retrain.drift_threshold {
                    Some(_) => format!("route {:?}'s drift_threshold", route.name),
                    None => AML_RETRAIN_DRIFT_THRESHOLD.to_owned(),
                };
                let why = format!("driftCoefficient {drift} is below {threshold_name} {threshold}");
                return (ActionReport::skipped(Action::Retrain, why), None);
            }
            RetrainReason::Drift(Some(drift)) => {
                format!("driftCoefficient {drift} reaches {threshold}")
            }
            RetrainReason::MonitorBreach => "the model monitor breached its thresholds".to_owned(),
        };
        let Some(workspace) = workspace else {
            return (ActionReport::skipped(Action::Retrain, NO_WORKSPACE), None);
        };
        let name = job::job_name(self.event_id(), route.job_part.as_deref());
        let request = format!(
            "PUT {}/jobs/{name}?api-version={ML_API_VERSION}",
            self.arm_url(workspace)
        );
        let Some(client) = self.delivery.client.clone() else {
            let cooldown = retrain.cooldown.map_or(String::new(), |cooldown| {
                format!(" or started less than {} ago", interval::show(cooldown))
            });
            let detail = format!(
                "{why}: would create job {name} from {}, unless the job this route last started for {group} still runs{cooldown}",
                retrain.job.path.display()
            );
            return (
                ActionReport::dry_run(Action::Retrain, request, detail).in_group(group),
                None,
            );
        };
        let body: Value = match serde_json::from_str(&retrain.job.fill(placeholder)) {
            Ok(body) => body,
            Err(err) => {
                let why = format!(
                    "{} is not JSON once filled in for this event: {err}",
                    retrain.job.path.display()
                );
                return (ActionReport::failed(Action::Retrain, request, why), None);
            }
        };
        let gate = OneAtATime {
            ledger: Arc::clone(&self.claims.ledger),
            key: retrain_key(workspace, &route.name, group),
            group: group.to_owned(),
            job: name.clone(),
            cooldown: retrain.cooldown,
            lease: self.claims.lease,
            client: client.clone(),
            workspace: workspace.clone(),
        };
        let (workspace, job_name) = (workspace.clone(), name.clone());
        let create = || async move {
            let created = |detail: String| {
                Recorded::new(ActionStatus::Done.as_str(), detail)
                    .with_found(json!({ "job": job_name }))
            };
            match client
                .create_or_update_job(&workspace, &job_name, &body)
                .await
            {
                Ok(JobOutcome::Created(_) | JobOutcome::Updated(_)) => {
                    Ok(created(format!("{why}: created job {job_name}")))
                }
                Ok(JobOutcome::AlreadyExists { status, .. }) => Ok(created(format!(
                    "job {job_name} already exists (Azure answered {status}): this event was handled before"
                ))),
                Err(err) => unsettled_or_failed(err),
            }
        };
        // Judged inside the claim: a redelivery gets what was decided, not a new judgement.
        let effect = gate.start(create);
        let result = self.claims.once(Action::Retrain, &name, effect).await;
        let (report, failure) = self.settle(Action::Retrain, &name, request, result);
        (report.in_group(group), failure)
    }
}

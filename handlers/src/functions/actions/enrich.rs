//! Enrich: read a run from run history (workspace -> discovery -> run) for its notice, with
//! its status, error message, compute and how long it ran. A read, not an effect: nothing to claim. When it fails, the
//! notice goes out anyway and says so; Azure refusing the identity also fails the delivery
//! (after the notice), so the misconfiguration shows.

use aml_events::{
    Timestamp, WorkspaceId,
    azure::{ML_API_VERSION, Run},
};
use serde::Serialize;

use super::{Acted, Actions, NO_WORKSPACE};
use crate::{
    functions::HandlerError,
    outcome::{Action, ActionReport},
    traces::spans,
};

/// What enrichment learned about a run, for the notification.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFacts {
    /// The run's status in run history.
    pub status: Option<String>,
    /// Its error message, when it failed.
    pub error: Option<String>,
    /// The compute target it ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    /// How long it ran, in whole seconds, when run history has its start and end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// Why the facts are missing, when enrichment failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl Actions<'_> {
    /// Reads the run when a matched route enriches run events; its report, and the facts
    /// for the notice (saying why they are missing when the read failed).
    pub async fn enrich(
        &self,
        workspace: Option<&WorkspaceId>,
        experiment_name: Option<&str>,
        run_id: Option<&str>,
    ) -> (Acted, Option<RunFacts>) {
        let Some(route) = self.matched.iter().find(|route| route.enriches()) else {
            let why = self.first().why_not.enrich.as_ref();
            return (
                Acted::report(ActionReport::skipped(Action::Enrich, why)),
                None,
            );
        };
        let read = || self.read_run(workspace, experiment_name, run_id);
        let run = || run_id.unwrap_or_default().to_owned();
        let (mut acted, facts) = spans::action(Action::Enrich, &route.name, run, read).await;
        for report in &mut acted.reports {
            report.route = Some(route.name.clone());
        }
        (acted, facts)
    }

    async fn read_run(
        &self,
        workspace: Option<&WorkspaceId>,
        experiment_name: Option<&str>,
        run_id: Option<&str>,
    ) -> (Acted, Option<RunFacts>) {
        let Some(workspace) = workspace else {
            return (
                Acted::report(ActionReport::skipped(Action::Enrich, NO_WORKSPACE)),
                None,
            );
        };
        let (Some(experiment), Some(run)) = (experiment_name, run_id) else {
            let why = "the event names no experimentName and runId";
            return (
                Acted::report(ActionReport::skipped(Action::Enrich, why)),
                None,
            );
        };
        let Some(client) = &self.delivery.client else {
            let request = format!(
                "GET {}?api-version={ML_API_VERSION}",
                self.arm_url(workspace)
            );
            let detail = format!(
                "would read run {run} of experiment {experiment} from run history via the workspace's discovery URL"
            );
            let report = ActionReport::dry_run(Action::Enrich, request, detail);
            return (Acted::report(report), None);
        };
        let request = format!(
            "GET {{discovered api}}/history/v1.0{}/experiments/{experiment}/runs/{run}",
            workspace.resource_id()
        );
        let started = tokio::time::Instant::now();
        let read = client.get_run(workspace, experiment, run).await;
        self.delivery
            .ctx
            .metrics
            .action_took(Action::Enrich, started.elapsed());
        match read {
            Ok(found) => {
                let facts = RunFacts {
                    status: found
                        .run_status()
                        .map(|status| status.to_string())
                        .or(found.status.clone()),
                    error: found.error_message().map(str::to_owned),
                    compute: found.target.clone().filter(|target| !target.is_empty()),
                    duration_seconds: ran_for(&found),
                    unavailable: None,
                };
                let detail = format!(
                    "run {run} is {}",
                    facts.status.as_deref().unwrap_or("of unknown status")
                );
                let report = ActionReport::done(Action::Enrich, request, detail);
                (Acted::report(report), Some(facts))
            }
            Err(err) => {
                let report = self.failed(Action::Enrich, request, &err);
                let facts = RunFacts {
                    unavailable: Some(report.detail.clone()),
                    ..RunFacts::default()
                };
                let failure = err.is_unauthorized().then(|| HandlerError::Unauthorized {
                    event_id: self.event_id().to_owned(),
                    action: Action::Enrich,
                    source: Box::new(err),
                });
                (
                    Acted {
                        reports: vec![report],
                        failure,
                    },
                    Some(facts),
                )
            }
        }
    }
}

/// How long a run ran, from run history's start and end times; `None` without both.
fn ran_for(run: &Run) -> Option<u64> {
    let time = |text: &Option<String>| Timestamp::parse(text.as_deref()?).ok();
    let (start, end) = (time(&run.start_time_utc)?, time(&run.end_time_utc)?);
    let seconds = (end.as_offset_date_time() - start.as_offset_date_time()).whole_seconds();
    u64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_run_ran_from_its_start_to_its_end() {
        let run = Run::from_value(
            json!({"runId": "r", "startTimeUtc": "2024-03-01T11:48:00.5Z", "endTimeUtc": "2024-03-01T12:00:01.2Z"}),
        );
        assert_eq!(ran_for(&run), Some(720));
        let running =
            Run::from_value(json!({"runId": "r", "startTimeUtc": "2024-03-01T11:48:00Z"}));
        assert_eq!(ran_for(&running), None);
    }
}

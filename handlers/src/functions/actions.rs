//! The actions the functions share (SPEC §8.1): notify, enrich, retrain, smoke-test. Each
//! decides whether it applies under the settings, then makes its call through the shared
//! client within the delivery's deadline, or reports the request it would make in a dry run.
//!
//! Failures are sorted once, in [`Actions::settle`]: Azure refusing the identity (401/403)
//! fails the delivery, a transient failure that outlasted the retries makes Event Grid
//! redeliver, and anything else is a permanent failure reported in the outcome.

use std::time::Instant;

use aml_events::{
    Function, WorkspaceId,
    azure::{AmlClient, CallbackError, JobOutcome, ML_API_VERSION},
    chain,
    notify::{Notice, Notifier, Target},
    redact::{self, Show},
};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::error;

use super::HandlerError;
use crate::{
    AppContext,
    config::{
        AML_NOTIFY_ON, AML_NOTIFY_URL, AML_RETRAIN_DRIFT_THRESHOLD, AML_RETRAIN_JOB_FILE,
        AML_SMOKE_TEST_URI,
    },
    outcome::{Action, ActionReport},
};

/// Why a workspace action cannot run for an event whose source is not a workspace.
const NO_WORKSPACE: &str = "the event's topic/source is not an Azure ML workspace resource id";

/// What enrichment learned about a run, for the notification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunFacts {
    /// The run's status in run history.
    pub status: Option<String>,
    /// Its error message, when it failed.
    pub error: Option<String>,
    /// Why the facts are missing, when enrichment failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// The actions of one delivery: the shared context and, unless this is a dry run, the client
/// bounded by the delivery's deadline; the notifier likewise, unless notifications are held.
pub struct Actions<'a> {
    ctx: &'a AppContext,
    client: Option<AmlClient>,
    notifier: Option<Notifier>,
}

/// Why a retraining job is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetrainReason {
    /// A v1 dataset monitor's drift coefficient, held to `AML_RETRAIN_DRIFT_THRESHOLD`.
    Drift(Option<f64>),
    /// A model monitor's breach (SPEC §8.6): the monitor already judged, no threshold applies.
    MonitorBreach,
}

impl<'a> Actions<'a> {
    /// Actions that must finish by `deadline`.
    pub fn new(ctx: &'a AppContext, deadline: Instant) -> Self {
        Actions {
            ctx,
            client: ctx
                .client
                .as_ref()
                .map(|client| client.with_deadline(deadline)),
            notifier: ctx
                .notifier
                .as_ref()
                .map(|notifier| notifier.with_deadline(deadline)),
        }
    }

    /// Whether `function` notifies (`AML_NOTIFY_ON`).
    pub fn notifies(&self, function: Function) -> bool {
        self.ctx.config.notify_on.contains(&function)
    }

    /// The run statuses `RunStatusChanged` acts on (`AML_NOTIFY_RUN_STATUSES`).
    pub fn notify_run_statuses(&self) -> &[aml_events::events::RunStatus] {
        &self.ctx.config.notify_run_statuses
    }

    /// Sends `notice` to every target of `AML_NOTIFY_URL`, when the function is in
    /// `AML_NOTIFY_ON`: one report per target, each naming it. Sent with or without Azure
    /// credentials; only `AML_DRY_RUN=1` holds it back (SPEC §8.1). A target still failing
    /// for now when the deadline comes makes the delivery fail, so Event Grid redelivers.
    pub async fn notify(
        &self,
        function: Function,
        notice: &Notice,
    ) -> Result<Vec<ActionReport>, HandlerError> {
        let config = &self.ctx.config;
        if !config.notify_on.contains(&function) {
            return Ok(vec![ActionReport::skipped(
                Action::Notify,
                format!("{function} is not in {AML_NOTIFY_ON}"),
            )]);
        }
        if config.notify_targets.is_empty() {
            return Ok(vec![ActionReport::skipped(
                Action::Notify,
                format!("{AML_NOTIFY_URL} is not set"),
            )]);
        }
        let sends = config
            .notify_targets
            .iter()
            .map(|target| self.notify_one(target, notice));
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .collect()
    }

    async fn notify_one(
        &self,
        target: &Target,
        notice: &Notice,
    ) -> Result<ActionReport, HandlerError> {
        let shown = target.display();
        let request = format!("POST {}", redacted(target.url.expose()));
        if !Notifier::wants(target, notice) {
            let detail = "PagerDuty is sent only failures, breaches and drift";
            return Ok(ActionReport::skipped(Action::Notify, detail).to(shown));
        }
        let Some(notifier) = &self.notifier else {
            let detail = format!("would post: {}", notice.summary);
            return Ok(ActionReport::dry_run(Action::Notify, request, detail).to(shown));
        };
        match notifier.send(target, notice).await {
            Ok(delivered) => {
                let detail = format!("{} took it: {}", delivered.status, notice.summary);
                Ok(ActionReport::done(Action::Notify, request, detail).to(shown))
            }
            Err(err) if err.is_transient() => Err(HandlerError::Transient {
                action: Action::Notify,
                source: Box::new(err),
            }),
            Err(err) => {
                let why = chain(&err).to_string();
                error!(event_id = %notice.event_id, target = %shown, error = %why, "the notification target refused the notification");
                Ok(ActionReport::failed(Action::Notify, request, why).to(shown))
            }
        }
    }

    /// Reads the run from run history (workspace -> discovery -> run). A failure other than a
    /// refused identity is reported and the notification goes out anyway, saying so.
    pub async fn enrich(
        &self,
        workspace: Option<&WorkspaceId>,
        experiment_name: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<(ActionReport, Option<RunFacts>), HandlerError> {
        let Some(workspace) = workspace else {
            return Ok((ActionReport::skipped(Action::Enrich, NO_WORKSPACE), None));
        };
        let (Some(experiment), Some(run)) = (experiment_name, run_id) else {
            return Ok((
                ActionReport::skipped(
                    Action::Enrich,
                    "the event names no experimentName and runId",
                ),
                None,
            ));
        };
        let Some(client) = &self.client else {
            let request = format!(
                "GET {}?api-version={ML_API_VERSION}",
                self.arm_url(&workspace.resource_id())
            );
            let detail = format!(
                "would read run {run} of experiment {experiment} from run history via the workspace's discovery URL"
            );
            return Ok((ActionReport::dry_run(Action::Enrich, request, detail), None));
        };
        let request = format!(
            "GET {{discovered api}}/history/v1.0{}/experiments/{experiment}/runs/{run}",
            workspace.resource_id()
        );
        match client.get_run(workspace, experiment, run).await {
            Ok(found) => {
                let facts = RunFacts {
                    status: found
                        .run_status()
                        .map(|status| status.to_string())
                        .or(found.status.clone()),
                    error: found.error_message().map(str::to_owned),
                    unavailable: None,
                };
                let detail = format!(
                    "run {run} is {}",
                    facts.status.as_deref().unwrap_or("of unknown status")
                );
                Ok((
                    ActionReport::done(Action::Enrich, request, detail),
                    Some(facts),
                ))
            }
            Err(err) if err.is_unauthorized() => Err(unauthorized(Action::Enrich, err)),
            Err(err) => {
                let report = self.failed(Action::Enrich, request, &err);
                let facts = RunFacts {
                    unavailable: Some(report.detail.clone()),
                    ..RunFacts::default()
                };
                Ok((report, Some(facts)))
            }
        }
    }

    /// Creates the retraining job: for drift when it reaches the threshold, for a monitor
    /// breach always; in both cases only when a job file is set. The job's name comes from the
    /// event id, so a redelivery finds it already there.
    pub async fn retrain(
        &self,
        workspace: Option<&WorkspaceId>,
        reason: RetrainReason,
        event_id: &str,
        placeholder: impl Fn(&str) -> String,
    ) -> Result<ActionReport, HandlerError> {
        let threshold = self.ctx.config.retrain_drift_threshold;
        let why = match reason {
            RetrainReason::Drift(None) => {
                return Ok(ActionReport::skipped(
                    Action::Retrain,
                    "the event carries no driftCoefficient",
                ));
            }
            RetrainReason::Drift(Some(drift)) if drift < threshold => {
                return Ok(ActionReport::skipped(
                    Action::Retrain,
                    format!(
                        "driftCoefficient {drift} is below {AML_RETRAIN_DRIFT_THRESHOLD} {threshold}"
                    ),
                ));
            }
            RetrainReason::Drift(Some(drift)) => {
                format!("driftCoefficient {drift} reaches {threshold}")
            }
            RetrainReason::MonitorBreach => "the model monitor breached its thresholds".to_owned(),
        };
        let Some(job) = &self.ctx.config.retrain_job else {
            return Ok(ActionReport::skipped(
                Action::Retrain,
                format!("{AML_RETRAIN_JOB_FILE} is not set"),
            ));
        };
        let Some(workspace) = workspace else {
            return Ok(ActionReport::skipped(Action::Retrain, NO_WORKSPACE));
        };
        let name = retrain_job_name(event_id);
        let request = format!(
            "PUT {}/jobs/{name}?api-version={ML_API_VERSION}",
            self.arm_url(&workspace.resource_id())
        );
        let Some(client) = &self.client else {
            let detail = format!("{why}: would create job {name} from {}", job.path.display());
            return Ok(ActionReport::dry_run(Action::Retrain, request, detail));
        };
        let body: Value = match serde_json::from_str(&job.fill(placeholder)) {
            Ok(body) => body,
            Err(err) => {
                return Ok(ActionReport::failed(
                    Action::Retrain,
                    request,
                    format!(
                        "{} is not JSON once filled in for this event: {err}",
                        job.path.display()
                    ),
                ));
            }
        };
        match client.create_or_update_job(workspace, &name, &body).await {
            Ok(JobOutcome::Created(_) | JobOutcome::Updated(_)) => Ok(ActionReport::done(
                Action::Retrain,
                request,
                format!("{why}: created job {name}"),
            )),
            Ok(JobOutcome::AlreadyExists { status, .. }) => Ok(ActionReport::done(
                Action::Retrain,
                request,
                format!(
                    "job {name} already exists (Azure answered {status}): this event was handled before"
                ),
            )),
            Err(err) => self.settle(Action::Retrain, request, err),
        }
    }

    /// Scores `AML_SMOKE_TEST_URI` once and records status and latency. Whatever the endpoint
    /// answers is the result: a failing deployment is news to report, not a reason to
    /// redeliver the event.
    pub async fn smoke_test(&self) -> Result<(ActionReport, Option<Value>), HandlerError> {
        let config = &self.ctx.config;
        let Some(uri) = &config.smoke_test_uri else {
            return Ok((
                ActionReport::skipped(
                    Action::SmokeTest,
                    format!("{AML_SMOKE_TEST_URI} is not set"),
                ),
                None,
            ));
        };
        let request = format!("POST {}", redacted(uri.as_str()));
        let Some(client) = &self.client else {
            return Ok((
                ActionReport::dry_run(
                    Action::SmokeTest,
                    request,
                    "would score the endpoint once and record status and latency",
                ),
                None,
            ));
        };
        // Checked to be JSON at start-up.
        let payload: Value =
            serde_json::from_str(&config.smoke_test_payload).unwrap_or(Value::Null);
        match client
            .score(uri, config.smoke_test_key.as_ref(), &payload)
            .await
        {
            Ok(answer) => {
                let latency_ms = answer.latency.as_secs_f64() * 1000.0;
                let facts = json!({ "status": answer.status, "latencyMs": (latency_ms * 10.0).round() / 10.0 });
                let detail = format!(
                    "the endpoint answered {} in {latency_ms:.1} ms",
                    answer.status
                );
                let report = if (200..300).contains(&answer.status) {
                    ActionReport::done(Action::SmokeTest, request, detail)
                } else {
                    ActionReport::failed(Action::SmokeTest, request, detail)
                };
                Ok((report, Some(facts)))
            }
            Err(err) => {
                let report = self.failed(Action::SmokeTest, request, &err);
                let facts = json!({ "error": report.detail });
                Ok((report, Some(facts)))
            }
        }
    }

    /// Sorts a failed call: a refused identity fails the delivery, a transient failure makes
    /// Event Grid redeliver, anything else is reported as a permanent failure.
    fn settle(
        &self,
        action: Action,
        request: String,
        err: CallbackError,
    ) -> Result<ActionReport, HandlerError> {
        if err.is_unauthorized() {
            return Err(unauthorized(action, err));
        }
        if err.is_transient() {
            return Err(HandlerError::Transient {
                action,
                source: Box::new(err),
            });
        }
        Ok(self.failed(action, request, &err))
    }

    /// A permanent failure, logged at error, with every cause.
    fn failed(&self, action: Action, request: String, err: &CallbackError) -> ActionReport {
        let why = chain(err).to_string();
        error!(action = action.as_str(), error = %why, "action failed");
        ActionReport::failed(action, request, why)
    }

    fn arm_url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.ctx.config.arm_endpoint.as_str().trim_end_matches('/'),
            path
        )
    }
}

fn unauthorized(action: Action, err: CallbackError) -> HandlerError {
    HandlerError::Unauthorized {
        action,
        source: Box::new(err),
    }
}

/// The retraining job's name: derived from the event id alone, so a redelivered event names
/// the same job and can never start a second one. Job names allow letters, digits, `-` and `_`.
pub fn retrain_job_name(event_id: &str) -> String {
    let id: String = event_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(200)
        .collect();
    format!("retrain-{id}")
}

/// `scheme://host[:port]/…`: the path and query of webhook and scoring URLs can hold keys.
pub fn redacted(url: &str) -> String {
    redact::url_text(url, Show::Origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_stable_and_valid() {
        let name = retrain_job_name("831E1650-001e-001b-66ab-eeb76e069631");
        assert_eq!(name, "retrain-831e1650-001e-001b-66ab-eeb76e069631");
        assert_eq!(retrain_job_name("a/b c"), "retrain-a-b-c");
    }

    #[test]
    fn redaction_keeps_only_scheme_and_host() {
        assert_eq!(
            redacted("https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redacted("http://127.0.0.1:8081/score?code=k"),
            "http://127.0.0.1:8081/…"
        );
    }
}

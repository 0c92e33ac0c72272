//! The actions the functions share (SPEC §8.1): notify, enrich, retrain, smoke-test. Each
//! decides whether it applies under the settings, then makes its call through the shared
//! client within the delivery's deadline, or reports the request it would make in a dry run.
//!
//! Failures are sorted once, in [`Actions::settle`]: Azure refusing the identity (401/403)
//! fails the delivery, a transient failure that outlasted the retries makes Event Grid
//! redeliver, and anything else is a permanent failure reported in the outcome.

use std::{
    borrow::Cow,
    future::Future,
    time::{Duration, SystemTime},
};

use aml_events::{
    Event, Function, Secret, WorkspaceId,
    azure::{AmlClient, CallbackError, JobOutcome, ML_API_VERSION},
    chain,
    events::RunStatus,
    ledger::{Claim, EffectKey, Ledger},
    notify::{Notice, Notifier, Target},
    redact::{self, Show},
};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{error, warn};

use super::{BoxError, HandlerError};
use crate::{
    AppContext,
    config::{
        AML_NOTIFY_ON, AML_NOTIFY_RUN_STATUSES, AML_NOTIFY_URL, AML_RETRAIN_DRIFT_THRESHOLD,
        AML_RETRAIN_JOB_FILE, AML_SMOKE_TEST_URI, ActionSettings, JobTemplate,
    },
    outcome::{Action, ActionReport},
    routes::{Route, Routes},
};

/// One smoke test to run: the URI, its key, the payload, and the route that asked.
type SmokeTestCall<'a> = (
    &'a url::Url,
    Option<&'a Secret>,
    Cow<'a, Value>,
    Option<&'a str>,
);

/// Why a routed event sends no notification.
const NO_ROUTE_NOTIFIES: &str = "no matching route notifies";

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

/// What one delivery shares: the clients bounded by its deadline (the Azure client unless this
/// is a dry run; the notifier unless notifications are held back).
pub struct Delivery<'a> {
    ctx: &'a AppContext,
    client: Option<AmlClient>,
    notifier: Option<Notifier>,
}

impl<'a> Delivery<'a> {
    /// A delivery that must finish by `deadline`.
    pub fn new(ctx: &'a AppContext, deadline: tokio::time::Instant) -> Self {
        Delivery {
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

    /// The actions of `event`, one event of the delivery, under `plan`.
    pub fn actions<'b>(&'b self, plan: Plan<'a>, event: &'b Event<()>) -> Actions<'b>
    where
        'a: 'b,
    {
        Actions {
            settings: &self.ctx.config.actions,
            arm_endpoint: &self.ctx.config.azure.arm_endpoint,
            client: self.client.as_ref(),
            notifier: self.notifier.as_ref(),
            plan,
            claims: Claims {
                ledger: self.ctx.ledger.as_deref(),
                source: event.source.as_deref().unwrap_or_default(),
                event_id: &event.id,
                lease: self.ctx.lease(),
            },
        }
    }
}

/// Who decides what an event's actions do.
#[derive(Debug, Clone)]
pub enum Plan<'a> {
    /// No routes file: the `AML_*` action settings, one implicit route per function.
    Settings,
    /// The routes of the file that match the event (at least one).
    Routes {
        /// The file.
        routes: &'a Routes,
        /// The routes whose function and conditions match, in the file's order.
        matched: Vec<&'a Route>,
    },
}

/// The actions of one event: what the settings or its routes ask for, and the means to do it.
/// A function reads nothing else.
pub struct Actions<'a> {
    settings: &'a ActionSettings,
    arm_endpoint: &'a url::Url,
    client: Option<&'a AmlClient>,
    notifier: Option<&'a Notifier>,
    plan: Plan<'a>,
    claims: Claims<'a>,
}

/// Where an event's effects are claimed before they run (SPEC §12), when there is a ledger.
struct Claims<'a> {
    ledger: Option<&'a dyn Ledger>,
    source: &'a str,
    event_id: &'a str,
    lease: Duration,
}

/// An effect another instance claimed less than a lease ago: the event is redelivered, and
/// by then that instance has done it or its claim has gone stale.
#[derive(Debug, thiserror::Error)]
#[error("{key} is being carried out by another instance (claimed {} s ago)", age.as_secs())]
pub struct ClaimedElsewhere {
    key: EffectKey,
    age: Duration,
}

/// Why a retraining job is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetrainReason {
    /// A v1 dataset monitor's drift coefficient, held to `AML_RETRAIN_DRIFT_THRESHOLD` (or the
    /// route's `drift_threshold`).
    Drift(Option<f64>),
    /// A model monitor's breach (SPEC §8.6): the monitor already judged, no threshold applies.
    MonitorBreach,
}

/// One retraining job to create: the template, the threshold for drift, and who asked.
struct Job<'a> {
    template: Option<&'a JobTemplate>,
    threshold: f64,
    threshold_name: String,
    route: Option<&'a str>,
}

impl<'a> Actions<'a> {
    /// Why `function` sends no notification for this event, if it sends none: not in
    /// `AML_NOTIFY_ON`, or no matching route notifies.
    pub fn silence(&self, function: Function) -> Option<String> {
        match &self.plan {
            Plan::Settings => (!self.settings.notify_on.contains(&function))
                .then(|| format!("{function} is not in {AML_NOTIFY_ON}")),
            Plan::Routes { matched, .. } => matched
                .iter()
                .all(|route| route.notify.is_empty())
                .then(|| NO_ROUTE_NOTIFIES.to_owned()),
        }
    }

    /// Why `RunStatusChanged` does nothing for a run in `status`, if it does nothing: without
    /// routes, a status not in `AML_NOTIFY_RUN_STATUSES`; with routes, their own `run_status`
    /// conditions already decided.
    pub fn ignores_run_status(&self, status: Option<&RunStatus>) -> Option<String> {
        let Plan::Settings = self.plan else {
            return None;
        };
        let wanted = &self.settings.notify_run_statuses;
        if status.is_some_and(|status| wanted.contains(status)) {
            return None;
        }
        let listed: Vec<&str> = wanted.iter().map(|status| status.as_str()).collect();
        let status = status.map_or("(none)", |status| status.as_str());
        Some(format!(
            "status {status} is not in {AML_NOTIFY_RUN_STATUSES} ({})",
            listed.join(", ")
        ))
    }

    /// Sends `notice` to every target: without routes, those of `AML_NOTIFY_URL` when the
    /// function is in `AML_NOTIFY_ON`; with routes, each target the matching routes name,
    /// once, reported with the first route that named it. One report per target. Sent with or
    /// without Azure credentials; only `AML_DRY_RUN=1` holds it back (SPEC §8.1). A target
    /// still failing for now when the deadline comes makes the delivery fail, so Event Grid
    /// redelivers.
    pub async fn notify(
        &self,
        function: Function,
        notice: &Notice,
    ) -> Result<Vec<ActionReport>, HandlerError> {
        let sends: Vec<_> = match &self.plan {
            Plan::Settings => {
                if let Some(why) = self.silence(function) {
                    return Ok(vec![ActionReport::skipped(Action::Notify, why)]);
                }
                if self.settings.notify_targets.is_empty() {
                    return Ok(vec![ActionReport::skipped(
                        Action::Notify,
                        format!("{AML_NOTIFY_URL} is not set"),
                    )]);
                }
                self.settings
                    .notify_targets
                    .iter()
                    .map(|target| self.notify_one(target, target.display(), None, notice))
                    .collect()
            }
            Plan::Routes { routes, matched } => {
                let mut wanted: Vec<(usize, &str)> = Vec::new();
                for route in matched {
                    for index in &route.notify {
                        if !wanted.iter().any(|(seen, _)| seen == index) {
                            wanted.push((*index, &route.name));
                        }
                    }
                }
                if wanted.is_empty() {
                    return Ok(vec![ActionReport::skipped(
                        Action::Notify,
                        NO_ROUTE_NOTIFIES,
                    )]);
                }
                wanted
                    .into_iter()
                    .map(|(index, route)| {
                        let named = routes.target(index);
                        let shown = format!("{} ({})", named.name, named.target.kind);
                        self.notify_one(&named.target, shown, Some(route), notice)
                    })
                    .collect()
            }
        };
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .collect()
    }

    async fn notify_one(
        &self,
        target: &Target,
        shown: String,
        route: Option<&str>,
        notice: &Notice,
    ) -> Result<ActionReport, HandlerError> {
        let request = format!("POST {}", redacted(target.url.expose()));
        let label = |report: ActionReport| {
            let report = report.to(shown.clone());
            match route {
                Some(route) => report.by(route),
                None => report,
            }
        };
        if !Notifier::wants(target, notice) {
            let detail = "PagerDuty is sent only failures, breaches and drift";
            return Ok(label(ActionReport::skipped(Action::Notify, detail)));
        }
        let Some(notifier) = self.notifier else {
            let detail = format!("would post: {}", notice.summary);
            return Ok(label(ActionReport::dry_run(
                Action::Notify,
                request,
                detail,
            )));
        };
        let send = || async {
            match notifier.send(target, notice).await {
                Ok(delivered) => {
                    let detail = format!("{} took it: {}", delivered.status, notice.summary);
                    Ok(ActionReport::done(Action::Notify, request, detail))
                }
                Err(err) if err.is_transient() => Err(HandlerError::Transient {
                    action: Action::Notify,
                    source: Box::new(err),
                }),
                Err(err) => {
                    let why = chain(&err).to_string();
                    error!(event_id = %notice.event_id, target = %shown, error = %why, "the notification target refused the notification");
                    Ok(ActionReport::failed(Action::Notify, request, why))
                }
            }
        };
        self.once(Action::Notify, &target.ledger_id(), send)
            .await
            .map(label)
    }

    /// Reads the run from run history (workspace -> discovery -> run). A failure other than a
    /// refused identity is reported and the notification goes out anyway, saying so.
    pub async fn enrich(
        &self,
        workspace: Option<&WorkspaceId>,
        experiment_name: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<(ActionReport, Option<RunFacts>), HandlerError> {
        let route = match &self.plan {
            Plan::Settings => None,
            Plan::Routes { matched, .. } => match matched.iter().find(|route| route.enriches()) {
                Some(route) => Some(route.name.as_str()),
                None => {
                    return Ok((
                        ActionReport::skipped(
                            Action::Enrich,
                            "no matching route enriches run events",
                        ),
                        None,
                    ));
                }
            },
        };
        let (report, facts) = self.enrich_run(workspace, experiment_name, run_id).await?;
        Ok((
            match route {
                Some(route) => report.by(route),
                None => report,
            },
            facts,
        ))
    }

    async fn enrich_run(
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
        let Some(client) = self.client else {
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

    /// Creates the retraining jobs: for drift when it reaches the threshold, for a monitor
    /// breach always; in both cases only when a job file is set (`AML_RETRAIN_JOB_FILE`, or
    /// the matching routes' `retrain`, each job file once). A job's name comes from the event
    /// id, so a redelivery finds it already there. One report per job.
    pub async fn retrain(
        &self,
        workspace: Option<&WorkspaceId>,
        reason: RetrainReason,
        event_id: &str,
        placeholder: impl Fn(&str) -> String,
    ) -> Result<Vec<ActionReport>, HandlerError> {
        let default_threshold = self.settings.retrain_drift_threshold;
        let jobs: Vec<Job<'_>> = match &self.plan {
            Plan::Settings => vec![Job {
                template: self.settings.retrain_job.as_ref(),
                threshold: default_threshold,
                threshold_name: AML_RETRAIN_DRIFT_THRESHOLD.to_owned(),
                route: None,
            }],
            Plan::Routes { matched, .. } => {
                let mut jobs: Vec<Job<'_>> = Vec::new();
                for route in matched {
                    let Some(retrain) = &route.retrain else {
                        continue;
                    };
                    if jobs
                        .iter()
                        .any(|job| job.template.is_some_and(|t| t.path == retrain.job.path))
                    {
                        continue;
                    }
                    jobs.push(Job {
                        template: Some(&retrain.job),
                        threshold: retrain.drift_threshold.unwrap_or(default_threshold),
                        threshold_name: match retrain.drift_threshold {
                            Some(_) => format!("route {:?}'s drift_threshold", route.name),
                            None => AML_RETRAIN_DRIFT_THRESHOLD.to_owned(),
                        },
                        route: Some(&route.name),
                    });
                }
                if jobs.is_empty() {
                    return Ok(vec![ActionReport::skipped(
                        Action::Retrain,
                        "no matching route retrains",
                    )]);
                }
                jobs
            }
        };
        let several = jobs.len() > 1;
        let runs = jobs.iter().map(|job| {
            let name = match (several, job.template) {
                (true, Some(template)) => job_name_for(event_id, &template.path),
                _ => retrain_job_name(event_id),
            };
            let placeholder = &placeholder;
            async move {
                let report = self
                    .retrain_one(workspace, reason, job, name, placeholder)
                    .await?;
                Ok(match job.route {
                    Some(route) => report.by(route),
                    None => report,
                })
            }
        });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect()
    }

    async fn retrain_one(
        &self,
        workspace: Option<&WorkspaceId>,
        reason: RetrainReason,
        job: &Job<'_>,
        name: String,
        placeholder: &impl Fn(&str) -> String,
    ) -> Result<ActionReport, HandlerError> {
        let (threshold, threshold_name) = (job.threshold, &job.threshold_name);
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
                    format!("driftCoefficient {drift} is below {threshold_name} {threshold}"),
                ));
            }
            RetrainReason::Drift(Some(drift)) => {
                format!("driftCoefficient {drift} reaches {threshold}")
            }
            RetrainReason::MonitorBreach => "the model monitor breached its thresholds".to_owned(),
        };
        let Some(job) = job.template else {
            return Ok(ActionReport::skipped(
                Action::Retrain,
                format!("{AML_RETRAIN_JOB_FILE} is not set"),
            ));
        };
        let Some(workspace) = workspace else {
            return Ok(ActionReport::skipped(Action::Retrain, NO_WORKSPACE));
        };
        let request = format!(
            "PUT {}/jobs/{name}?api-version={ML_API_VERSION}",
            self.arm_url(&workspace.resource_id())
        );
        let Some(client) = self.client else {
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
        let create = || async {
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
        };
        self.once(Action::Retrain, &name, create).await
    }

    /// Scores the deployment once per scoring URI (`AML_SMOKE_TEST_URI`, or the matching
    /// routes' `smoke_test`, each URI once) and records status and latency. Whatever the
    /// endpoint answers is the result: a failing deployment is news to report, not a reason
    /// to redeliver the event.
    pub async fn smoke_test(&self) -> Result<Vec<(ActionReport, Option<Value>)>, HandlerError> {
        let tests: Vec<SmokeTestCall<'_>> = match &self.plan {
            Plan::Settings => {
                let Some(uri) = &self.settings.smoke_test_uri else {
                    return Ok(vec![(
                        ActionReport::skipped(
                            Action::SmokeTest,
                            format!("{AML_SMOKE_TEST_URI} is not set"),
                        ),
                        None,
                    )]);
                };
                // Checked to be JSON at start-up.
                let payload: Value =
                    serde_json::from_str(&self.settings.smoke_test_payload).unwrap_or(Value::Null);
                vec![(
                    uri,
                    self.settings.smoke_test_key.as_ref(),
                    Cow::Owned(payload),
                    None,
                )]
            }
            Plan::Routes { matched, .. } => {
                let mut tests: Vec<SmokeTestCall<'_>> = Vec::new();
                for route in matched {
                    let Some(smoke) = &route.smoke_test else {
                        continue;
                    };
                    if tests.iter().any(|(uri, ..)| *uri == &smoke.uri) {
                        continue;
                    }
                    tests.push((
                        &smoke.uri,
                        smoke.key.as_ref(),
                        Cow::Borrowed(&smoke.payload),
                        Some(route.name.as_str()),
                    ));
                }
                if tests.is_empty() {
                    return Ok(vec![(
                        ActionReport::skipped(Action::SmokeTest, "no matching route smoke-tests"),
                        None,
                    )]);
                }
                tests
            }
        };
        let runs = tests.iter().map(|(uri, key, payload, route)| async move {
            let (report, facts) = self.smoke_test_one(uri, *key, payload).await;
            let report = match route {
                Some(route) => report.by(route),
                None => report,
            };
            (report, facts)
        });
        Ok(futures_util::future::join_all(runs).await)
    }

    async fn smoke_test_one(
        &self,
        uri: &url::Url,
        key: Option<&Secret>,
        payload: &Value,
    ) -> (ActionReport, Option<Value>) {
        let request = format!("POST {}", redacted(uri.as_str()));
        let Some(client) = self.client else {
            return (
                ActionReport::dry_run(
                    Action::SmokeTest,
                    request,
                    "would score the endpoint once and record status and latency",
                ),
                None,
            );
        };
        let mut facts = None;
        let score = || async {
            let (report, found) = self.score(client, uri, key, payload, request).await;
            facts = found;
            Ok(report)
        };
        match self
            .once(Action::SmokeTest, &redact::fingerprint(uri.as_str()), score)
            .await
        {
            Ok(report) => (report, facts),
            // A smoke test never fails the delivery, not even for a ledger down or a claim
            // held elsewhere: reported, like any other failure to test the endpoint.
            Err(err) => {
                let why = chain(&err).to_string();
                (
                    ActionReport::failed(
                        Action::SmokeTest,
                        format!("POST {}", redacted(uri.as_str())),
                        why,
                    ),
                    None,
                )
            }
        }
    }

    /// Scores `uri` once and reads the answer as the smoke test's result.
    async fn score(
        &self,
        client: &AmlClient,
        uri: &url::Url,
        key: Option<&Secret>,
        payload: &Value,
        request: String,
    ) -> (ActionReport, Option<Value>) {
        match client.score(uri, key, payload).await {
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
                (report, Some(facts))
            }
            Err(err) => {
                let report = self.failed(Action::SmokeTest, request, &err);
                let facts = json!({ "error": report.detail });
                (report, Some(facts))
            }
        }
    }

    /// Runs `effect` once for this event across instances and restarts (SPEC §12): claimed in
    /// the ledger before it runs, marked done with its report after, given back when it
    /// failed for now. Already done: reported as a duplicate. Claimed by another instance
    /// less than a lease ago, or the ledger unreachable: never acted on unclaimed, the
    /// delivery fails so Event Grid redelivers. Without a ledger, `effect` simply runs.
    async fn once<F, Fut>(
        &self,
        action: Action,
        target: &str,
        effect: F,
    ) -> Result<ActionReport, HandlerError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ActionReport, HandlerError>>,
    {
        let Some(ledger) = self.claims.ledger else {
            return effect().await;
        };
        let key = EffectKey::new(
            self.claims.source,
            self.claims.event_id,
            action.as_str(),
            target,
        );
        let transient = |source: BoxError| HandlerError::Transient { action, source };
        let token = match ledger.claim(&key, self.claims.lease).await {
            Ok(Claim::Acquired(token)) => token,
            Ok(Claim::Done { outcome, .. }) => {
                let mut report = ActionReport::duplicate(action);
                report.detail = format!(
                    "already done for this event (the ledger says: {outcome}); not repeated"
                );
                return Ok(report);
            }
            Ok(Claim::HeldElsewhere { since }) => {
                let age = SystemTime::now().duration_since(since).unwrap_or_default();
                return Err(transient(Box::new(ClaimedElsewhere { key, age })));
            }
            Err(err) => return Err(transient(Box::new(err))),
        };
        let result = effect().await;
        let settled = match &result {
            Ok(report) => {
                let outcome = format!(
                    "{} {}: {}",
                    report.action,
                    report.status.as_str(),
                    report.detail
                );
                ledger.complete(&token, &outcome).await
            }
            Err(_) => ledger.release(&token).await,
        };
        if let Err(err) = settled {
            // The effect itself happened (or failed) as reported; a stale claim is taken over
            // after the lease, at worst repeating it once.
            warn!(effect = %key, error = %chain(&err), "could not record the effect in the ledger");
        }
        result
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
            self.arm_endpoint.as_str().trim_end_matches('/'),
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
    format!("retrain-{}", job_name_part(event_id, 200))
}

/// At most `max` characters of `text` fit for a job name: letters and digits lowercased, `-`
/// and `_` kept, anything else `-`.
fn job_name_part(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(max)
        .collect()
}

/// The reports of one action (several jobs or smoke tests with routes) as a notice shows them:
/// their details joined, and `{"status", "detail"}` (an array of them when there are several).
pub fn summarize(reports: &[ActionReport]) -> (String, Value) {
    let detail = reports
        .iter()
        .map(|report| report.detail.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let each = |report: &ActionReport| json!({ "status": report.status.as_str(), "detail": report.detail });
    let value = match reports {
        [one] => each(one),
        many => Value::Array(many.iter().map(each).collect()),
    };
    (detail, value)
}

/// A job's name when an event starts several (routes naming several job files): the event's
/// job name and the job file's stem, so each is stable across redeliveries.
fn job_name_for(event_id: &str, path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("job");
    format!("{}-{}", retrain_job_name(event_id), job_name_part(stem, 40))
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

//! The `AML_*` action settings: what the implicit routes are made of when there is no routes
//! file (and the default drift threshold a file's routes fall back on).

use std::{collections::BTreeSet, time::Duration};

use aml_events::{
    Function, Secret,
    events::RunStatus,
    notify::{SigningKey, Target, TargetError},
};
use url::Url;

use super::{
    error::{ConfigError, invalid},
    values::{number_in, split_list, token_url},
};
use crate::{
    routes::{Routes, SmokeTest, implicit, interval, job::JobTemplate},
    settings::{
        AML_NOTIFY_EVERY, AML_NOTIFY_ON, AML_NOTIFY_PAGERDUTY_KEY, AML_NOTIFY_RUN_STATUSES,
        AML_NOTIFY_SECRET, AML_NOTIFY_URL, AML_RETRAIN_COOLDOWN, AML_RETRAIN_DRIFT_THRESHOLD,
        AML_RETRAIN_JOB_FILE, AML_SMOKE_TEST_KEY, AML_SMOKE_TEST_PAYLOAD, AML_SMOKE_TEST_URI,
    },
};

const DEFAULT_DRIFT_THRESHOLD: f64 = 0.5;

/// The action settings (docs/settings.md): without a routes file, one implicit route per function.
#[derive(Debug, Clone)]
pub struct ActionSettings {
    /// `AML_DRY_RUN=1`: notifications are held back too. Without credentials alone they are
    /// sent, since a notification target is not Azure (docs/actions.md).
    pub hold_notifications: bool,
    /// `AML_NOTIFY_URL`'s targets (with `AML_NOTIFY_PAGERDUTY_KEY` for PagerDuty, and
    /// `AML_NOTIFY_SECRET` signing the plain webhooks); their URLs are secrets, since webhook
    /// URLs carry their key.
    pub notify_targets: Vec<Target>,
    /// `AML_NOTIFY_PAGERDUTY_KEY`: the routing key of `AML_NOTIFY_URL`'s PagerDuty targets
    /// (and of `notify --test --to`'s).
    pub notify_routing_key: Option<Secret>,
    /// `AML_NOTIFY_SECRET`, read and checked: the key signing `AML_NOTIFY_URL`'s plain webhooks
    /// (and `notify --test --to`'s).
    pub notify_signing: Option<SigningKey>,
    /// `AML_NOTIFY_ON`.
    pub notify_on: BTreeSet<Function>,
    /// `AML_NOTIFY_RUN_STATUSES`.
    pub notify_run_statuses: Vec<RunStatus>,
    /// `AML_RETRAIN_DRIFT_THRESHOLD`.
    pub retrain_drift_threshold: f64,
    /// `AML_RETRAIN_JOB_FILE` and its content, read once at start-up.
    pub retrain_job: Option<JobTemplate>,
    /// `AML_SMOKE_TEST_URI`, with `AML_SMOKE_TEST_KEY` and `AML_SMOKE_TEST_PAYLOAD`.
    pub smoke_test: Option<SmokeTest>,
    /// `AML_RETRAIN_COOLDOWN`: the implicit routes' retrain `cooldown`.
    pub retrain_cooldown: Option<Duration>,
    /// `AML_NOTIFY_EVERY`: the implicit routes' `notify_every`.
    pub notify_every: Option<Duration>,
}

impl ActionSettings {
    /// The implicit routes these settings make.
    pub fn routes(&self) -> Routes {
        implicit::routes(implicit::Settings {
            notify_targets: &self.notify_targets,
            notify_on: &self.notify_on,
            notify_run_statuses: &self.notify_run_statuses,
            retrain_job: self.retrain_job.as_ref(),
            smoke_test: self.smoke_test.as_ref(),
            retrain_cooldown: self.retrain_cooldown,
            notify_every: self.notify_every,
        })
    }
}

/// Reads the action settings through `get`; `hold_notifications` is `AML_DRY_RUN=1`.
pub(super) fn read(
    get: &dyn Fn(&str) -> Option<String>,
    hold_notifications: bool,
) -> Result<ActionSettings, ConfigError> {
    let secret = |name: &str| get(name).map(Secret::new);
    // Checked even without AML_NOTIFY_URL: a routes file may name it as a target's secret.
    let signing = get(AML_NOTIFY_SECRET)
        .map(|text| {
            SigningKey::parse(&text).map_err(|problem| {
                ConfigError::Target(TargetError::Secret {
                    setting: AML_NOTIFY_SECRET,
                    problem,
                })
            })
        })
        .transpose()?;
    // The URLs are secrets: checked without echoing them.
    let notify_routing_key = secret(AML_NOTIFY_PAGERDUTY_KEY);
    let notify_targets = match get(AML_NOTIFY_URL) {
        Some(list) => Target::parse_list(&list, notify_routing_key.as_ref(), signing.as_ref())
            .map_err(|err| match err {
                TargetError::Insecure { .. } => ConfigError::InsecureUrl {
                    name: AML_NOTIFY_URL,
                },
                other => ConfigError::Target(other),
            })?,
        None => Vec::new(),
    };
    let notify_on: BTreeSet<Function> = match get(AML_NOTIFY_ON) {
        None => Function::ALL.into_iter().filter(|f| *f != Function::RunCompleted).collect(),
        Some(list) if list.eq_ignore_ascii_case("none") => BTreeSet::new(),
        Some(list) => split_list(&list)
            .map(|name| {
                Function::from_name(name).ok_or_else(|| {
                    invalid(AML_NOTIFY_ON, "comma-separated list of function names (ModelRegistered, ModelDeployed, RunCompleted, DatasetDriftDetected, RunStatusChanged) or none", name)
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let notify_run_statuses: Vec<RunStatus> = split_list(&get(AML_NOTIFY_RUN_STATUSES).unwrap_or_else(|| "Failed,Canceled".into()))
        .map(|name| match RunStatus::parse(name) {
            RunStatus::Other(_) => Err(invalid(AML_NOTIFY_RUN_STATUSES, "comma-separated list of run statuses (NotStarted, Queued, Preparing, Provisioning, Starting, Running, Finalizing, CancelRequested, Completed, Failed, Canceled, NotResponding)", name)),
            status => Ok(status),
        })
        .collect::<Result<_, _>>()?;
    let retrain_drift_threshold = number_in(
        get,
        AML_RETRAIN_DRIFT_THRESHOLD,
        "number from 0 to 1",
        0.0..=1.0,
        DEFAULT_DRIFT_THRESHOLD,
    )?;
    let retrain_job = get(AML_RETRAIN_JOB_FILE)
        .map(|path| read_job_template(&path))
        .transpose()?;
    let smoke_test_uri: Option<Url> = get(AML_SMOKE_TEST_URI)
        .map(|uri| token_url(AML_SMOKE_TEST_URI, &uri))
        .transpose()?;
    // Checked even without a URI to send it to: a wrong setting is told at once.
    let payload = match get(AML_SMOKE_TEST_PAYLOAD) {
        None => serde_json::Value::Object(Default::default()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|_| invalid(AML_SMOKE_TEST_PAYLOAD, "JSON document", &text))?,
    };
    let smoke_test = smoke_test_uri.map(|uri| SmokeTest {
        uri,
        key: secret(AML_SMOKE_TEST_KEY),
        payload,
    });
    let interval = |name: &'static str| {
        get(name)
            .map(|text| {
                interval::parse(&text).map_err(|_| invalid(name, interval::EXPECTED, &text))
            })
            .transpose()
    };
    Ok(ActionSettings {
        retrain_cooldown: interval(AML_RETRAIN_COOLDOWN)?,
        notify_every: interval(AML_NOTIFY_EVERY)?,
        hold_notifications,
        notify_targets,
        notify_routing_key,
        notify_signing: signing,
        notify_on,
        notify_run_statuses,
        retrain_drift_threshold,
        retrain_job,
        smoke_test,
    })
}

fn read_job_template(path: &str) -> Result<JobTemplate, ConfigError> {
    JobTemplate::read(std::path::Path::new(path)).map_err(|problem| ConfigError::File {
        name: AML_RETRAIN_JOB_FILE,
        path: path.to_owned(),
        problem,
    })
}

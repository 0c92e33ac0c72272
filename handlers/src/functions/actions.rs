//! The actions the functions share, decided without the network: whether each applies to an
//! event under the current settings, and the request it makes.

use aml_events::{Function, WorkspaceId};

use crate::{
    AppContext,
    config::{
        AML_NOTIFY_ON, AML_NOTIFY_URL, AML_RETRAIN_DRIFT_THRESHOLD, AML_RETRAIN_JOB_FILE,
        AML_SMOKE_TEST_URI,
    },
    outcome::{Action, ActionReport},
};

/// ARM API version for workspaces and jobs.
/// See <https://learn.microsoft.com/rest/api/azureml/jobs/create-or-update>.
pub(crate) const ARM_API_VERSION: &str = "2024-04-01";

/// Why a workspace action cannot run for an event whose source is not a workspace.
const NO_WORKSPACE: &str = "the event's topic/source is not an Azure ML workspace resource id";

/// Notify, when `AML_NOTIFY_URL` is set and the function is in `AML_NOTIFY_ON`.
pub(crate) fn notify(function: Function, text: &str, ctx: &AppContext) -> ActionReport {
    if !ctx.config.notify_on.contains(&function) {
        return ActionReport::skipped(
            Action::Notify,
            format!("{function} is not in {AML_NOTIFY_ON}"),
        );
    }
    let Some(url) = &ctx.config.notify_url else {
        return ActionReport::skipped(Action::Notify, format!("{AML_NOTIFY_URL} is not set"));
    };
    ActionReport::dry_run(
        Action::Notify,
        format!("POST {}", redacted(url.expose())),
        format!("would post: {text}"),
    )
}

/// Enrich from run history: the first request of workspace -> discovery -> run.
pub(crate) fn enrich(
    workspace: Option<&WorkspaceId>,
    experiment_name: Option<&str>,
    run_id: Option<&str>,
    ctx: &AppContext,
) -> ActionReport {
    let Some(workspace) = workspace else {
        return ActionReport::skipped(Action::Enrich, NO_WORKSPACE);
    };
    let (Some(experiment), Some(run)) = (experiment_name, run_id) else {
        return ActionReport::skipped(
            Action::Enrich,
            "the event names no experimentName and runId",
        );
    };
    ActionReport::dry_run(
        Action::Enrich,
        format!(
            "GET {}?api-version={ARM_API_VERSION}",
            arm_url(ctx, &workspace.resource_id())
        ),
        format!(
            "would read run {run} of experiment {experiment} from run history via the workspace's discovery URL"
        ),
    )
}

/// Retrain, when the drift reaches the threshold and a job file is set.
pub(crate) fn retrain(
    workspace: Option<&WorkspaceId>,
    drift: Option<f64>,
    event_id: &str,
    ctx: &AppContext,
) -> ActionReport {
    let threshold = ctx.config.retrain_drift_threshold;
    let Some(drift) = drift else {
        return ActionReport::skipped(Action::Retrain, "the event carries no driftCoefficient");
    };
    if drift < threshold {
        return ActionReport::skipped(
            Action::Retrain,
            format!("driftCoefficient {drift} is below {AML_RETRAIN_DRIFT_THRESHOLD} {threshold}"),
        );
    }
    let Some(job) = &ctx.config.retrain_job else {
        return ActionReport::skipped(
            Action::Retrain,
            format!("{AML_RETRAIN_JOB_FILE} is not set"),
        );
    };
    let Some(workspace) = workspace else {
        return ActionReport::skipped(Action::Retrain, NO_WORKSPACE);
    };
    let name = retrain_job_name(event_id);
    ActionReport::dry_run(
        Action::Retrain,
        format!(
            "PUT {}/jobs/{name}?api-version={ARM_API_VERSION}",
            arm_url(ctx, &workspace.resource_id())
        ),
        format!(
            "driftCoefficient {drift} reaches {threshold}: would create job {name} from {}",
            job.path.display()
        ),
    )
}

/// Smoke-test the deployment, when `AML_SMOKE_TEST_URI` is set.
pub(crate) fn smoke_test(ctx: &AppContext) -> ActionReport {
    let Some(uri) = &ctx.config.smoke_test_uri else {
        return ActionReport::skipped(
            Action::SmokeTest,
            format!("{AML_SMOKE_TEST_URI} is not set"),
        );
    };
    ActionReport::dry_run(
        Action::SmokeTest,
        format!("POST {}", redacted(uri.as_str())),
        "would score the endpoint once and record status and latency",
    )
}

/// The retraining job's name: derived from the event id alone, so a redelivered event names
/// the same job and can never start a second one. Job names allow letters, digits, `-` and `_`.
pub(crate) fn retrain_job_name(event_id: &str) -> String {
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

fn arm_url(ctx: &AppContext, path: &str) -> String {
    format!(
        "{}{}",
        ctx.config.arm_endpoint.as_str().trim_end_matches('/'),
        path
    )
}

/// `scheme://host[:port]/…`: the path and query of webhook and scoring URLs can hold keys.
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(url) => {
            let port = url
                .port()
                .map(|port| format!(":{port}"))
                .unwrap_or_default();
            format!(
                "{}://{}{port}/…",
                url.scheme(),
                url.host_str().unwrap_or_default()
            )
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
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

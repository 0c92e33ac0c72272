//! The `AML_*` action settings as routes: without a routes file, each function gets the route
//! its settings describe, named `settings: <Function>`, and events go through the very same
//! matching, de-duplication and actions as a file's routes. `explain` and `routes` show them
//! by those names.
//!
//! RunStatusChanged has two: one for the statuses of `AML_NOTIFY_RUN_STATUSES`, one for a
//! model monitor's breach, which is announced (and retrains) whatever those statuses say.
//! Notification targets of `AML_NOTIFY_URL` are named by their kind (`slack`, then `slack-2`);
//! its plain webhook targets come signed when `AML_NOTIFY_SECRET` is set.
//! `AML_NOTIFY_EVERY` and `AML_RETRAIN_COOLDOWN` are every implicit route's `notify_every` and
//! retrain `cooldown`.

use std::{borrow::Cow, collections::BTreeSet, time::Duration};

use aml_events::{Function, events::RunStatus, notify::Target};

use super::{
    NamedTarget, Origin, Retrain, Route, Routes, SmokeTest, WhyNot,
    glob::Glob,
    job::JobTemplate,
    matcher::{Field, Matcher},
};
use crate::settings::{
    AML_NOTIFY_ON, AML_NOTIFY_RUN_STATUSES, AML_NOTIFY_URL, AML_RETRAIN_JOB_FILE,
    AML_SMOKE_TEST_URI,
};

/// The action settings the implicit routes are made of, read and checked by the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// `AML_NOTIFY_URL`'s targets.
    pub notify_targets: &'a [Target],
    /// `AML_NOTIFY_ON`.
    pub notify_on: &'a BTreeSet<Function>,
    /// `AML_NOTIFY_RUN_STATUSES`.
    pub notify_run_statuses: &'a [RunStatus],
    /// `AML_RETRAIN_JOB_FILE`, read.
    pub retrain_job: Option<&'a JobTemplate>,
    /// `AML_SMOKE_TEST_URI`, `_KEY` and `_PAYLOAD`.
    pub smoke_test: Option<&'a SmokeTest>,
    /// `AML_RETRAIN_COOLDOWN`.
    pub retrain_cooldown: Option<Duration>,
    /// `AML_NOTIFY_EVERY`.
    pub notify_every: Option<Duration>,
}

/// The name of `function`'s implicit route.
fn route_name(function: Function) -> String {
    format!("settings: {function}")
}

/// The routes the settings describe.
pub fn routes(settings: Settings<'_>) -> Routes {
    let targets = named(settings.notify_targets);
    let mut routes = Vec::new();
    for function in Function::ALL {
        let notifies = settings.notify_on.contains(&function);
        let notify: Vec<usize> = if notifies {
            (0..targets.len()).collect()
        } else {
            Vec::new()
        };
        let base = Route {
            name: route_name(function),
            line: 0,
            functions: vec![function],
            matchers: Vec::new(),
            notify_every: settings.notify_every.filter(|_| !notify.is_empty()),
            notify,
            retrain: None,
            smoke_test: None,
            enrich: None,
            job_part: None,
            why_not: why_not(function, notifies),
        };
        let retrain = settings.retrain_job.map(|job| Retrain {
            job: job.clone(),
            drift_threshold: None,
            cooldown: settings.retrain_cooldown,
        });
        match function {
            Function::ModelRegistered => routes.push(base),
            Function::ModelDeployed => routes.push(Route {
                smoke_test: settings.smoke_test.cloned(),
                ..base
            }),
            Function::RunCompleted => routes.push(Route {
                enrich: Some(notifies),
                ..base
            }),
            Function::DatasetDriftDetected => routes.push(Route { retrain, ..base }),
            Function::RunStatusChanged => {
                let statuses = settings
                    .notify_run_statuses
                    .iter()
                    .map(|status| Glob::new(status.as_str()))
                    .collect();
                routes.push(Route {
                    matchers: vec![
                        Matcher::MonitorBreach(false),
                        Matcher::Text {
                            field: Field::RunStatus,
                            any_of: statuses,
                        },
                    ],
                    enrich: Some(notifies),
                    ..base.clone()
                });
                routes.push(Route {
                    name: format!("{} (monitor breach)", base.name),
                    matchers: vec![Matcher::MonitorBreach(true)],
                    retrain,
                    enrich: Some(false),
                    ..base
                });
            }
        }
    }
    let statuses: Vec<&str> = settings
        .notify_run_statuses
        .iter()
        .map(RunStatus::as_str)
        .collect();
    let run_status_note = format!(
        "the run's status is not in {AML_NOTIFY_RUN_STATUSES} ({}) and it is not a model-monitor breach; acknowledged, nothing done",
        statuses.join(", ")
    );
    Routes::new(Origin::Settings, targets, routes, |function| {
        match function {
            Function::RunStatusChanged => run_status_note.clone(),
            // Every other function's implicit route has no condition.
            other => format!("no setting acts on {other} events; acknowledged, nothing done"),
        }
    })
}

/// `AML_NOTIFY_URL`'s targets, each named by its kind: `slack`, a second Slack `slack-2`.
fn named(targets: &[Target]) -> Vec<NamedTarget> {
    let mut named: Vec<NamedTarget> = Vec::with_capacity(targets.len());
    for target in targets {
        let kind = target.kind.as_str();
        let before = named
            .iter()
            .filter(|seen| seen.target.kind == target.kind)
            .count();
        let name = match before {
            0 => kind.to_owned(),
            n => format!("{kind}-{}", n + 1),
        };
        named.push(NamedTarget::new(name, target.clone()));
    }
    named
}

/// Why `function`'s implicit route leaves an action out: the setting that would turn it on.
fn why_not(function: Function, notifies: bool) -> WhyNot {
    let not_on = format!("{function} is not in {AML_NOTIFY_ON}");
    WhyNot {
        notify: Cow::Owned(if notifies {
            format!("{AML_NOTIFY_URL} is not set")
        } else {
            not_on.clone()
        }),
        retrain: Cow::Owned(format!("{AML_RETRAIN_JOB_FILE} is not set")),
        smoke_test: Cow::Owned(format!("{AML_SMOKE_TEST_URI} is not set")),
        enrich: Cow::Owned(not_on),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(
        targets: &'a [Target],
        notify_on: &'a BTreeSet<Function>,
        statuses: &'a [RunStatus],
    ) -> Settings<'a> {
        Settings {
            notify_targets: targets,
            notify_on,
            notify_run_statuses: statuses,
            retrain_job: None,
            smoke_test: None,
            retrain_cooldown: None,
            notify_every: None,
        }
    }

    #[test]
    fn targets_are_named_by_kind_and_routes_by_function() {
        let targets = Target::parse_list(
            "https://hooks.slack.com/services/A, https://example.com/hook, slack:http://127.0.0.1:9/b",
            None,
            None,
        )
        .unwrap();
        let on: BTreeSet<Function> = Function::ALL.into_iter().collect();
        let routes = routes(settings(&targets, &on, &[RunStatus::Failed]));
        let names: Vec<&str> = routes.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["slack", "webhook", "slack-2"]);
        let names: Vec<&str> = routes.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "settings: ModelRegistered",
                "settings: ModelDeployed",
                "settings: RunCompleted",
                "settings: DatasetDriftDetected",
                "settings: RunStatusChanged",
                "settings: RunStatusChanged (monitor breach)",
            ]
        );
        assert_eq!(routes.origin, Origin::Settings);
        assert!(routes.routes.iter().all(|route| route.notify.len() == 3));
    }

    #[test]
    fn the_noise_settings_apply_to_the_routes_that_notify_and_retrain() {
        let targets = Target::parse_list("https://hooks.slack.com/services/A", None, None).unwrap();
        let on = BTreeSet::from([Function::RunStatusChanged]);
        let job = JobTemplate {
            path: "jobs/retrain.json".into(),
            text: "{}".into(),
        };
        let routes = routes(Settings {
            retrain_job: Some(&job),
            retrain_cooldown: Some(Duration::from_secs(3_600)),
            notify_every: Some(Duration::from_secs(60)),
            ..settings(&targets, &on, &[RunStatus::Failed])
        });
        let by_name = |name: &str| {
            (routes.routes.iter())
                .find(|route| route.name == name)
                .unwrap()
        };
        let breach = by_name("settings: RunStatusChanged (monitor breach)");
        assert_eq!(breach.notify_every, Some(Duration::from_secs(60)));
        let cooldown = breach.retrain.as_ref().unwrap().cooldown;
        assert_eq!(cooldown, Some(Duration::from_secs(3_600)));
        assert_eq!(
            by_name("settings: ModelRegistered").notify_every,
            None,
            "a route that notifies nobody holds nothing back"
        );
    }

    #[test]
    fn a_function_left_out_of_notify_on_says_so() {
        let on = BTreeSet::from([Function::ModelRegistered]);
        let routes = routes(settings(&[], &on, &[RunStatus::Failed]));
        let completed = &routes.routes[2];
        assert!(completed.notify.is_empty() && completed.enrich == Some(false));
        assert_eq!(
            completed.why_not.notify,
            "RunCompleted is not in AML_NOTIFY_ON"
        );
        assert_eq!(routes.routes[0].why_not.notify, "AML_NOTIFY_URL is not set");
    }
}

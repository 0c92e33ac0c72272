//! The notices the functions send (docs/notifications.md): one neutral [`Notice`] per event, built here
//! from the event's envelope, then filled in by each function with its status word, title,
//! summary, severity, facts, error, rows and links. Rendering for Teams, Slack, Discord,
//! PagerDuty or a plain webhook is `aml_events::notify`'s job.
//!
//! What every function's notice shares lives here: a retrain's line and its job's link, the
//! short form of an id, and the rule that a notice names no path of the machine that sent it.

use std::cell::RefCell;

use aml_events::{
    Event, Function, WorkspaceId,
    notify::{ErrorText, EventData, Fact, Link, Notice, Severity},
    redact,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::actions::summarize;
use crate::outcome::ActionReport;

/// A notice about `event`, handled by `function`, carrying `data` for the plain webhook kind;
/// informational until the function says otherwise.
pub fn notice(function: Function, event: &Event<()>, data: &impl Serialize) -> Notice {
    let workspace = event.workspace();
    Notice {
        title: String::new(),
        summary: String::new(),
        severity: Severity::Info,
        facts: Vec::new(),
        link: None,
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        function: function.name().to_owned(),
        subject: event.subject.clone(),
        source: event.source.clone(),
        workspace: workspace.as_ref().map(WorkspaceId::resource_id),
        time: event.time,
        alert: false,
        alert_key: alert_key(
            workspace.as_ref(),
            event.subject.as_deref(),
            function.name(),
        ),
        data: EventData::of(data),
        extra: Map::new(),
        ..Notice::default()
    }
}

/// What alerts about one thing share, so that redeliveries and repeats collapse into one
/// PagerDuty incident: `<workspace>/<what>/<kind of news>`. The workspace is its name and a
/// short fingerprint of its resource id (`ml-ws.1a2b3c4d`): two workspaces of one name in
/// other subscriptions or resource groups are two incidents, and the key stays short.
pub fn alert_key(workspace: Option<&WorkspaceId>, what: Option<&str>, news: &str) -> String {
    let what = what.unwrap_or("-");
    match workspace {
        Some(workspace) => {
            with_workspace_part(workspace, |workspace| format!("{workspace}/{what}/{news}"))
        }
        None => format!("-/{what}/{news}"),
    }
}

/// Calls `with` with the workspace's part of an alert key, `<name>.<fingerprint>`. The part of
/// the last workspace is kept: a function app serves one workspace or a few, every notice's key
/// is made at least twice (the default, then the function's own), and hashing the resource id
/// cost more than all the rest of a key.
fn with_workspace_part<T>(workspace: &WorkspaceId, with: impl FnOnce(&str) -> T) -> T {
    thread_local! {
        static LAST: RefCell<Option<(WorkspaceId, String)>> = const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        // Ids compare ignoring ASCII case, as the part does.
        Some((seen, part)) if seen == workspace => with(part),
        _ => {
            let id = workspace.resource_id().to_ascii_lowercase();
            let name = workspace.workspace.to_ascii_lowercase();
            let part = format!("{name}.{}", &redact::fingerprint(&id)[..8]);
            with(&last.insert((workspace.clone(), part)).1)
        }
    })
}

/// Facts from `(label, value)` pairs, leaving out those without a value.
pub fn facts<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Vec<Fact> {
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .filter(|value| !value.is_empty())
                .map(|value| Fact::new(name, value))
        })
        .collect()
}

/// Sets the run's studio link (docs/actions.md), when the workspace and run are known.
pub fn link_run(notice: &mut Notice, workspace: Option<&WorkspaceId>, run_id: Option<&str>) {
    notice.link = workspace
        .zip(run_id)
        .map(|(workspace, run)| workspace.studio_run_url(run));
}

/// Adds a field to the plain webhook kind's body.
pub fn extra(notice: &mut Notice, key: &str, value: Value) {
    notice.extra.insert(key.to_owned(), value);
}

/// Sets the error the notice is about, when there is one: said once, by the renderers.
pub fn error(notice: &mut Notice, text: Option<&str>) {
    notice.error = text
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(ErrorText::new);
}

/// What the retrain came to, as a notice says it: `job retrain-… created` for each job made,
/// else the report's own words (without machine paths). Adds the webhook kind's `retrain`
/// field (`{"status", "detail"}`, an array of them for several jobs) and a studio link to each
/// job created.
pub fn retrain(
    notice: &mut Notice,
    workspace: Option<&WorkspaceId>,
    reports: &[ActionReport],
) -> String {
    let jobs: Vec<&str> = reports.iter().filter_map(created_job).collect();
    let lines: Vec<String> = reports
        .iter()
        .map(|report| match created_job(report) {
            Some(job) => format!("job {job} created"),
            None => without_paths(report.came_to().1),
        })
        .collect();
    if let Some(workspace) = workspace {
        for job in &jobs {
            let label = match jobs.len() {
                1 => "Open retrain job".to_owned(),
                _ => format!("Open retrain job {job}"),
            };
            notice.links.push(Link {
                label,
                url: workspace.studio_run_url(job),
            });
        }
    }
    let (_, mut value) = summarize(reports);
    match &mut value {
        Value::Array(each) => each.iter_mut().for_each(detail_without_paths),
        one => detail_without_paths(one),
    }
    extra(notice, "retrain", value);
    lines.join("; ")
}

/// A `{"status", "detail"}` whose detail names no machine path.
fn detail_without_paths(report: &mut Value) {
    if let Some(Value::String(detail)) = report.get_mut("detail") {
        *detail = without_paths(detail);
    }
}

/// The job a retrain created (now, or when first handled): what its recorded outcome found.
fn created_job(report: &ActionReport) -> Option<&str> {
    report.found()?.get("job")?.as_str()
}

/// `text` with each absolute file path (`/srv/app/job.json`, `C:\\app\\job.json`,
/// `~/job.json`, `./job.json`) cut to its file name: a notice goes to people outside the host,
/// and names no path of the machine that sent it. An ARM resource id (`/subscriptions/…`) is no
/// path and stays whole.
pub fn without_paths(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let word = piece.trim_end();
            let core = word
                .trim_start_matches(['\'', '"', '(', '<', '`'])
                .trim_end_matches(['\'', '"', ')', '>', '`', ':', ',', ';', '.']);
            match (is_path(core), core.rfind(['/', '\\'])) {
                (true, Some(last)) => piece.replacen(core, &core[last + 1..], 1),
                _ => piece.to_owned(),
            }
        })
        .collect()
}

fn is_path(word: &str) -> bool {
    let bytes = word.as_bytes();
    let drive = bytes.len() > 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'/' | b'\\');
    let rooted = ["/", "\\", "~/", "./", "../"]
        .iter()
        .any(|start| word.starts_with(start));
    let resource_id = word
        .get(..15)
        .is_some_and(|start| start.eq_ignore_ascii_case("/subscriptions/"));
    (drive || rooted) && !resource_id && word.len() > 1
}

/// A long id as a reader takes it in: a GUID's first group and an ellipsis
/// (`d7e74d2e…`); anything else as it is.
pub fn short_id(id: &str) -> String {
    let is_guid = id.len() == 36
        && id.char_indices().all(|(at, c)| match at {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    match is_guid {
        true => format!("{}\u{2026}", &id[..8]),
        false => id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(subscription: &str, name: &str) -> WorkspaceId {
        WorkspaceId::parse(&format!(
            "/subscriptions/{subscription}/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/{name}"
        ))
        .unwrap()
    }

    #[test]
    fn an_alert_key_tells_workspaces_of_one_name_apart_and_ignores_case() {
        let dev = workspace("11111111-1111-1111-1111-111111111111", "ml-ws");
        let prod = workspace("22222222-2222-2222-2222-222222222222", "ml-ws");
        let prod_shouted = workspace("22222222-2222-2222-2222-222222222222", "ML-WS");
        let key = |workspace: &WorkspaceId| {
            alert_key(Some(workspace), Some("churn-drift"), "monitor-breach")
        };

        assert_ne!(key(&dev), key(&prod));
        assert_eq!(key(&prod), key(&prod_shouted));
        assert!(key(&dev).starts_with("ml-ws."), "{}", key(&dev));
        assert!(key(&dev).ends_with("/churn-drift/monitor-breach"));
        // The fingerprint is SHA-256 of the lower-cased resource id (hashlib's, for these two),
        // whichever workspace came before.
        for _ in 0..2 {
            assert_eq!(key(&dev), "ml-ws.77811925/churn-drift/monitor-breach");
            assert_eq!(
                key(&prod_shouted),
                "ml-ws.c1805aa4/churn-drift/monitor-breach"
            );
        }
        assert_eq!(
            alert_key(None, None, "RunStatusChanged"),
            "-/-/RunStatusChanged"
        );
    }

    #[test]
    fn a_notice_names_no_path_of_the_machine() {
        assert_eq!(
            without_paths(
                "would create job retrain-1 from /srv/app/jobs/retrain.json: ok (C:\\app\\job.json, ~/job.json)"
            ),
            "would create job retrain-1 from retrain.json: ok (job.json, job.json)"
        );
        let kept =
            "no role over scope '/subscriptions/s/resourceGroups/rg' for and/or https://x/y\nnext";
        assert_eq!(without_paths(kept), kept);
    }

    #[test]
    fn a_guid_is_shortened_and_a_name_is_not() {
        assert_eq!(
            short_id("d7e74d2e-c972-4266-b5fb-6c9c182d2a74"),
            "d7e74d2e\u{2026}"
        );
        assert_eq!(short_id("churn-target"), "churn-target");
    }
}

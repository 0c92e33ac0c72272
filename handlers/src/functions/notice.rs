//! The notices the functions send (docs/notifications.md): one neutral [`Notice`] per event, built here
//! from the event's envelope, then filled in by each function with its title, summary,
//! severity and facts. Rendering for Teams, Slack, Discord, PagerDuty or a plain webhook is
//! `aml_events::notify`'s job.

use aml_events::{
    Event, Function, WorkspaceId,
    notify::{Fact, Notice, Severity},
};
use serde::Serialize;
use serde_json::{Map, Value};

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
        workspace: workspace.as_ref().map(WorkspaceId::resource_id),
        time: event.time,
        alert: false,
        alert_key: alert_key(
            workspace.as_ref(),
            event.subject.as_deref(),
            function.name(),
        ),
        data: serde_json::to_value(data).unwrap_or(Value::Null),
        extra: Map::new(),
        ..Notice::default()
    }
}

/// What alerts about one thing share, so that redeliveries and repeats collapse into one
/// PagerDuty incident: `<workspace>/<what>/<kind of news>`.
pub fn alert_key(workspace: Option<&WorkspaceId>, what: Option<&str>, news: &str) -> String {
    format!(
        "{}/{}/{news}",
        workspace.map_or("-", |workspace| workspace.workspace.as_str()),
        what.unwrap_or("-")
    )
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

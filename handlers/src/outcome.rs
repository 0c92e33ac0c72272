//! What a function did with one event: the `ReturnValue` of a host invocation and one entry of
//! a webhook answer's `results`. Its fields are for programs: names and statuses, never
//! display text inside a name.

use aml_events::{
    Event, Function,
    events::{MonitorBreach, Violation},
    ledger::Recorded,
    notify::Kind,
};
use serde::Serialize;

/// The result of handling one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The function that handled it; `None` for events no function handles.
    pub function: Option<Function>,
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// Each action taken or considered, in order.
    pub actions: Vec<ActionReport>,
    /// Why the event was acknowledged without acting, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What set the actions off, when it was not the event type alone: `monitor-breach`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// A monitor breach's signal (`null` when its text named none); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Option<String>>,
    /// A monitor breach's violations; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
}

/// What set an event's actions off (docs/actions.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A model monitor's signal crossed its thresholds (docs/actions.md).
    MonitorBreach,
}

impl Outcome {
    /// An outcome with no actions yet.
    pub fn new<T>(function: Option<Function>, event: &Event<T>) -> Self {
        Outcome {
            function,
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            actions: Vec::new(),
            note: None,
            trigger: None,
            signal: None,
            violations: None,
        }
    }

    /// The outcome of a monitor breach: its trigger, signal and violations.
    pub fn with_breach(mut self, breach: &MonitorBreach) -> Self {
        self.trigger = Some(Trigger::MonitorBreach);
        self.signal = Some(breach.signal.clone());
        self.violations = Some(breach.violations.clone());
        self
    }

    /// An event acknowledged on purpose, nothing done, with the reason.
    pub fn acknowledged<T>(function: Option<Function>, event: &Event<T>, note: String) -> Self {
        Outcome {
            note: Some(note),
            ..Outcome::new(function, event)
        }
    }

    /// `enrich=dry-run, notify=skipped`, or the note: one log field per outcome.
    pub fn summary(&self) -> String {
        if let Some(note) = &self.note {
            return note.clone();
        }
        let parts: Vec<String> = self
            .actions
            .iter()
            .map(|action| format!("{}={}", action.action.as_str(), action.status.as_str()))
            .collect();
        parts.join(", ")
    }

    /// One readable line per action (or the note), for the Functions host's log stream:
    /// `RunCompleted <event id>: notify skipped: RunCompleted is not in AML_NOTIFY_ON`.
    pub fn log_lines(&self) -> impl Iterator<Item = LogLine<'_>> {
        let note = self.note.as_deref().map(LineOf::Note);
        let actions = match note {
            Some(_) => [].iter(),
            None => self.actions.iter(),
        };
        note.into_iter()
            .chain(actions.map(LineOf::Action))
            .map(|what| LogLine {
                outcome: self,
                what,
            })
    }

    /// Adds an action's report.
    pub fn with(mut self, action: ActionReport) -> Self {
        self.actions.push(action);
        self
    }
}

/// A line of [`Outcome::log_lines`], written (or serialized as a JSON string) without first
/// being built as a `String`.
pub struct LogLine<'a> {
    outcome: &'a Outcome,
    what: LineOf<'a>,
}

enum LineOf<'a> {
    Note(&'a str),
    Action(&'a ActionReport),
}

impl std::fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let function = self.outcome.function.map_or("-", Function::name);
        write!(f, "{function} {}: ", self.outcome.event_id)?;
        match self.what {
            LineOf::Note(note) => f.write_str(note),
            LineOf::Action(action) => std::fmt::Display::fmt(action, f),
        }
    }
}

impl Serialize for LogLine<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One action: what it is, how it ended, and the request it made or would make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionReport {
    /// `retrain`, `enrich`, `notify`, `smoke-test`.
    pub action: Action,
    /// How it ended.
    pub status: ActionStatus,
    /// One readable sentence.
    pub detail: String,
    /// `METHOD url` of the request, secrets removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// For a notification: the target's name as configured (`oncall`; `AML_NOTIFY_URL`'s
    /// targets by their kind, `slack`, `slack-2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For a notification: the target's kind (`pagerduty`).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "kind_name")]
    pub kind: Option<Kind>,
    /// The route that asked for the action (`settings: RunStatusChanged` for the implicit
    /// routes of the `AML_*` settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// For an action noise control judges (a retrain; a notification under `notify_every`):
    /// what events about the same thing share (`signal churn-drift`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// What the effect came to when it was carried out, now or (for a duplicate) before, as
    /// the ledger keeps it: what a redelivery's notice is built from.
    #[serde(skip)]
    pub recorded: Option<Recorded>,
}

fn kind_name<S: serde::Serializer>(kind: &Option<Kind>, serializer: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(kind) => serializer.serialize_str(kind.as_str()),
        None => serializer.serialize_none(),
    }
}

/// The actions (docs/actions.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Create the retraining job.
    Retrain,
    /// Read the run from run history.
    Enrich,
    /// Post to the notification webhook.
    Notify,
    /// Score the new deployment once.
    SmokeTest,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionStatus {
    /// It was carried out.
    Done,
    /// It would have been carried out; no request was sent.
    DryRun,
    /// Its conditions were not met, or it is not configured.
    Skipped,
    /// This event id was already handled.
    Duplicate,
    /// It failed permanently.
    Failed,
    /// Not carried out now (another instance holds it, or the ledger could not be asked): the
    /// event is redelivered.
    Deferred,
    /// A notification a route's `notify_every` held back: counted, and reported by the next
    /// notice sent to the target for the same group.
    Held,
}

impl ActionReport {
    /// An action not taken, and why.
    pub fn skipped(action: Action, detail: impl Into<String>) -> Self {
        ActionReport {
            action,
            status: ActionStatus::Skipped,
            detail: detail.into(),
            request: None,
            target: None,
            kind: None,
            route: None,
            group: None,
            recorded: None,
        }
    }

    /// An action carried out with `request`.
    pub fn done(action: Action, request: String, detail: impl Into<String>) -> Self {
        ActionReport {
            action,
            status: ActionStatus::Done,
            detail: detail.into(),
            request: Some(request),
            target: None,
            kind: None,
            route: None,
            group: None,
            recorded: None,
        }
    }

    /// An action that failed for good.
    pub fn failed(action: Action, request: String, detail: impl Into<String>) -> Self {
        ActionReport {
            action,
            status: ActionStatus::Failed,
            detail: detail.into(),
            request: Some(request),
            target: None,
            kind: None,
            route: None,
            group: None,
            recorded: None,
        }
    }

    /// An effect carried out now, reported as it came to (held back or skipped by noise
    /// control, failed, or done).
    pub fn recorded(action: Action, request: String, recorded: Recorded) -> Self {
        let status = match recorded.status.as_str() {
            "failed" => ActionStatus::Failed,
            "held" => ActionStatus::Held,
            "skipped" => ActionStatus::Skipped,
            _ => ActionStatus::Done,
        };
        ActionReport {
            status,
            detail: recorded.detail.clone(),
            request: Some(request),
            recorded: Some(recorded),
            ..ActionReport::skipped(action, "")
        }
    }

    /// An effect carried out before, by this or another instance, as the ledger recorded it.
    pub fn duplicate_of(action: Action, recorded: Recorded) -> Self {
        ActionReport {
            status: ActionStatus::Duplicate,
            detail: format!(
                "already done for this event (the ledger says: {}: {}); not repeated",
                recorded.status, recorded.detail
            ),
            recorded: Some(recorded),
            ..ActionReport::skipped(action, "")
        }
    }

    /// An effect not carried out now, and why; the event is redelivered.
    pub fn deferred(action: Action, request: Option<String>, detail: String) -> Self {
        ActionReport {
            status: ActionStatus::Deferred,
            detail,
            request,
            ..ActionReport::skipped(action, "")
        }
    }

    /// An effect that failed for now; the event is redelivered and it is tried again.
    pub fn failed_for_now(action: Action, request: String, why: String) -> Self {
        ActionReport {
            status: ActionStatus::Failed,
            detail: format!("failed for now (the event will be redelivered): {why}"),
            request: Some(request),
            ..ActionReport::skipped(action, "")
        }
    }

    /// What the effect came to, for a notice: a duplicate's status and detail as first done,
    /// else the report's own.
    pub fn came_to(&self) -> (&str, &str) {
        match (&self.recorded, self.status) {
            (Some(recorded), ActionStatus::Duplicate) => (&recorded.status, &recorded.detail),
            (_, status) => (status.as_str(), &self.detail),
        }
    }

    /// Whether the effect failed, now or when it was first done.
    pub fn came_to_failure(&self) -> bool {
        self.came_to().0 == ActionStatus::Failed.as_str()
    }

    /// What the effect found (a smoke test's status and latency), now or when first done.
    pub fn found(&self) -> Option<&serde_json::Value> {
        self.recorded.as_ref()?.found.as_ref()
    }

    /// An action already carried out for this event id.
    pub fn duplicate(action: Action) -> Self {
        ActionReport {
            action,
            status: ActionStatus::Duplicate,
            detail: "already done for this event id (a redelivery); not repeated".into(),
            request: None,
            target: None,
            kind: None,
            route: None,
            group: None,
            recorded: None,
        }
    }

    /// An action that would send `request`.
    pub fn dry_run(action: Action, request: String, detail: impl Into<String>) -> Self {
        ActionReport {
            action,
            status: ActionStatus::DryRun,
            detail: detail.into(),
            request: Some(request),
            target: None,
            kind: None,
            route: None,
            group: None,
            recorded: None,
        }
    }
}

impl ActionReport {
    /// The same report, naming the notification target it is about and its kind.
    pub fn to(mut self, target: &str, kind: Kind) -> Self {
        self.target = Some(target.to_owned());
        self.kind = Some(kind);
        self
    }

    /// The same report, naming the route that asked for it.
    pub fn by(mut self, route: &str) -> Self {
        self.route = Some(route.to_owned());
        self
    }

    /// The same report, naming the group noise control judged it in.
    pub fn in_group(mut self, group: &str) -> Self {
        self.group = Some(group.to_owned());
        self
    }
}

impl Action {
    /// Every action, in the order of their declaration.
    pub const ALL: [Action; 4] = [
        Action::Retrain,
        Action::Enrich,
        Action::Notify,
        Action::SmokeTest,
    ];

    /// The action's name as written in outcomes.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Retrain => "retrain",
            Action::Enrich => "enrich",
            Action::Notify => "notify",
            Action::SmokeTest => "smoke-test",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ActionStatus {
    /// Every status, in the order of their declaration.
    pub const ALL: [ActionStatus; 7] = [
        ActionStatus::Done,
        ActionStatus::DryRun,
        ActionStatus::Skipped,
        ActionStatus::Duplicate,
        ActionStatus::Failed,
        ActionStatus::Deferred,
        ActionStatus::Held,
    ];

    /// The status as written in outcomes.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Done => "done",
            ActionStatus::DryRun => "dry-run",
            ActionStatus::Skipped => "skipped",
            ActionStatus::Duplicate => "duplicate",
            ActionStatus::Failed => "failed",
            ActionStatus::Deferred => "deferred",
            ActionStatus::Held => "held",
        }
    }
}

impl std::fmt::Display for ActionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.action.as_str(), self.status.as_str())?;
        match (&self.target, self.kind) {
            (Some(target), Some(kind)) => write!(f, " to {target} ({kind})")?,
            (Some(target), None) => write!(f, " to {target}")?,
            _ => {}
        }
        write!(f, ": {}", self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_serialized_form() {
        for action in Action::ALL {
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
        for status in ActionStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    fn outcome(note: Option<&str>) -> Outcome {
        Outcome {
            function: Some(Function::RunCompleted),
            event_id: "e-1".into(),
            event_type: "Microsoft.MachineLearningServices.RunCompleted".into(),
            actions: vec![
                ActionReport::skipped(Action::Enrich, "AML_NOTIFY_ON is \"none\""),
                ActionReport::dry_run(Action::Notify, "POST https://hooks/…".into(), "would post"),
            ],
            note: note.map(str::to_owned),
            trigger: None,
            signal: None,
            violations: None,
        }
    }

    #[test]
    fn a_recorded_effect_keeps_the_status_noise_control_gave_it() {
        for status in [
            ActionStatus::Done,
            ActionStatus::Failed,
            ActionStatus::Held,
            ActionStatus::Skipped,
        ] {
            let recorded = Recorded::new(status.as_str(), "why");
            let report = ActionReport::recorded(Action::Notify, "POST x".into(), recorded);
            assert_eq!(report.status, status);
        }
    }

    #[test]
    fn a_monitor_breach_names_its_trigger_signal_and_violations() {
        let breach = MonitorBreach::parse("no signal here");
        let value = serde_json::to_value(outcome(None).with_breach(&breach)).unwrap();
        assert_eq!(value["trigger"], "monitor-breach");
        assert_eq!(
            value["signal"],
            serde_json::Value::Null,
            "present, and null"
        );
        assert_eq!(value["violations"], serde_json::json!([]));
        let plain = serde_json::to_value(outcome(None)).unwrap();
        assert!(plain.get("trigger").is_none() && plain.get("signal").is_none());
    }

    #[test]
    fn log_lines_name_the_function_and_event_then_each_action_or_the_note() {
        let lines: Vec<String> = outcome(None)
            .log_lines()
            .map(|line| line.to_string())
            .collect();
        assert_eq!(
            lines,
            [
                r#"RunCompleted e-1: enrich skipped: AML_NOTIFY_ON is "none""#,
                "RunCompleted e-1: notify dry-run: would post",
            ]
        );
        let noted = outcome(Some("acknowledged, nothing done"));
        let lines: Vec<String> = noted.log_lines().map(|line| line.to_string()).collect();
        assert_eq!(lines, ["RunCompleted e-1: acknowledged, nothing done"]);
    }

    #[test]
    fn log_lines_serialize_as_json_strings() {
        let outcome = outcome(None);
        let lines: Vec<LogLine<'_>> = outcome.log_lines().collect();
        assert_eq!(
            serde_json::to_value(&lines).unwrap(),
            serde_json::json!([
                "RunCompleted e-1: enrich skipped: AML_NOTIFY_ON is \"none\"",
                "RunCompleted e-1: notify dry-run: would post",
            ])
        );
    }
}

//! Matching as data: one flat [`EventView`] per event, built once, and a route's `match` table
//! as a list of [`Matcher`]s evaluated against it. The functions and `explain` call the same
//! [`Matcher::holds`], so `explain` prints the decision the functions take.
//!
//! Strings are compared as case-insensitive globs (`*` any run of characters, `?` one
//! character); a list of patterns means any of them. A field with several values (the models
//! of a deployment, a workspace's resource id and name) matches when any value does.

use std::{borrow::Cow, fmt};

use aml_events::{AmlEvent, Event, Function, events::RawObject};

use super::glob::{Glob, Value};

/// The string fields a route can match on; the names are the file's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The workspace's resource id and its name.
    Workspace,
    /// A run's experiment name.
    Experiment,
    /// A run's status (`RunStatusChanged`; `Completed` for `RunCompleted`).
    RunStatus,
    /// A run's type.
    RunType,
    /// A registered model's name, or each model a deployment names.
    Model,
    /// A registered model's version, or each version a deployment names.
    ModelVersion,
    /// A deployed service (endpoint).
    Service,
    /// A deployed service's compute type (`ACI`, `AKS`, ...).
    ComputeType,
    /// The event's subject.
    Subject,
    /// A model monitor's signal, or a v1 drift monitor's name.
    Signal,
}

impl Field {
    /// Every field, in the order of the file's documentation.
    pub const ALL: [Field; 10] = [
        Field::Workspace,
        Field::Experiment,
        Field::RunStatus,
        Field::RunType,
        Field::Model,
        Field::ModelVersion,
        Field::Service,
        Field::ComputeType,
        Field::Subject,
        Field::Signal,
    ];

    /// The key in the routes file.
    pub fn key(self) -> &'static str {
        match self {
            Field::Workspace => "workspace",
            Field::Experiment => "experiment",
            Field::RunStatus => "run_status",
            Field::RunType => "run_type",
            Field::Model => "model",
            Field::ModelVersion => "model_version",
            Field::Service => "service",
            Field::ComputeType => "compute_type",
            Field::Subject => "subject",
            Field::Signal => "signal",
        }
    }
}

/// What the routes of a function ask about an event: the view reads only that, so a route
/// on the experiment costs no parse of the workspace, the tags or a monitor's breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Asks {
    /// One bit per [`Field`], by its position in [`Field::ALL`].
    fields: u16,
    /// Whether a `monitor_breach` condition is asked (a breach is read from the run's tags).
    breach: bool,
    /// Whether a `tags.<key>` condition is asked.
    tags: bool,
}

impl Asks {
    /// Everything, as `explain` shows it.
    pub const ALL: Asks = Asks {
        fields: u16::MAX,
        breach: true,
        tags: true,
    };

    /// What `matcher` asks, added.
    pub fn with(mut self, matcher: &Matcher) -> Asks {
        match matcher {
            Matcher::Text { field, .. } => self.fields |= 1 << *field as u16,
            Matcher::MonitorBreach(_) => self.breach = true,
            // The drift coefficient is a number already read: always in the view.
            Matcher::DriftAtLeast(_) => {}
            Matcher::Tag { .. } => self.tags = true,
        }
        self
    }

    fn field(self, field: Field) -> bool {
        self.fields & (1 << field as u16) != 0
    }
}

/// Everything a route may ask about one event, read once, borrowing the event's texts.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView<'a> {
    /// The function handling it.
    pub function: Function,
    /// The asked fields' values, in the order read; a field may have several (a deployment's
    /// models) or none.
    values: Vec<(Field, Value<'a>)>,
    /// A model monitor's breach (docs/actions.md) or a v1 monitor's drift.
    pub monitor_breach: bool,
    /// A v1 drift event's coefficient.
    pub drift: Option<f64>,
    /// The run's, model's or service's tags, as they arrived; read into `tags` the first time
    /// a route asks about one, so routes that do not (or fail a condition before) cost no
    /// parse.
    raw_tags: Option<&'a RawObject>,
    tags: std::cell::OnceCell<Vec<(Value<'static>, Value<'static>)>>,
}

impl<'a> EventView<'a> {
    /// The whole view of an event handled by `function`, with its data.
    pub fn new<T>(function: Function, event: &'a Event<T>, data: &'a AmlEvent) -> EventView<'a> {
        EventView::reading(function, event, data, Asks::ALL)
    }

    /// The view of what `asks` names (every field when it names them all).
    pub fn reading<T>(
        function: Function,
        event: &'a Event<T>,
        data: &'a AmlEvent,
        asks: Asks,
    ) -> EventView<'a> {
        let mut view = EventView {
            function,
            values: Vec::new(),
            monitor_breach: false,
            drift: None,
            raw_tags: None,
            tags: std::cell::OnceCell::new(),
        };
        let mut push = |field: Field, text: Option<Cow<'a, str>>| {
            if let Some(text) = text.filter(|text| !text.is_empty() && asks.field(field)) {
                view.values.push((field, Value::new(text)));
            }
        };
        let borrowed = |text: &'a Option<String>| text.as_deref().map(Cow::Borrowed);
        if asks.field(Field::Workspace)
            && let Some(workspace) = event.workspace()
        {
            push(Field::Workspace, Some(workspace.resource_id().into()));
            push(Field::Workspace, Some(workspace.workspace.into()));
        }
        push(Field::Subject, borrowed(&event.subject));
        let (tags, breach) = match data {
            AmlEvent::RunStatusChanged(run) => {
                push(Field::Experiment, borrowed(&run.experiment_name));
                push(Field::RunType, borrowed(&run.run_type));
                let status = run.run_status.as_ref().map(|status| status.as_str().into());
                push(Field::RunStatus, status);
                let breach = (asks.breach || asks.field(Field::Signal))
                    .then(|| run.monitor_breach())
                    .flatten();
                let is_breach = breach.is_some();
                push(
                    Field::Signal,
                    breach.and_then(|breach| breach.signal).map(Cow::Owned),
                );
                (run.run_tags.as_ref(), is_breach)
            }
            AmlEvent::RunCompleted(run) => {
                push(Field::Experiment, borrowed(&run.experiment_name));
                push(Field::RunType, borrowed(&run.run_type));
                push(Field::RunStatus, Some("Completed".into()));
                (run.run_tags.as_ref(), false)
            }
            AmlEvent::ModelRegistered(model) => {
                push(Field::Model, borrowed(&model.model_name));
                push(Field::ModelVersion, borrowed(&model.model_version));
                (model.model_tags.as_ref(), false)
            }
            AmlEvent::ModelDeployed(deployed) => {
                push(Field::Service, borrowed(&deployed.service_name));
                push(Field::ComputeType, borrowed(&deployed.service_compute_type));
                for id in deployed.model_ids() {
                    let (name, version) = id.split_once(':').unwrap_or((id, ""));
                    push(Field::Model, Some(name.into()));
                    push(Field::ModelVersion, Some(version.into()));
                }
                (deployed.service_tags.as_ref(), false)
            }
            AmlEvent::DatasetDriftDetected(drift) => {
                view.drift = drift.drift_coefficient;
                push(Field::Signal, borrowed(&drift.data_drift_name));
                (None, true)
            }
            AmlEvent::SubscriptionValidation(_)
            | AmlEvent::SubscriptionDeleted(_)
            | AmlEvent::Unknown { .. } => (None, false),
        };
        view.monitor_breach = breach;
        view.raw_tags = tags.filter(|_| asks.tags);
        view
    }

    /// A field's values (none when the event has none, or the view was not asked for it).
    pub fn values(&self, field: Field) -> impl Iterator<Item = &Value<'a>> {
        self.values
            .iter()
            .filter(move |(of, _)| *of == field)
            .map(|(_, value)| value)
    }

    /// The run's, model's or service's tags: key and value as text.
    pub fn tags(&self) -> &[(Value<'static>, Value<'static>)] {
        self.tags.get_or_init(|| {
            let Some(raw) = self.raw_tags else {
                return Vec::new();
            };
            raw.to_map()
                .into_iter()
                .map(|(key, value)| {
                    let value = match value {
                        serde_json::Value::String(text) => text,
                        other => other.to_string(),
                    };
                    (Value::new(key), Value::new(value))
                })
                .collect()
        })
    }

    /// The value of the tag named `key` (any casing).
    pub fn tag(&self, key: &str) -> Option<&Value<'static>> {
        self.tags()
            .iter()
            .find(|(name, _)| name.text.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    }
}

/// One condition of a route's `match` table.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// A field matches any of the globs.
    Text {
        /// The field.
        field: Field,
        /// Any of these.
        any_of: Vec<Glob>,
    },
    /// The event is (or is not) a monitor's breach or drift.
    MonitorBreach(bool),
    /// The drift coefficient is at least this.
    DriftAtLeast(f64),
    /// A tag (key in any casing) has a value matching any of the globs.
    Tag {
        /// The tag's key.
        key: String,
        /// Any of these.
        any_of: Vec<Glob>,
    },
}

impl Matcher {
    /// Whether the condition holds for the event.
    pub fn holds(&self, view: &EventView<'_>) -> bool {
        match self {
            Matcher::Text { field, any_of } => view.values(*field).any(|value| {
                any_of
                    .iter()
                    .any(|glob| glob.matches_lower(value.lowered()))
            }),
            Matcher::MonitorBreach(wanted) => view.monitor_breach == *wanted,
            Matcher::DriftAtLeast(threshold) => view.drift.is_some_and(|drift| drift >= *threshold),
            Matcher::Tag { key, any_of } => view.tag(key).is_some_and(|value| {
                any_of
                    .iter()
                    .any(|glob| glob.matches_lower(value.lowered()))
            }),
        }
    }

    /// What the event has for this condition, for `explain`.
    pub fn found(&self, view: &EventView<'_>) -> String {
        let list = |values: &[&Value<'_>]| {
            if values.is_empty() {
                "(none)".to_owned()
            } else {
                values
                    .iter()
                    .map(|value| format!("{:?}", value.text))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        match self {
            Matcher::Text { field, .. } => list(&view.values(*field).collect::<Vec<_>>()),
            Matcher::MonitorBreach(_) => view.monitor_breach.to_string(),
            Matcher::DriftAtLeast(_) => view
                .drift
                .map_or("(no drift coefficient)".to_owned(), |drift| {
                    drift.to_string()
                }),
            Matcher::Tag { key, .. } => list(&view.tag(key).into_iter().collect::<Vec<_>>()),
        }
    }
}

impl fmt::Display for Matcher {
    /// The condition as the file would write it: `experiment = "prod-*"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let globs = |any_of: &[Glob]| match any_of {
            [one] => one.to_string(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        match self {
            Matcher::Text { field, any_of } => write!(f, "{} = {}", field.key(), globs(any_of)),
            Matcher::MonitorBreach(wanted) => write!(f, "monitor_breach = {wanted}"),
            Matcher::DriftAtLeast(threshold) => write!(f, "drift_at_least = {threshold}"),
            Matcher::Tag { key, any_of } => write!(f, "tags.{key} = {}", globs(any_of)),
        }
    }
}

#[cfg(test)]
mod tests {
    use aml_events::envelope::{self, Decoded};
    use serde_json::json;

    use super::*;

    const WORKSPACE: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/prod-ws";

    fn view(function: &str, data: serde_json::Value) -> EventView<'static> {
        let body = json!([{
            "id": "e1", "topic": WORKSPACE, "subject": "experiments/x/runs/r1",
            "eventType": format!("Microsoft.MachineLearningServices.{function}"),
            "eventTime": "2024-03-01T12:00:00Z", "data": data
        }])
        .to_string();
        let mut events: Vec<Event<Decoded>> =
            envelope::parse_decoded_text(None, &body).expect("an event");
        let event = Box::leak(Box::new(events.remove(0)));
        let data = Box::leak(Box::new(event.data.take().unwrap().unwrap()));
        EventView::new(data.function().unwrap(), event, data)
    }

    fn text(field: Field, globs: &[&str]) -> Matcher {
        Matcher::Text {
            field,
            any_of: globs.iter().map(|glob| Glob::new(glob)).collect(),
        }
    }

    #[test]
    fn run_fields_lists_and_tags() {
        let failed = view(
            "RunStatusChanged",
            json!({"experimentName": "prod-churn", "runId": "r1", "runStatus": "failed", "runType": "azureml.scriptrun", "runTags": {"Team": "growth", "tier": 1}}),
        );
        assert!(text(Field::RunStatus, &["Failed", "Canceled"]).holds(&failed));
        assert!(!text(Field::RunStatus, &["Canceled"]).holds(&failed));
        assert!(text(Field::Experiment, &["prod-*"]).holds(&failed));
        assert!(text(Field::Workspace, &["prod-ws"]).holds(&failed));
        assert!(text(Field::Workspace, &[WORKSPACE]).holds(&failed));
        assert!(text(Field::RunType, &["azureml.*"]).holds(&failed));
        assert!(text(Field::Subject, &["experiments/*"]).holds(&failed));
        assert!(
            !text(Field::Model, &["*"]).holds(&failed),
            "no model: no match"
        );
        let tag = |key: &str, glob: &str| Matcher::Tag {
            key: key.into(),
            any_of: vec![Glob::new(glob)],
        };
        assert!(tag("team", "grow*").holds(&failed));
        assert!(tag("TIER", "1").holds(&failed));
        assert!(!tag("owner", "*").holds(&failed));
        assert!(Matcher::MonitorBreach(false).holds(&failed));
        assert_eq!(
            text(Field::Experiment, &["x"]).found(&failed),
            "\"prod-churn\""
        );
    }

    #[test]
    fn a_view_reads_only_what_it_is_asked() {
        let body = json!([{
            "id": "e1", "topic": WORKSPACE, "subject": "experiments/x/runs/r1",
            "eventType": "Microsoft.MachineLearningServices.RunStatusChanged",
            "eventTime": "2024-03-01T12:00:00Z",
            "data": {"experimentName": "prod-churn", "runStatus": "Failed", "runTags": {"team": "growth", "azureml_modelmonitor_threshold_breached": "The signal 'churn-drift' has failed due to one or more features violating metric thresholds."}}
        }])
        .to_string();
        let mut events: Vec<Event<Decoded>> =
            envelope::parse_decoded_text(None, &body).expect("an event");
        let data = events[0].data.take().unwrap().unwrap();
        let experiment = text(Field::Experiment, &["prod-*"]);
        let asks = Asks::default().with(&experiment);
        let view = EventView::reading(Function::RunStatusChanged, &events[0], &data, asks);
        assert!(experiment.holds(&view));
        assert_eq!(view.values(Field::Workspace).count(), 0, "not asked");
        assert!(!view.monitor_breach, "not asked");
        assert!(view.tags().is_empty(), "not asked");

        let asks = asks
            .with(&Matcher::MonitorBreach(true))
            .with(&Matcher::Tag {
                key: "team".into(),
                any_of: vec![Glob::new("*")],
            });
        let view = EventView::reading(Function::RunStatusChanged, &events[0], &data, asks);
        assert!(view.monitor_breach);
        assert_eq!(view.tag("TEAM").map(|value| &*value.text), Some("growth"));
        assert_eq!(view.values(Field::Signal).count(), 0, "not asked");
    }

    #[test]
    fn breaches_and_drift() {
        let breach = view(
            "RunStatusChanged",
            json!({"runId": "m1", "runStatus": "Failed", "runTags": {"azureml_modelmonitor_threshold_breached": "The signal 'churn-drift' has failed due to one or more features violating metric thresholds."}}),
        );
        assert!(Matcher::MonitorBreach(true).holds(&breach));
        assert!(text(Field::Signal, &["churn-*"]).holds(&breach));
        assert!(!Matcher::DriftAtLeast(0.1).holds(&breach));

        let drift = view(
            "DatasetDriftDetected",
            json!({"dataDriftName": "churn-v1", "driftCoefficient": 0.7}),
        );
        assert!(Matcher::MonitorBreach(true).holds(&drift));
        assert!(Matcher::DriftAtLeast(0.7).holds(&drift));
        assert!(!Matcher::DriftAtLeast(0.71).holds(&drift));
        assert!(text(Field::Signal, &["churn-*"]).holds(&drift));
    }

    #[test]
    fn deployments_list_their_models() {
        let deployed = view(
            "ModelDeployed",
            json!({"serviceName": "churn-scoring", "serviceComputeType": "AKS", "modelIds": "churn:4, fraud:2", "serviceTags": {"env": "prod"}}),
        );
        assert!(text(Field::Model, &["fraud"]).holds(&deployed));
        assert!(text(Field::ModelVersion, &["4"]).holds(&deployed));
        assert!(text(Field::ComputeType, &["aks"]).holds(&deployed));
        assert!(text(Field::Service, &["churn-*"]).holds(&deployed));
        assert_eq!(
            text(Field::Model, &["a", "b"]).to_string(),
            "model = [\"a\", \"b\"]"
        );
    }
}

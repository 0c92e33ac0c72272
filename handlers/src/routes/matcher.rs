//! Matching as data: one flat [`EventView`] per event, built once, and a route's `match` table
//! as a list of [`Matcher`]s evaluated against it. The functions and `explain` call the same
//! [`Matcher::holds`], so `explain` prints the decision the functions take.
//!
//! Strings are compared as case-insensitive globs (`*` any run of characters, `?` one
//! character); a list of patterns means any of them. A field with several values (the models
//! of a deployment, a workspace's resource id and name) matches when any value does.

use std::fmt;

use aml_events::{AmlEvent, Event, Function, events::RawObject};

use crate::functions::workspace_of;

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

/// A text as it arrived and, unless it is ASCII (the usual case, compared byte by byte without
/// a copy), lowercased into characters for matching: once per event, not once per pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// As it arrived (for `explain`).
    pub text: String,
    lower: Option<Vec<char>>,
}

impl Value {
    fn new(text: impl Into<String>) -> Value {
        let text = text.into();
        let lower = (!text.is_ascii()).then(|| text.chars().flat_map(char::to_lowercase).collect());
        Value { text, lower }
    }

    /// Its characters, lowercased, by position.
    fn lowered(&self) -> Lowered<'_> {
        match &self.lower {
            Some(chars) => Lowered::Chars(chars),
            None => Lowered::Ascii(self.text.as_bytes()),
        }
    }
}

/// A lowercased text, read by position.
#[derive(Clone, Copy)]
enum Lowered<'a> {
    Ascii(&'a [u8]),
    Chars(&'a [char]),
}

impl Lowered<'_> {
    fn len(self) -> usize {
        match self {
            Lowered::Ascii(bytes) => bytes.len(),
            Lowered::Chars(chars) => chars.len(),
        }
    }

    fn at(self, index: usize) -> char {
        match self {
            Lowered::Ascii(bytes) => char::from(bytes[index].to_ascii_lowercase()),
            Lowered::Chars(chars) => chars[index],
        }
    }
}

/// Everything a route may ask about one event, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    /// The function handling it.
    pub function: Function,
    fields: [Vec<Value>; Field::ALL.len()],
    /// A model monitor's breach (SPEC §8.6) or a v1 monitor's drift.
    pub monitor_breach: bool,
    /// A v1 drift event's coefficient.
    pub drift: Option<f64>,
    /// The run's, model's or service's tags, as they arrived; read into `tags` the first time
    /// a route asks about one, so routes that do not (or fail a condition before) cost no
    /// parse.
    raw_tags: Option<RawObject>,
    tags: std::cell::OnceCell<Vec<(Value, Value)>>,
}

impl EventView {
    /// The view of an event handled by `function`, with its data; its tags are read (their
    /// JSON parsed) only `with_tags`, when some route asks about them.
    pub fn new<T>(function: Function, event: &Event<T>, data: &AmlEvent) -> EventView {
        EventView::reading(function, event, data, true)
    }

    /// [`EventView::new`], reading the tags only when `with_tags`.
    pub fn reading<T>(
        function: Function,
        event: &Event<T>,
        data: &AmlEvent,
        with_tags: bool,
    ) -> EventView {
        let mut view = EventView {
            function,
            fields: Default::default(),
            monitor_breach: false,
            drift: None,
            raw_tags: None,
            tags: std::cell::OnceCell::new(),
        };
        if let Some(workspace) = workspace_of(event) {
            view.push(Field::Workspace, workspace.resource_id());
            view.push(Field::Workspace, workspace.workspace.clone());
        }
        view.push_opt(Field::Subject, event.subject.as_deref());
        let tags = match data {
            AmlEvent::RunStatusChanged(run) => {
                view.push_opt(Field::Experiment, run.experiment_name.as_deref());
                view.push_opt(Field::RunType, run.run_type.as_deref());
                view.push_opt(
                    Field::RunStatus,
                    run.run_status.as_ref().map(|status| status.as_str()),
                );
                if let Some(breach) = run.monitor_breach() {
                    view.monitor_breach = true;
                    view.push_opt(Field::Signal, breach.signal.as_deref());
                }
                run.run_tags.as_ref()
            }
            AmlEvent::RunCompleted(run) => {
                view.push_opt(Field::Experiment, run.experiment_name.as_deref());
                view.push_opt(Field::RunType, run.run_type.as_deref());
                view.push(Field::RunStatus, "Completed");
                run.run_tags.as_ref()
            }
            AmlEvent::ModelRegistered(model) => {
                view.push_opt(Field::Model, model.model_name.as_deref());
                view.push_opt(Field::ModelVersion, model.model_version.as_deref());
                model.model_tags.as_ref()
            }
            AmlEvent::ModelDeployed(deployed) => {
                view.push_opt(Field::Service, deployed.service_name.as_deref());
                view.push_opt(Field::ComputeType, deployed.service_compute_type.as_deref());
                for id in deployed.model_ids() {
                    let (name, version) = id.split_once(':').unwrap_or((id, ""));
                    view.push(Field::Model, name);
                    if !version.is_empty() {
                        view.push(Field::ModelVersion, version);
                    }
                }
                deployed.service_tags.as_ref()
            }
            AmlEvent::DatasetDriftDetected(drift) => {
                view.monitor_breach = true;
                view.drift = drift.drift_coefficient;
                view.push_opt(Field::Signal, drift.data_drift_name.as_deref());
                None
            }
            AmlEvent::SubscriptionValidation(_)
            | AmlEvent::SubscriptionDeleted(_)
            | AmlEvent::Unknown { .. } => None,
        };
        view.raw_tags = tags.filter(|_| with_tags).cloned();
        view
    }

    fn push(&mut self, field: Field, text: impl Into<String>) {
        self.fields[field as usize].push(Value::new(text));
    }

    fn push_opt(&mut self, field: Field, text: Option<&str>) {
        if let Some(text) = text.filter(|text| !text.is_empty()) {
            self.push(field, text);
        }
    }

    /// A field's values (empty when the event has none).
    pub fn values(&self, field: Field) -> &[Value] {
        &self.fields[field as usize]
    }

    /// The run's, model's or service's tags: key and value as text.
    pub fn tags(&self) -> &[(Value, Value)] {
        self.tags.get_or_init(|| {
            let Some(raw) = &self.raw_tags else {
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
    pub fn tag(&self, key: &str) -> Option<&Value> {
        self.tags()
            .iter()
            .find(|(name, _)| name.text.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    }
}

/// A case-insensitive glob: `*` matches any run of characters, `?` one character.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    pattern: String,
    lower: Vec<char>,
}

impl Glob {
    /// The glob written as `pattern`.
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pattern: pattern.to_owned(),
            lower: pattern.chars().flat_map(char::to_lowercase).collect(),
        }
    }

    /// Whether `text` (lowercased) matches.
    fn matches_lower(&self, text: Lowered<'_>) -> bool {
        let pattern = &self.lower;
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some('?') => {
                    p += 1;
                    t += 1;
                }
                Some(c) if *c == text.at(t) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        p = star_p + 1;
                        t = star_t + 1;
                        star = Some((star_p, star_t + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|c| *c == '*')
    }

    /// Whether `text` matches, ignoring case.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_lower(Value::new(text).lowered())
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.pattern)
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
    /// Whether it asks about the event's tags.
    pub fn reads_tags(&self) -> bool {
        matches!(self, Matcher::Tag { .. })
    }

    /// Whether the condition holds for the event.
    pub fn holds(&self, view: &EventView) -> bool {
        match self {
            Matcher::Text { field, any_of } => view.values(*field).iter().any(|value| {
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
    pub fn found(&self, view: &EventView) -> String {
        let list = |values: &[&Value]| {
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
            Matcher::Text { field, .. } => list(&view.values(*field).iter().collect::<Vec<_>>()),
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

    fn view(function: &str, data: serde_json::Value) -> EventView {
        let body = json!([{
            "id": "e1", "topic": WORKSPACE, "subject": "experiments/x/runs/r1",
            "eventType": format!("Microsoft.MachineLearningServices.{function}"),
            "eventTime": "2024-03-01T12:00:00Z", "data": data
        }])
        .to_string();
        let mut events: Vec<Event<Decoded>> =
            envelope::parse_decoded_text(None, &body).expect("an event");
        let mut event = events.remove(0);
        let data = event.data.take().unwrap().unwrap();
        EventView::new(data.function().unwrap(), &event, &data)
    }

    fn text(field: Field, globs: &[&str]) -> Matcher {
        Matcher::Text {
            field,
            any_of: globs.iter().map(|glob| Glob::new(glob)).collect(),
        }
    }

    #[test]
    fn globs_ignore_case_and_take_stars_and_question_marks() {
        for (glob, text, expected) in [
            ("prod-*", "PROD-churn", true),
            ("prod-*", "dev-churn", false),
            ("*-churn", "prod-churn", true),
            ("p?od", "prod", true),
            ("p?od", "pod", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("Failed", "failed", true),
            ("failed", "failedx", false),
            ("é*", "Ét", true),
        ] {
            assert_eq!(Glob::new(glob).matches(text), expected, "{glob} ~ {text}");
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

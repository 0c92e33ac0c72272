//! Matching as data: one flat [`EventView`] per event, built once, and a route's `match` table
//! as a list of [`Matcher`]s evaluated against it. The functions and `explain` call the same
//! [`Matcher::holds`], so `explain` prints the decision the functions take.
//!
//! Strings are compared as case-insensitive globs (`*` any run of characters, `?` one
//! character); a list of patterns means any of them. A field with several values (the models
//! of a deployment, a workspace's resource id and name) matches when any value does.

use std::{borrow::Cow, fmt};

use aml_events::{AmlEvent, Event, Function, events::RawObject};

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

/// A text as it arrived (borrowed from the event where it can be) and, unless it is ASCII (the
/// usual case, compared byte by byte without a copy), lowercased into characters for
/// matching: once per event, not once per pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Value<'a> {
    /// As it arrived (for `explain`).
    pub text: Cow<'a, str>,
    lower: Option<Vec<char>>,
}

impl<'a> Value<'a> {
    fn new(text: impl Into<Cow<'a, str>>) -> Value<'a> {
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
    /// A model monitor's breach (SPEC §8.6) or a v1 monitor's drift.
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

/// A case-insensitive glob: `*` matches any run of characters, `?` one character.
///
/// Most patterns in a routes file are a literal with a star at one end or both (`prod-*`,
/// `*-nightly`) or none (`Failed`); those are compared as such, without the general
/// backtracking walk.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    pattern: String,
    lower: Vec<char>,
    shape: Shape,
}

/// The form of a glob's lowercased pattern, when it has one of the common ones and its
/// literal is ASCII.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// `*`: anything.
    Any,
    /// No wildcard: this text.
    Exact(Box<[u8]>),
    /// `literal*`.
    Prefix(Box<[u8]>),
    /// `*literal`.
    Suffix(Box<[u8]>),
    /// `*literal*`.
    Contains(Box<[u8]>),
    /// Anything else (`?`, a star inside, a literal that is not ASCII): the general walk.
    General,
}

impl Shape {
    fn of(lower: &[char]) -> Shape {
        if lower.contains(&'?') || !lower.iter().all(char::is_ascii) {
            return Shape::General;
        }
        let text: String = lower.iter().collect();
        let literal = text.trim_matches('*');
        if literal.is_empty() && !text.is_empty() {
            return Shape::Any;
        }
        if literal.contains('*') {
            return Shape::General;
        }
        let bytes: Box<[u8]> = literal.as_bytes().into();
        match (text.starts_with('*'), text.ends_with('*')) {
            (false, false) => Shape::Exact(bytes),
            (false, true) => Shape::Prefix(bytes),
            (true, false) => Shape::Suffix(bytes),
            (true, true) => Shape::Contains(bytes),
        }
    }
}

impl Glob {
    /// The glob written as `pattern`.
    pub fn new(pattern: &str) -> Glob {
        let lower: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
        Glob {
            pattern: pattern.to_owned(),
            shape: Shape::of(&lower),
            lower,
        }
    }

    /// Whether `text` (lowercased) matches.
    fn matches_lower(&self, text: Lowered<'_>) -> bool {
        // An ASCII literal against an ASCII text: compare bytes (the literal is lowercase).
        let same = |text: &[u8], literal: &[u8]| {
            text.iter()
                .zip(literal)
                .all(|(t, l)| t.to_ascii_lowercase() == *l)
        };
        match (&self.shape, text) {
            (Shape::Any, _) => true,
            (Shape::Exact(literal), Lowered::Ascii(text)) => {
                text.len() == literal.len() && same(text, literal)
            }
            (Shape::Prefix(literal), Lowered::Ascii(text)) => {
                text.len() >= literal.len() && same(&text[..literal.len()], literal)
            }
            (Shape::Suffix(literal), Lowered::Ascii(text)) => {
                text.len() >= literal.len() && same(&text[text.len() - literal.len()..], literal)
            }
            (Shape::Contains(literal), Lowered::Ascii(text)) => text
                .windows(literal.len())
                .any(|window| same(window, literal)),
            _ => self.walk(text),
        }
    }

    /// The general match: a walk over pattern and text that backtracks to the last star.
    fn walk(&self, text: Lowered<'_>) -> bool {
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
    fn literal_shapes_are_recognised() {
        for (glob, shape) in [
            ("*", Shape::Any),
            ("**", Shape::Any),
            ("", Shape::Exact([].into())),
            ("Failed", Shape::Exact((*b"failed").into())),
            ("prod-*", Shape::Prefix((*b"prod-").into())),
            ("*-Nightly", Shape::Suffix((*b"-nightly").into())),
            ("*churn*", Shape::Contains((*b"churn").into())),
            ("a*b", Shape::General),
            ("p?od", Shape::General),
            ("é*", Shape::General),
        ] {
            assert_eq!(Glob::new(glob).shape, shape, "{glob}");
        }
    }

    proptest::proptest! {
        /// The short cuts for literal shapes decide as the general walk does, for any
        /// pattern and text over letters of both cases, stars, question marks and a letter
        /// outside ASCII.
        #[test]
        fn literal_shapes_decide_as_the_general_walk(
            pattern in "[aAb*?é]{0,6}",
            text in "[aAbBé-]{0,8}",
        ) {
            let glob = Glob::new(&pattern);
            let value = Value::new(text.as_str());
            proptest::prop_assert_eq!(
                glob.matches_lower(value.lowered()),
                glob.walk(value.lowered()),
                "{:?} ~ {:?}", pattern, text
            );
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

//! One notification, in no chat tool's terms: what each renderer turns into its target's body.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Timestamp;

/// How bad the news is. Chat renderers color by it; PagerDuty takes it as the alert's
/// severity, and pages only for [`Notice::alert`] notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A model registered, a run completed, a deployment that passed its smoke test.
    Info,
    /// Drift, a monitor breach, a canceled run, a smoke test that failed.
    Warning,
    /// A failed run.
    Error,
    /// Reserved for what needs someone now; nothing the functions send is critical today.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `error`, `critical`: PagerDuty's names too.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// One labelled value: `Experiment: churn-training`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// The label.
    pub name: String,
    /// The value, as text.
    pub value: String,
}

impl Fact {
    /// A fact.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Fact {
        Fact {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// One notification about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// A short headline: `Run churn_run_7 failed`.
    pub title: String,
    /// One readable line with the details: `Run churn_run_7 of experiment churn-training is
    /// now Failed: No module named 'sklearn'`.
    pub summary: String,
    /// How bad it is.
    pub severity: Severity,
    /// What a reader scans: experiment, run, status, model, signal, ...
    pub facts: Vec<Fact>,
    /// Where to look: the run's page in Azure ML studio, when there is one.
    pub link: Option<String>,
    /// The event's id (also the `Idempotency-Key`).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The function that handled it (`RunStatusChanged`).
    pub function: String,
    /// The event's subject.
    pub subject: Option<String>,
    /// The workspace's resource id, when the event came from one.
    pub workspace: Option<String>,
    /// When the event happened.
    pub time: Option<Timestamp>,
    /// Whether this notice is an alert (a failure, a breach, drift): the only kind PagerDuty
    /// is sent.
    pub alert: bool,
    /// What alerts about the same thing share, so redeliveries and repeats collapse into one
    /// PagerDuty incident: `<workspace>/<run, model or endpoint>/<function or monitor-breach>`.
    pub alert_key: String,
    /// The event's data, for the plain `webhook` kind.
    pub data: Value,
    /// Further fields of the `webhook` kind's body (`run`, `retrain`, `smokeTest`, ...).
    pub extra: Map<String, Value>,
}

//! What each function's events carry and what each function can do: the table a routes file is
//! checked against, so that a route that could never match, or an action no function of the
//! route performs, stops start-up (and `routes check`) instead of silently doing nothing.
//!
//! | function | match keys that can hold | actions |
//! |---|---|---|
//! | RunStatusChanged | workspace, experiment, run_status, run_type, subject, tags, monitor_breach, signal | notify, enrich, retrain (breaches) |
//! | RunCompleted | workspace, experiment, run_type, subject, tags | notify, enrich |
//! | DatasetDriftDetected | workspace, subject, signal (the monitor), drift_at_least | notify, retrain |
//! | ModelRegistered | workspace, model, model_version, subject, tags | notify |
//! | ModelDeployed | workspace, model, model_version, service, compute_type, subject, tags | notify, smoke_test |
//!
//! A deployment's `modelIds` name each model's version (`churn:4`), so `model_version` can hold
//! for ModelDeployed too.

use aml_events::Function;

use super::matcher::{Field, Matcher};

/// A key of a route's `match` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A text field.
    Field(Field),
    /// `tags`.
    Tags,
    /// `monitor_breach`.
    MonitorBreach,
    /// `drift_at_least`.
    DriftAtLeast,
}

impl Key {
    /// The key a condition was written with.
    pub fn of(matcher: &Matcher) -> Key {
        match matcher {
            Matcher::Text { field, .. } => Key::Field(*field),
            Matcher::Tag { .. } => Key::Tags,
            Matcher::MonitorBreach(_) => Key::MonitorBreach,
            Matcher::DriftAtLeast(_) => Key::DriftAtLeast,
        }
    }

    /// The key as the file writes it.
    pub fn name(self) -> &'static str {
        match self {
            Key::Field(field) => field.key(),
            Key::Tags => "tags",
            Key::MonitorBreach => "monitor_breach",
            Key::DriftAtLeast => "drift_at_least",
        }
    }
}

/// A route's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `notify`.
    Notify,
    /// `enrich = true`.
    Enrich,
    /// `retrain`.
    Retrain,
    /// `smoke_test`.
    SmokeTest,
}

impl Act {
    /// The key as the file writes it.
    pub fn name(self) -> &'static str {
        match self {
            Act::Notify => "notify",
            Act::Enrich => "enrich",
            Act::Retrain => "retrain",
            Act::SmokeTest => "smoke_test",
        }
    }
}

/// Whether events of `function` carry `key`, so that a condition on it can hold.
pub fn carries(function: Function, key: Key) -> bool {
    use Field::*;
    match (function, key) {
        (_, Key::Field(Workspace | Subject)) => true,
        (Function::RunStatusChanged, key) => matches!(
            key,
            Key::Field(Experiment | RunStatus | RunType | Signal) | Key::Tags | Key::MonitorBreach
        ),
        (Function::RunCompleted, key) => {
            matches!(key, Key::Field(Experiment | RunType) | Key::Tags)
        }
        (Function::DatasetDriftDetected, key) => {
            matches!(key, Key::Field(Signal) | Key::DriftAtLeast)
        }
        (Function::ModelRegistered, key) => {
            matches!(key, Key::Field(Model | ModelVersion) | Key::Tags)
        }
        (Function::ModelDeployed, key) => matches!(
            key,
            Key::Field(Model | ModelVersion | Service | ComputeType) | Key::Tags
        ),
    }
}

/// Whether `function` performs `act` on some of its events.
pub fn performs(function: Function, act: Act) -> bool {
    match act {
        Act::Notify => true,
        Act::Enrich => matches!(
            function,
            Function::RunStatusChanged | Function::RunCompleted
        ),
        Act::Retrain => matches!(
            function,
            Function::RunStatusChanged | Function::DatasetDriftDetected
        ),
        Act::SmokeTest => function == Function::ModelDeployed,
    }
}

/// The functions whose events carry `key`, for an error message: `RunStatusChanged, RunCompleted`.
pub fn carried_by(key: Key) -> String {
    names(Function::ALL.into_iter().filter(|f| carries(*f, key)))
}

/// The functions that perform `act`, for an error message.
pub fn performed_by(act: Act) -> String {
    names(Function::ALL.into_iter().filter(|f| performs(*f, act)))
}

/// `RunStatusChanged, DatasetDriftDetected`: functions as messages and listings name them.
pub(crate) fn names(functions: impl IntoIterator<Item = Function>) -> String {
    let names: Vec<&str> = functions.into_iter().map(Function::name).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_carried_by_some_function_and_drift_only_by_drift() {
        let keys = Field::ALL.map(Key::Field).into_iter().chain([
            Key::Tags,
            Key::MonitorBreach,
            Key::DriftAtLeast,
        ]);
        for key in keys {
            assert!(!carried_by(key).is_empty(), "{}", key.name());
        }
        assert_eq!(carried_by(Key::DriftAtLeast), "DatasetDriftDetected");
        assert_eq!(carried_by(Key::MonitorBreach), "RunStatusChanged");
        assert_eq!(performed_by(Act::SmokeTest), "ModelDeployed");
    }
}

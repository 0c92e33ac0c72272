//! `Microsoft.MachineLearningServices.RunStatusChanged`: a run's status changed.
//!
//! See <https://learn.microsoft.com/azure/event-grid/event-schema-machine-learning>; the
//! status names are those of Azure ML's run history (`azureml.core.run`'s `RunStatus`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RawObject;
use super::payload::payload;

payload! {
    /// The data of a `RunStatusChanged` event: the `RunCompleted` fields and the new status.
    pub struct RunStatusChanged {
        /// The experiment's id.
        experiment_id: Option<String> = "experimentId",
        /// The experiment's name; run history is addressed by it.
        experiment_name: Option<String> = "experimentName",
        /// The run's id.
        run_id: Option<String> = "runId",
        /// The kind of run; often `null`.
        run_type: Option<String> = "runType",
        /// The run's tags.
        run_tags: Option<RawObject> = "runTags",
        /// The run's properties: strings, some of them holding JSON text.
        run_properties: Option<RawObject> = "runProperties",
        /// The status the run moved to (sent as `failed`, `Running`, ...).
        run_status: Option<RunStatus> = "runStatus",
    }
}

/// A run's status, read case-insensitively and written in Azure ML's casing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// `NotStarted`
    NotStarted,
    /// `Queued`
    Queued,
    /// `Preparing`
    Preparing,
    /// `Provisioning`
    Provisioning,
    /// `Starting`
    Starting,
    /// `Running`
    Running,
    /// `Finalizing`
    Finalizing,
    /// `CancelRequested`
    CancelRequested,
    /// `Completed`
    Completed,
    /// `Failed`
    Failed,
    /// `Canceled`
    Canceled,
    /// `NotResponding`
    NotResponding,
    /// A status this version does not know, kept as sent.
    Other(String),
}

impl RunStatus {
    const KNOWN: [RunStatus; 12] = [
        RunStatus::NotStarted,
        RunStatus::Queued,
        RunStatus::Preparing,
        RunStatus::Provisioning,
        RunStatus::Starting,
        RunStatus::Running,
        RunStatus::Finalizing,
        RunStatus::CancelRequested,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Canceled,
        RunStatus::NotResponding,
    ];

    /// Reads a status in any casing.
    pub fn parse(text: &str) -> RunStatus {
        RunStatus::KNOWN
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(text))
            .unwrap_or_else(|| RunStatus::Other(text.to_owned()))
    }

    /// The status in Azure ML's casing (or as sent, for an unknown one).
    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::NotStarted => "NotStarted",
            RunStatus::Queued => "Queued",
            RunStatus::Preparing => "Preparing",
            RunStatus::Provisioning => "Provisioning",
            RunStatus::Starting => "Starting",
            RunStatus::Running => "Running",
            RunStatus::Finalizing => "Finalizing",
            RunStatus::CancelRequested => "CancelRequested",
            RunStatus::Completed => "Completed",
            RunStatus::Failed => "Failed",
            RunStatus::Canceled => "Canceled",
            RunStatus::NotResponding => "NotResponding",
            RunStatus::Other(text) => text,
        }
    }

    /// Whether this status is `name`, compared case-insensitively (settings list statuses by
    /// name).
    pub fn is(&self, name: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(name.trim())
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RunStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(RunStatus::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_in_any_case_and_write_canonically() {
        assert_eq!(RunStatus::parse("failed"), RunStatus::Failed);
        assert_eq!(RunStatus::parse("FAILED").to_string(), "Failed");
        assert_eq!(RunStatus::parse("Running"), RunStatus::Running);
        assert_eq!(
            RunStatus::parse("Paused"),
            RunStatus::Other("Paused".into())
        );
        assert!(RunStatus::Canceled.is(" canceled"));
    }
}

//! `Microsoft.MachineLearningServices.RunCompleted`: a run completed.
//!
//! See <https://learn.microsoft.com/azure/event-grid/event-schema-machine-learning>.

use super::RawObject;
use super::payload::payload;

payload! {
    /// The data of a `RunCompleted` event.
    pub struct RunCompleted {
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
    }
}

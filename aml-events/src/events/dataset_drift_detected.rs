//! `Microsoft.MachineLearningServices.DatasetDriftDetected`: a data drift monitor detected drift.
//!
//! See <https://learn.microsoft.com/azure/event-grid/event-schema-machine-learning>.

use super::payload::{NumberOrString, payload};
use crate::timestamp::Timestamp;

payload! {
    /// The data of a `DatasetDriftDetected` event.
    pub struct DatasetDriftDetected {
        /// The drift monitor's id.
        data_drift_id: Option<String> = "dataDriftId",
        /// The drift monitor's name.
        data_drift_name: Option<String> = "dataDriftName",
        /// The monitor run that detected the drift.
        run_id: Option<String> = "runId",
        /// The baseline dataset.
        base_dataset_id: Option<String> = "baseDatasetId",
        /// The dataset that drifted.
        target_dataset_id: Option<String> = "targetDatasetId",
        /// How far it drifted, from 0 to 1.
        drift_coefficient: Option<f64> = "driftCoefficient" via NumberOrString,
        /// Start of the compared window.
        start_time: Option<Timestamp> = "startTime",
        /// End of the compared window.
        end_time: Option<Timestamp> = "endTime",
    }
}

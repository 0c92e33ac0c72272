//! `Microsoft.MachineLearningServices.ModelRegistered`: a model or model version was registered.
//!
//! See <https://learn.microsoft.com/azure/event-grid/event-schema-machine-learning>.

use super::RawObject;
use super::payload::{StringOrNumber, payload};

payload! {
    /// The data of a `ModelRegistered` event.
    pub struct ModelRegistered {
        /// The registered model's name.
        model_name: Option<String> = "modelName",
        /// Its version; a number in the docs (`20`), a string in live traffic (`"3"`).
        model_version: Option<String> = "modelVersion" via StringOrNumber,
        /// The model's tags.
        model_tags: Option<RawObject> = "modelTags",
        /// The model's properties.
        model_properties: Option<RawObject> = "modelProperties",
    }
}

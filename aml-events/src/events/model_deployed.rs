//! `Microsoft.MachineLearningServices.ModelDeployed`: models were deployed to an endpoint.
//!
//! See <https://learn.microsoft.com/azure/event-grid/event-schema-machine-learning>.

use super::RawObject;
use super::payload::payload;

payload! {
    /// The data of a `ModelDeployed` event.
    pub struct ModelDeployed {
        /// The deployed service (endpoint).
        service_name: Option<String> = "serviceName",
        /// Where it runs: `ACI`, `AKS`, ...
        service_compute_type: Option<String> = "serviceComputeType",
        /// The deployed models as one comma-separated string of `name:version`; see
        /// [`ModelDeployed::model_ids`].
        model_ids: Option<String> = "modelIds",
        /// The service's tags.
        service_tags: Option<RawObject> = "serviceTags",
        /// The service's properties.
        service_properties: Option<RawObject> = "serviceProperties",
    }
}

impl ModelDeployed {
    /// The ids in `modelIds`, trimmed, without empty entries.
    pub fn model_ids(&self) -> impl Iterator<Item = &str> {
        self.model_ids
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_split_on_commas() {
        let deployed = ModelDeployed {
            model_ids: Some("sklearn_regression_model:1, sklearn_regression_model:2,".into()),
            ..ModelDeployed::default()
        };
        let ids: Vec<_> = deployed.model_ids().collect();
        assert_eq!(
            ids,
            ["sklearn_regression_model:1", "sklearn_regression_model:2"]
        );
        assert_eq!(ModelDeployed::default().model_ids().count(), 0);
    }
}

//! The regional-API operations of [`AmlClient`]: discovery of a workspace's regional endpoint,
//! then run history (experiments, runs) and execution (starting a run).
//!
//! Discovery follows the workspace's `properties.discoveryUrl` to a document whose `api` field
//! is the regional API base (`https://eastus.api.azureml.ms`); the answer is cached per
//! workspace for the life of the process. The discovery document is fetched without a token,
//! and the regional base must be https (or loopback http) before a token is sent to it.
//! See <https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest>.

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::{
    call::{Auth, Call, Payload},
    client::AmlClient,
    error::CallbackError,
    lenient,
    models::{Experiment, Run, StartedRun},
    token_url::is_token_safe,
    url_path::{join_path, with_api_version, workspace_path},
};
use crate::{WorkspaceId, pipeline::Deadline};

/// The run history and execution services version themselves in their path (`v1.0`); the
/// how-to guide sends this `api-version` with them.
/// See <https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest>.
const RUN_HISTORY_API_VERSION: &str = "2019-11-01";

impl AmlClient {
    /// The regional API base of a workspace (e.g. `https://eastus.api.azureml.ms`): GETs the
    /// workspace, then its `discoveryUrl`, and reads the `api` field. Cached per workspace.
    pub async fn discover(&self, id: &WorkspaceId) -> Result<Url, CallbackError> {
        self.discover_within(id, self.deadline()).await
    }

    async fn discover_within(
        &self,
        id: &WorkspaceId,
        deadline: Deadline,
    ) -> Result<Url, CallbackError> {
        const OPERATION: &str = "discover the regional API";
        let key = id.resource_id().to_ascii_lowercase();
        if let Some(api) = self.cached_api(&key) {
            return Ok(api);
        }
        let lock = self.inner.discovering.lock();
        let _one_at_a_time = tokio::time::timeout_at(deadline.at, lock)
            .await
            .map_err(|_| deadline.exceeded(OPERATION, None))?;
        if let Some(api) = self.cached_api(&key) {
            return Ok(api);
        }

        let workspace = self.get_workspace_within(OPERATION, id, deadline).await?;
        let discovery_url = workspace
            .properties
            .discovery_url
            .as_deref()
            .and_then(|url| Url::parse(url).ok())
            .ok_or_else(|| CallbackError::InvalidResponse {
                operation: OPERATION,
                problem: "the workspace has no usable properties.discoveryUrl".into(),
            })?;
        if !is_token_safe(&discovery_url) {
            return Err(CallbackError::InsecureUrl {
                operation: OPERATION,
                what: "the workspace's discoveryUrl",
            });
        }
        let call = Call::get(OPERATION, discovery_url).auth(Auth::Anonymous);
        let document: Value = self.send_json(&call, deadline).await?;
        let api = lenient::string(&document, "api")
            .and_then(|api| Url::parse(&api).ok())
            .filter(|api| !api.cannot_be_a_base())
            .ok_or_else(|| CallbackError::InvalidResponse {
                operation: OPERATION,
                problem: "the discovery document has no usable `api` URL".into(),
            })?;
        if !is_token_safe(&api) {
            return Err(CallbackError::InsecureUrl {
                operation: OPERATION,
                what: "the discovery document's api URL",
            });
        }
        self.inner
            .discovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, api.clone());
        Ok(api)
    }

    fn cached_api(&self, key: &str) -> Option<Url> {
        self.inner
            .discovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// `{api}/{service}/v1.0/subscriptions/.../workspaces/{ws}/experiments[/tail...]`.
    async fn regional_url<'s>(
        &self,
        operation: &'static str,
        service: &'static str,
        id: &'s WorkspaceId,
        tail: impl IntoIterator<Item = (&'static str, &'s str)>,
        deadline: Deadline,
    ) -> Result<Url, CallbackError> {
        // Check names before spending a round trip on discovery.
        let base = Url::parse("https://names.invalid").expect("a valid URL");
        let tail: Vec<_> = tail.into_iter().collect();
        join_path(
            operation,
            &base,
            workspace_path(id).into_iter().chain(tail.clone()),
        )?;

        let api = self.discover_within(id, deadline).await?;
        let segments = [("path", service), ("path", "v1.0")]
            .into_iter()
            .chain(workspace_path(id))
            .chain([("path", "experiments")])
            .chain(tail);
        let url = join_path(operation, &api, segments)?;
        Ok(with_api_version(url, RUN_HISTORY_API_VERSION))
    }

    /// Lists a workspace's experiments.
    ///
    /// `GET {api}/history/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}/experiments`.
    /// See <https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest>.
    pub async fn list_experiments(
        &self,
        id: &WorkspaceId,
    ) -> Result<Vec<Experiment>, CallbackError> {
        const OPERATION: &str = "list experiments";
        let deadline = self.deadline();
        let url = self
            .regional_url(OPERATION, "history", id, [], deadline)
            .await?;
        self.list(OPERATION, url, deadline).await
    }

    /// Gets a run from run history: its status, and its error when it failed.
    ///
    /// `GET {api}/history/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}/experiments/{experimentName}/runs/{runId}`.
    /// See <https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest>.
    pub async fn get_run(
        &self,
        id: &WorkspaceId,
        experiment_name: &str,
        run_id: &str,
    ) -> Result<Run, CallbackError> {
        const OPERATION: &str = "get run";
        let deadline = self.deadline();
        let tail = [
            ("experiment name", experiment_name),
            ("path", "runs"),
            ("run id", run_id),
        ];
        let url = self
            .regional_url(OPERATION, "history", id, tail, deadline)
            .await?;
        self.send_json(&Call::get(OPERATION, url), deadline).await
    }

    /// Starts a run from a zipped project and a run definition (the JSON the Azure ML SDK
    /// writes: script, target, environment, ...). Not idempotent, so retried only on failures
    /// that prove the request never reached Azure ML (connection refused, 429, 503).
    ///
    /// `POST {api}/execution/v1.0/subscriptions/.../workspaces/{ws}/experiments/{experimentName}/startrun`,
    /// multipart with the parts `projectZipFile` and `runDefinitionFile`.
    /// See <https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest>.
    pub async fn start_run(
        &self,
        id: &WorkspaceId,
        experiment_name: &str,
        project_zip: Vec<u8>,
        run_definition: Value,
    ) -> Result<StartedRun, CallbackError> {
        const OPERATION: &str = "start run";
        let deadline = self.deadline();
        let tail = [("experiment name", experiment_name), ("path", "startrun")];
        let url = self
            .regional_url(OPERATION, "execution", id, tail, deadline)
            .await?;
        // A POST: retried only when it cannot have started a run, the default for its method.
        let mut call = Call::new(OPERATION, Method::POST, url);
        call.payload = Payload::Multipart {
            zip: &project_zip,
            definition: serde_json::to_vec(&run_definition).expect("a JSON value serializes"),
        };
        let answer: Value = self.send_json(&call, deadline).await?;
        let run_id =
            lenient::string(&answer, "runId").ok_or_else(|| CallbackError::InvalidResponse {
                operation: OPERATION,
                problem: "no runId in the answer".into(),
            })?;
        Ok(StartedRun {
            run_id,
            raw: answer,
        })
    }
}

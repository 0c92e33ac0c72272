//! The Azure Resource Manager operations of [`AmlClient`]: resource groups, workspaces (with
//! the long-running creation), models, computes and jobs.
//!
//! Every request names its `api-version`: `2021-04-01` for resource groups, `2024-04-01` (GA)
//! for the `Microsoft.MachineLearningServices` resources. It does not wait for computes to
//! finish provisioning: their create-or-update answer is returned as Azure sends it.

use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::{
    call::Call,
    client::AmlClient,
    error::{CallbackError, ErrorResponse},
    lenient,
    models::{Compute, DeleteOutcome, Job, JobOutcome, Model, ResourceGroup, Workspace},
    retry,
    token_url::is_token_safe,
    url_path::{join_path, with_api_version, workspace_path},
};
use crate::{
    WorkspaceId,
    pipeline::{Answer, Deadline},
};

/// See <https://learn.microsoft.com/rest/api/resources/resourcegroups/list>.
const RESOURCE_GROUPS_API_VERSION: &str = "2021-04-01";
/// A GA version covering workspaces, model containers, computes and jobs.
/// See <https://learn.microsoft.com/rest/api/azureml/workspaces/get>.
pub const ML_API_VERSION: &str = "2024-04-01";

impl AmlClient {
    /// Lists the resource groups of a subscription.
    ///
    /// `GET {arm}/subscriptions/{sub}/resourceGroups?api-version=2021-04-01`.
    /// See <https://learn.microsoft.com/rest/api/resources/resourcegroups/list>.
    pub async fn list_resource_groups(
        &self,
        subscription: &str,
    ) -> Result<Vec<ResourceGroup>, CallbackError> {
        const OPERATION: &str = "list resource groups";
        let url = join_path(
            OPERATION,
            &self.inner.options.arm_endpoint,
            [
                ("path", "subscriptions"),
                ("subscription id", subscription),
                ("path", "resourceGroups"),
            ],
        )?;
        let url = with_api_version(url, RESOURCE_GROUPS_API_VERSION);
        self.list(OPERATION, url, self.deadline()).await
    }

    /// Lists the Azure ML workspaces of a resource group.
    ///
    /// `GET {arm}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/workspaces/list-by-resource-group>.
    pub async fn list_workspaces(
        &self,
        subscription: &str,
        resource_group: &str,
    ) -> Result<Vec<Workspace>, CallbackError> {
        const OPERATION: &str = "list workspaces";
        let url = join_path(
            OPERATION,
            &self.inner.options.arm_endpoint,
            [
                ("path", "subscriptions"),
                ("subscription id", subscription),
                ("path", "resourceGroups"),
                ("resource group", resource_group),
                ("path", "providers"),
                ("path", "Microsoft.MachineLearningServices"),
                ("path", "workspaces"),
            ],
        )?;
        let url = with_api_version(url, ML_API_VERSION);
        self.list(OPERATION, url, self.deadline()).await
    }

    /// Gets a workspace; its `properties.discoveryUrl` leads to the regional API.
    ///
    /// `GET {arm}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/workspaces/get>.
    pub async fn get_workspace(&self, id: &WorkspaceId) -> Result<Workspace, CallbackError> {
        self.get_workspace_within("get workspace", id, self.deadline())
            .await
    }

    pub(super) async fn get_workspace_within(
        &self,
        operation: &'static str,
        id: &WorkspaceId,
        deadline: Deadline,
    ) -> Result<Workspace, CallbackError> {
        let url = self.workspace_url(operation, id, [])?;
        self.send_json(&Call::get(operation, url), deadline).await
    }

    /// Creates (or updates) a workspace with `body` (`location`, `identity`, `properties` with
    /// the storage account, key vault, container registry and Application Insights ids), then
    /// follows Azure's `Azure-AsyncOperation` or `Location` header until the operation ends,
    /// waiting as `Retry-After` asks, and returns the workspace as it then is. All of it is
    /// bounded by the deadline: creation takes minutes, so give it a longer one
    /// ([`AmlClient::with_deadline`] cannot extend past the options' deadline; build a client
    /// with a longer [`super::AmlClientOptions::deadline`] for this).
    ///
    /// `PUT {arm}/.../workspaces/{ws}?api-version=2024-04-01` answered `202 Accepted`.
    /// See <https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest> and
    /// <https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations>.
    pub async fn create_workspace(
        &self,
        id: &WorkspaceId,
        body: &Value,
    ) -> Result<Workspace, CallbackError> {
        const OPERATION: &str = "create workspace";
        let deadline = self.deadline();
        let url = self.workspace_url(OPERATION, id, [])?;
        let call = Call::new(OPERATION, Method::PUT, url).json(body);
        let answer = self.send(&call, deadline).await?;
        let status = answer.status.as_u16();
        let asynchronous =
            answer.header("azure-asyncoperation").is_some() || answer.header("location").is_some();
        match status {
            200 | 201 if !asynchronous => answer.json(OPERATION),
            200..=202 => {
                self.wait_for_operation(OPERATION, &answer, deadline)
                    .await?;
                self.get_workspace_within(OPERATION, id, deadline).await
            }
            _ => Err(answer.into_error(OPERATION)),
        }
    }

    /// Polls a long-running ARM operation to its end: `Azure-AsyncOperation` (a status
    /// document) when sent, else `Location` (202 while running). Poll URLs must be on the ARM
    /// endpoint's origin, since the token goes with them.
    async fn wait_for_operation(
        &self,
        operation: &'static str,
        started: &Answer,
        deadline: Deadline,
    ) -> Result<(), CallbackError> {
        let (url, status_document) = match (
            started.header("azure-asyncoperation"),
            started.header("location"),
        ) {
            (Some(url), _) => (url, true),
            (None, Some(url)) => (url, false),
            (None, None) => {
                return Err(CallbackError::InvalidResponse {
                    operation,
                    problem: format!(
                        "{} without a Location or Azure-AsyncOperation header",
                        started.status.as_u16()
                    ),
                });
            }
        };
        let url = self.poll_url(operation, url)?;
        // Azure's `Retry-After` paces the polls, held against the deadline: a wait that would
        // end past it gives the operation up at once.
        let next_wait = |answer: &Answer| {
            retry::wait_after_answer(
                &answer.headers,
                self.inner.options.poll_interval,
                Instant::now(),
                deadline.at,
            )
        };
        let mut wait = next_wait(started);
        loop {
            let Some(pause) = wait else {
                return Err(deadline.exceeded(operation, None));
            };
            tokio::time::sleep(pause).await;
            let answer = self
                .send(&Call::get(operation, url.clone()), deadline)
                .await?;
            if status_document {
                if !answer.status.is_success() {
                    return Err(answer.into_error(operation));
                }
                let document: Value = answer.json(operation)?;
                let status = lenient::string(&document, "status").unwrap_or_default();
                match status.to_ascii_lowercase().as_str() {
                    "succeeded" => return Ok(()),
                    "failed" | "canceled" | "cancelled" => {
                        return Err(CallbackError::OperationFailed {
                            operation,
                            status,
                            error: ErrorResponse::from_value(&document).map(|body| body.error),
                        });
                    }
                    _ => {}
                }
            } else {
                match answer.status.as_u16() {
                    202 => {}
                    200 | 201 | 204 => return Ok(()),
                    _ => return Err(answer.into_error(operation)),
                }
            }
            wait = next_wait(&answer);
        }
    }

    fn poll_url(&self, operation: &'static str, url: &str) -> Result<Url, CallbackError> {
        let url = self.inner.options.arm_endpoint.join(url).map_err(|_| {
            CallbackError::InvalidResponse {
                operation,
                problem: "the operation URL is not a URL".into(),
            }
        })?;
        if url.origin() != self.inner.options.arm_endpoint.origin() || !is_token_safe(&url) {
            return Err(CallbackError::InsecureUrl {
                operation,
                what: "an operation URL on another host than ARM",
            });
        }
        Ok(url)
    }

    /// Lists a workspace's registered models (model containers).
    ///
    /// `GET {arm}/.../workspaces/{ws}/models?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/model-containers/list>.
    pub async fn list_models(&self, id: &WorkspaceId) -> Result<Vec<Model>, CallbackError> {
        const OPERATION: &str = "list models";
        let url = self.workspace_url(OPERATION, id, [("path", "models")])?;
        self.list(OPERATION, url, self.deadline()).await
    }

    /// Deletes a registered model (the container, with all its versions).
    ///
    /// `DELETE {arm}/.../workspaces/{ws}/models/{name}?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/model-containers/delete>.
    pub async fn delete_model(
        &self,
        id: &WorkspaceId,
        name: &str,
    ) -> Result<DeleteOutcome, CallbackError> {
        const OPERATION: &str = "delete model";
        let url = self.workspace_url(OPERATION, id, [("path", "models"), ("model name", name)])?;
        let answer = self
            .send(&Call::new(OPERATION, Method::DELETE, url), self.deadline())
            .await?;
        match answer.status.as_u16() {
            200 | 202 => Ok(DeleteOutcome::Deleted),
            204 | 404 => Ok(DeleteOutcome::NotFound),
            _ => Err(answer.into_error(OPERATION)),
        }
    }

    /// Lists a workspace's compute targets.
    ///
    /// `GET {arm}/.../workspaces/{ws}/computes?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/compute/list>.
    pub async fn list_computes(&self, id: &WorkspaceId) -> Result<Vec<Compute>, CallbackError> {
        const OPERATION: &str = "list computes";
        let url = self.workspace_url(OPERATION, id, [("path", "computes")])?;
        self.list(OPERATION, url, self.deadline()).await
    }

    /// Creates or overwrites a compute target with `body` (`location`, `properties` with
    /// `computeType` and its own `properties`). Azure answers at once and provisions in the
    /// background; poll [`AmlClient::list_computes`] for `provisioningState`.
    ///
    /// `PUT {arm}/.../workspaces/{ws}/computes/{name}?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/compute/create-or-update>.
    pub async fn create_or_update_compute(
        &self,
        id: &WorkspaceId,
        name: &str,
        body: &Value,
    ) -> Result<Compute, CallbackError> {
        const OPERATION: &str = "create or update compute";
        let url = self.workspace_url(
            OPERATION,
            id,
            [("path", "computes"), ("compute name", name)],
        )?;
        let call = Call::new(OPERATION, Method::PUT, url).json(body);
        let answer = self.send_ok(&call, self.deadline()).await?;
        Ok(resource_or_named(&answer, name))
    }

    /// Creates a job (and so starts it) or updates the one of that name. A job that already
    /// exists (409, or a 400 whose error says so) is reported as
    /// [`JobOutcome::AlreadyExists`], not as an error: callers that derive the name from an
    /// event id get idempotency for free.
    ///
    /// `PUT {arm}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}/jobs/{name}?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/jobs/create-or-update>.
    pub async fn create_or_update_job(
        &self,
        id: &WorkspaceId,
        name: &str,
        body: &Value,
    ) -> Result<JobOutcome, CallbackError> {
        const OPERATION: &str = "create or update job";
        let url = self.workspace_url(OPERATION, id, [("path", "jobs"), ("job name", name)])?;
        let call = Call::new(OPERATION, Method::PUT, url).json(body);
        let answer = self.send(&call, self.deadline()).await?;
        let status = answer.status.as_u16();
        match status {
            201 => Ok(JobOutcome::Created(Box::new(resource_or_named(
                &answer, name,
            )))),
            200 => Ok(JobOutcome::Updated(Box::new(resource_or_named(
                &answer, name,
            )))),
            409 => Ok(JobOutcome::AlreadyExists {
                status,
                error: ErrorResponse::from_body(&answer.body),
            }),
            400 => match ErrorResponse::from_body(&answer.body) {
                Some(error) if says_already_exists(&error) => Ok(JobOutcome::AlreadyExists {
                    status,
                    error: Some(error),
                }),
                _ => Err(answer.into_error(OPERATION)),
            },
            _ => Err(answer.into_error(OPERATION)),
        }
    }

    /// Gets a job, `None` when there is none of that name (404). A v2 job's state is its
    /// `properties.status` (`NotStarted`, `Queued`, `Running`, ..., `Completed`, `Failed`,
    /// `Canceled`, `NotResponding`); see [`Job::job_status`].
    ///
    /// `GET {arm}/.../workspaces/{ws}/jobs/{name}?api-version=2024-04-01`.
    /// See <https://learn.microsoft.com/rest/api/azureml/jobs/get>.
    pub async fn get_job(
        &self,
        id: &WorkspaceId,
        name: &str,
    ) -> Result<Option<Job>, CallbackError> {
        const OPERATION: &str = "get job";
        let url = self.workspace_url(OPERATION, id, [("path", "jobs"), ("job name", name)])?;
        let answer = self
            .send(&Call::get(OPERATION, url), self.deadline())
            .await?;
        match answer.status.as_u16() {
            200 => Ok(Some(resource_or_named(&answer, name))),
            404 => Ok(None),
            _ => Err(answer.into_error(OPERATION)),
        }
    }

    /// `{arm}/subscriptions/.../workspaces/{ws}[/tail...]?api-version=2024-04-01`.
    fn workspace_url<'s>(
        &self,
        operation: &'static str,
        id: &'s WorkspaceId,
        tail: impl IntoIterator<Item = (&'static str, &'s str)>,
    ) -> Result<Url, CallbackError> {
        let segments = workspace_path(id).into_iter().chain(tail);
        let url = join_path(operation, &self.inner.options.arm_endpoint, segments)?;
        Ok(with_api_version(url, ML_API_VERSION))
    }
}

/// The resource Azure answered with; a success whose body does not read (empty, say) still
/// says what matters, so it becomes a resource that carries only its name.
fn resource_or_named(answer: &Answer, name: &str) -> Job {
    answer.json::<Job>("").unwrap_or_else(|_| Job {
        name: name.to_owned(),
        ..Job::default()
    })
}

impl Job {
    /// A job's `properties.status` as Azure sent it (`Running`, `Completed`, ...), if it has
    /// one. See <https://learn.microsoft.com/rest/api/azureml/jobs/get#jobstatus>.
    pub fn job_status(&self) -> Option<&str> {
        self.properties.get("status").and_then(Value::as_str)
    }
}

/// Azure ML's wording for a name that is taken varies by resource and version.
fn says_already_exists(error: &ErrorResponse) -> bool {
    let code = error.error.code.to_ascii_lowercase();
    let message = error.error.message.to_ascii_lowercase();
    code.contains("alreadyexists")
        || code == "conflict"
        || message.contains("already exists")
        || message.contains("already in use")
}

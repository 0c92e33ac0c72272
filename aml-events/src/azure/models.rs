//! The typed answers of the Azure ML REST operations: ARM resources (resource groups,
//! workspaces, models, computes, jobs), run history (experiments, runs), and the outcomes of
//! calls whose result is more than a resource (job creation, deletion, scoring).
//!
//! Unknown fields are ignored or kept in `properties` / `raw` (a run keeps no `raw`: it is
//! read for a handful of its members, per event); run history is read leniently
//! (keys in any case, numbers where strings are documented), as Azure ML really sends it.
//! These types do no I/O.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::error::{ErrorDetail, ErrorResponse};
use super::lenient;
use crate::events::RunStatus;

/// An Azure Resource Manager resource: `id`, `name`, `type`, `location`, `tags` and its
/// `properties` (typed where this crate reads them, JSON otherwise).
/// See <https://learn.microsoft.com/azure/azure-resource-manager/management/overview>.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de> + Default"))]
pub struct ArmResource<P = Value> {
    /// The resource id, `/subscriptions/.../providers/...`.
    #[serde(default)]
    pub id: String,
    /// The resource name.
    #[serde(default)]
    pub name: String,
    /// The resource type (`Microsoft.MachineLearningServices/workspaces`).
    #[serde(rename = "type", default)]
    pub resource_type: String,
    /// The Azure region, for tracked resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The resource's tags.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: BTreeMap<String, String>,
    /// The resource-specific properties.
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: P,
}

/// A resource group.
/// See <https://learn.microsoft.com/rest/api/resources/resourcegroups/list>.
pub type ResourceGroup = ArmResource<ResourceGroupProperties>;

/// The properties of a resource group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    /// `Succeeded`, ...
    #[serde(default)]
    pub provisioning_state: Option<String>,
}

/// An Azure ML workspace.
/// See <https://learn.microsoft.com/rest/api/azureml/workspaces/get>.
pub type Workspace = ArmResource<WorkspaceProperties>;

/// The workspace properties this crate uses; the others are kept in `other`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceProperties {
    /// The discovery service that names the workspace's regional endpoints.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// The workspace's display name.
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// The workspace's description.
    #[serde(default)]
    pub description: Option<String>,
    /// `Creating`, `Succeeded`, `Failed`, ...
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// The workspace's immutable GUID.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Every other property, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A registered model (a model container: the name, with its versions under it).
/// See <https://learn.microsoft.com/rest/api/azureml/model-containers/list>.
pub type Model = ArmResource;

/// A compute target (cluster, instance, attached compute).
/// See <https://learn.microsoft.com/rest/api/azureml/compute/list>.
pub type Compute = ArmResource;

/// A job (command, sweep, pipeline, ...).
/// See <https://learn.microsoft.com/rest/api/azureml/jobs/create-or-update>.
pub type Job = ArmResource;

/// What `create_or_update_job` did. A job that already exists is not an error: the handlers
/// derive job names from event ids, so a redelivered event lands here.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// 201: the job was created (and started).
    Created(Box<Job>),
    /// 200: a job of that name existed and was updated.
    Updated(Box<Job>),
    /// 409, or a 400 saying the name is taken: a job of that name already exists.
    AlreadyExists {
        /// The status Azure answered.
        status: u16,
        /// Azure's error body.
        error: Option<ErrorResponse>,
    },
}

impl JobOutcome {
    /// Whether this call created the job.
    pub fn created(&self) -> bool {
        matches!(self, JobOutcome::Created(_))
    }
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// 200 or 202: the resource existed and is deleted (or being deleted).
    Deleted,
    /// 204 or 404: there was nothing to delete.
    NotFound,
}

/// An experiment in run history.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Experiment {
    /// The experiment's GUID.
    pub experiment_id: Option<String>,
    /// The experiment name (what runs are filed under).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// When it was created.
    pub created_utc: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The experiment as sent.
    #[serde(skip)]
    pub raw: Value,
}

impl Experiment {
    /// Reads an experiment leniently (any key casing).
    pub fn from_value(value: Value) -> Experiment {
        Experiment {
            experiment_id: lenient::string(&value, "experimentId"),
            name: lenient::string(&value, "name").unwrap_or_default(),
            description: lenient::string(&value, "description"),
            created_utc: lenient::string(&value, "createdUtc"),
            tags: lenient::string_map(&value, "tags"),
            raw: value,
        }
    }
}

impl<'de> Deserialize<'de> for Experiment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Experiment::from_value(Value::deserialize(deserializer)?))
    }
}

/// A run, from run history (`GET .../experiments/{name}/runs/{runId}`).
/// See <https://learn.microsoft.com/azure/machine-learning/how-to-manage-rest>.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run id.
    pub run_id: String,
    /// `Running`, `Completed`, `Failed`, ... as sent; see [`Run::run_status`].
    pub status: Option<String>,
    /// The experiment's GUID.
    pub experiment_id: Option<String>,
    /// The run's display name.
    pub display_name: Option<String>,
    /// `azureml.scriptrun`, `azureml.PipelineRun`, ...
    pub run_type: Option<String>,
    /// The compute target.
    pub target: Option<String>,
    /// When the run was created.
    pub created_utc: Option<String>,
    /// When it started.
    pub start_time_utc: Option<String>,
    /// When it ended.
    pub end_time_utc: Option<String>,
    /// Its properties (values as text).
    pub properties: BTreeMap<String, String>,
    /// Its tags (values as text).
    pub tags: BTreeMap<String, String>,
    /// Why it failed, when it did.
    pub error: Option<RunError>,
}

/// A failed run's error: `{"error": {"code": ..., "message": ...}, ...}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RunError {
    /// The error.
    pub error: ErrorDetail,
}

/// The members a [`Run`] is read from, in the order of its fields.
const RUN_MEMBERS: [&str; 12] = [
    "runId",
    "status",
    "experimentId",
    "displayName",
    "runType",
    "target",
    "createdUtc",
    "startTimeUtc",
    "endTimeUtc",
    "properties",
    "tags",
    "error",
];

impl Run {
    /// Reads a run leniently (any key casing, numbers as text); never fails.
    pub fn from_value(value: Value) -> Run {
        Run::from_members(RUN_MEMBERS.map(|name| lenient::get(&value, name).cloned()))
    }

    /// A run from its members (those of [`RUN_MEMBERS`], as [`lenient::get`] finds them).
    fn from_members(members: [Option<Value>; 12]) -> Run {
        let [
            run_id,
            status,
            experiment_id,
            display_name,
            run_type,
            target,
            created_utc,
            start_time_utc,
            end_time_utc,
            properties,
            tags,
            error,
        ] = members;
        let text = |value: Option<Value>| value.and_then(lenient::into_text);
        Run {
            run_id: text(run_id).unwrap_or_default(),
            status: text(status),
            experiment_id: text(experiment_id),
            display_name: text(display_name),
            run_type: text(run_type),
            target: text(target),
            created_utc: text(created_utc),
            start_time_utc: text(start_time_utc),
            end_time_utc: text(end_time_utc),
            properties: lenient::into_string_map(properties),
            tags: lenient::into_string_map(tags),
            error: error.filter(Value::is_object).map(|error| RunError {
                // Usually nested under `error`; accept the code and message at the top too.
                error: ErrorDetail::from_value(lenient::get(&error, "error").unwrap_or(&error)),
            }),
        }
    }

    /// The status, compared case-insensitively.
    pub fn run_status(&self) -> Option<RunStatus> {
        self.status.as_deref().map(RunStatus::parse)
    }

    /// The error message of a failed run.
    pub fn error_message(&self) -> Option<&str> {
        self.error
            .as_ref()
            .map(|error| error.error.message.as_str())
            .filter(|message| !message.is_empty())
    }
}

impl<'de> Deserialize<'de> for Run {
    /// As [`Run::from_value`] reads the run parsed whole, without building the members it
    /// does not read.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient::members(deserializer, &RUN_MEMBERS).map(Run::from_members)
    }
}

/// The answer to `start_run`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartedRun {
    /// The new run's id.
    pub run_id: String,
    /// The answer as sent.
    #[serde(skip)]
    pub raw: Value,
}

/// The answer of a scoring endpoint, whatever its status: the smoke test records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreResponse {
    /// The HTTP status of the last attempt.
    pub status: u16,
    /// Time from sending the last attempt to the end of its body.
    pub latency: Duration,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

impl ScoreResponse {
    /// Whether the endpoint answered 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// ARM and run history send `null` for empty maps and objects now and then.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_runs_in_any_casing_with_nested_errors() {
        let run = Run::from_value(json!({
            "RunId": "r1", "STATUS": "failed", "properties": {"attempt": 2},
            "error": {"error": {"code": "UserError", "message": "script exited 1"}},
            "unknown": [1, 2]
        }));
        assert_eq!(run.run_id, "r1");
        assert_eq!(run.run_status(), Some(RunStatus::Failed));
        assert_eq!(run.properties["attempt"], "2");
        assert_eq!(run.error_message(), Some("script exited 1"));
        assert_eq!(run.error.unwrap().error.code, "UserError");
        assert_eq!(
            Run::from_value(json!({"runId": "r2", "error": null})).error,
            None
        );
    }

    /// A run read from its text agrees with the same run parsed whole, then read.
    fn read_both_ways(text: &str) -> (Run, Run) {
        let streamed: Run = serde_json::from_str(text).unwrap();
        let whole = Run::from_value(serde_json::from_str(text).unwrap());
        (streamed, whole)
    }

    #[test]
    fn a_run_read_from_its_text_is_the_run_parsed_whole() {
        for text in [
            r#"{"runId": "r1", "status": "Failed", "unknown": {"deep": [1, {"runId": "no"}]}}"#,
            // Exact spelling first; else the first casing in key order; a repeat's last value.
            r#"{"RunId": "folded", "runId": "exact", "runID": "other"}"#,
            r#"{"runid": "b", "RUNID": "a", "RunId": "c"}"#,
            r#"{"RUNID": "a", "runId": "x", "runId": "y"}"#,
            r#"{"RUNID": "first", "RUNID": "second", "status": 1}"#,
            r#"{"runId": null, "RUNID": "kept only when no exact key"}"#,
            // Numbers and booleans as text, objects where text is expected read as absent.
            r#"{"runId": 12, "status": true, "target": 1.5e300, "displayName": -0.0,
                "runType": 18446744073709551616, "createdUtc": {"a": 1}, "endTimeUtc": [1]}"#,
            r#"{"properties": {"a": 1, "b": null, "c": {"x": [1]}, "a": "2", "d": false},
                "TAGS": {"t": "1"}, "tags": null}"#,
            r#"{"error": {"error": {"code": "E", "message": "m", "details": [{"code": "D"}]}}}"#,
            r#"{"error": {"code": "top", "message": "level"}}"#,
            r#"{"error": "not an object", "Error": {"message": "ignored"}}"#,
            r#"{"\u0072unId": "escaped key", "st\u0061tus": "Running", "RUNID": "folded"}"#,
            r#"[1, {"runId": "inside an array"}]"#,
            r#""a string""#,
            "42",
            "null",
            "{}",
        ] {
            let (streamed, whole) = read_both_ways(text);
            assert_eq!(streamed, whole, "{text}");
        }
        let (run, _) = read_both_ways(r#"{"RUNID": "a", "runId": "x", "runId": "y"}"#);
        assert_eq!(run.run_id, "y");
        let (run, _) = read_both_ways(r#"{"\u0072unId": "escaped key", "RUNID": "folded"}"#);
        assert_eq!(run.run_id, "escaped key");
    }

    proptest::proptest! {
        #[test]
        fn any_run_reads_as_it_does_parsed_whole(
            members in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "runId", "RUNID", "runid", "status", "Status", "error", "ERROR",
                        "properties", "Properties", "tags", "target", "other",
                    ]),
                    proptest::sample::select(vec![
                        "null", "1", "-2.5", "true", "\"text\"", "{}", "[1, 2]",
                        r#"{"a": 1, "b": null, "c": {"d": "e"}}"#,
                        r#"{"error": {"code": "C", "message": "M"}}"#,
                    ]),
                ),
                0..8,
            )
        ) {
            let members: Vec<String> =
                members.iter().map(|(key, value)| format!("\"{key}\": {value}")).collect();
            let text = format!("{{{}}}", members.join(", "));
            let (streamed, whole) = read_both_ways(&text);
            proptest::prop_assert_eq!(streamed, whole, "{}", text);
        }
    }

    #[test]
    fn reads_workspaces_with_null_tags() {
        let workspace: Workspace = serde_json::from_value(json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
            "name": "ws", "type": "Microsoft.MachineLearningServices/workspaces", "tags": null,
            "properties": {"discoveryUrl": "https://eastus.api.azureml.ms/discovery", "hbiWorkspace": false}
        }))
        .unwrap();
        assert_eq!(
            workspace.properties.discovery_url.as_deref(),
            Some("https://eastus.api.azureml.ms/discovery")
        );
        assert_eq!(workspace.properties.other["hbiWorkspace"], false);
        assert!(workspace.tags.is_empty());
    }
}

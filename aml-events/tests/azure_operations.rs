//! Every operation of the Azure ML client against a loopback wiremock server: the method, path,
//! `api-version`, token and body each sends, and the typed answer it reads (docs/actions.md).

mod azure_mock;

use std::time::Duration;

use aml_events::{
    Secret,
    azure::{CallbackError, DeleteOutcome, JobOutcome},
    events::RunStatus,
};
use azure_mock::{
    HISTORY_PATH, RefusingPort, WORKSPACE_PATH, client, mount_discovery, mount_identity, workspace,
};
use serde_json::json;
use url::Url;
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{body_partial_json, body_string_contains, header, method, path, query_param},
};

#[tokio::test]
async fn lists_resource_groups_across_pages() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/subscriptions/sub-1/resourceGroups"))
        .and(query_param("api-version", "2021-04-01"))
        .and(query_param("page", "2"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "/subscriptions/sub-1/resourceGroups/rg-2", "name": "rg-2",
                       "type": "Microsoft.Resources/resourceGroups", "location": "westus",
                       "properties": {"provisioningState": "Succeeded"}}]
        })))
        .expect(1)
        .named("resource groups, page 2")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/subscriptions/sub-1/resourceGroups"))
        .and(query_param("api-version", "2021-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "/subscriptions/sub-1/resourceGroups/rg-1", "name": "rg-1",
                       "type": "Microsoft.Resources/resourceGroups", "location": "eastus",
                       "tags": null, "properties": {"provisioningState": "Succeeded"}}],
            "nextLink": format!("{}/subscriptions/sub-1/resourceGroups?api-version=2021-04-01&page=2", server.uri()),
        })))
        .expect(1)
        .named("resource groups, page 1")
        .mount(&server)
        .await;

    // Act
    let groups = client(&server).list_resource_groups("sub-1").await.unwrap();

    // Assert
    let names: Vec<_> = groups.iter().map(|group| group.name.as_str()).collect();
    assert_eq!(names, ["rg-1", "rg-2"]);
    assert_eq!(groups[0].location.as_deref(), Some("eastus"));
    assert_eq!(
        groups[1].properties.provisioning_state.as_deref(),
        Some("Succeeded")
    );
}

#[tokio::test]
async fn refuses_a_next_link_on_another_host() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/subscriptions/sub-1/resourceGroups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [], "nextLink": "https://elsewhere.example/steal?api-version=1"
        })))
        .expect(1)
        .named("resource groups with a foreign nextLink")
        .mount(&server)
        .await;

    // Act
    let err = client(&server)
        .list_resource_groups("sub-1")
        .await
        .unwrap_err();

    // Assert
    assert!(matches!(err, CallbackError::InsecureUrl { .. }), "{err}");
}

#[tokio::test]
async fn lists_and_gets_workspaces() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces"))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"value": [azure_mock::workspace_body(&server)]})),
        )
        .expect(1)
        .named("list workspaces")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_mock::workspace_body(&server)))
        .expect(1)
        .named("get workspace")
        .mount(&server)
        .await;
    let client = client(&server);

    // Act
    let listed = client.list_workspaces("sub-1", "rg-1").await.unwrap();
    let got = client.get_workspace(&workspace()).await.unwrap();

    // Assert
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], got);
    assert_eq!(got.name, "ws-1");
    assert_eq!(
        got.properties.discovery_url,
        Some(format!("{}/discovery", server.uri()))
    );
    assert_eq!(
        got.properties.friendly_name.as_deref(),
        Some("Workspace one")
    );
}

#[tokio::test]
async fn discovers_the_regional_api_once_per_workspace_without_a_token() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_mock::workspace_body(&server)))
        .expect(1)
        .named("get workspace")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery"))
        .and(|request: &Request| !request.headers.contains_key("authorization"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"api": "https://eastus.api.azureml.ms"})),
        )
        .expect(1)
        .named("anonymous discovery document")
        .mount(&server)
        .await;
    let client = client(&server);

    // Act
    let first = client.discover(&workspace()).await.unwrap();
    let again = client.discover(&workspace()).await.unwrap();

    // Assert
    assert_eq!(first.as_str(), "https://eastus.api.azureml.ms/");
    assert_eq!(again, first);
}

#[tokio::test]
async fn refuses_a_regional_api_over_plain_http() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_mock::workspace_body(&server)))
        .expect(1)
        .named("get workspace")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"api": "http://eastus.api.azureml.ms"})),
        )
        .expect(1)
        .named("discovery naming plain http")
        .mount(&server)
        .await;

    // Act
    let err = client(&server).discover(&workspace()).await.unwrap_err();

    // Assert
    assert!(matches!(err, CallbackError::InsecureUrl { .. }), "{err}");
}

#[tokio::test]
async fn lists_experiments() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{HISTORY_PATH}/experiments")))
        .and(query_param("api-version", "2019-11-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"experimentId": "e-1", "name": "train", "createdUtc": "2024-03-01T12:00:00Z",
                       "tags": {"team": "ml"}}],
            "continuationToken": null, "nextLink": null
        })))
        .expect(1)
        .named("list experiments")
        .mount(&server)
        .await;

    // Act
    let experiments = client(&server)
        .list_experiments(&workspace())
        .await
        .unwrap();

    // Assert
    assert_eq!(experiments.len(), 1);
    assert_eq!(experiments[0].name, "train");
    assert_eq!(experiments[0].experiment_id.as_deref(), Some("e-1"));
    assert_eq!(experiments[0].tags["team"], "ml");
}

#[tokio::test]
async fn gets_a_failed_run_with_names_percent_encoded() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!(
            "{HISTORY_PATH}/experiments/my%20exp%2F1/runs/run%3F1"
        )))
        .and(query_param("api-version", "2019-11-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "runId": "run?1", "status": "Failed", "experimentId": "e-1",
            "startTimeUtc": "2024-03-01T12:00:00Z", "properties": {"azureml.runsource": "experiment"},
            "error": {"error": {"code": "UserError", "message": "train.py exited with code 1"}},
            "someFieldFromTheFuture": {"x": 1}
        })))
        .expect(1)
        .named("get run")
        .mount(&server)
        .await;

    // Act
    let run = client(&server)
        .get_run(&workspace(), "my exp/1", "run?1")
        .await
        .unwrap();

    // Assert
    assert_eq!(run.run_id, "run?1");
    assert_eq!(run.run_status(), Some(RunStatus::Failed));
    assert_eq!(run.error_message(), Some("train.py exited with code 1"));
    assert_eq!(run.error.as_ref().unwrap().error.code, "UserError");
    assert_eq!(run.properties["azureml.runsource"], "experiment");
}

#[tokio::test]
async fn refuses_names_that_would_climb_the_path() {
    // Arrange
    let server = MockServer::start().await;

    // Act
    let err = client(&server)
        .get_run(&workspace(), "..", "run-1")
        .await
        .unwrap_err();

    // Assert: refused before any request (the server has no mocks and expects none)
    assert!(
        matches!(
            err,
            CallbackError::InvalidName {
                what: "experiment name",
                ..
            }
        ),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn starts_a_run_with_a_multipart_project_and_definition() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    mount_discovery(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(
            "/execution/v1.0/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1/experiments/train/startrun",
        ))
        .and(query_param("api-version", "2019-11-01"))
        .and(header("authorization", "Bearer test-token"))
        .and(body_string_contains(r#"name="projectZipFile""#))
        .and(body_string_contains(r#"name="runDefinitionFile""#))
        .and(body_string_contains("PK-zip-bytes"))
        .and(body_string_contains(r#"{"configuration":{"script":"train.py"}}"#))
        .and(|request: &Request| {
            request
                .headers
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("multipart/form-data; boundary="))
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"runId": "train_1700000000_ab12"})))
        .expect(1)
        .named("start run")
        .mount(&server)
        .await;

    // Act
    let started = client(&server)
        .start_run(
            &workspace(),
            "train",
            b"PK-zip-bytes".to_vec(),
            json!({"configuration": {"script": "train.py"}}),
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(started.run_id, "train_1700000000_ab12");
}

#[tokio::test]
async fn lists_and_deletes_models() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{WORKSPACE_PATH}/models")))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": format!("{WORKSPACE_PATH}/models/churn"), "name": "churn",
             "type": "Microsoft.MachineLearningServices/workspaces/models",
             "properties": {"latestVersion": "3"}}
        ]})))
        .expect(1)
        .named("list models")
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{WORKSPACE_PATH}/models/churn")))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("delete model")
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{WORKSPACE_PATH}/models/gone")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .named("delete a missing model")
        .mount(&server)
        .await;
    let client = client(&server);

    // Act
    let models = client.list_models(&workspace()).await.unwrap();
    let deleted = client.delete_model(&workspace(), "churn").await.unwrap();
    let missing = client.delete_model(&workspace(), "gone").await.unwrap();

    // Assert
    assert_eq!(models[0].name, "churn");
    assert_eq!(models[0].properties["latestVersion"], "3");
    assert_eq!(deleted, DeleteOutcome::Deleted);
    assert_eq!(missing, DeleteOutcome::NotFound);
}

#[tokio::test]
async fn lists_and_creates_computes() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{WORKSPACE_PATH}/computes")))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"name": "cpu", "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded"}}
        ]})))
        .expect(1)
        .named("list computes")
        .mount(&server)
        .await;
    let body = json!({"location": "eastus", "properties": {"computeType": "AmlCompute",
        "properties": {"vmSize": "Standard_D1", "scaleSettings": {"maxNodeCount": 1, "minNodeCount": 0}}}});
    Mock::given(method("PUT"))
        .and(path(format!("{WORKSPACE_PATH}/computes/gpu")))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .and(body_partial_json(
            json!({"properties": {"computeType": "AmlCompute"}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "name": "gpu", "location": "eastus",
            "properties": {"computeType": "AmlCompute", "provisioningState": "Creating"}
        })))
        .expect(1)
        .named("create compute")
        .mount(&server)
        .await;
    let client = client(&server);

    // Act
    let computes = client.list_computes(&workspace()).await.unwrap();
    let created = client
        .create_or_update_compute(&workspace(), "gpu", &body)
        .await
        .unwrap();

    // Assert
    assert_eq!(computes[0].name, "cpu");
    assert_eq!(created.name, "gpu");
    assert_eq!(created.properties["provisioningState"], "Creating");
}

#[tokio::test]
async fn creates_a_workspace_following_location_polling() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let body = json!({"location": "eastus", "identity": {"type": "SystemAssigned"},
                      "properties": {"friendlyName": "Workspace one"}});
    Mock::given(method("PUT"))
        .and(path(WORKSPACE_PATH))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .and(body_partial_json(json!({"location": "eastus"})))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header(
                    "location",
                    format!("{}/operations/op-1?api-version=2024-04-01", server.uri()),
                )
                .insert_header("retry-after", "0"),
        )
        .expect(1)
        .named("create workspace")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/operations/op-1"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(202).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .expect(2)
        .named("operation still running")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/operations/op-1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("operation done")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(WORKSPACE_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_mock::workspace_body(&server)))
        .expect(1)
        .named("get the created workspace")
        .mount(&server)
        .await;

    // Act
    let created = client(&server)
        .create_workspace(&workspace(), &body)
        .await
        .unwrap();

    // Assert
    assert_eq!(created.name, "ws-1");
    assert_eq!(
        created.properties.provisioning_state.as_deref(),
        Some("Succeeded")
    );
}

#[tokio::test]
async fn reports_a_failed_workspace_creation_from_its_async_operation() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("PUT"))
        .and(path(WORKSPACE_PATH))
        .respond_with(ResponseTemplate::new(201).insert_header(
            "azure-asyncoperation",
            format!("{}/asyncops/op-2", server.uri()),
        ))
        .expect(1)
        .named("create workspace")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/asyncops/op-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "Failed",
            "error": {"code": "ContainerRegistryAdminNotEnabled", "message": "enable the admin user"}
        })))
        .expect(1)
        .named("async operation failed")
        .mount(&server)
        .await;

    // Act
    let err = client(&server)
        .create_workspace(&workspace(), &json!({"location": "eastus"}))
        .await
        .unwrap_err();

    // Assert
    let CallbackError::OperationFailed { status, error, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(status, "Failed");
    assert_eq!(
        error.as_ref().unwrap().code,
        "ContainerRegistryAdminNotEnabled"
    );
    assert!(err.to_string().contains("enable the admin user"), "{err}");
}

#[tokio::test]
async fn creates_a_job_and_counts_an_existing_one_as_done() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    let body = json!({"properties": {"jobType": "Command", "command": "python train.py",
                                     "experimentName": "retrain"}});
    Mock::given(method("PUT"))
        .and(path(format!("{WORKSPACE_PATH}/jobs/retrain-evt-1")))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .and(body_partial_json(
            json!({"properties": {"jobType": "Command"}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": format!("{WORKSPACE_PATH}/jobs/retrain-evt-1"), "name": "retrain-evt-1",
            "properties": {"jobType": "Command", "status": "NotStarted"}
        })))
        .expect(1)
        .named("create job")
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{WORKSPACE_PATH}/jobs/retrain-evt-2")))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "error": {"code": "Conflict", "message": "job retrain-evt-2 already exists"}
        })))
        .expect(1)
        .named("job exists (409)")
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{WORKSPACE_PATH}/jobs/retrain-evt-3")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"code": "UserError", "message": "A job with this name already exists."}
        })))
        .expect(1)
        .named("job exists (400)")
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{WORKSPACE_PATH}/jobs/retrain-evt-4")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"code": "UserError", "message": "compute cpu-cluster not found"}
        })))
        .expect(1)
        .named("bad job")
        .mount(&server)
        .await;
    let client = client(&server);

    // Act
    let created = client
        .create_or_update_job(&workspace(), "retrain-evt-1", &body)
        .await
        .unwrap();
    let conflict = client
        .create_or_update_job(&workspace(), "retrain-evt-2", &body)
        .await
        .unwrap();
    let existing = client
        .create_or_update_job(&workspace(), "retrain-evt-3", &body)
        .await
        .unwrap();
    let bad = client
        .create_or_update_job(&workspace(), "retrain-evt-4", &body)
        .await
        .unwrap_err();

    // Assert
    let JobOutcome::Created(job) = &created else {
        panic!("{created:?}");
    };
    assert_eq!(job.name, "retrain-evt-1");
    assert!(created.created());
    assert!(matches!(
        conflict,
        JobOutcome::AlreadyExists { status: 409, .. }
    ));
    assert!(matches!(
        existing,
        JobOutcome::AlreadyExists { status: 400, .. }
    ));
    assert_eq!(bad.status(), Some(400));
    assert_eq!(
        bad.error_response().unwrap().error.message,
        "compute cpu-cluster not found"
    );
    assert!(!bad.is_transient());
}

#[tokio::test]
async fn gets_a_job_with_its_status_and_none_for_a_missing_one() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{WORKSPACE_PATH}/jobs/retrain-evt-1")))
        .and(query_param("api-version", "2024-04-01"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": format!("{WORKSPACE_PATH}/jobs/retrain-evt-1"), "name": "retrain-evt-1",
            "properties": {"jobType": "Command", "status": "Running"}
        })))
        .expect(1)
        .named("get job")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{WORKSPACE_PATH}/jobs/retrain-evt-2")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": {"code": "UserError", "message": "job retrain-evt-2 not found"}
        })))
        .expect(1)
        .named("no such job")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{WORKSPACE_PATH}/jobs/retrain-evt-3")))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error": {"code": "AuthorizationFailed", "message": "no role on the workspace"}
        })))
        .expect(1)
        .named("refused")
        .mount(&server)
        .await;
    let client = client(&server);

    // Act
    let running = client.get_job(&workspace(), "retrain-evt-1").await.unwrap();
    let missing = client.get_job(&workspace(), "retrain-evt-2").await.unwrap();
    let refused = client
        .get_job(&workspace(), "retrain-evt-3")
        .await
        .unwrap_err();

    // Assert
    let running = running.expect("the job");
    assert_eq!(running.name, "retrain-evt-1");
    assert_eq!(running.job_status(), Some("Running"));
    assert_eq!(missing, None);
    assert!(refused.is_unauthorized(), "{refused}");
}

#[tokio::test]
async fn scores_an_endpoint_with_its_key_and_no_arm_token() {
    // Arrange
    let server = MockServer::start().await;
    mount_identity(&server, 0).await;
    Mock::given(method("POST"))
        .and(path("/score"))
        .and(header("authorization", "Bearer endpoint-key"))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({"data": [[1, 2, 3]]})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": [0.9]}))
                .set_delay(Duration::from_millis(30)),
        )
        .expect(1)
        .named("score")
        .mount(&server)
        .await;
    let uri = Url::parse(&format!("{}/score", server.uri())).unwrap();

    // Act
    let answer = client(&server)
        .score(
            &uri,
            Some(&Secret::new("endpoint-key")),
            &json!({"data": [[1, 2, 3]]}),
        )
        .await
        .unwrap();

    // Assert
    assert!(answer.is_success());
    assert_eq!(answer.status, 200);
    assert!(
        answer.latency >= Duration::from_millis(30),
        "{:?}",
        answer.latency
    );
    assert_eq!(answer.json(), Some(json!({"result": [0.9]})));
}

#[tokio::test]
async fn reports_a_failing_scoring_endpoint_as_an_answer() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/score"))
        .and(|request: &Request| !request.headers.contains_key("authorization"))
        .respond_with(ResponseTemplate::new(500).set_body_string("model crashed"))
        .expect(4)
        .named("failing score, retried")
        .mount(&server)
        .await;
    let uri = Url::parse(&format!("{}/score", server.uri())).unwrap();

    // Act
    let answer = client(&server).score(&uri, None, &json!({})).await.unwrap();

    // Assert
    assert_eq!(answer.status, 500);
    assert!(!answer.is_success());
    assert_eq!(answer.body, "model crashed");
}

// See: issue 13, "Redact, then truncate": reqwest names the URL in its transport errors, and a
// scoring URI may carry its key in the query (a Functions `?code=`).
#[tokio::test]
async fn a_scoring_failure_never_shows_the_scoring_uri() {
    // Arrange: nothing listens on the port.
    let closed = RefusingPort::new();
    let uri = Url::parse(&format!("http://{}/score?code=score-secret", closed.addr())).unwrap();
    let server = MockServer::start().await;

    // Act
    let err = client(&server)
        .score(&uri, None, &json!({}))
        .await
        .unwrap_err();

    // Assert
    let shown = aml_events::chain(&err).to_string();
    assert!(err.is_transient(), "{shown}");
    assert!(!shown.contains("score-secret"), "{shown}");
    assert!(
        shown.to_lowercase().contains("connection refused"),
        "{shown}"
    );
}

//! Settings read and checked: the defaults, each bad value naming its setting, secrets never
//! echoed, credentials in order, job templates, the workspace allow-list.

use std::{collections::HashMap, time::Duration};

use aml_events::{Function, WorkspaceId, events::RunStatus};

use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let values: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| values.get(name).cloned())
}

#[test]
fn defaults_are_a_dry_run_on_loopback() {
    let config = config(&[]).unwrap();
    assert!(config.azure.dry_run);
    assert_eq!(config.host.bind, None);
    assert_eq!(config.host.deadline, Duration::from_secs(25));
    assert_eq!(config.azure.credentials, Credentials::None);
    assert!(!config.actions.notify_on.contains(&Function::RunCompleted));
    assert_eq!(config.actions.notify_on.len(), 4);
    assert_eq!(
        config.actions.notify_run_statuses,
        [RunStatus::Failed, RunStatus::Canceled]
    );
    assert_eq!(
        config.azure.arm_endpoint.as_str(),
        "https://management.azure.com/"
    );
}

#[test]
fn bad_values_name_their_setting() {
    let cases: [(&str, &str); 12] = [
        (AML_RETRAIN_COOLDOWN, "0s"),
        (AML_RETRAIN_COOLDOWN, "1 day"),
        (AML_NOTIFY_EVERY, "-1h"),
        (AML_DEADLINE_SECONDS, "0"),
        (AML_DEADLINE_SECONDS, "soon"),
        (AML_NOTIFY_ON, "RunCompleted,RunExploded"),
        (AML_NOTIFY_RUN_STATUSES, "Failed,Exploded"),
        (AML_RETRAIN_DRIFT_THRESHOLD, "2"),
        (AML_LOG_FORMAT, "xml"),
        (AML_BIND, "everywhere"),
        (AML_DRY_RUN, "perhaps"),
        (AML_WORKSPACES, "/subscriptions/{subscription-id}"),
    ];
    for (name, value) in cases {
        let err = config(&[(name, value)]).unwrap_err().to_string();
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn refuses_tokens_over_plain_http_beyond_loopback() {
    for name in [
        AML_ARM_ENDPOINT,
        AZURE_AUTHORITY_HOST,
        AML_SMOKE_TEST_URI,
        AML_NOTIFY_URL,
    ] {
        let err = config(&[(name, "http://example.com/x")]).unwrap_err();
        assert!(
            matches!(err, ConfigError::InsecureUrl { name: n } if n == name),
            "{name}"
        );
        assert!(
            config(&[(name, "http://127.0.0.1:9/x")]).is_ok(),
            "{name} loopback"
        );
        assert!(
            config(&[(name, "https://example.com/x")]).is_ok(),
            "{name} https"
        );
    }
}

#[test]
fn secrets_are_not_echoed() {
    let err = config(&[(AML_NOTIFY_URL, "not a url hooks-secret")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(AML_NOTIFY_URL) && !err.contains("hooks-secret"),
        "{err}"
    );
    let config = config(&[
        (AZURE_TENANT_ID, "t"),
        (AZURE_CLIENT_ID, "c"),
        (AZURE_CLIENT_SECRET, "s3cr3t-value"),
        (AML_WEBHOOK_KEY, "key-value"),
    ])
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("s3cr3t-value") && !debug.contains("key-value"),
        "{debug}"
    );
    assert!(!config.azure.dry_run, "credentials switch dry-run off");
}

#[test]
fn credentials_come_in_order_and_whole() {
    let identity = config(&[
        (IDENTITY_ENDPOINT, "http://127.0.0.1:41000/msi/token"),
        (IDENTITY_HEADER, "h"),
        (AZURE_TENANT_ID, "t"),
        (AZURE_CLIENT_ID, "c"),
        (AZURE_CLIENT_SECRET, "s"),
    ])
    .unwrap();
    assert!(matches!(
        identity.azure.credentials,
        Credentials::ManagedIdentity {
            client_id: Some(_),
            ..
        }
    ));
    let err = config(&[(IDENTITY_ENDPOINT, "http://127.0.0.1:1/")])
        .unwrap_err()
        .to_string();
    assert!(err.contains(IDENTITY_HEADER), "{err}");
    let err = config(&[(AZURE_TENANT_ID, "t"), (AZURE_CLIENT_SECRET, "s")])
        .unwrap_err()
        .to_string();
    assert!(err.contains(AZURE_CLIENT_ID), "{err}");
    assert!(
        config(&[
            (AML_DRY_RUN, "1"),
            (AZURE_TENANT_ID, "t"),
            (AZURE_CLIENT_ID, "c"),
            (AZURE_CLIENT_SECRET, "s")
        ])
        .unwrap()
        .azure
        .dry_run
    );
}

#[test]
fn job_templates_are_checked_and_filled() {
    let dir = std::env::temp_dir().join(format!("aml-handlers-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("job.json");
    std::fs::write(&good, r#"{"properties": {"displayName": "retrain {{dataDriftId}}", "tags": {"drift": {{driftCoefficient}}}}}"#).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();

    let config = config(&[(AML_RETRAIN_JOB_FILE, good.to_str().unwrap())]).unwrap();
    let filled = config.actions.retrain_job.unwrap().fill(|name| match name {
        "dataDriftId" => "a\"b".into(),
        "driftCoefficient" => "0.9".into(),
        _ => String::new(),
    });
    let job: serde_json::Value = serde_json::from_str(&filled).unwrap();
    assert_eq!(job["properties"]["displayName"], "retrain a\"b");
    assert_eq!(job["properties"]["tags"]["drift"], 0.9);

    let err = super::tests::config(&[(AML_RETRAIN_JOB_FILE, bad.to_str().unwrap())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(AML_RETRAIN_JOB_FILE) && err.contains("not a JSON job body"),
        "{err}"
    );
    let err = super::tests::config(&[(AML_RETRAIN_JOB_FILE, "no/such/job.json")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no/such/job.json"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_example_job_templates_are_accepted() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/retrain-job.json");
    let drift = config(&[(AML_RETRAIN_JOB_FILE, path)]).unwrap();
    let filled = drift
        .actions
        .retrain_job
        .unwrap()
        .fill(|name| format!("<{name}>"));
    assert!(
        filled.contains("<eventId>") && filled.contains("${{inputs.baseline}}"),
        "{filled}"
    );
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/retrain-on-monitor-breach.json"
    );
    let breach = config(&[(AML_RETRAIN_JOB_FILE, path)]).unwrap();
    let filled = breach
        .actions
        .retrain_job
        .unwrap()
        .fill(|name| format!("<{name}>"));
    assert!(
        filled.contains("<signalName>") && filled.contains("<monitorRunId>"),
        "{filled}"
    );
    serde_json::from_str::<serde_json::Value>(&filled).expect("JSON once filled in");
}

#[test]
fn the_workspace_allow_list_ignores_case() {
    let id = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/WS";
    let config = config(&[(AML_WORKSPACES, id)]).unwrap();
    assert!(
        config
            .host
            .allows(WorkspaceId::parse(&id.to_lowercase()).as_ref())
    );
    assert!(
        !config
            .host
            .allows(WorkspaceId::parse(&id.replace("WS", "other")).as_ref())
    );
    assert!(!config.host.allows(None));
}

//! Routes (docs/routes.md, issue 16), end to end: the real `serve` with a routes file like
//! `examples/routes.toml`, loopback stand-ins for Azure, a Slack channel and PagerDuty. A
//! production failure pages on-call and tells the team, a dev failure tells the team only, a
//! monitor's breach retrains with its own job file; `explain` says why, `routes check` accepts
//! the example and names file, line and key of a broken file, and `serve` refuses to start on it.

mod common;

use std::path::{Path, PathBuf};

use common::{command, stand_in::*, stdout_of_success};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, path_regex},
};

const PAGERDUTY_KEY: &str = "pd-routing-key-routes-test";
const TEAM_PATH: &str = "/services/T0/B0/team-secret";

/// `examples/routes.toml` and its job file copied into a fresh folder, with on-call's URL
/// pointed at a stand-in (the example leaves it to PagerDuty's default endpoint).
fn example_copy() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dir = std::env::temp_dir().join(new_id("routes"));
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    let text = std::fs::read_to_string(root.join("routes.toml")).unwrap();
    let text = text.replacen(
        "kind = \"pagerduty\"\n",
        "kind = \"pagerduty\"\nurl = \"${PAGERDUTY_URL}\"\n",
        1,
    );
    std::fs::write(dir.join("routes.toml"), text).unwrap();
    std::fs::copy(
        root.join("jobs/churn-retrain.json"),
        dir.join("jobs/churn-retrain.json"),
    )
    .unwrap();
    dir.join("routes.toml")
}

fn run_event(id: &str, experiment: &str, run_id: &str) -> Value {
    event(
        "RunStatusChanged",
        id,
        json!({"experimentName": experiment, "runId": run_id, "runStatus": "Failed"}),
    )
}

fn breach(id: &str) -> Value {
    event(
        "RunStatusChanged",
        id,
        json!({"experimentName": "churn-monitor", "runId": "monitor_run_3", "runStatus": "Failed",
               "runTags": {"azureml_modelmonitor_threshold_breached": "The signal 'churn-drift' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n['{\"group\":\"age\",\"metric_value\":0.42,\"metric_name\":\"JensenShannonDistance\",\"threshold_value\":0.1}']"}}),
    )
}

fn notified(outcome: &Value) -> Vec<(String, String)> {
    outcome["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["action"] == "notify")
        .map(|action| {
            // The target's name as configured and its kind, each in a field of its own.
            let (name, kind) = (action["target"].as_str(), action["kind"].as_str());
            (
                format!(
                    "{} ({})",
                    name.unwrap_or_default(),
                    kind.unwrap_or_default()
                ),
                action["route"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_routes_page_on_call_tell_the_team_and_retrain() {
    // Arrange: Azure (identity, run history, jobs), the team's Slack channel, PagerDuty.
    let azure = StandIn::start().await;
    azure.mount_identity(1).await;
    azure.mount_run_history().await;
    Mock::given(method("GET"))
        .and(path_regex(format!(
            "^/history/v1.0{WORKSPACE}/experiments/[^/]+/runs/[^/]+$"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "Failed", "error": {"error": {"message": "out of memory"}}}),
        ))
        .mount(&azure.server)
        .await;
    azure
        .mount_jobs(ResponseTemplate::new(201).set_body_json(json!({})), 1)
        .await;
    let team = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TEAM_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&team)
        .await;
    let pagerduty = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"status": "success"})))
        .mount(&pagerduty)
        .await;
    let routes = example_copy();
    let env = vec![
        ("IDENTITY_ENDPOINT", format!("{}/msi/token", azure.uri())),
        ("IDENTITY_HEADER", IDENTITY_HEADER.to_owned()),
        ("AML_ARM_ENDPOINT", azure.uri()),
        ("AML_ROUTES_FILE", routes.display().to_string()),
        (
            "ML_TEAM_WEBHOOK",
            format!("slack:{}{TEAM_PATH}", team.uri()),
        ),
        ("PAGERDUTY_URL", format!("{}/v2/enqueue", pagerduty.uri())),
        ("PAGERDUTY_KEY", PAGERDUTY_KEY.to_owned()),
        ("SMOKE_TEST_URI", format!("{}/score", azure.uri())),
        ("SMOKE_TEST_KEY", SCORING_KEY.to_owned()),
        ("RUST_LOG", "debug".to_owned()),
    ];
    let server = start(&env);

    // Act: a production failure, a dev failure, a breach of the churn monitor, and a failure
    // no route matches.
    let (prod_id, dev_id, breach_id, other_id) = (
        new_id("prod"),
        new_id("dev"),
        new_id("breach"),
        new_id("other"),
    );
    let (status, prod, _) = webhook(
        &server,
        "",
        &[run_event(&prod_id, "prod-churn", "prod_run_1")],
    )
    .await;
    assert_eq!(status, 200, "{prod}");
    let (_, dev, _) = host(
        &server,
        "RunStatusChanged",
        &run_event(&dev_id, "dev-churn", "dev_run_1"),
    )
    .await;
    let (_, breached, _) = webhook(&server, "", &[breach(&breach_id)]).await;
    let (_, other, _) = webhook(
        &server,
        "",
        &[run_event(&other_id, "scratch", "scratch_run")],
    )
    .await;

    // Assert: on-call and the team for production, the team alone for dev, each report naming
    // its route and target.
    let prod = &prod["results"][0];
    let route = "production training failures".to_owned();
    assert_eq!(
        notified(prod),
        [
            ("oncall (pagerduty)".to_owned(), route.clone()),
            ("ml-team (slack)".to_owned(), route.clone())
        ],
        "{prod}"
    );
    assert!(
        prod["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|action| action["status"] == "done" && action["route"] == route.as_str()),
        "{prod}"
    );
    // See: issue 22, finding 11: the target was display text ("oncall (pagerduty)").
    assert_eq!(
        (&prod["actions"][1]["target"], &prod["actions"][1]["kind"]),
        (&json!("oncall"), &json!("pagerduty")),
        "{prod}"
    );
    let dev = &dev["ReturnValue"];
    assert_eq!(
        notified(dev),
        [(
            "ml-team (slack)".to_owned(),
            "dev training failures".to_owned()
        )],
        "{dev}"
    );
    // The breach retrains with the route's own job file, then tells the team.
    let breached = &breached["results"][0];
    assert_eq!(breached["trigger"], "monitor-breach", "{breached}");
    let retrain = &breached["actions"][0];
    assert_eq!(
        (&retrain["action"], &retrain["status"], &retrain["route"]),
        (&json!("retrain"), &json!("done"), &json!("churn drift")),
        "{breached}"
    );
    assert_eq!(
        notified(breached),
        [("ml-team (slack)".to_owned(), "churn drift".to_owned())]
    );
    let other = &other["results"][0];
    assert!(
        other["note"].as_str().unwrap().contains("no route of")
            && other["actions"].as_array().unwrap().is_empty(),
        "{other}"
    );

    let paged = pagerduty.received_requests().await.unwrap();
    assert_eq!(paged.len(), 1, "only the production failure pages");
    let page: Value = serde_json::from_slice(&paged[0].body).unwrap();
    assert_eq!(page["routing_key"], PAGERDUTY_KEY);
    assert!(
        page["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("prod_run_1")
    );
    let told = team.received_requests().await.unwrap();
    assert_eq!(told.len(), 3, "production, dev and the breach");
    let jobs = azure
        .requests_to_prefix(&format!("{WORKSPACE}/jobs/"))
        .await;
    let job: Value = serde_json::from_slice(&jobs[0].body).unwrap();
    assert_eq!(
        job["properties"]["experimentName"], "churn-retrain",
        "the route's own job file"
    );
    assert_eq!(job["properties"]["tags"]["signal"], "churn-drift");
    let logs = server.wait_for_log(&other_id);
    assert_no_secrets(&[&logs, &prod.to_string(), &dev.to_string()]);
    assert!(!logs.contains(PAGERDUTY_KEY) && !logs.contains("team-secret"));

    // `explain` shows why, from the same file, sending nothing.
    let events = std::env::temp_dir().join(format!("{}.json", new_id("explain")));
    std::fs::write(
        &events,
        json!([
            run_event(&new_id("prod"), "prod-churn", "prod_run_1"),
            run_event(&new_id("dev"), "dev-churn", "dev_run_1")
        ])
        .to_string(),
    )
    .unwrap();
    let env: Vec<(&str, &str)> = env
        .iter()
        .filter(|(name, _)| *name != "AML_ROUTES_FILE")
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let output = command(
        &[
            "explain",
            events.to_str().unwrap(),
            "--routes",
            routes.to_str().unwrap(),
        ],
        &env,
    )
    .output()
    .unwrap();
    let stdout = stdout_of_success(&output);
    for line in [
        "route \"production training failures\" (line 21): matches",
        "[x] experiment = \"prod-*\" (event: \"prod-churn\")",
        "notify dry-run to oncall (pagerduty) (route \"production training failures\")",
        "[ ] experiment = \"prod-*\" (event: \"dev-churn\")",
        "route \"dev training failures\" (line 28): matches",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert_eq!(
        pagerduty.received_requests().await.unwrap().len(),
        1,
        "explain sends nothing"
    );
    assert_eq!(team.received_requests().await.unwrap().len(), 3);
    let _ = std::fs::remove_file(events);
    let _ = std::fs::remove_dir_all(routes.parent().unwrap());
}

fn example_settings() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "ML_TEAM_WEBHOOK",
            "https://hooks.slack.com/services/T0/B0/x",
        ),
        ("PAGERDUTY_KEY", "k"),
        (
            "SMOKE_TEST_URI",
            "https://churn.westeurope.inference.ml.azure.com/score",
        ),
        ("SMOKE_TEST_KEY", "s"),
    ]
}

#[test]
fn routes_check_accepts_the_example_and_names_file_line_and_key_of_a_broken_one() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/routes.toml");
    let output = command(
        &["routes", "check", example.to_str().unwrap()],
        &example_settings(),
    )
    .output()
    .unwrap();
    let stdout = stdout_of_success(&output);
    assert!(stdout.contains("ok, 2 targets, 4 routes"), "{stdout}");
    assert!(
        stdout.contains("notify: oncall (pagerduty), ml-team (slack)"),
        "{stdout}"
    );

    // A typo in a route's target, and a key no route has.
    let dir = std::env::temp_dir().join(new_id("broken-routes"));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("routes.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    std::fs::write(
        &broken,
        text.replacen("notify = [\"ml-team\"]", "notify = [\"ml-tema\"]", 1),
    )
    .unwrap();
    let output = command(
        &["routes", "check", broken.to_str().unwrap()],
        &example_settings(),
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "aml-handlers: {}:31: routes[1].notify: unknown target \"ml-tema\"",
            broken.display()
        )),
        "{stderr}"
    );

    // `serve` refuses to start on a file with an unknown key, naming it.
    std::fs::write(
        &broken,
        text.replacen(
            "name = \"churn drift\"",
            "name = \"churn drift\"\nnotfy = []",
            1,
        ),
    )
    .unwrap();
    let mut env = example_settings();
    let file = broken.display().to_string();
    env.push(("AML_ROUTES_FILE", &file));
    let output = command(&["serve", "--port", "0"], &env).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("aml-handlers: {file}:39: notfy: unknown key")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn package_ships_the_routes_file_and_its_job_files() {
    let out = std::env::temp_dir().join(new_id("package-routes"));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/routes.toml");
    let output = command(
        &[
            "package",
            "--out",
            out.to_str().unwrap(),
            "--functions",
            "RunStatusChanged",
            "--routes",
            example.to_str().unwrap(),
        ],
        &[],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("AML_ROUTES_FILE=routes/routes.toml"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(out.join("routes/routes.toml")).unwrap(),
        std::fs::read(&example).unwrap()
    );
    assert_eq!(
        std::fs::read(out.join("routes/jobs/churn-retrain.json")).unwrap(),
        std::fs::read(example.with_file_name("jobs/churn-retrain.json")).unwrap()
    );
    // The shipped file checks where it lands, its job file found beside it.
    let output = command(
        &[
            "routes",
            "check",
            out.join("routes/routes.toml").to_str().unwrap(),
        ],
        &example_settings(),
    )
    .output()
    .unwrap();
    stdout_of_success(&output);
    let _ = std::fs::remove_dir_all(out);
}

// See: issue 22: without a routes file the settings are routes too, and `explain` shows them
// by name, with their conditions, as it shows a file's.
#[test]
fn explain_shows_the_settings_routes_by_name() {
    let event = common::fixtures().join("event_grid/run_status_changed.json");
    let output = command(
        &["explain", event.to_str().unwrap()],
        &[("AML_NOTIFY_URL", "https://hooks.slack.com/services/T0/B0/x")],
    )
    .output()
    .unwrap();

    let shown = stdout_of_success(&output);
    assert!(shown.contains("routes of the AML_* settings:"), "{shown}");
    assert!(
        shown.contains("route \"settings: RunStatusChanged\": matches"),
        "{shown}"
    );
    assert!(
        shown.contains("[x] run_status = [\"Failed\", \"Canceled\"] (event: \"Failed\")"),
        "{shown}"
    );
    assert!(
        shown.contains("route \"settings: RunStatusChanged (monitor breach)\": does not match"),
        "{shown}"
    );
    assert!(
        shown.contains("notify dry-run to slack (slack) (route \"settings: RunStatusChanged\")"),
        "{shown}"
    );
}

// See: issue 24: noise control's keys are checked as every key is (file, line and key), shown
// by `routes check`, and `explain` says what it would weigh and that, without a ledger, it
// cannot know the state.
#[test]
fn noise_control_is_checked_shown_and_explained() {
    let routes = example_copy();
    let text = std::fs::read_to_string(&routes).unwrap();
    let noisy = text.replacen(
        "cooldown = \"24h\" }\nnotify = [\"ml-team\"]\nnotify_every = \"1h\"",
        "cooldown = \"6h\" }\nnotify = [\"ml-team\"]\nnotify_every = \"30m\"",
        1,
    );
    assert_ne!(noisy, text, "the example's churn route changed");
    std::fs::write(&routes, &noisy).unwrap();
    let file = routes.display().to_string();
    let mut env = example_settings();
    env.push(("PAGERDUTY_URL", "https://events.pagerduty.com/v2/enqueue"));

    let output = command(&["routes", "check", &file], &env).output().unwrap();
    let checked = stdout_of_success(&output);
    assert!(
        checked.contains("one at a time per group, cooldown 6h"),
        "{checked}"
    );
    assert!(checked.contains("notify_every: 30m"), "{checked}");

    let event = std::env::temp_dir().join(format!("{}.json", new_id("noise-breach")));
    std::fs::write(&event, json!([breach(&new_id("breach"))]).to_string()).unwrap();
    let output = command(
        &["explain", event.to_str().unwrap(), "--routes", &file],
        &env,
    )
    .output()
    .unwrap();
    let explained = stdout_of_success(&output);
    for wanted in [
        "noise control: group signal churn-drift; one retrain at a time, cooldown 6h",
        "noise control: group signal churn-drift; at most one notice to ml-team every 30m",
        "without one (AML_LEDGER) it cannot be known here",
    ] {
        assert!(explained.contains(wanted), "{wanted:?} in {explained}");
    }

    // Zero, and a number without its unit, are refused naming file, line and key.
    for (bad, problem) in [("\"0m\"", "it is zero"), ("30", "invalid type")] {
        std::fs::write(&routes, noisy.replace("\"30m\"", bad)).unwrap();
        env.push(("AML_ROUTES_FILE", &file));
        let output = command(&["serve", "--port", "0"], &env).output().unwrap();
        env.pop();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{file}:44: ")) && stderr.contains("notify_every: "),
            "{stderr}"
        );
        assert!(stderr.contains(problem), "{stderr}");
    }
    let _ = std::fs::remove_file(event);
    let _ = std::fs::remove_dir_all(routes.parent().unwrap());
}

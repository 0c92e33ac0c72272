//! Noise control (docs/routes.md, issue 24, "Quiet when it should be"), end to end: the real
//! binary, loopback stand-ins for Azure ML (token, jobs created and looked up), a Slack channel,
//! a plain webhook and PagerDuty, and a real Azurite for the ledger that two instances share.
//!
//! A model monitor that breaches on every scheduled run starts one retrain while the first
//! runs, pages one PagerDuty incident, and, with `notify_every`, tells the channel once and
//! then how many notices it held back. Assertions read what the stand-ins took, the outcomes
//! and the ledger; never a renderer's layout (only words that survive it: a count, a job name).

#[path = "../aml-events/tests/azurite/mod.rs"]
mod azurite;
mod common;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    time::{Duration, Instant},
};

use azurite::Azurite;
use common::{Server, action, command, history_json, stand_in::*, stdout_of_success};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, path_regex},
};

const TEAM_PATH: &str = "/services/T0/B0/team-secret";
const PD_KEY: &str = "pd-routing-key-noise-test";

/// A table of its own per test.
fn table() -> String {
    format!("t{}", new_id("noise").replace('-', ""))
}

/// A folder of its own holding `routes` as `routes.toml` and the job file it names.
fn routes_file(routes: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(new_id("noise"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("retrain.json"),
        r#"{"properties": {"jobType": "Command", "displayName": "retrain {{signalName}}"}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("routes.toml"), routes).unwrap();
    dir.join("routes.toml")
}

/// A breach of the signal `churn-drift` found by the monitor's scheduled run number `run`.
fn breach(id: &str, run: usize) -> Value {
    event(
        "RunStatusChanged",
        id,
        json!({"experimentName": "churn-monitor", "runId": format!("churn-monitor_run_{run}"), "runStatus": "Failed",
               "runTags": {"azureml_modelmonitor_threshold_breached": "The signal 'churn-drift' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n['{\"group\":\"age\",\"metric_value\":0.42,\"metric_name\":\"JensenShannonDistance\",\"threshold_value\":0.1}']"}}),
    )
}

/// Azure ML's jobs: created (201), and looked up as `status`.
async fn mount_jobs(azure: &StandIn, status: &str, created: impl Into<wiremock::Times>) {
    azure.mount_identity(1..).await;
    azure
        .mount_jobs(ResponseTemplate::new(201).set_body_json(json!({})), created)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{WORKSPACE}/jobs/retrain-.*$")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"properties": {"jobType": "Command", "status": status}})),
        )
        .named("get job")
        .mount(&azure.server)
        .await;
}

/// A target that takes everything: `(server, URL)`.
async fn target(path_wanted: &str, answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(path_wanted))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect()
}

async fn job_puts(azure: &StandIn) -> Vec<String> {
    azure
        .requests_to_prefix(&format!("{WORKSPACE}/jobs/"))
        .await
        .into_iter()
        .filter(|request| request.method.as_str() == "PUT")
        .map(|request| request.url.path().rsplit('/').next().unwrap().to_owned())
        .collect()
}

/// Delivers `event` to `server`, which must answer 200; its outcome.
async fn deliver(server: &Server, event: &Value) -> Value {
    let (status, body, _) = webhook(server, "", std::slice::from_ref(event)).await;
    assert_eq!(status, 200, "{body}");
    body["results"][0].clone()
}

/// The issue's acceptance: a monitor breaching on 5 consecutive runs, delivered alternately to
/// two instances sharing one ledger in Azurite.
#[tokio::test(flavor = "multi_thread")]
async fn a_monitor_breaching_on_five_runs_starts_one_retrain_pages_one_incident_and_tells_the_team_once()
 {
    // Arrange: the first job runs on; on-call paged by one route, the team and an audit
    // webhook told by another, with notify_every.
    let azurite = Azurite::shared();
    let azure = StandIn::start().await;
    mount_jobs(&azure, "Running", 1).await;
    let team = target(TEAM_PATH, ResponseTemplate::new(200).set_body_string("ok")).await;
    let audit = target("/audit", ResponseTemplate::new(200)).await;
    let pagerduty = target(
        "/v2/enqueue",
        ResponseTemplate::new(202).set_body_json(json!({"status": "success"})),
    )
    .await;
    let every = Duration::from_secs(8);
    let routes = routes_file(&format!(
        r#"
[targets.team]
url = "${{TEAM_SLACK}}"
[targets.audit]
url = "${{AUDIT_HOOK}}"
[targets.oncall]
kind = "pagerduty"
url = "${{PD_URL}}"
routing_key = "${{PD_KEY}}"

[[routes]]
name = "churn page"
functions = ["RunStatusChanged"]
match = {{ monitor_breach = true }}
notify = ["oncall"]

[[routes]]
name = "churn drift"
functions = ["RunStatusChanged"]
match = {{ monitor_breach = true, signal = "churn-*" }}
retrain = {{ job_file = "retrain.json" }}
notify = ["team", "audit"]
notify_every = "{}s"
"#,
        every.as_secs()
    ));
    let (connection, table) = (azurite.connection_string(), table());
    let mut env = azure.env();
    env.retain(|(name, _)| !name.starts_with("AML_NOTIFY") && !name.starts_with("AML_RETRAIN"));
    env.extend([
        ("AML_ROUTES_FILE", routes.display().to_string()),
        ("TEAM_SLACK", format!("slack:{}{TEAM_PATH}", team.uri())),
        ("AUDIT_HOOK", format!("webhook:{}/audit", audit.uri())),
        ("PD_URL", format!("{}/v2/enqueue", pagerduty.uri())),
        ("PD_KEY", PD_KEY.to_owned()),
        ("AML_LEDGER", connection.clone()),
        ("AML_LEDGER_TABLE", table.clone()),
    ]);
    let instances = [start(&env), start(&env)];
    assert!(
        instances[0]
            .ready_line
            .contains("noise control: shared through the ledger"),
        "{}",
        instances[0].ready_line
    );
    let ids: Vec<String> = (0..6).map(|_| new_id("breach")).collect();
    let events: Vec<Value> = (ids.iter().enumerate())
        .map(|(run, id)| breach(id, run + 1))
        .collect();

    // Act: five breaches, alternating instances.
    let mut outcomes = Vec::new();
    let first_sent = Instant::now();
    for (index, event) in events[..5].iter().enumerate() {
        outcomes.push(deliver(&instances[index % 2], event).await);
    }
    let five_took = first_sent.elapsed();

    // Assert: one job, started by the first breach; the others skipped, naming it.
    assert!(
        five_took < every,
        "the five breaches must arrive within notify_every ({five_took:?}); the machine is too slow for this test"
    );
    let puts = job_puts(&azure).await;
    let first_job = format!("retrain-{}-churn-drift", ids[0].to_ascii_lowercase());
    assert_eq!(
        puts,
        std::slice::from_ref(&first_job),
        "exactly one job created"
    );
    assert_eq!(action(&outcomes[0], "retrain", None)["status"], "done");
    for outcome in &outcomes[1..] {
        let retrain = action(outcome, "retrain", None);
        assert_eq!(retrain["status"], "skipped", "{outcome}");
        let detail = retrain["detail"].as_str().unwrap();
        assert!(
            detail.contains(&first_job) && detail.contains("Running"),
            "the running job is named: {detail}"
        );
        assert_eq!(retrain["group"], "signal churn-drift", "{retrain}");
    }
    // One PagerDuty incident: every breach triggered it, under one dedup_key.
    let pages = bodies(&pagerduty).await;
    assert_eq!(pages.len(), 5, "{pages:?}");
    let keys: BTreeSet<&str> = pages
        .iter()
        .map(|page| page["dedup_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 1, "one incident: {keys:?}");
    // The team and the audit log: the first notice only; the others held.
    assert_eq!(bodies(&team).await.len(), 1, "one notice in the channel");
    assert_eq!(bodies(&audit).await.len(), 1, "one notice to the audit log");
    assert_eq!(
        action(&outcomes[0], "notify", Some("team"))["status"],
        "done"
    );
    for outcome in &outcomes[1..] {
        for name in ["team", "audit"] {
            let notify = action(outcome, "notify", Some(name));
            assert_eq!(notify["status"], "held", "{outcome}");
        }
        assert_eq!(action(outcome, "notify", Some("oncall"))["status"], "done");
    }
    // The ledger says so: history, a redelivery, and explain's reading of the mark.
    let history = history_json(&connection, &table, &["--event", &ids[2]]).await;
    let held: Vec<&Value> = history
        .iter()
        .filter(|entry| entry["action"] == "notify" && entry["outcome"]["status"] == "held")
        .collect();
    assert_eq!(held.len(), 2, "team and audit held in history: {history:?}");
    let again = deliver(&instances[1], &events[2]).await;
    let team_again = action(&again, "notify", Some("team"));
    assert_eq!(team_again["status"], "duplicate", "{again}");
    assert!(
        team_again["detail"].as_str().unwrap().contains("held"),
        "{team_again}"
    );
    let explained = explain(&env, &events[4]).await;
    let team_line = explained
        .lines()
        .skip_while(|line| !line.contains("to team (slack)"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        team_line.contains("4 held since") && team_line.contains(&ids[0]),
        "the mark holds 4 since the first notice: {explained}"
    );

    // Act: a sixth breach once the interval is over.
    let wait =
        (first_sent + every + Duration::from_millis(500)).saturating_duration_since(Instant::now());
    tokio::time::sleep(wait).await;
    let sixth = deliver(&instances[1], &events[5]).await;

    // Assert: it tells the team, with the count of those held back; still one job.
    assert_eq!(
        action(&sixth, "notify", Some("team"))["status"],
        "done",
        "{sixth}"
    );
    assert_eq!(action(&sixth, "retrain", None)["status"], "skipped");
    let told = bodies(&team).await;
    assert_eq!(told.len(), 2);
    assert!(
        told[1].to_string().contains("4 more since"),
        "the channel hears of the 4 held: {}",
        told[1]
    );
    let logged = bodies(&audit).await;
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[1]["held"]["count"], 4, "{}", logged[1]);
    assert_eq!(job_puts(&azure).await.len(), 1);
    assert_eq!(bodies(&pagerduty).await.len(), 6);
}

/// `explain` of `event` with the settings of `env` (its ledger included).
async fn explain(env: &[(&'static str, String)], event: &Value) -> String {
    let file = std::env::temp_dir().join(format!("{}.json", new_id("noise-event")));
    std::fs::write(&file, json!([event]).to_string()).unwrap();
    let env = env.to_vec();
    let output = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        command(&["explain", file.to_str().unwrap()], &env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    stdout_of_success(&output)
}

/// A breach route with a cooldown, on one instance without a ledger (noise control per
/// process): a finished job still holds the next retrain back until its cooldown is over.
#[tokio::test(flavor = "multi_thread")]
async fn a_retrain_within_the_cooldown_is_skipped_saying_until_when() {
    let azure = StandIn::start().await;
    mount_jobs(&azure, "Completed", 2).await;
    let routes = routes_file(
        r#"
[[routes]]
name = "churn drift"
functions = ["RunStatusChanged"]
match = { monitor_breach = true }
retrain = { job_file = "retrain.json", cooldown = "4s" }
"#,
    );
    let mut env = azure.env();
    env.retain(|(name, _)| !name.starts_with("AML_NOTIFY") && !name.starts_with("AML_RETRAIN"));
    env.push(("AML_ROUTES_FILE", routes.display().to_string()));
    let server = start(&env);
    assert!(
        server
            .ready_line
            .contains("noise control: per process (no ledger)"),
        "{}",
        server.ready_line
    );
    let ids: Vec<String> = (0..3).map(|_| new_id("breach")).collect();

    let started = Instant::now();
    let first = deliver(&server, &breach(&ids[0], 1)).await;
    let second = deliver(&server, &breach(&ids[1], 2)).await;
    tokio::time::sleep(
        (started + Duration::from_millis(4500)).saturating_duration_since(Instant::now()),
    )
    .await;
    let third = deliver(&server, &breach(&ids[2], 3)).await;

    assert_eq!(action(&first, "retrain", None)["status"], "done");
    let skipped = action(&second, "retrain", None);
    assert_eq!(skipped["status"], "skipped", "{second}");
    let detail = skipped["detail"].as_str().unwrap();
    let first_job = format!("retrain-{}-churn-drift", ids[0].to_ascii_lowercase());
    assert!(
        detail.contains("cooldown 4s")
            && detail.contains("no retrain until")
            && detail.contains(&first_job),
        "{detail}"
    );
    assert_eq!(action(&third, "retrain", None)["status"], "done", "{third}");
    assert_eq!(job_puts(&azure).await.len(), 2);
}

/// The settings' implicit routes: `AML_NOTIFY_EVERY` holds the second drift's notice back, and
/// one retrain at a time (on by default) skips the second drift's job while the first runs.
#[tokio::test(flavor = "multi_thread")]
async fn the_settings_hold_a_second_drift_back_and_skip_its_retrain_naming_the_running_job() {
    let azure = StandIn::start().await;
    mount_jobs(&azure, "Running", 1).await;
    azure.mount_sink(1).await;
    let mut env = azure.env();
    env.push(("AML_NOTIFY_EVERY", "1h".into()));
    env.push(("AML_RETRAIN_COOLDOWN", "1d".into()));
    let server = start(&env);
    let ids = [new_id("drift"), new_id("drift")];

    let first = deliver(&server, &drift(&ids[0])).await;
    let second = deliver(&server, &drift(&ids[1])).await;

    assert_eq!(action(&first, "retrain", None)["status"], "done");
    let retrain = action(&second, "retrain", None);
    assert_eq!(retrain["status"], "skipped");
    assert_eq!(retrain["route"], "settings: DatasetDriftDetected");
    assert!(
        retrain["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("job retrain-{}", ids[0])),
        "{retrain}"
    );
    let notify = action(&second, "notify", None);
    assert_eq!(notify["status"], "held", "{second}");
    assert_eq!(notify["group"], "drift monitor drift-1");
    // The sink's `.expect(1)` is checked when the stand-in drops.
}

/// Without `notify_every` every breach notifies, and a finished job lets the next retrain
/// start: noise control holds back only what it is asked to.
#[tokio::test(flavor = "multi_thread")]
async fn without_notify_every_nothing_is_held_and_a_finished_job_holds_nothing_back() {
    let azure = StandIn::start().await;
    mount_jobs(&azure, "Completed", 3).await;
    let team = target(TEAM_PATH, ResponseTemplate::new(200).set_body_string("ok")).await;
    let routes = routes_file(
        r#"
[targets.team]
url = "${TEAM_SLACK}"

[[routes]]
name = "churn drift"
functions = ["RunStatusChanged"]
match = { monitor_breach = true }
retrain = { job_file = "retrain.json" }
notify = ["team"]
"#,
    );
    let mut env = azure.env();
    env.retain(|(name, _)| !name.starts_with("AML_NOTIFY") && !name.starts_with("AML_RETRAIN"));
    env.extend([
        ("AML_ROUTES_FILE", routes.display().to_string()),
        ("TEAM_SLACK", format!("slack:{}{TEAM_PATH}", team.uri())),
    ]);
    let server = start(&env);

    let mut outcomes = Vec::new();
    for run in 1..=3 {
        outcomes.push(deliver(&server, &breach(&new_id("breach"), run)).await);
    }

    for outcome in &outcomes {
        assert_eq!(action(outcome, "notify", Some("team"))["status"], "done");
        assert_eq!(action(outcome, "retrain", None)["status"], "done");
        let notify = action(outcome, "notify", Some("team"));
        assert!(notify.get("group").is_none(), "not judged: {notify}");
    }
    assert_eq!(bodies(&team).await.len(), 3);
    assert_eq!(job_puts(&azure).await.len(), 3);
}

/// Reviewer's finding 1 on issue 24's noise control: the marks were keyed by route and group
/// alone, so the implicit routes (and a file's routes without a `workspace` match) shared one
/// mark across every workspace the app serves: prod's drift found dev's job named in it, looked
/// it up in prod (404, within the lease: "another delivery is starting it") and was skipped,
/// and prod's notice was held behind dev's.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_drift_in_two_workspaces_retrains_and_notifies_in_each() {
    // Arrange: dev's job runs on; prod knows no job of dev's (404 by default).
    let azure = StandIn::start().await;
    azure.mount_identity(1..).await;
    azure.mount_sink(2).await;
    Mock::given(method("PUT"))
        .and(path_regex("^/subscriptions/.*/jobs/retrain-.*$"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .expect(2)
        .named("create job, either workspace")
        .mount(&azure.server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{WORKSPACE}/jobs/retrain-.*$")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"properties": {"jobType": "Command", "status": "Running"}})),
        )
        .named("get job in dev")
        .mount(&azure.server)
        .await;
    let prod = WORKSPACE.replace("/workspaces/ml-ws", "/workspaces/ml-ws-prod");
    let mut env = azure.env();
    env.push(("AML_NOTIFY_EVERY", "1h".into()));
    let server = start(&env);
    let ids = [new_id("drift"), new_id("drift")];
    let mut in_prod = drift(&ids[1]);
    in_prod["topic"] = json!(prod);

    // Act
    let dev_outcome = deliver(&server, &drift(&ids[0])).await;
    let prod_outcome = deliver(&server, &in_prod).await;

    // Assert: each workspace its own job and its own notice.
    for outcome in [&dev_outcome, &prod_outcome] {
        assert_eq!(
            action(outcome, "retrain", None)["status"],
            "done",
            "{outcome}"
        );
        assert_eq!(
            action(outcome, "notify", None)["status"],
            "done",
            "{outcome}"
        );
    }
    let prod_puts = azure
        .requests_to_prefix(&format!("{prod}/jobs/"))
        .await
        .into_iter()
        .filter(|request| request.method.as_str() == "PUT")
        .count();
    assert_eq!(prod_puts, 1, "prod's job is created in prod");
    // The sink's `.expect(2)` is checked when the stand-in drops.
}

/// Reviewer's finding 2 on issue 24's noise control: `AML_NOTIFY_EVERY` held back a PagerDuty
/// target's second alert, so a breach that came back after on-call resolved the incident paged
/// nobody (and PagerDuty never shows a held count). Its `dedup_key` already folds repeats: it
/// is never held.
#[tokio::test(flavor = "multi_thread")]
async fn notify_every_never_holds_a_pagerduty_alert_back() {
    // Arrange: the settings' PagerDuty target, under AML_NOTIFY_EVERY.
    let azure = StandIn::start().await;
    let pagerduty = target(
        "/v2/enqueue",
        ResponseTemplate::new(202).set_body_json(json!({"status": "success"})),
    )
    .await;
    let mut env = azure.env();
    env.retain(|(name, _)| !name.starts_with("AML_NOTIFY") && !name.starts_with("AML_RETRAIN"));
    env.extend([
        (
            "AML_NOTIFY_URL",
            format!("pagerduty:{}/v2/enqueue", pagerduty.uri()),
        ),
        ("AML_NOTIFY_PAGERDUTY_KEY", PD_KEY.to_owned()),
        ("AML_NOTIFY_ON", "DatasetDriftDetected".to_owned()),
        ("AML_NOTIFY_EVERY", "1h".to_owned()),
    ]);
    let server = start(&env);
    let events = [drift(&new_id("drift")), drift(&new_id("drift"))];

    // Act
    let mut outcomes = Vec::new();
    for event in &events {
        outcomes.push(deliver(&server, event).await);
    }
    let explained = explain(&env, &events[1]).await;

    // Assert: both alerts sent, neither judged in a group; explain says why.
    let statuses: Vec<&Value> = (outcomes.iter())
        .map(|outcome| &action(outcome, "notify", Some("pagerduty"))["status"])
        .collect();
    assert_eq!(statuses, ["done", "done"], "{outcomes:?}");
    assert_eq!(bodies(&pagerduty).await.len(), 2);
    for outcome in &outcomes {
        let notify = action(outcome, "notify", Some("pagerduty"));
        assert!(notify.get("group").is_none(), "not judged: {notify}");
    }
    assert!(
        explained.contains("noise control: notify_every does not apply to PagerDuty"),
        "{explained}"
    );
}

/// Reviewer's finding 3 on issue 24's noise control: the mark took the turn before the send,
/// so a notice the channel refused (a final 4xx, recorded `failed`) still held the rest of the
/// interval back, against a notice nobody received, and the held count it carried was lost.
/// A refused notice gives its turn back: the next one is sent, reporting the held ones.
#[tokio::test(flavor = "multi_thread")]
async fn a_notice_the_channel_refused_gives_its_turn_back() {
    // Arrange: the channel refuses the first post, then takes them.
    let azure = StandIn::start().await;
    let team = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TEAM_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .up_to_n_times(1)
        .mount(&team)
        .await;
    Mock::given(method("POST"))
        .and(path(TEAM_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&team)
        .await;
    let routes = routes_file(
        r#"
[targets.team]
url = "${TEAM_SLACK}"

[[routes]]
name = "churn drift"
functions = ["RunStatusChanged"]
match = { monitor_breach = true }
notify = ["team"]
notify_every = "1h"
"#,
    );
    let mut env = azure.env();
    env.retain(|(name, _)| !name.starts_with("AML_NOTIFY") && !name.starts_with("AML_RETRAIN"));
    env.extend([
        ("AML_ROUTES_FILE", routes.display().to_string()),
        ("TEAM_SLACK", format!("slack:{}{TEAM_PATH}", team.uri())),
    ]);
    let server = start(&env);

    // Act
    let refused = deliver(&server, &breach(&new_id("breach"), 1)).await;
    let next = deliver(&server, &breach(&new_id("breach"), 2)).await;

    // Assert: the second notice reaches the channel.
    assert_eq!(
        action(&refused, "notify", Some("team"))["status"],
        "failed",
        "{refused}"
    );
    assert_eq!(
        action(&next, "notify", Some("team"))["status"],
        "done",
        "{next}"
    );
    assert_eq!(bodies(&team).await.len(), 2);
}

//! Notifications where teams read them (docs/notifications.md), end to end: the real `serve`, one failed
//! run, and a loopback stand-in per target kind answering as the vendor does; each body checked
//! field by field; PagerDuty's alerts collapsing by `dedup_key`; `notify --test` against the
//! same stand-ins; retired Office 365 connector URLs stopping start-up.

mod common;

use common::{command, stand_in::*, stdout_of_success};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, method, path, query_param},
};

const PAGERDUTY_KEY: &str = "pd-routing-key-0123456789abcdef";

/// One stand-in per kind, each answering its vendor's success.
struct Targets {
    teams: MockServer,
    slack: MockServer,
    discord: MockServer,
    pagerduty: MockServer,
}

impl Targets {
    async fn start() -> Targets {
        let targets = Targets {
            teams: MockServer::start().await,
            slack: MockServer::start().await,
            discord: MockServer::start().await,
            pagerduty: MockServer::start().await,
        };
        // Teams Workflows accept with 202 and an empty body.
        Mock::given(method("POST"))
            .and(path("/workflows/w1/triggers/manual/paths/invoke"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&targets.teams)
            .await;
        // Slack answers 200 `ok`.
        Mock::given(method("POST"))
            .and(path("/services/T0/B0/slack-secret"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&targets.slack)
            .await;
        // Discord with `wait=true` answers 200 with the message.
        Mock::given(method("POST"))
            .and(path("/api/webhooks/1/discord-secret"))
            .and(query_param("wait", "true"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1", "type": 0})))
            .mount(&targets.discord)
            .await;
        // PagerDuty answers 202 with the dedup key.
        Mock::given(method("POST"))
            .and(path("/v2/enqueue"))
            .respond_with(ResponseTemplate::new(202).set_body_json(
                json!({"status": "success", "message": "Event processed", "dedup_key": "k"}),
            ))
            .mount(&targets.pagerduty)
            .await;
        targets
    }

    /// `AML_NOTIFY_URL`: every kind, by prefix (the stand-ins are on loopback).
    fn setting(&self) -> String {
        format!(
            "teams:{}/workflows/w1/triggers/manual/paths/invoke?api-version=1&sig=teams-secret, slack:{}/services/T0/B0/slack-secret discord:{}/api/webhooks/1/discord-secret,pagerduty:{}/v2/enqueue",
            self.teams.uri(),
            self.slack.uri(),
            self.discord.uri(),
            self.pagerduty.uri()
        )
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AML_NOTIFY_URL", self.setting()),
            ("AML_NOTIFY_PAGERDUTY_KEY", PAGERDUTY_KEY.into()),
            ("RUST_LOG", "debug".into()),
        ]
    }
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect()
}

fn failed(id: &str) -> Value {
    event(
        "RunStatusChanged",
        id,
        json!({"experimentName": "churn-training", "runId": "churn_run_7", "runStatus": "Failed"}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failed_run_reaches_every_kind_in_its_own_shape() {
    // Arrange: no Azure credentials; notifications go out all the same.
    let targets = Targets::start().await;
    let server = start(&targets.env());
    let first = new_id("run");

    // Act: the failure, Event Grid redelivering it, and a second failure of the same run.
    let (status, body, _) = webhook(&server, "", &[failed(&first)]).await;
    let (again, _, _) = webhook(&server, "", &[failed(&first)]).await;
    let (later, _, _) = host(&server, "RunStatusChanged", &failed(&new_id("run"))).await;

    // Assert: one report per target, each naming it.
    assert_eq!((status, again, later), (200, 200, 200), "{body}");
    let notified: Vec<(&str, &str)> = body["results"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|action| action["action"] == "notify")
        .map(|action| {
            (
                action["status"].as_str().unwrap(),
                action["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(notified.len(), 4, "{body}");
    assert!(
        notified.iter().all(|(status, _)| *status == "done"),
        "{body}"
    );
    let kinds: Vec<&str> = notified
        .iter()
        .map(|(_, target)| target.split(' ').next().unwrap())
        .collect();
    assert_eq!(kinds, ["teams", "slack", "discord", "pagerduty"]);
    assert!(
        !body.to_string().contains("secret"),
        "no target key in the answer: {body}"
    );

    // Teams: an Adaptive Card 1.4 in the Workflows message envelope.
    let teams = bodies(&targets.teams).await;
    assert_eq!(teams.len(), 2, "the redelivery was not posted again");
    let card = &teams[0];
    assert_eq!(card["type"], "message");
    let attachment = &card["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["contentUrl"], Value::Null);
    let content = &attachment["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(
        content["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(content["version"], "1.4");
    let elements: Vec<&str> = content["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        elements.first(),
        Some(&"Container"),
        "the coloured band first: {elements:?}"
    );
    let band = &content["body"][0];
    assert_eq!(
        band["style"], "attention",
        "a failure's band is red: {band}"
    );
    let band_text: Vec<&str> = (band["items"].as_array().unwrap().iter())
        .filter_map(|item| item["text"].as_str())
        .collect();
    assert_eq!(band_text[0], "FAILED", "{band}");
    assert!(
        band_text.iter().any(
            |text| text.contains("churn\u{2060}_run\u{2060}_7") || text.contains("churn_run_7")
        ),
        "the title names the run: {band}"
    );
    assert!(
        band_text
            .iter()
            .any(|text| text.starts_with("ml-ws · 2024")),
        "workspace and time: {band}"
    );
    assert!(elements.contains(&"FactSet"), "{elements:?}");
    assert_eq!(content["actions"][0]["type"], "Action.OpenUrl");
    assert!(
        content["actions"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://ml.azure.com/runs/churn_run_7?wsid=")
    );

    // Slack: text and Block Kit blocks.
    let slack = bodies(&targets.slack).await;
    let blocks: Vec<&str> = slack[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(blocks.first(), Some(&"header"));
    assert!(
        blocks.contains(&"section") && blocks.contains(&"context"),
        "{blocks:?}"
    );
    assert_eq!(blocks.last(), Some(&"actions"));
    assert!(slack[0]["text"].as_str().unwrap().contains("churn_run_7"));

    // Discord: content and one embed with the event id in its footer.
    let discord = bodies(&targets.discord).await;
    let embed = &discord[0]["embeds"][0];
    assert_eq!(discord[0]["content"], "🔴 FAILED · ml-ws");
    assert_eq!(discord[0]["allowed_mentions"], json!({"parse": []}));
    assert_eq!(embed["footer"]["text"], format!("Event id: {first}"));
    assert!(
        embed["url"]
            .as_str()
            .unwrap()
            .starts_with("https://ml.azure.com/runs/")
    );
    assert!(!embed["fields"].as_array().unwrap().is_empty());

    // PagerDuty: an Events API v2 trigger; both failures of the run share one dedup_key.
    let pagerduty = bodies(&targets.pagerduty).await;
    assert_eq!(pagerduty.len(), 2);
    let alert = &pagerduty[0];
    assert_eq!(alert["routing_key"], PAGERDUTY_KEY);
    assert_eq!(alert["event_action"], "trigger");
    assert_eq!(alert["payload"]["severity"], "error");
    assert!(
        alert["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("churn_run_7")
    );
    assert_eq!(alert["payload"]["source"], WORKSPACE);
    assert_eq!(
        alert["dedup_key"], pagerduty[1]["dedup_key"],
        "one incident per run"
    );
    assert_eq!(alert["links"][0]["href"], content["actions"][0]["url"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn pagerduty_is_sent_only_alerts() {
    let targets = Targets::start().await;
    let server = start(&targets.env());

    let (status, body, _) = webhook(&server, "", &[registered(&new_id("model"))]).await;

    assert_eq!(status, 200, "{body}");
    let pagerduty = body["results"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["target"].as_str().unwrap().starts_with("pagerduty"))
        .unwrap()
        .clone();
    assert_eq!(pagerduty["status"], "skipped", "{pagerduty}");
    assert!(bodies(&targets.pagerduty).await.is_empty());
    assert_eq!(bodies(&targets.slack).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusing_target_is_reported_in_its_own_words() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("channel_not_found"))
        .expect(1)
        .mount(&slack)
        .await;
    let server = start(&[(
        "AML_NOTIFY_URL",
        format!("slack:{}/services/T0/B0/slack-secret", slack.uri()),
    )]);

    let (status, body, _) = webhook(&server, "", &[failed(&new_id("run"))]).await;

    assert_eq!(
        status, 200,
        "a refusal is permanent, not a reason to redeliver: {body}"
    );
    let notify = &body["results"][0]["actions"][1];
    assert_eq!(notify["status"], "failed", "{body}");
    assert!(
        notify["detail"]
            .as_str()
            .unwrap()
            .contains("404: channel_not_found"),
        "{notify}"
    );
    assert!(!body.to_string().contains("slack-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_test_sends_a_sample_to_each_target_and_prints_each_answer() {
    let targets = Targets::start().await;
    let env = targets.env();

    let output = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        command(&["notify", "--test"], &env).output().unwrap()
    })
    .await
    .unwrap();

    let stdout = stdout_of_success(&output);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with("teams: teams http://127.0.0.1:") && lines[0].contains("answered 202"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("slack: slack ") && lines[1].ends_with("answered 200: ok"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("discord: discord ") && lines[2].contains("answered 200"),
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("pagerduty: pagerduty ")
            && lines[3].contains("answered 202")
            && lines[3].contains("resolved, 202"),
        "{stdout}"
    );
    assert!(!stdout.contains("secret"), "{stdout}");
    // The alert it triggered is resolved: no incident left open.
    let pagerduty = bodies(&targets.pagerduty).await;
    let actions: Vec<&Value> = pagerduty.iter().map(|body| &body["event_action"]).collect();
    assert_eq!(actions, ["trigger", "resolve"], "{pagerduty:?}");
    assert_eq!(pagerduty[0]["dedup_key"], pagerduty[1]["dedup_key"]);
    assert_eq!(pagerduty[1]["routing_key"], PAGERDUTY_KEY);

    // --to one target that refuses: its answer printed, exit 1.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_string("invalid_token"))
        .mount(&refusing)
        .await;
    let to = format!("slack:{}/services/T0/B0/other-secret", refusing.uri());
    let output = tokio::task::spawn_blocking(move || {
        command(&["notify", "--test", "--to", &to], &[])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("answered 403: invalid_token"), "{stdout}");
}

/// With a routes file, `notify --test` tries the file's targets by name, `--to NAME` one of
/// them, and an unknown name is refused with the names there are.
#[tokio::test(flavor = "multi_thread")]
async fn notify_test_tries_the_routes_files_targets_by_name() {
    let targets = Targets::start().await;
    let folder = std::env::temp_dir().join(new_id("notify-test-routes"));
    std::fs::create_dir_all(&folder).unwrap();
    let routes = folder.join("routes.toml");
    std::fs::write(
        &routes,
        r#"[targets.ml-team]
url = "${ML_TEAM_WEBHOOK}"
[targets.oncall]
kind = "pagerduty"
url = "${PAGERDUTY_URL}"
routing_key = "${PAGERDUTY_KEY}"

[[routes]]
name = "failures"
functions = ["RunStatusChanged"]
notify = ["oncall", "ml-team"]
"#,
    )
    .unwrap();
    let slack = format!("slack:{}/services/T0/B0/slack-secret", targets.slack.uri());
    let pagerduty = format!("{}/v2/enqueue", targets.pagerduty.uri());
    let run = move |args: Vec<String>| {
        let (slack, routes) = (slack.clone(), routes.display().to_string());
        let pagerduty = pagerduty.clone();
        tokio::task::spawn_blocking(move || {
            let mut all = vec!["notify", "--test", "--routes", routes.as_str()];
            all.extend(args.iter().map(String::as_str));
            command(
                &all,
                &[
                    ("ML_TEAM_WEBHOOK", slack.as_str()),
                    ("PAGERDUTY_URL", pagerduty.as_str()),
                    ("PAGERDUTY_KEY", PAGERDUTY_KEY),
                ],
            )
            .output()
            .unwrap()
        })
    };

    // Every target of the file, by name.
    let output = run(vec![]).await.unwrap();
    let stdout = stdout_of_success(&output);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines.iter().any(|line| line.starts_with("ml-team: slack ")),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("oncall: pagerduty ")),
        "{stdout}"
    );
    assert_eq!(bodies(&targets.slack).await.len(), 1);

    // --to NAME: that one only; PagerDuty triggered and resolved.
    let output = run(vec!["--to".into(), "oncall".into()]).await.unwrap();
    let stdout = stdout_of_success(&output);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(
        bodies(&targets.slack).await.len(),
        1,
        "slack not sent again"
    );
    let pagerduty = bodies(&targets.pagerduty).await;
    let actions: Vec<&Value> = pagerduty.iter().map(|body| &body["event_action"]).collect();
    assert_eq!(actions, ["trigger", "resolve", "trigger", "resolve"]);
    assert_eq!(pagerduty[2]["dedup_key"], pagerduty[3]["dedup_key"]);
    assert_ne!(
        pagerduty[0]["dedup_key"], pagerduty[2]["dedup_key"],
        "one key per test"
    );

    // An unknown name: refused, naming the ones there are.
    let output = run(vec!["--to".into(), "on-call".into()]).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--to on-call") && stderr.contains("ml-team, oncall"),
        "{stderr}"
    );
}

/// A PagerDuty test whose resolve is refused says the incident it opened is left open, and
/// under which dedup_key, so someone can close it.
#[tokio::test(flavor = "multi_thread")]
async fn notify_test_says_when_it_leaves_an_incident_open() {
    let pagerduty = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"event_action": "resolve"})))
        .respond_with(ResponseTemplate::new(400).set_body_string("Invalid event"))
        .mount(&pagerduty)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_body_string(r#"{"status":"success"}"#))
        .mount(&pagerduty)
        .await;
    let to = format!("pagerduty:{}/v2/enqueue", pagerduty.uri());

    let output = tokio::task::spawn_blocking(move || {
        command(
            &["notify", "--test", "--to", &to],
            &[("AML_NOTIFY_PAGERDUTY_KEY", PAGERDUTY_KEY)],
        )
        .output()
        .unwrap()
    })
    .await
    .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let key = bodies(&pagerduty).await[0]["dedup_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        stdout.contains("triggered, but the resolve failed")
            && stdout.contains("Invalid event")
            && stdout.contains(&format!("dedup_key {key} is left open")),
        "{stdout}"
    );
    assert!(!stdout.contains(PAGERDUTY_KEY), "{stdout}");
}

#[test]
fn a_retired_office_365_connector_stops_start_up_naming_workflows() {
    let output = command(
        &["serve", "--port", "0"],
        &[(
            "AML_NOTIFY_URL",
            "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def/connector-secret",
        )],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("AML_NOTIFY_URL") && stderr.contains("Workflows"),
        "{stderr}"
    );
    assert!(!stderr.contains("connector-secret"), "{stderr}");
    assert!(output.stdout.is_empty(), "no ready line");
}

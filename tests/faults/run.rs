//! Runs one schedule: the handler instances (each an `AppContext` of its own, the same routes
//! file, its own way out to the world and its own faulty view of the one shared ledger), and
//! Event Grid: each delivery sent to an instance that has not stopped, redelivered on any
//! answer but success on Event Grid's own schedule (10 s, 30 s, 1 min, 5 min, ... for 24 h),
//! its attempt given up after 30 s.

use std::{path::PathBuf, sync::Arc, time::Duration};

use aml_events::{
    Secret,
    azure::{AccessToken, AmlClient, AmlClientOptions, RetryPolicy, TokenFuture, TokenSource},
    envelope,
    ledger::{HistoryQuery, Ledger},
    notify::Notifier,
};
use aml_handlers::{AppContext, config::Config, functions, notifier_options};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{
    clock::Clock,
    ledger::FaultyLedger,
    schedule::{Kind, Schedule},
    world::World,
};

/// Event Grid's wait before each further attempt; the last repeats until 24 h have passed.
/// See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry#retry-schedule>.
const EVENT_GRID_RETRIES: [u64; 10] = [10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600, 43_200];

/// How long Event Grid waits for an answer.
const EVENT_GRID_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace every event comes from.
pub const WORKSPACE: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";

/// What a schedule came to.
#[derive(Debug)]
pub struct Ran {
    /// The services and what they took.
    pub world: Arc<World>,
    /// Events Event Grid gave up on.
    pub dead_lettered: Vec<String>,
    /// The ledger's entries at the end.
    pub entries: Vec<aml_events::ledger::Entry>,
}

/// Runs `schedule` with `ledger` shared by its instances, on `clock`, giving Event Grid
/// `horizon` of schedule time to deliver.
pub async fn run(
    schedule: Arc<Schedule>,
    ledger: Arc<dyn Ledger>,
    clock: Clock,
    horizon: Duration,
) -> Ran {
    let world = World::new(Arc::clone(&schedule), clock);
    let instances: Arc<Vec<AppContext>> = Arc::new(
        (0..schedule.instances)
            .map(|instance| {
                let faulty = FaultyLedger::new(
                    Arc::clone(&ledger),
                    instance,
                    Arc::clone(&schedule),
                    Arc::clone(&world),
                    clock,
                );
                instance_context(&world, instance, Arc::new(faulty), clock, schedule.deadline)
            })
            .collect(),
    );
    let mut deliveries = JoinSet::new();
    for (index, delivery) in schedule.deliveries.iter().enumerate() {
        let (schedule, world, instances) = (
            Arc::clone(&schedule),
            Arc::clone(&world),
            Arc::clone(&instances),
        );
        let (at, events) = (delivery.at, delivery.events.clone());
        deliveries.spawn(async move {
            clock.sleep(at).await;
            let body = body(&schedule, &events);
            let mut rng = fastrand::Rng::with_seed(schedule.seed.wrapping_mul(31) + index as u64);
            let started = world.now();
            for attempt in 0.. {
                let alive: Vec<usize> = (0..instances.len())
                    .filter(|instance| !world.crashed(*instance))
                    .collect();
                let instance = alive[rng.usize(..alive.len())];
                let parsed =
                    envelope::parse_decoded_text(None, &body).expect("the schedule's events");
                let answer = tokio::time::timeout(
                    clock.real(EVENT_GRID_TIMEOUT),
                    functions::handle_all(parsed, None, &Default::default(), &instances[instance]),
                )
                .await;
                let said = match &answer {
                    Ok(Ok(_)) => "200".to_owned(),
                    Ok(Err(err)) => aml_events::chain(err).to_string(),
                    Err(_) => "no answer within 30 s".to_owned(),
                };
                world.note(format!(
                    "delivery {index} attempt {attempt} of {:?} to instance {instance}: {said}",
                    events_ids(&schedule, &events)
                ));
                if matches!(answer, Ok(Ok(_))) {
                    return None;
                }
                let wait = Duration::from_secs(
                    EVENT_GRID_RETRIES[(attempt as usize).min(EVENT_GRID_RETRIES.len() - 1)],
                );
                if world.now() + wait - started > horizon {
                    return Some(events_ids(&schedule, &events));
                }
                clock.sleep(wait).await;
            }
            unreachable!("the loop returns")
        });
    }
    let mut dead_lettered = Vec::new();
    while let Some(done) = deliveries.join_next().await {
        dead_lettered.extend(done.expect("a delivery task").unwrap_or_default());
    }
    // Effects still in flight (a slow target) end and are recorded.
    clock.sleep(Duration::from_secs(120)).await;
    let query = HistoryQuery {
        since: None,
        event_id: None,
        limit: usize::MAX,
    };
    let entries = ledger.history(&query).await.expect("the ledger's entries");
    Ran {
        world,
        dead_lettered,
        entries,
    }
}

fn events_ids(schedule: &Schedule, events: &[usize]) -> Vec<String> {
    events
        .iter()
        .map(|index| schedule.events[*index].id.clone())
        .collect()
}

/// The delivery body of `events`: an Event Grid array.
fn body(schedule: &Schedule, events: &[usize]) -> String {
    let events: Vec<Value> = events
        .iter()
        .map(|index| {
            let planned = &schedule.events[*index];
            let run = |experiment: &str, status: &str| {
                json!({"experimentName": experiment, "runId": format!("run-{}", planned.id), "runStatus": status, "runType": "azureml.scriptrun"})
            };
            let (event_type, data) = match planned.kind {
                Kind::ProdFailure => ("RunStatusChanged", run("prod-churn", "Failed")),
                Kind::DevFailure => ("RunStatusChanged", run("dev-churn", "Failed")),
                Kind::Canceled => ("RunStatusChanged", run("prod-churn", "Canceled")),
                Kind::Breach => {
                    let mut data = run("churn-monitor", "Failed");
                    data["runTags"] = json!({"azureml_modelmonitor_threshold_breached": "The signal 'churn-drift' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n['{\"group\":\"age\",\"metric_value\":0.42,\"metric_name\":\"JensenShannonDistance\",\"threshold_value\":0.1}']"});
                    ("RunStatusChanged", data)
                }
                Kind::Deployment => (
                    "ModelDeployed",
                    json!({"serviceName": "churn-scoring", "serviceComputeType": "AKS", "modelIds": "churn:4"}),
                ),
            };
            json!({
                "id": planned.id, "topic": WORKSPACE, "subject": "subject",
                "eventType": format!("Microsoft.MachineLearningServices.{event_type}"),
                "eventTime": "2026-12-01T09:00:00Z", "data": data,
                "dataVersion": "2", "metadataVersion": "1",
            })
        })
        .collect();
    Value::Array(events).to_string()
}

/// A token that never expires: the schedules test what happens with it, not how it is had.
#[derive(Debug)]
struct StandingToken;

impl TokenSource for StandingToken {
    fn token<'a>(&'a self, _scope: &'a str) -> TokenFuture<'a> {
        Box::pin(async {
            Ok(AccessToken::new(
                Secret::new("schedule-token"),
                std::time::SystemTime::now() + Duration::from_secs(24 * 3600),
            ))
        })
    }
}

/// The routes file every instance reads, written once per test process.
pub fn routes_file() -> &'static PathBuf {
    static FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("aml-fault-schedules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("retrain.json"),
            r#"{"properties": {"jobType": "Command", "displayName": "retrain {{signalName}}", "tags": {"event": "{{eventId}}"}}}"#,
        )
        .unwrap();
        let file = dir.join("routes.toml");
        std::fs::write(&file, ROUTES).unwrap();
        file
    })
}

/// Two names for one Slack channel (one effect), two PagerDuty services behind one endpoint
/// (two effects), an audit webhook, a retrain and a smoke test.
const ROUTES: &str = r#"
[targets.team]
url = "${TEAM_SLACK}"
[targets.team-again]
url = "${TEAM_SLACK}"
[targets.oncall-a]
url = "https://events.pagerduty.com/v2/enqueue"
routing_key = "${KEY_A}"
[targets.oncall-b]
url = "https://events.pagerduty.com/v2/enqueue"
routing_key = "${KEY_B}"
[targets.audit]
url = "${AUDIT_HOOK}"

[[routes]]
name = "prod failures"
functions = ["RunStatusChanged"]
match = { run_status = "Failed", experiment = "prod-*", monitor_breach = false }
notify = ["oncall-a", "oncall-b", "team"]
enrich = false

[[routes]]
name = "all failures"
functions = ["RunStatusChanged"]
match = { run_status = ["Failed", "Canceled"], monitor_breach = false }
notify = ["team-again", "audit"]
enrich = false

[[routes]]
name = "churn drift"
functions = ["RunStatusChanged"]
match = { monitor_breach = true }
retrain = { job_file = "retrain.json" }
notify = ["team", "oncall-a", "audit"]

[[routes]]
name = "deployments"
functions = ["ModelDeployed"]
smoke_test = { uri = "https://scoring.example.com/score" }
notify = ["team", "oncall-b", "audit"]
"#;

/// One handler instance: the routes file, Azure ML and the targets through `world`, `ledger`.
fn instance_context(
    world: &Arc<World>,
    instance: usize,
    ledger: Arc<dyn Ledger>,
    clock: Clock,
    deadline: Duration,
) -> AppContext {
    let file = routes_file().display().to_string();
    let mut config = Config::from_lookup(|name| match name {
        "AML_ROUTES_FILE" => Some(file.clone()),
        "TEAM_SLACK" => Some("https://hooks.slack.com/services/T0/B0/team".into()),
        "AUDIT_HOOK" => Some("https://hooks.example.com/audit".into()),
        "KEY_A" => Some("key-of-oncall-a".into()),
        "KEY_B" => Some("key-of-oncall-b".into()),
        _ => None,
    })
    .expect("the schedule's settings");
    let deadline = clock.real(deadline);
    config.host.deadline = deadline;
    let retry = RetryPolicy {
        max_retries: 4,
        initial_backoff: clock.real(Duration::from_millis(500)),
        max_backoff: clock.real(Duration::from_secs(8)),
    };
    let client = AmlClient::with_transport(
        Arc::new(StandingToken),
        AmlClientOptions {
            deadline,
            reserve: aml_handlers::budget::reserve(deadline),
            request_timeout: clock.real(Duration::from_secs(10)),
            retry: retry.clone(),
            ..AmlClientOptions::default()
        },
        world.transport(instance),
    )
    .expect("a client");
    let notifier = Notifier::with_transport(
        aml_events::notify::NotifierOptions {
            retry,
            ..notifier_options(deadline)
        },
        world.transport(instance),
    )
    .expect("a notifier");
    AppContext::from_parts(config, Some(client), Some(notifier), ledger, true)
}

//! Everything outside the handler instances, in-process: the notification targets (a Slack
//! channel, two PagerDuty services, an audit webhook), Azure ML's job API and a scoring
//! endpoint, reached through [`aml_events::transport::Transport`]. Each follows the schedule's
//! fault windows (refusing, hanging, answering slowly) and logs what it *took*: a post a target
//! received and accepted counts, whether or not the sender waited for the answer.
//!
//! An instance that crashes stops hearing answers: its requests in flight never end, so its
//! effects are never recorded, as when a process dies between an effect and its record.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use aml_events::transport::{Transport, TransportFuture};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    clock::Clock,
    schedule::{Fault, Schedule, Service},
};

/// How long a hung service hangs: longer than any attempt waits.
const HUNG: Duration = Duration::from_secs(600);

/// A post a target took.
#[derive(Debug, Clone)]
pub struct Taken {
    /// The target (`team`, `oncall-a`, `oncall-b`, `audit`).
    pub target: &'static str,
    /// The event it was about (its `Idempotency-Key`).
    pub event_id: String,
    /// The instance that sent it.
    pub instance: usize,
    /// Whether that instance heard the answer (it had not crashed by then).
    pub answered: bool,
    /// The body.
    pub body: Value,
}

/// A job create that reached Azure.
#[derive(Debug, Clone)]
pub struct JobCall {
    /// The job's name.
    pub name: String,
    /// What Azure answered (201 created, 409 already there, or the fault's status).
    pub status: u16,
}

/// The services, their faults, and what they saw.
#[derive(Debug)]
pub struct World {
    started: Instant,
    clock: Clock,
    schedule: Arc<Schedule>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// What happened, in order, for a replay to print.
    log: Vec<String>,
    /// Per flaky service, how many requests it has had.
    flaky: HashMap<Service, usize>,
    /// The effects each instance recorded done: (instance, event id, effect identity).
    recorded: Vec<(usize, String, String)>,
    taken: Vec<Taken>,
    jobs: Vec<JobCall>,
    created: HashMap<String, usize>,
    /// Per instance: crashed, and how many posts it has had taken.
    crashed: Vec<bool>,
    posts_by: Vec<usize>,
}

impl World {
    /// The world of `schedule`, its clock starting now.
    pub fn new(schedule: Arc<Schedule>, clock: Clock) -> Arc<World> {
        let instances = schedule.instances;
        Arc::new(World {
            started: Instant::now(),
            clock,
            schedule,
            state: Mutex::new(State {
                crashed: vec![false; instances],
                posts_by: vec![0; instances],
                ..State::default()
            }),
        })
    }

    /// The transport of instance `instance`.
    pub fn transport(self: &Arc<World>, instance: usize) -> Arc<dyn Transport> {
        Arc::new(Stage {
            world: Arc::clone(self),
            instance,
        })
    }

    /// Time since the schedule started, in schedule time.
    pub fn now(&self) -> Duration {
        self.clock.schedule(self.started.elapsed())
    }

    /// Whether `instance` has crashed.
    pub fn crashed(&self, instance: usize) -> bool {
        self.state.lock().unwrap().crashed[instance]
    }

    /// Notes what happened at this moment, for a replay.
    pub fn note(&self, what: String) {
        let line = format!("{:>10.3} s  {what}", self.now().as_secs_f64());
        self.state.lock().unwrap().log.push(line);
    }

    /// What happened, in order.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// Notes that `instance` recorded an effect done.
    pub fn recorded_by(&self, instance: usize, event_id: &str, identity: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .recorded
            .push((instance, event_id.to_owned(), identity.to_owned()));
    }

    /// Whether `instance` recorded the effect on `identity` for `event_id`.
    pub fn was_recorded_by(&self, instance: usize, event_id: &str, identity: &str) -> bool {
        let state = self.state.lock().unwrap();
        state
            .recorded
            .iter()
            .any(|(by, event, effect)| *by == instance && event == event_id && effect == identity)
    }

    /// For a flaky service: whether this request is one it refuses (every other one).
    fn flip(&self, service: Service) -> bool {
        let mut state = self.state.lock().unwrap();
        let count = state.flaky.entry(service).or_insert(0);
        *count += 1;
        *count % 2 == 1
    }

    /// What the targets took.
    pub fn taken(&self) -> Vec<Taken> {
        self.state.lock().unwrap().taken.clone()
    }

    /// The job creates that reached Azure.
    pub fn jobs(&self) -> Vec<JobCall> {
        self.state.lock().unwrap().jobs.clone()
    }

    /// How many times each job was created.
    pub fn created(&self) -> HashMap<String, usize> {
        self.state.lock().unwrap().created.clone()
    }

    /// The fault `service` is under now, if any.
    fn fault(&self, service: Service) -> Option<Fault> {
        let now = self.now();
        self.schedule
            .service_faults
            .iter()
            .find(|window| window.service == service && window.from <= now && now < window.until)
            .map(|window| window.fault)
    }

    async fn serve(&self, instance: usize, request: reqwest::Request) -> reqwest::Response {
        if self.crashed(instance) {
            return std::future::pending().await;
        }
        let body: Value = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        let url = request.url().clone();
        let host = url.host_str().unwrap_or_default().to_owned();
        let (service, target) = match host.as_str() {
            "hooks.slack.com" => (Service::Team, Some("team")),
            "hooks.example.com" => (Service::Audit, Some("audit")),
            "events.pagerduty.com" => match body["routing_key"].as_str() {
                Some("key-of-oncall-a") => (Service::OncallA, Some("oncall-a")),
                _ => (Service::OncallB, Some("oncall-b")),
            },
            "management.azure.com" => (Service::Jobs, None),
            "scoring.example.com" => (Service::Scoring, None),
            other => panic!("a request to an unknown host {other}"),
        };
        // A job looked up (one retrain at a time) is answered as it stands, outside the
        // schedule's faults: a retrain is called failed only for its own create.
        if service == Service::Jobs && request.method() == reqwest::Method::GET {
            return self.job_state(&url);
        }
        match (self.fault(service), service) {
            (Some(Fault::Forbid), Service::Jobs) => return self.job_failed(&url, 403),
            (Some(Fault::Refuse), Service::Jobs) => return self.job_failed(&url, 503),
            (Some(Fault::Refuse | Fault::Forbid), _) => {
                return respond(
                    503,
                    json!({"error": {"code": "ServiceUnavailable", "message": "busy"}}),
                );
            }
            (Some(Fault::Hang), _) => {
                if service == Service::Jobs {
                    self.job_failed_quietly(&url, 0);
                }
                self.clock.sleep(HUNG).await;
                return respond(503, json!({"error": "hung"}));
            }
            (Some(Fault::Flaky(_)), _) if self.flip(service) => {
                if service == Service::Jobs {
                    return self.job_failed(&url, 503);
                }
                return respond(
                    503,
                    json!({"error": {"code": "ServiceUnavailable", "message": "flaky"}}),
                );
            }
            (Some(Fault::Slow(_) | Fault::Flaky(_)) | None, _) => {}
        }
        // A service takes a request when it arrives; a slow one answers later, whether or not
        // the sender is still there to hear it.
        let slow = match self.fault(service) {
            Some(Fault::Slow(by) | Fault::Flaky(by)) => Some(by),
            _ => None,
        };
        let mut took = None;
        let answer = match (service, target) {
            (Service::Jobs, _) => self.create_job(&url),
            (Service::Scoring, _) => {
                let status = if self.schedule.endpoint_healthy {
                    200
                } else {
                    500
                };
                respond(status, json!([0.93]))
            }
            (_, Some(target)) => {
                let event_id = request
                    .headers()
                    .get("idempotency-key")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let (index, answer) = self.take(target, event_id, instance, body);
                took = Some(index);
                answer
            }
            (_, None) => unreachable!("every target is named"),
        };
        if let Some(by) = slow {
            self.clock.sleep(by).await;
        }
        if self.crashed(instance) {
            // Stopped before this answer came back (another post of the same moment stopped it).
            if let Some(index) = took {
                self.state.lock().unwrap().taken[index].answered = false;
            }
            return std::future::pending().await;
        }
        answer
    }

    /// A target takes a post; the instance crashes right after, when the schedule says so.
    fn take(
        &self,
        target: &'static str,
        event_id: String,
        instance: usize,
        body: Value,
    ) -> (usize, reqwest::Response) {
        let mut state = self.state.lock().unwrap();
        state.posts_by[instance] += 1;
        let crash_now = self.schedule.crash.is_some_and(|crash| {
            crash.instance == instance && crash.after_posts == state.posts_by[instance]
        });
        if crash_now {
            state.crashed[instance] = true;
        }
        let answered = !state.crashed[instance];
        let line = format!(
            "{:>10.3} s  {target} took {event_id} from instance {instance}{}",
            self.now().as_secs_f64(),
            if answered {
                ""
            } else {
                ", which stopped before the answer"
            }
        );
        state.log.push(line);
        state.taken.push(Taken {
            target,
            event_id,
            instance,
            answered,
            body,
        });
        let answer = match target {
            "oncall-a" | "oncall-b" => respond(
                202,
                json!({"status": "success", "message": "Event processed"}),
            ),
            _ => respond(200, json!({"ok": true})),
        };
        (state.taken.len() - 1, answer)
    }

    fn create_job(&self, url: &reqwest::Url) -> reqwest::Response {
        let name = job_name(url);
        let mut state = self.state.lock().unwrap();
        let created = state.created.entry(name.clone()).or_insert(0);
        let status = if *created == 0 { 201 } else { 409 };
        if status == 201 {
            *created += 1;
        }
        state.jobs.push(JobCall { name, status });
        match status {
            201 => respond(201, json!({"name": url.path().rsplit('/').next()})),
            _ => respond(
                409,
                json!({"error": {"code": "Conflict", "message": "the job already exists"}}),
            ),
        }
    }

    /// A job looked up: done as soon as it was created (404 before).
    fn job_state(&self, url: &reqwest::Url) -> reqwest::Response {
        let name = job_name(url);
        match self.state.lock().unwrap().created.get(&name) {
            Some(_) => respond(
                200,
                json!({"name": name, "properties": {"status": "Completed"}}),
            ),
            None => respond(
                404,
                json!({"error": {"code": "UserError", "message": "no such job"}}),
            ),
        }
    }

    /// Azure refuses a job create (403: the identity has no role; 503: busy).
    fn job_failed(&self, url: &reqwest::Url, status: u16) -> reqwest::Response {
        self.job_failed_quietly(url, status);
        let code = if status == 403 {
            "AuthorizationFailed"
        } else {
            "ServiceUnavailable"
        };
        respond(
            status,
            json!({"error": {"code": code, "message": "refused by the schedule"}}),
        )
    }

    /// Logs a job create that did not create (status 0: it hung).
    fn job_failed_quietly(&self, url: &reqwest::Url, status: u16) {
        self.state.lock().unwrap().jobs.push(JobCall {
            name: job_name(url),
            status,
        });
    }
}

fn job_name(url: &reqwest::Url) -> String {
    url.path().rsplit('/').next().unwrap_or_default().to_owned()
}

fn respond(status: u16, body: Value) -> reqwest::Response {
    reqwest::Response::from(
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
            .expect("a valid response"),
    )
}

/// One instance's way out to the world.
#[derive(Debug)]
struct Stage {
    world: Arc<World>,
    instance: usize,
}

impl Transport for Stage {
    fn execute(&self, request: reqwest::Request) -> TransportFuture<'_> {
        Box::pin(async move { Ok(self.world.serve(self.instance, request).await) })
    }
}

//! One retrain at a time, and the cooldown, for one route and group: the retrain is skipped
//! while the job the route last started for the group runs (or another instance is starting
//! it), and within the cooldown of its start. A job is waited for a day at most (or the
//! cooldown, when longer): one queued on a quota or paused for longer holds nothing back.

use std::{sync::Arc, time::Duration};

use aml_events::{
    Timestamp, WorkspaceId,
    azure::AmlClient,
    chain,
    ledger::{Ledger, Recorded},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::warn;

use super::mark::{ATTEMPTS, MarkState, busy, deferred, read, replace, shown};
use crate::{functions::actions::once::Unsettled, outcome::ActionStatus, routes::interval};

/// The states a v2 job does not leave. See
/// <https://learn.microsoft.com/rest/api/azureml/jobs/get#jobstatus>.
const TERMINAL: [&str; 4] = ["Completed", "Failed", "Canceled", "NotResponding"];

/// How long a job that has not ended is waited for: one started longer ago (queued on a quota,
/// paused, in a state Azure does not name) stops holding retrains back, else it would hold
/// every later retrain of its group back for ever.
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The last job a route started for a group, as its mark keeps it; empty when none is known
/// (Azure refused the last job, which gave its turn back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastJob {
    /// The job's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// When it was started (by the starting instance's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
}

impl MarkState for LastJob {}

impl LastJob {
    /// When a cooldown of `cooldown` after this job ends, if a job was started.
    pub fn cooldown_until(&self, cooldown: Duration) -> Option<OffsetDateTime> {
        Some(self.started?.as_offset_date_time() + cooldown)
    }
}

/// Whether a job in `status` is over.
fn is_terminal(status: &str) -> bool {
    TERMINAL.iter().any(|end| end.eq_ignore_ascii_case(status))
}

fn skipped(detail: String) -> Recorded {
    Recorded::new(ActionStatus::Skipped.as_str(), detail)
}

/// What the last job started for the group means for this retrain.
enum Verdict {
    /// Skipped: what to record.
    Hold(Recorded),
    /// Let through, with what the outcome must add when a job that has not ended was waited
    /// for long enough.
    Go(Option<String>),
}

/// A job Azure returned without a status: not known to run, nor to have ended.
#[derive(Debug, thiserror::Error)]
#[error("job {job}, the last one started for {group}, came back with no status")]
struct NoStatus {
    job: String,
    group: String,
}

/// One retrain at a time, and the cooldown, for one route and group.
pub struct OneAtATime {
    /// Where the mark is.
    pub ledger: Arc<dyn Ledger>,
    /// [`retrain_key`](super::mark::retrain_key).
    pub key: String,
    /// The group, for what outcomes say.
    pub group: String,
    /// The job this event would start.
    pub job: String,
    /// The route's cooldown.
    pub cooldown: Option<Duration>,
    /// How long a mark naming a job Azure does not know yet is taken as a start in progress.
    pub lease: Duration,
    /// Who looks the last job up.
    pub client: AmlClient,
    /// Where the jobs are.
    pub workspace: WorkspaceId,
}

impl OneAtATime {
    /// Runs `create` unless the last job started for the group still runs or its cooldown
    /// is not over (then what was found, recorded as `skipped`). The mark names this event's
    /// job before `create` runs; when Azure refused the job, the mark is given back.
    pub async fn start<F, Fut>(self, create: F) -> Result<Recorded, Unsettled>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Recorded, Unsettled>>,
    {
        let mut note = None;
        for _ in 0..ATTEMPTS {
            let mark = read::<LastJob>(&*self.ledger, &self.key)
                .await
                .map_err(deferred)?;
            let previous = if mark.state.job.as_deref() == Some(self.job.as_str()) {
                // An earlier delivery of this very event named it and was cut short: go on.
                LastJob::default()
            } else {
                match self.judge(&mark.state).await? {
                    Verdict::Hold(held_back) => return Ok(held_back),
                    Verdict::Go(waited) => note = waited,
                }
                let ours = LastJob {
                    job: Some(self.job.clone()),
                    started: Some(Timestamp::now()),
                };
                let version = mark.version.as_deref();
                let written = replace(&*self.ledger, &self.key, version, &ours, self.holds_for());
                if !written.await.map_err(deferred)? {
                    continue;
                }
                mark.state
            };
            let result = create().await;
            // Only a refusal (a final failure, or the identity refused) says the job was not
            // created. A failure for now may follow a PUT that landed (its answer lost): the
            // mark keeps naming the job, so no second one starts beside it; a job that was
            // never created frees the mark after a lease.
            let refused = match &result {
                Ok(recorded) => recorded.status == ActionStatus::Failed.as_str(),
                Err(unsettled) => matches!(unsettled, Unsettled::Unauthorized(_)),
            };
            if refused {
                self.give_back(&previous).await;
            }
            return result.map(|recorded| match note {
                Some(note) => Recorded {
                    detail: format!("{} ({note})", recorded.detail),
                    ..recorded
                },
                None => recorded,
            });
        }
        Err(busy(&self.key))
    }

    /// How long the last job matters: it is waited for [`LONGEST_WAIT`], or the cooldown when
    /// longer, and its mark is kept as long.
    fn holds_for(&self) -> Duration {
        self.cooldown.unwrap_or(Duration::ZERO).max(LONGEST_WAIT)
    }

    /// What the last job started for the group means for this retrain: held back while it
    /// runs (or another instance is starting it), or within its cooldown.
    async fn judge(&self, last: &LastJob) -> Result<Verdict, Unsettled> {
        let (Some(job), Some(started)) = (&last.job, last.started) else {
            return Ok(Verdict::Go(None));
        };
        let group = &self.group;
        let started_at = started.as_offset_date_time();
        let now = OffsetDateTime::now_utc();
        match self.client.get_job(&self.workspace, job).await {
            Ok(Some(found)) => match found.job_status() {
                Some(status) if is_terminal(status) => {
                    Ok(self.cooled_down(job, started_at, status))
                }
                status => self.not_ended(job, started_at, status),
            },
            Ok(None) if now - started_at < self.lease => Ok(Verdict::Hold(skipped(format!(
                "one retrain at a time for {group}: job {job} was named {} s ago and Azure does not know it yet: another delivery is starting it",
                (now - started_at).whole_seconds().max(0)
            )))),
            // Named, but never created: its starter failed. Nothing runs.
            Ok(None) => Ok(Verdict::Go(None)),
            Err(err) if err.is_unauthorized() => Err(Unsettled::Unauthorized(Box::new(err))),
            Err(err) if err.is_transient() => Err(Unsettled::Transient(Box::new(err))),
            Err(err) => Ok(Verdict::Hold(Recorded::new(
                ActionStatus::Failed.as_str(),
                format!(
                    "could not look up job {job}, the last one started for {group}: {}",
                    chain(&err)
                ),
            ))),
        }
    }

    /// `job` has not ended, or Azure gave it no status: held back while it is younger than
    /// [`Self::holds_for`] (no status: it cannot be told for now); older, let through, saying so.
    fn not_ended(
        &self,
        job: &str,
        started_at: OffsetDateTime,
        status: Option<&str>,
    ) -> Result<Verdict, Unsettled> {
        let group = &self.group;
        let longest = self.holds_for();
        if OffsetDateTime::now_utc() - started_at > longest {
            let status = status.map_or_else(
                || "without a status".to_owned(),
                |status| format!("still {status}"),
            );
            return Ok(Verdict::Go(Some(format!(
                "job {job}, started {}, is {status} after more than {}: it no longer holds retrains back",
                shown(started_at),
                interval::show(longest)
            ))));
        }
        let Some(status) = status else {
            let no_status = NoStatus {
                job: job.to_owned(),
                group: group.clone(),
            };
            return Err(Unsettled::Transient(Box::new(no_status)));
        };
        Ok(Verdict::Hold(skipped(format!(
            "one retrain at a time for {group}: job {job}, started {}, is still {status}",
            shown(started_at)
        ))))
    }

    /// Held back within the cooldown of `job`, which ended in `status`; else let through.
    fn cooled_down(&self, job: &str, started_at: OffsetDateTime, status: &str) -> Verdict {
        match self.cooldown {
            Some(cooldown) if OffsetDateTime::now_utc() < started_at + cooldown => {
                Verdict::Hold(skipped(format!(
                    "cooldown {} for {}: job {job} started {} ({status}); no retrain until {}",
                    interval::show(cooldown),
                    self.group,
                    shown(started_at),
                    shown(started_at + cooldown)
                )))
            }
            _ => Verdict::Go(None),
        }
    }

    /// Puts `previous` back while the mark still names this event's job, which Azure refused:
    /// the next retrain is judged by the last job that really started. Best effort:
    /// a mark left naming a job that never started holds retrains back for a lease at most.
    async fn give_back(&self, previous: &LastJob) {
        let restore = async {
            let mark = read::<LastJob>(&*self.ledger, &self.key).await?;
            if mark.state.job.as_deref() != Some(self.job.as_str()) {
                return Ok(());
            }
            let version = mark.version.as_deref();
            replace(
                &*self.ledger,
                &self.key,
                version,
                previous,
                self.holds_for(),
            )
            .await
            .map(drop)
        };
        if let Err(err) = restore.await {
            warn!(mark = %self.key, error = %chain(&err), "could not give back the retrain's turn");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use aml_events::{
        Secret,
        azure::{AccessToken, AmlClientOptions, RetryPolicy, TokenFuture, TokenSource},
        ledger::MemoryLedger,
    };
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path_regex},
    };

    use super::{super::mark::retrain_key, *};

    const WORKSPACE: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws";

    #[derive(Debug)]
    struct Token;

    impl TokenSource for Token {
        fn token<'a>(&'a self, _scope: &'a str) -> TokenFuture<'a> {
            Box::pin(async {
                Ok(AccessToken::new(
                    Secret::new("t"),
                    std::time::SystemTime::now() + Duration::from_secs(3600),
                ))
            })
        }
    }

    /// Azure's jobs, each looked up as `answer`.
    async fn azure(answer: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex("/jobs/"))
            .respond_with(answer)
            .mount(&server)
            .await;
        server
    }

    /// A job looked up in `status`.
    fn job_in(status: &str) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"properties": {"status": status}}))
    }

    /// The gate for job `ours`, with the mark naming `last` (started `started`) first.
    async fn gate(server: &MockServer, last: Option<(&str, &str)>) -> OneAtATime {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let workspace = WorkspaceId::parse(WORKSPACE).unwrap();
        let key = retrain_key(&workspace, "route", "signal s");
        if let Some((job, started)) = last {
            let mark = LastJob {
                job: Some(job.into()),
                started: Some(Timestamp::parse(started).unwrap()),
            };
            assert!(
                replace(&*ledger, &key, None, &mark, LONGEST_WAIT)
                    .await
                    .unwrap()
            );
        }
        let options = AmlClientOptions {
            arm_endpoint: server.uri().parse().unwrap(),
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
            deadline: Duration::from_secs(5),
            ..AmlClientOptions::default()
        };
        OneAtATime {
            ledger,
            key,
            group: "signal s".into(),
            job: "retrain-ours".into(),
            cooldown: None,
            lease: Duration::from_secs(50),
            client: AmlClient::new(Arc::new(Token), options).unwrap(),
            workspace,
        }
    }

    /// `gate.start` with a create that comes to `created` and notes that it ran; then the job
    /// the mark names.
    async fn start_with(
        gate: OneAtATime,
        created: Result<Recorded, Unsettled>,
    ) -> (Result<Recorded, Unsettled>, bool, Option<String>) {
        let ran = AtomicBool::new(false);
        let (ledger, key) = (Arc::clone(&gate.ledger), gate.key.clone());
        let ran_once = &ran;
        let result = gate
            .start(move || async move {
                ran_once.store(true, Ordering::SeqCst);
                created
            })
            .await;
        let mark = ledger.read_mark(&key).await.unwrap();
        (
            result,
            ran.load(Ordering::SeqCst),
            LastJob::from_mark(mark.as_ref()).job,
        )
    }

    /// [`start_with`] a create recorded as `status`.
    async fn start(
        gate: OneAtATime,
        status: &str,
    ) -> (Result<Recorded, Unsettled>, bool, Option<String>) {
        start_with(gate, Ok(Recorded::new(status, "created, or not"))).await
    }

    #[tokio::test]
    async fn a_job_that_cannot_be_looked_up_for_now_fails_for_now_and_is_never_skipped() {
        let server = azure(ResponseTemplate::new(503)).await;
        let gate = gate(&server, Some(("retrain-last", "2020-01-01T00:00:00Z"))).await;

        let (result, ran, marked) = start(gate, "done").await;

        assert!(matches!(result, Err(Unsettled::Transient(_))), "{result:?}");
        assert!(!ran, "no job created unchecked");
        assert_eq!(marked.as_deref(), Some("retrain-last"));
    }

    #[tokio::test]
    async fn a_job_azure_does_not_know_holds_the_retrain_back_for_a_lease_only() {
        let server = azure(ResponseTemplate::new(404)).await;
        let now = Timestamp::now().to_string();
        let fresh = gate(&server, Some(("retrain-last", &now))).await;
        let (result, ran, marked) = start(fresh, "done").await;
        let skipped = result.unwrap();
        assert_eq!(skipped.status, "skipped");
        assert!(
            skipped.detail.contains("another delivery is starting it"),
            "{}",
            skipped.detail
        );
        assert!(!ran);
        assert_eq!(marked.as_deref(), Some("retrain-last"));

        let stale = gate(&server, Some(("retrain-last", "2020-01-01T00:00:00Z"))).await;
        let (result, ran, marked) = start(stale, "done").await;
        assert_eq!(result.unwrap().status, "done");
        assert!(ran, "a job that never started holds nothing back");
        assert_eq!(marked.as_deref(), Some("retrain-ours"));
    }

    #[tokio::test]
    async fn a_job_azure_refused_gives_the_turn_back_to_the_last_one_started() {
        let server = azure(job_in("Completed")).await;
        let gate = gate(&server, Some(("retrain-last", "2020-01-01T00:00:00Z"))).await;

        let (result, ran, marked) = start(gate, "failed").await;

        assert_eq!(result.unwrap().status, "failed");
        assert!(ran);
        assert_eq!(marked.as_deref(), Some("retrain-last"));
    }

    #[tokio::test]
    async fn a_job_refused_to_the_identity_gives_the_turn_back_too() {
        let server = azure(job_in("Completed")).await;
        let gate = gate(&server, Some(("retrain-last", "2020-01-01T00:00:00Z"))).await;
        let forbidden: crate::functions::BoxError = "Azure ML answered 403".into();

        let (result, _, marked) = start_with(gate, Err(Unsettled::Unauthorized(forbidden))).await;

        assert!(
            matches!(result, Err(Unsettled::Unauthorized(_))),
            "{result:?}"
        );
        assert_eq!(marked.as_deref(), Some("retrain-last"));
    }

    /// A creation whose answer was lost may have landed: the mark keeps naming its job, so the
    /// next event does not start a second one beside it, and the redelivery finds it.
    #[tokio::test]
    async fn a_creation_that_failed_for_now_keeps_the_turn() {
        let server = azure(job_in("Completed")).await;
        let gate = gate(&server, Some(("retrain-last", "2020-01-01T00:00:00Z"))).await;
        let lost: crate::functions::BoxError = "the answer was lost".into();

        let (result, ran, marked) = start_with(gate, Err(Unsettled::Transient(lost))).await;

        assert!(matches!(result, Err(Unsettled::Transient(_))), "{result:?}");
        assert!(ran);
        assert_eq!(marked.as_deref(), Some("retrain-ours"));
    }

    /// A job queued on a quota, paused or in a state Azure does not name would otherwise hold
    /// every later retrain of its group back for ever.
    #[tokio::test]
    async fn a_job_unfinished_for_more_than_a_day_stops_holding_retrains_back_and_says_so() {
        let server = azure(job_in("Queued")).await;
        let gate = gate(&server, Some(("retrain-last", "2020-01-01T00:00:00Z"))).await;

        let (result, ran, marked) = start(gate, "done").await;

        let recorded = result.unwrap();
        assert_eq!(recorded.status, "done");
        assert!(
            recorded.detail.contains(
                "job retrain-last, started 2020-01-01T00:00:00Z, is still Queued after more than 1d"
            ),
            "{}",
            recorded.detail
        );
        assert!(ran);
        assert_eq!(marked.as_deref(), Some("retrain-ours"));
    }

    #[tokio::test]
    async fn a_job_without_a_status_cannot_be_looked_up_for_now_and_is_never_taken_as_running() {
        let server =
            azure(ResponseTemplate::new(200).set_body_json(serde_json::json!({"properties": {}})))
                .await;
        let now = Timestamp::now().to_string();
        let gate = gate(&server, Some(("retrain-last", &now))).await;

        let (result, ran, marked) = start(gate, "done").await;

        let Err(Unsettled::Transient(why)) = result else {
            panic!("{result:?}");
        };
        assert!(why.to_string().contains("no status"), "{why}");
        assert!(!ran);
        assert_eq!(marked.as_deref(), Some("retrain-last"));
    }

    #[test]
    fn terminal_states_are_azures_four() {
        for status in ["Completed", "failed", "Canceled", "NotResponding"] {
            assert!(is_terminal(status), "{status}");
        }
        for status in [
            "Running",
            "Queued",
            "Starting",
            "Finalizing",
            "CancelRequested",
        ] {
            assert!(!is_terminal(status), "{status}");
        }
    }
}

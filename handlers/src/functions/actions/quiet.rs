//! Noise control (docs/routes.md): a monitor that breaches on every scheduled run, or a sweep
//! of failing child runs, must not start a retrain per event nor bury a channel. Per route and
//! group (what events about the same thing share, [`super::super::group`]):
//!
//! - [`OneAtATime`]: a retrain is skipped while the job the route last started for the group
//!   is not in a terminal state, and within the route's `cooldown` of it;
//! - [`NotifyEvery`]: at most one notice per target in a route's `notify_every`; the others
//!   are held back and counted, and the next one sent reports them.
//!
//! The state lives in the ledger's marks ([`LastJob`], [`LastNotice`]), so every instance
//! agrees (without storage, in this process's memory). A mark is written conditionally
//! *before* the job is created or the notice sent, so two instances can never both take the
//! same turn; a writer that finds the mark changed reads it again and decides again. Both run
//! inside the effect's once-only claim ([`super::once`]): a redelivery of an event gets the
//! outcome recorded for it (skipped, held) instead of being judged again.
//!
//! A mark that cannot be read or written defers the effect (the event is redelivered); a job
//! that cannot be looked up for now fails it for now. Neither is ever taken as "skipped".

use std::{sync::Arc, time::Duration};

use aml_events::{
    Timestamp, WorkspaceId,
    azure::AmlClient,
    chain,
    ledger::{Ledger, LedgerError, Mark, MarkWrite, Recorded},
    notify::Held,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::warn;

use super::once::{Deferral, Unsettled};
use crate::{outcome::ActionStatus, routes::interval};

/// How many times a decision is taken again after another writer changed the mark first.
const ATTEMPTS: usize = 5;

/// The states a v2 job does not leave. See
/// <https://learn.microsoft.com/rest/api/azureml/jobs/get#jobstatus>.
const TERMINAL: [&str; 4] = ["Completed", "Failed", "Canceled", "NotResponding"];

/// How long a retrain's mark is kept when the route has no cooldown: long enough to name a
/// job that is still running (the ledger keeps marks 48 hours at least anyway).
const RETRAIN_KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// The mark of the jobs a route starts for a group.
pub fn retrain_key(route: &str, group: &str) -> String {
    format!("retrain/{route}/{group}")
}

/// The mark of the notices a route sends a target (by its identity) for a group.
pub fn notify_key(route: &str, target_identity: &str, group: &str) -> String {
    format!("notify/{route}/{target_identity}/{group}")
}

/// The last job a route started for a group, as its mark keeps it; empty when none is known
/// (the last creation failed, and gave its turn back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastJob {
    /// The job's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// When it was started (by the starting instance's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
}

impl LastJob {
    /// The mark's state; an unreadable text counts as no job (it can only let one retrain
    /// through).
    pub fn from_mark(mark: Option<&Mark>) -> LastJob {
        mark.and_then(|mark| serde_json::from_str(&mark.text).ok())
            .unwrap_or_default()
    }

    /// When a cooldown of `cooldown` after this job ends, if a job was started.
    pub fn cooldown_until(&self, cooldown: Duration) -> Option<OffsetDateTime> {
        Some(self.started?.as_offset_date_time() + cooldown)
    }

    fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The notices a route sends a target for a group, as their mark keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastNotice {
    /// When the last notice was let through.
    #[serde(default)]
    pub last_sent: Option<Timestamp>,
    /// The event whose notice it was: its redelivery sends it again (a send that failed for
    /// now is never lost).
    #[serde(default)]
    pub last_event: Option<String>,
    /// How many notices were held back since.
    #[serde(default)]
    pub held: u64,
    /// When the first of them was held back.
    #[serde(default)]
    pub held_since: Option<Timestamp>,
    /// What the last notice let through reports: the notices held before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Reported>,
}

/// Notices held back, as a mark keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reported {
    /// How many.
    pub count: u64,
    /// Since when.
    pub since: Timestamp,
}

impl From<Reported> for Held {
    fn from(reported: Reported) -> Held {
        Held {
            count: reported.count,
            since: reported.since,
        }
    }
}

impl LastNotice {
    /// The mark's state; an unreadable text counts as no notice sent yet.
    pub fn from_mark(mark: Option<&Mark>) -> LastNotice {
        mark.and_then(|mark| serde_json::from_str(&mark.text).ok())
            .unwrap_or_default()
    }

    /// Until when notices are held back after the last one sent, if one was.
    pub fn quiet_until(&self, every: Duration) -> Option<OffsetDateTime> {
        Some(self.last_sent?.as_offset_date_time() + every)
    }

    fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A time as outcomes show it: UTC, to the second (`2026-12-07T09:00:00Z`).
pub fn shown(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    let utc = utc.replace_nanosecond(0).unwrap_or(utc);
    utc.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| utc.to_string())
}

/// Whether a job in `status` is over.
pub fn is_terminal(status: &str) -> bool {
    TERMINAL.iter().any(|end| end.eq_ignore_ascii_case(status))
}

fn deferred(err: LedgerError) -> Unsettled {
    Unsettled::Deferred(Deferral::Ledger(err))
}

fn busy(key: &str) -> Unsettled {
    Unsettled::Deferred(Deferral::Busy {
        mark: key.to_owned(),
    })
}

fn skipped(detail: String) -> Recorded {
    Recorded::new(ActionStatus::Skipped.as_str(), detail)
}

/// One retrain at a time, and the cooldown, for one route and group.
pub struct OneAtATime {
    /// Where the mark is.
    pub ledger: Arc<dyn Ledger>,
    /// [`retrain_key`].
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
    /// job before `create` runs; when the job was not created, the mark is given back.
    pub async fn start<F, Fut>(self, create: F) -> Result<Recorded, Unsettled>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Recorded, Unsettled>>,
    {
        for _ in 0..ATTEMPTS {
            let mark = self.ledger.read_mark(&self.key).await.map_err(deferred)?;
            let last = LastJob::from_mark(mark.as_ref());
            let previous = if last.job.as_deref() == Some(self.job.as_str()) {
                // An earlier delivery of this very event named it and was cut short: go on.
                LastJob::default()
            } else {
                if let Some(held_back) = self.held_back(&last).await? {
                    return Ok(held_back);
                }
                let ours = LastJob {
                    job: Some(self.job.clone()),
                    started: Some(Timestamp::now()),
                };
                let write = MarkWrite {
                    key: &self.key,
                    text: &ours.to_text(),
                    version: mark.as_ref().map(|mark| mark.version.as_str()),
                    keep: self.keep(),
                };
                if !self.ledger.write_mark(write).await.map_err(deferred)? {
                    continue;
                }
                last
            };
            let result = create().await;
            let created =
                matches!(&result, Ok(recorded) if recorded.status == ActionStatus::Done.as_str());
            if !created {
                self.give_back(&previous).await;
            }
            return result;
        }
        Err(busy(&self.key))
    }

    /// How long the mark is kept at least: the cooldown, and a day.
    fn keep(&self) -> Duration {
        self.cooldown.unwrap_or(RETRAIN_KEEP).max(RETRAIN_KEEP)
    }

    /// What holds this retrain back, if anything: the last job still running (or being
    /// started by another instance), or its cooldown.
    async fn held_back(&self, last: &LastJob) -> Result<Option<Recorded>, Unsettled> {
        let (Some(job), Some(started)) = (&last.job, last.started) else {
            return Ok(None);
        };
        let group = &self.group;
        let started_at = started.as_offset_date_time();
        let now = OffsetDateTime::now_utc();
        match self.client.get_job(&self.workspace, job).await {
            Ok(Some(found)) => {
                let status = found.job_status().unwrap_or("in no known state");
                if !is_terminal(status) {
                    return Ok(Some(skipped(format!(
                        "one retrain at a time for {group}: job {job}, started {}, is still {status}",
                        shown(started_at)
                    ))));
                }
                match self.cooldown {
                    Some(cooldown) if now < started_at + cooldown => Ok(Some(skipped(format!(
                        "cooldown {} for {group}: job {job} started {} ({status}); no retrain until {}",
                        interval::show(cooldown),
                        shown(started_at),
                        shown(started_at + cooldown)
                    )))),
                    _ => Ok(None),
                }
            }
            Ok(None) if now - started_at < self.lease => Ok(Some(skipped(format!(
                "one retrain at a time for {group}: job {job} was named {} s ago and Azure does not know it yet: another delivery is starting it",
                (now - started_at).whole_seconds().max(0)
            )))),
            // Named, but never created: its starter failed. Nothing runs.
            Ok(None) => Ok(None),
            Err(err) if err.is_unauthorized() => Err(Unsettled::Unauthorized(Box::new(err))),
            Err(err) if err.is_transient() => Err(Unsettled::Transient(Box::new(err))),
            Err(err) => Ok(Some(Recorded::new(
                ActionStatus::Failed.as_str(),
                format!(
                    "could not look up job {job}, the last one started for {group}: {}",
                    chain(&err)
                ),
            ))),
        }
    }

    /// Puts `previous` back while the mark still names this event's job, which was not
    /// created: the next retrain is judged by the last job that really started. Best effort:
    /// a mark left naming a job that never started holds retrains back for a lease at most.
    async fn give_back(&self, previous: &LastJob) {
        let restore = async {
            let Some(mark) = self.ledger.read_mark(&self.key).await? else {
                return Ok(());
            };
            if LastJob::from_mark(Some(&mark)).job.as_deref() != Some(self.job.as_str()) {
                return Ok(());
            }
            let write = MarkWrite {
                key: &self.key,
                text: &previous.to_text(),
                version: Some(&mark.version),
                keep: self.keep(),
            };
            self.ledger.write_mark(write).await.map(drop)
        };
        if let Err(err) = restore.await {
            warn!(mark = %self.key, error = %chain(&err), "could not give back the retrain's turn");
        }
    }
}

/// A route's `notify_every` for one target and group.
pub struct NotifyEvery {
    /// Where the mark is.
    pub ledger: Arc<dyn Ledger>,
    /// [`notify_key`].
    pub key: String,
    /// The group, for what outcomes say.
    pub group: String,
    /// The target's name, for what outcomes say.
    pub target: String,
    /// The event whose notice it is.
    pub event_id: String,
    /// The interval.
    pub every: Duration,
}

/// Whether a notice goes out now.
#[derive(Debug)]
pub enum Turn {
    /// Send it, reporting the notices held back before it, if any.
    Send(Option<Held>),
    /// Held back: what to record.
    Hold(Recorded),
}

impl NotifyEvery {
    /// Takes the target's turn for this event (the mark says it is sent now), or counts the
    /// notice held back. A redelivery of the event that took the turn sends again.
    pub async fn turn(&self) -> Result<Turn, Unsettled> {
        for _ in 0..ATTEMPTS {
            let mark = self.ledger.read_mark(&self.key).await.map_err(deferred)?;
            let last = LastNotice::from_mark(mark.as_ref());
            if last.last_event.as_deref() == Some(self.event_id.as_str()) {
                return Ok(Turn::Send(last.reported.map(Held::from)));
            }
            let now = Timestamp::now();
            let (next, turn) = match (last.last_sent, last.quiet_until(self.every)) {
                (Some(sent), Some(until)) if now.as_offset_date_time() < until => {
                    let since = last.held_since.unwrap_or(now);
                    let count = last.held + 1;
                    let detail = format!(
                        "held back (notify_every {}): {} had a notice for {} at {}; {count} held since {}, counted in the next one after {}",
                        interval::show(self.every),
                        self.target,
                        self.group,
                        shown(sent.as_offset_date_time()),
                        shown(since.as_offset_date_time()),
                        shown(until)
                    );
                    let next = LastNotice {
                        held: count,
                        held_since: Some(since),
                        ..last
                    };
                    (
                        next,
                        Turn::Hold(Recorded::new(ActionStatus::Held.as_str(), detail)),
                    )
                }
                _ => {
                    let reported = (last.held > 0).then(|| Reported {
                        count: last.held,
                        since: last.held_since.unwrap_or(now),
                    });
                    let next = LastNotice {
                        last_sent: Some(now),
                        last_event: Some(self.event_id.clone()),
                        held: 0,
                        held_since: None,
                        reported,
                    };
                    (next, Turn::Send(reported.map(Held::from)))
                }
            };
            let write = MarkWrite {
                key: &self.key,
                text: &next.to_text(),
                version: mark.as_ref().map(|mark| mark.version.as_str()),
                keep: self.every,
            };
            if self.ledger.write_mark(write).await.map_err(deferred)? {
                return Ok(turn);
            }
        }
        Err(busy(&self.key))
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

    use super::*;

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

    /// The gate for job `ours`, with the mark naming `last` (started `started`) first.
    async fn gate(server: &MockServer, last: Option<(&str, &str)>) -> OneAtATime {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let key = retrain_key("route", "signal s");
        if let Some((job, started)) = last {
            let mark = LastJob {
                job: Some(job.into()),
                started: Some(Timestamp::parse(started).unwrap()),
            };
            let write = MarkWrite {
                key: &key,
                text: &mark.to_text(),
                version: None,
                keep: RETRAIN_KEEP,
            };
            assert!(ledger.write_mark(write).await.unwrap());
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
            workspace: WorkspaceId::parse(WORKSPACE).unwrap(),
        }
    }

    /// `gate.start` with a create that answers `created` and notes that it ran; then the job
    /// the mark names.
    async fn start(
        gate: OneAtATime,
        created: &str,
    ) -> (Result<Recorded, Unsettled>, bool, Option<String>) {
        let ran = AtomicBool::new(false);
        let (ledger, key) = (Arc::clone(&gate.ledger), gate.key.clone());
        let result = gate
            .start(|| async {
                ran.store(true, Ordering::SeqCst);
                Ok(Recorded::new(created, "created, or not"))
            })
            .await;
        let mark = ledger.read_mark(&key).await.unwrap();
        (
            result,
            ran.load(Ordering::SeqCst),
            LastJob::from_mark(mark.as_ref()).job,
        )
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
    async fn a_job_not_created_gives_the_turn_back_to_the_last_one_started() {
        let server = azure(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"properties": {"status": "Completed"}})),
        )
        .await;
        let gate = gate(&server, Some(("retrain-last", "2020-01-01T00:00:00Z"))).await;

        let (result, ran, marked) = start(gate, "failed").await;

        assert_eq!(result.unwrap().status, "failed");
        assert!(ran);
        assert_eq!(marked.as_deref(), Some("retrain-last"));
    }

    fn every(ledger: &Arc<dyn Ledger>, event_id: &str) -> NotifyEvery {
        NotifyEvery {
            ledger: Arc::clone(ledger),
            key: notify_key("route", "target-id", "signal s"),
            group: "signal s".into(),
            target: "team".into(),
            event_id: event_id.into(),
            every: Duration::from_secs(3600),
        }
    }

    #[tokio::test]
    async fn within_the_interval_notices_are_held_and_counted_and_the_turn_taker_sends_again() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        assert!(matches!(
            every(&ledger, "e1").turn().await.unwrap(),
            Turn::Send(None)
        ));
        for (event, count) in [("e2", 1), ("e3", 2)] {
            let Turn::Hold(recorded) = every(&ledger, event).turn().await.unwrap() else {
                panic!("{event} is sent");
            };
            assert_eq!(recorded.status, "held");
            assert!(
                recorded.detail.contains(&format!("{count} held since")),
                "{}",
                recorded.detail
            );
        }
        // e1's send failed for now: its redelivery still has the turn.
        assert!(matches!(
            every(&ledger, "e1").turn().await.unwrap(),
            Turn::Send(None)
        ));
        let mark = ledger.read_mark(&every(&ledger, "x").key).await.unwrap();
        let last = LastNotice::from_mark(mark.as_ref());
        assert_eq!((last.held, last.last_event.as_deref()), (2, Some("e1")));
    }

    #[tokio::test]
    async fn after_the_interval_the_next_notice_reports_the_held_ones_and_resets_the_count() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let key = notify_key("route", "target-id", "signal s");
        let long_ago = Timestamp::parse("2020-01-01T09:00:00Z").unwrap();
        let since = Timestamp::parse("2020-01-01T09:05:00Z").unwrap();
        let old = LastNotice {
            last_sent: Some(long_ago),
            last_event: Some("e1".into()),
            held: 37,
            held_since: Some(since),
            reported: None,
        };
        let write = MarkWrite {
            key: &key,
            text: &old.to_text(),
            version: None,
            keep: Duration::from_secs(60),
        };
        assert!(ledger.write_mark(write).await.unwrap());

        let Turn::Send(Some(held)) = every(&ledger, "e9").turn().await.unwrap() else {
            panic!("e9 reports the held notices");
        };
        assert_eq!((held.count, held.since), (37, since));
        let mark = ledger.read_mark(&key).await.unwrap();
        let last = LastNotice::from_mark(mark.as_ref());
        assert_eq!((last.held, last.held_since), (0, None));
        assert_eq!(last.last_event.as_deref(), Some("e9"));
        // A redelivery of e9 reports the same count.
        let Turn::Send(Some(again)) = every(&ledger, "e9").turn().await.unwrap() else {
            panic!("e9 again");
        };
        assert_eq!(again.count, 37);
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

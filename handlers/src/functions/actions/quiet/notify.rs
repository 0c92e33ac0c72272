//! A route's `notify_every` for one target and group: at most one notice in the interval; the
//! others are held back and counted, and the next one sent reports them. Never for PagerDuty
//! ([`holds_back`]).

use std::{sync::Arc, time::Duration};

use aml_events::{
    Timestamp, chain,
    ledger::{Ledger, LedgerError, Recorded},
    notify::{Held, Kind},
    redact::fingerprint,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::warn;

use super::mark::{ATTEMPTS, MarkState, busy, deferred, read, replace, shown};
use crate::{functions::actions::once::Unsettled, outcome::ActionStatus, routes::interval};

/// How many characters of an event's id a mark keeps to show (`explain`): ids of any length
/// are allowed, and a mark holds 4 KiB at most.
const SHOWN_ID_CHARS: usize = 64;

/// What `explain` says of a PagerDuty target under a `notify_every`.
pub const NEVER_HELD: &str = "notify_every does not apply to PagerDuty: every alert is sent, and its dedup_key folds repeats about the same thing into one incident";

/// Whether `notify_every` holds back notices to a target of `kind`: not PagerDuty's. Its
/// `dedup_key` already folds repeats into one incident, and a held alert would page nobody (a
/// second, different failure; a breach back after on-call resolved the incident), while
/// PagerDuty never shows a held count.
/// See <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/> (`dedup_key`).
pub fn holds_back(kind: Kind) -> bool {
    kind != Kind::PagerDuty
}

/// How many turns a mark remembers: an event among them whose notice never went out (its send
/// failed for now) still sends it when redelivered, even after later events took turns.
const TURNS_KEPT: usize = 8;

/// The notices a route sends a target for a group, as their mark keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastNotice {
    /// The last turns taken, oldest first, at most [`TURNS_KEPT`].
    #[serde(default)]
    turns: Vec<TurnTaken>,
    /// The id of the last turn's event, cut to 64 characters: what `explain` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_id: Option<String>,
    /// How many notices were held back since the last turn.
    #[serde(default)]
    pub held: u64,
    /// When the first of them was held back.
    #[serde(default)]
    pub held_since: Option<Timestamp>,
}

impl MarkState for LastNotice {}

/// A turn taken: an event's notice let through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TurnTaken {
    /// The event, as a fingerprint of its source and id (ids of any length are allowed).
    event: String,
    /// When.
    sent: Timestamp,
    /// What its notice reports: the notices held back before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reported: Option<Reported>,
}

/// Notices held back, as a mark keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Reported {
    /// How many.
    count: u64,
    /// Since when.
    since: Timestamp,
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
    /// When the last notice was let through, if one was.
    pub fn last_sent(&self) -> Option<Timestamp> {
        Some(self.turns.last()?.sent)
    }

    /// Until when notices are held back after the last one sent, if one was.
    pub fn quiet_until(&self, every: Duration) -> Option<OffsetDateTime> {
        Some(self.last_sent()?.as_offset_date_time() + every)
    }

    /// The turn `event` took, if the mark remembers it.
    fn turn_of(&self, event: &str) -> Option<&TurnTaken> {
        self.turns.iter().rev().find(|turn| turn.event == event)
    }

    /// This state with `event`'s turn taken back, if it is still the last one: the notice
    /// before it is the last sent again, and the notices it reported count as held again.
    fn given_back(mut self, event: &str) -> Option<LastNotice> {
        if self.turns.last()?.event != event {
            return None;
        }
        let ours = self.turns.pop()?;
        if let Some(reported) = ours.reported {
            self.held += reported.count;
            // Held before our turn: earlier than any held since.
            self.held_since = Some(reported.since);
        }
        self.last_event_id = None;
        Some(self)
    }
}

/// A route's `notify_every` for one target and group.
pub struct NotifyEvery {
    /// Where the mark is.
    pub ledger: Arc<dyn Ledger>,
    /// [`notify_key`](super::mark::notify_key).
    pub key: String,
    /// The group, for what outcomes say.
    pub group: String,
    /// The target's name, for what outcomes say.
    pub target: String,
    /// The source of the event whose notice it is (event ids are unique per source).
    pub source: String,
    /// The event's id.
    pub event_id: String,
    /// The interval.
    pub every: Duration,
}

/// Whether a notice goes out now.
#[derive(Debug)]
enum Turn {
    /// Send it, reporting the notices held back before it, if any.
    Send(Option<Held>),
    /// Held back: what to record.
    Hold(Recorded),
}

impl NotifyEvery {
    /// Sends this event's notice through `send` (given the notices held back before it, to
    /// report) when it has the target's turn; else records it held back, counted. The mark
    /// says the turn is taken before `send` runs. A notice the target refused (`send` comes to
    /// `failed`) gives the turn back: nobody received it. One that failed for now keeps it:
    /// the event's redelivery sends it, even after later events took turns.
    pub async fn send<F, Fut>(self, send: F) -> Result<Recorded, Unsettled>
    where
        F: FnOnce(Option<Held>) -> Fut,
        Fut: Future<Output = Result<Recorded, Unsettled>>,
    {
        let event = self.event();
        let held = match self.turn(&event).await? {
            Turn::Hold(recorded) => return Ok(recorded),
            Turn::Send(held) => held,
        };
        let result = send(held).await;
        let refused =
            matches!(&result, Ok(recorded) if recorded.status == ActionStatus::Failed.as_str());
        if refused {
            self.give_back(&event).await;
        }
        result
    }

    /// Takes the target's turn for `event` (the mark says its notice is sent now), or counts
    /// the notice held back. An event that took a turn before sends again: a notice that went
    /// out, or was refused, is recorded, and its redelivery never gets here.
    async fn turn(&self, event: &str) -> Result<Turn, Unsettled> {
        for _ in 0..ATTEMPTS {
            let mark = read::<LastNotice>(&*self.ledger, &self.key)
                .await
                .map_err(deferred)?;
            let last = mark.state;
            if let Some(taken) = last.turn_of(event) {
                return Ok(Turn::Send(taken.reported.map(Held::from)));
            }
            let now = Timestamp::now();
            let (next, turn) = match (last.last_sent(), last.quiet_until(self.every)) {
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
                    let mut turns = last.turns;
                    turns.push(TurnTaken {
                        event: event.to_owned(),
                        sent: now,
                        reported,
                    });
                    let forgotten = turns.len().saturating_sub(TURNS_KEPT);
                    turns.drain(..forgotten);
                    let next = LastNotice {
                        turns,
                        last_event_id: Some(shown_id(&self.event_id)),
                        held: 0,
                        held_since: None,
                    };
                    (next, Turn::Send(reported.map(Held::from)))
                }
            };
            let version = mark.version.as_deref();
            let written = replace(&*self.ledger, &self.key, version, &next, self.every);
            if written.await.map_err(deferred)? {
                return Ok(turn);
            }
        }
        Err(busy(&self.key))
    }

    /// Takes `event`'s turn back while it is still the last one taken ([`LastNotice::given_back`]).
    /// Best effort: a turn left taken holds notices back for the rest of its interval at most.
    async fn give_back(&self, event: &str) {
        let restore = async {
            for _ in 0..ATTEMPTS {
                let mark = read::<LastNotice>(&*self.ledger, &self.key).await?;
                let Some(restored) = mark.state.given_back(event) else {
                    return Ok(());
                };
                let version = mark.version.as_deref();
                if replace(&*self.ledger, &self.key, version, &restored, self.every).await? {
                    return Ok(());
                }
            }
            Ok::<(), LedgerError>(())
        };
        if let Err(err) = restore.await {
            warn!(mark = %self.key, error = %chain(&err), "could not give back the notice's turn");
        }
    }

    /// The event as its mark names it: a fingerprint of its source and id.
    fn event(&self) -> String {
        let (source, id) = (&self.source, &self.event_id);
        fingerprint(&format!("{}:{source}{id}", source.len()))
    }
}

/// `id` cut to [`SHOWN_ID_CHARS`] characters, an ellipsis marking the cut.
fn shown_id(id: &str) -> String {
    match id.char_indices().nth(SHOWN_ID_CHARS) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aml_events::ledger::MemoryLedger;

    use super::{super::mark::notify_key, *};

    fn every(ledger: &Arc<dyn Ledger>, event_id: &str) -> NotifyEvery {
        NotifyEvery {
            ledger: Arc::clone(ledger),
            key: notify_key(None, "route", "target-id", "signal s"),
            group: "signal s".into(),
            target: "team".into(),
            source: "/subscriptions/s".into(),
            event_id: event_id.into(),
            every: Duration::from_secs(3600),
        }
    }

    /// What a send was asked to report, when it ran.
    type Asked = Option<Option<Held>>;

    /// `event_id`'s notice through [`NotifyEvery::send`], the send coming to `sent`: what was
    /// recorded, and what the send was asked to report if it ran.
    async fn send_as(
        ledger: &Arc<dyn Ledger>,
        event_id: &str,
        sent: Result<Recorded, Unsettled>,
    ) -> (Result<Recorded, Unsettled>, Asked) {
        let asked = Mutex::new(None);
        let asked_of = &asked;
        let result = every(ledger, event_id)
            .send(move |held| async move {
                *asked_of.lock().unwrap() = Some(held);
                sent
            })
            .await;
        (result, asked.into_inner().unwrap())
    }

    /// [`send_as`] a send the target took: what was recorded, and what the send was asked to report.
    async fn send(ledger: &Arc<dyn Ledger>, event_id: &str) -> (Recorded, Asked) {
        let (result, asked) = send_as(ledger, event_id, Ok(Recorded::new("done", "took it"))).await;
        (result.unwrap(), asked)
    }

    async fn state(ledger: &Arc<dyn Ledger>) -> LastNotice {
        let mark = ledger.read_mark(&every(ledger, "x").key).await.unwrap();
        LastNotice::from_mark(mark.as_ref())
    }

    /// Writes `state` over the mark.
    async fn set_state(ledger: &Arc<dyn Ledger>, state: &LastNotice) {
        let key = every(ledger, "x").key;
        let mark = read::<LastNotice>(&**ledger, &key).await.unwrap();
        let version = mark.version.as_deref();
        let keep = Duration::from_secs(60);
        assert!(
            replace(&**ledger, &key, version, state, keep)
                .await
                .unwrap()
        );
    }

    /// Moves the last notice an interval back, as if the interval had passed.
    async fn interval_passes(ledger: &Arc<dyn Ledger>) {
        let mut state = state(ledger).await;
        state.turns.last_mut().unwrap().sent = Timestamp::parse("2020-01-01T09:00:00Z").unwrap();
        set_state(ledger, &state).await;
    }

    fn failed_for_now() -> Result<Recorded, Unsettled> {
        Err(Unsettled::Transient("the target answered 503".into()))
    }

    #[tokio::test]
    async fn within_the_interval_notices_are_held_and_counted_and_the_turn_taker_sends_again() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let (result, asked) = send_as(&ledger, "e1", failed_for_now()).await;
        assert!(matches!(result, Err(Unsettled::Transient(_))));
        assert_eq!(asked, Some(None), "e1 is sent, reporting nothing");
        for (event, count) in [("e2", 1), ("e3", 2)] {
            let (recorded, asked) = send(&ledger, event).await;
            assert_eq!(asked, None, "{event} is not sent");
            assert_eq!(recorded.status, "held");
            assert!(
                recorded.detail.contains(&format!("{count} held since")),
                "{}",
                recorded.detail
            );
        }
        // e1's send failed for now: its redelivery still has the turn.
        let (recorded, asked) = send(&ledger, "e1").await;
        assert_eq!((recorded.status.as_str(), asked), ("done", Some(None)));
        let last = state(&ledger).await;
        assert_eq!((last.held, last.last_event_id.as_deref()), (2, Some("e1")));
    }

    /// See: reviewer's finding 3 on issue 24's noise control. e1's send failed for now for
    /// longer than the interval, and e5 took the next turn: e1's redelivery was held, so its
    /// first alert never went out.
    #[tokio::test]
    async fn an_event_whose_turn_never_got_its_notice_out_sends_it_after_later_turns() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let (result, _) = send_as(&ledger, "e1", failed_for_now()).await;
        assert!(result.is_err());
        interval_passes(&ledger).await;
        assert_eq!(send(&ledger, "e5").await.1, Some(None), "e5 takes a turn");

        let (recorded, asked) = send(&ledger, "e1").await;

        assert_eq!((recorded.status.as_str(), asked), ("done", Some(None)));
    }

    /// See: reviewer's finding 3 on issue 24's noise control. The mark took the turn before
    /// the send: a notice the target refused held the rest of the interval back against a
    /// notice nobody received, and the held count it carried was lost.
    #[tokio::test]
    async fn a_refused_notice_gives_the_turn_and_the_count_it_carried_back() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let since = Timestamp::parse("2020-01-01T09:05:00Z").unwrap();
        send(&ledger, "e0").await;
        interval_passes(&ledger).await;
        let mut held_three = state(&ledger).await;
        (held_three.held, held_three.held_since) = (3, Some(since));
        set_state(&ledger, &held_three).await;

        // e9 takes the turn, reporting the 3; e2 is held while e9's send is refused.
        let ledger_too = Arc::clone(&ledger);
        let refused = every(&ledger, "e9")
            .send(move |held| async move {
                assert_eq!(held.map(|held| held.count), Some(3));
                let (meanwhile, _) = send(&ledger_too, "e2").await;
                assert_eq!(meanwhile.status, "held");
                Ok(Recorded::new("failed", "the target answered 404"))
            })
            .await;
        assert_eq!(refused.unwrap().status, "failed");

        let (recorded, asked) = send(&ledger, "e10").await;

        assert_eq!(recorded.status, "done");
        let reported = asked.flatten().expect("e10 reports the held notices");
        assert_eq!((reported.count, reported.since), (3 + 1, since));
        assert_eq!(state(&ledger).await.held, 0);
    }

    /// Event ids of any length are allowed, and a mark over 4 KiB is refused: a mark that kept
    /// the raw id deferred the event until it was dead-lettered.
    #[tokio::test]
    async fn an_event_id_of_any_length_takes_its_turn() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let long_id = "e".repeat(5000);

        let (result, asked) = send_as(&ledger, &long_id, failed_for_now()).await;

        assert!(matches!(result, Err(Unsettled::Transient(_))), "{result:?}");
        assert_eq!(asked, Some(None));
        assert_eq!(send(&ledger, &long_id).await.1, Some(None), "sent again");
        let shown = state(&ledger).await.last_event_id.unwrap();
        assert_eq!(shown, format!("{}…", "e".repeat(SHOWN_ID_CHARS)));
    }

    #[tokio::test]
    async fn after_the_interval_the_next_notice_reports_the_held_ones_and_resets_the_count() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let since = Timestamp::parse("2020-01-01T09:05:00Z").unwrap();
        send(&ledger, "e1").await;
        interval_passes(&ledger).await;
        let mut held = state(&ledger).await;
        (held.held, held.held_since) = (37, Some(since));
        set_state(&ledger, &held).await;

        let (_, asked) = send_as(&ledger, "e9", failed_for_now()).await;
        let reported = asked.flatten().expect("e9 reports the held notices");
        assert_eq!((reported.count, reported.since), (37, since));
        let last = state(&ledger).await;
        assert_eq!((last.held, last.held_since), (0, None));
        assert_eq!(last.last_event_id.as_deref(), Some("e9"));
        // A redelivery of e9 reports the same count.
        let again = send(&ledger, "e9").await.1.flatten().expect("e9 again");
        assert_eq!(again.count, 37);
    }

    #[tokio::test]
    async fn a_mark_remembers_its_last_turns_only() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        for turn in 0..TURNS_KEPT + 2 {
            send(&ledger, &format!("e{turn}")).await;
            interval_passes(&ledger).await;
        }

        let turns = state(&ledger).await.turns;

        assert_eq!(turns.len(), TURNS_KEPT);
        let newest = every(&ledger, &format!("e{}", TURNS_KEPT + 1)).event();
        assert_eq!(turns.last().unwrap().event, newest);
    }
}

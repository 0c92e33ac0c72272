//! A route's `notify_every` for one target and group: at most one notice in the interval; the
//! others are held back and counted, and the next one sent reports them. Never for PagerDuty
//! ([`holds_back`]).

use std::{sync::Arc, time::Duration};

use aml_events::{
    Timestamp,
    ledger::{Ledger, Recorded},
    notify::{Held, Kind},
    redact::fingerprint,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ATTEMPTS, MarkState, busy, deferred, read, replace, shown};
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

/// The notices a route sends a target for a group, as their mark keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastNotice {
    /// When the last notice was let through.
    #[serde(default)]
    pub last_sent: Option<Timestamp>,
    /// The event whose notice it was, as a fingerprint of its source and id (ids of any length
    /// are allowed): its redelivery sends it again (a send that failed for now is never lost).
    #[serde(default)]
    pub last_event: Option<String>,
    /// That event's id, cut to [`SHOWN_ID_CHARS`] characters: what `explain` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_id: Option<String>,
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

impl MarkState for LastNotice {}

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
    /// Until when notices are held back after the last one sent, if one was.
    pub fn quiet_until(&self, every: Duration) -> Option<OffsetDateTime> {
        Some(self.last_sent?.as_offset_date_time() + every)
    }
}

/// A route's `notify_every` for one target and group.
pub struct NotifyEvery {
    /// Where the mark is.
    pub ledger: Arc<dyn Ledger>,
    /// [`notify_key`](super::notify_key).
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
        let event = self.event();
        for _ in 0..ATTEMPTS {
            let mark = read::<LastNotice>(&*self.ledger, &self.key)
                .await
                .map_err(deferred)?;
            let last = mark.state;
            if last.last_event.as_deref() == Some(event.as_str()) {
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
                        last_event: Some(event.clone()),
                        last_event_id: Some(shown_id(&self.event_id)),
                        held: 0,
                        held_since: None,
                        reported,
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
    use aml_events::ledger::MemoryLedger;

    use super::{super::notify_key, *};

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
        assert_eq!((last.held, last.last_event_id.as_deref()), (2, Some("e1")));
    }

    /// Event ids of any length are allowed, and a mark over 4 KiB is refused: a mark that kept
    /// the raw id deferred the event until it was dead-lettered.
    #[tokio::test]
    async fn an_event_id_of_any_length_takes_its_turn() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let long_id = "e".repeat(5000);

        let turn = every(&ledger, &long_id).turn().await;

        assert!(matches!(turn, Ok(Turn::Send(None))), "{turn:?}");
        assert!(matches!(
            every(&ledger, &long_id).turn().await,
            Ok(Turn::Send(None))
        ));
        let mark = ledger.read_mark(&every(&ledger, "x").key).await.unwrap();
        let shown = LastNotice::from_mark(mark.as_ref()).last_event_id.unwrap();
        assert_eq!(shown, format!("{}…", "e".repeat(SHOWN_ID_CHARS)));
    }

    #[tokio::test]
    async fn after_the_interval_the_next_notice_reports_the_held_ones_and_resets_the_count() {
        let ledger: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
        let key = notify_key(None, "route", "target-id", "signal s");
        let long_ago = Timestamp::parse("2020-01-01T09:00:00Z").unwrap();
        let since = Timestamp::parse("2020-01-01T09:05:00Z").unwrap();
        let old = LastNotice {
            last_sent: Some(long_ago),
            last_event: Some("e1".into()),
            last_event_id: Some("e1".into()),
            held: 37,
            held_since: Some(since),
            reported: None,
        };
        let keep = Duration::from_secs(60);
        assert!(replace(&*ledger, &key, None, &old, keep).await.unwrap());

        let Turn::Send(Some(held)) = every(&ledger, "e9").turn().await.unwrap() else {
            panic!("e9 reports the held notices");
        };
        assert_eq!((held.count, held.since), (37, since));
        let mark = ledger.read_mark(&key).await.unwrap();
        let last = LastNotice::from_mark(mark.as_ref());
        assert_eq!((last.held, last.held_since), (0, None));
        assert_eq!(last.last_event_id.as_deref(), Some("e9"));
        // A redelivery of e9 reports the same count.
        let Turn::Send(Some(again)) = every(&ledger, "e9").turn().await.unwrap() else {
            panic!("e9 again");
        };
        assert_eq!(again.count, 37);
    }
}

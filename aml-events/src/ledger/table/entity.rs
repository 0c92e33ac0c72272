//! How an entity reads back: what a read says about its claim ([`Stored`], its age by the
//! table service's own clock), an [`Entry`] as the history lists it, and a mark
//! ([`StoredMark`]).

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::keys::parse_time;
use crate::ledger::{EffectKey, Entry, EntryState, Mark, Recorded};

/// What a read entity says about its claim.
pub(super) struct Stored {
    pub(super) etag: String,
    pub(super) state: EntryState,
    pub(super) outcome: Option<Recorded>,
    pub(super) claimed_at: SystemTime,
    pub(super) done_at: Option<SystemTime>,
    pub(super) claim_id: String,
    /// How old the claim is by the service's clock, when the answer tells.
    age: Option<Duration>,
}

impl Stored {
    /// How old the claim is: by the table service's clock when the read told
    /// ([`service_age`]), else by this machine's clock against `ClaimedAt`.
    pub(super) fn age(&self) -> Duration {
        self.age.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(self.claimed_at)
                .unwrap_or_default()
        })
    }
}

pub(super) fn text(value: &Value, name: &str) -> Option<String> {
    value.get(name)?.as_str().map(str::to_owned)
}

fn state(value: &Value) -> Option<EntryState> {
    match value.get("State")?.as_str()? {
        "claimed" => Some(EntryState::Claimed),
        "done" => Some(EntryState::Done),
        _ => None,
    }
}

pub(super) fn stored(value: &Value, etag: String, age: Option<Duration>) -> Option<Stored> {
    Some(Stored {
        etag,
        age,
        state: state(value)?,
        outcome: text(value, "Outcome").as_deref().map(Recorded::from_text),
        claimed_at: parse_time(&text(value, "ClaimedAt")?)?,
        done_at: text(value, "DoneAt").as_deref().and_then(parse_time),
        claim_id: text(value, "ClaimId").unwrap_or_default(),
    })
}

/// How old an entity's last write is by the table service's own clock: the `Date` of the
/// answer that read it minus its `Timestamp` (which the service sets on every write), so that
/// no instance's clock decides whether another's claim is stale. `None` when either is missing
/// or unreadable. `Date` counts whole seconds, so the age may read up to a second young:
/// a claim is judged stale late, never early.
/// See <https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#timestamp-property>.
pub(super) fn service_age(date: Option<&str>, timestamp: Option<&str>) -> Option<Duration> {
    let now = httpdate::parse_http_date(date?).ok()?;
    let written = parse_time(timestamp?)?;
    Some(now.duration_since(written).unwrap_or_default())
}

pub(super) fn entry(value: &Value) -> Option<Entry> {
    Some(Entry {
        key: EffectKey {
            source: text(value, "Source").unwrap_or_default(),
            event_id: text(value, "EventId").unwrap_or_default(),
            action: text(value, "Action").unwrap_or_default(),
            target: text(value, "Target").unwrap_or_default(),
        },
        state: state(value)?,
        outcome: text(value, "Outcome").as_deref().map(Recorded::from_text),
        claimed_at: parse_time(&text(value, "ClaimedAt")?)?,
        done_at: text(value, "DoneAt").as_deref().and_then(parse_time),
    })
}

/// A mark as read, with the id of the write that left it (a retried write that finds its own
/// write recognises it by this id).
pub(super) struct StoredMark {
    pub(super) mark: Mark,
    pub(super) write_id: String,
}

/// The mark in `value`: its `Text`, `etag` as its version, and when the table service last
/// wrote it (`Timestamp`).
pub(super) fn stored_mark(value: &Value, etag: String) -> Option<StoredMark> {
    Some(StoredMark {
        mark: Mark {
            text: text(value, "Text")?,
            version: etag,
            written_at: parse_time(&text(value, "Timestamp")?)?,
        },
        write_id: text(value, "WriteId").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::table::keys::format_time;

    #[test]
    fn the_service_clock_judges_the_age() {
        let age = service_age(
            Some("Mon, 07 Dec 2026 08:09:05 GMT"),
            Some("2026-12-07T08:09:04.4546614Z"),
        );
        let age = age.expect("both readable");
        assert!(
            age > Duration::from_millis(545) && age < Duration::from_millis(546),
            "{age:?}"
        );
        // Written within the second the answer was dated: the age rounds down to nothing.
        let young = service_age(
            Some("Mon, 07 Dec 2026 08:09:04 GMT"),
            Some("2026-12-07T08:09:04.9Z"),
        );
        assert_eq!(young, Some(Duration::ZERO));
    }

    #[test]
    fn without_both_times_the_local_clock_judges() {
        let timestamp = Some("2026-12-07T08:09:04.4546614Z");
        assert_eq!(service_age(None, timestamp), None);
        assert_eq!(service_age(Some("yesterday"), timestamp), None);
        assert_eq!(
            service_age(Some("Mon, 07 Dec 2026 08:09:05 GMT"), None),
            None
        );
        assert_eq!(
            service_age(Some("Mon, 07 Dec 2026 08:09:05 GMT"), Some("soon")),
            None
        );
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let entity = serde_json::json!({
            "State": "claimed",
            "ClaimedAt": format_time(an_hour_ago),
            "ClaimId": "c",
        });
        let found = stored(&entity, "etag".into(), None).unwrap();
        assert!(found.age() >= Duration::from_secs(3600));
        let found = stored(&entity, "etag".into(), Some(Duration::from_secs(2))).unwrap();
        assert_eq!(found.age(), Duration::from_secs(2));
    }

    #[test]
    fn a_mark_reads_back_by_the_services_timestamp() {
        let entity = serde_json::json!({
            "Text": "{\"sent\":1}",
            "Timestamp": "2026-12-07T08:09:04.4546614Z",
            "KeepUntil": "2026-12-09T08:09:04.454661Z",
            "WriteId": "w",
        });
        let found = stored_mark(&entity, "W/\"1\"".into()).expect("a mark");
        assert_eq!(found.mark.text, "{\"sent\":1}");
        assert_eq!(found.mark.version, "W/\"1\"");
        assert_eq!(found.write_id, "w");
        assert_eq!(
            found.mark.written_at,
            parse_time("2026-12-07T08:09:04.4546614Z").unwrap()
        );
        let mut no_timestamp = entity.clone();
        no_timestamp.as_object_mut().unwrap().remove("Timestamp");
        assert!(stored_mark(&no_timestamp, "e".into()).is_none());
        let mut no_text = entity;
        no_text.as_object_mut().unwrap().remove("Text");
        assert!(stored_mark(&no_text, "e".into()).is_none());
    }
}

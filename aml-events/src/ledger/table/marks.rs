//! Noise control's marks in the table: read with their version (the entity's ETag), replaced
//! only while still at it, and cleaned once their keep is over.
//!
//! A mark is one entity in the partition [`MARK_PARTITION`] (never an effect's, so history and
//! the effects' cleaning leave marks out by their partition key alone), its `RowKey` the mark's
//! key encoded, or hashed when long, as an effect's is. Its properties: `Mark` (the key as
//! written), `Text`, `KeepUntil` (when cleaning may remove it: written + the larger of its keep
//! and [`RETENTION`], fixed-width UTC text, so it compares as text in `$filter`) and `WriteId`
//! (this write: a retried insert or replace that finds its own write recognises it by this id,
//! as a claim does by its claim id). Its version is its ETag; when it was written is the
//! service's `Timestamp`.
//!
//! Create = insert (409: another writer got there first); replace = update with `If-Match`
//! (412: replaced since; 404: removed since); both on the crate's retry pipeline within the
//! ledger's own budget ([`TableLedgerOptions::deadline`](super::TableLedgerOptions::deadline)).
//! See <https://learn.microsoft.com/rest/api/storageservices/insert-entity>,
//! <https://learn.microsoft.com/rest/api/storageservices/update-entity2>.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{Map, Value};

use super::{
    entity::{StoredMark, stored_mark},
    keys::{MARK_PARTITION, format_time, mark_keys, odata_datetime},
    rest::Call,
    table_ledger::TableLedger,
};
use crate::{
    ledger::{LedgerError, Mark, MarkWrite, RETENTION},
    pipeline::{Deadline, Repeat},
};

/// The latest `KeepUntil` written, 9999-12-31T23:59:59Z: a longer keep still fits the fixed
/// width (four-digit years) that makes text order time order.
const LATEST_KEEP_UNTIL: Duration = Duration::from_secs(253_402_300_799);

/// When a mark written at `now` and kept `keep` may be cleaned: after its keep, and never within
/// [`RETENTION`].
fn keep_until(now: SystemTime, keep: Duration) -> SystemTime {
    let latest = SystemTime::UNIX_EPOCH + LATEST_KEEP_UNTIL;
    now.checked_add(keep.max(RETENTION))
        .map_or(latest, |until| until.min(latest))
}

impl TableLedger {
    /// See [`Ledger::read_mark`](crate::ledger::Ledger::read_mark).
    pub(super) async fn read_mark_now(&self, key: &str) -> Result<Option<Mark>, LedgerError> {
        let deadline = self.deadline(None);
        self.ensure_table(deadline).await?;
        Ok(self
            .read_stored_mark(key, deadline)
            .await?
            .map(|stored| stored.mark))
    }

    /// See [`Ledger::write_mark`](crate::ledger::Ledger::write_mark).
    pub(super) async fn write_mark_now(&self, write: MarkWrite<'_>) -> Result<bool, LedgerError> {
        write.check_size()?;
        let deadline = self.deadline(None);
        self.ensure_table(deadline).await?;
        let write_id = uuid::Uuid::new_v4().to_string();
        let body = serde_json::to_vec(&mark_entity(&write, &write_id)).unwrap_or_default();
        let call = match write.version {
            None => Call {
                operation: "create mark",
                method: Method::POST,
                url: self.url(&self.table),
                body: Some(body),
                if_match: None,
                // Conditional: a retry that finds 409 reads the mark and recognises its own
                // insert by the write id.
                repeat: Repeat::Idempotent,
            },
            Some(version) => {
                let (partition, row) = mark_keys(write.key);
                Call {
                    operation: "replace mark",
                    method: Method::PUT,
                    url: self.entity_url(&partition, &row),
                    body: Some(body),
                    if_match: Some(version.to_owned()),
                    repeat: Repeat::Idempotent,
                }
            }
        };
        let answer = self.send(&call, deadline).await?;
        match answer.status.as_u16() {
            200..=299 => Ok(true),
            // Written since by someone, perhaps by our own attempt whose answer was lost.
            409 | 412 => {
                let found = self.read_stored_mark(write.key, deadline).await?;
                Ok(found.is_some_and(|found| found.write_id == write_id))
            }
            // Removed since (cleaned): the version read is gone.
            404 if write.version.is_some() => Ok(false),
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    async fn read_stored_mark(
        &self,
        key: &str,
        deadline: Deadline,
    ) -> Result<Option<StoredMark>, LedgerError> {
        let (partition, row) = mark_keys(key);
        let operation = "read mark";
        let Some(found) = self
            .get_entity(operation, (&partition, &row), deadline)
            .await?
        else {
            return Ok(None);
        };
        stored_mark(&found.value, found.etag)
            .map(Some)
            .ok_or(LedgerError::Malformed {
                operation,
                problem: "the mark lacks Text or Timestamp",
            })
    }

    /// Removes at most `max` marks whose `KeepUntil` has passed (by this machine's clock) and
    /// that the table service last wrote before `older_than`, so that a writer whose clock ran
    /// behind (an early `KeepUntil`) still has its mark kept the retention by the service's
    /// clock.
    pub(super) async fn clean_marks(
        &self,
        older_than: SystemTime,
        max: usize,
    ) -> Result<usize, LedgerError> {
        let filter = format!(
            "PartitionKey eq '{MARK_PARTITION}' and KeepUntil lt '{}' and Timestamp lt {}",
            format_time(SystemTime::now()),
            odata_datetime(older_than)
        );
        self.remove_matching("clean marks", &filter, max).await
    }
}

/// The entity a write stores: see the module's documentation.
fn mark_entity(write: &MarkWrite<'_>, write_id: &str) -> Map<String, Value> {
    let (partition, row) = mark_keys(write.key);
    let keep_until = keep_until(SystemTime::now(), write.keep);
    let mut entity = Map::new();
    entity.insert("PartitionKey".into(), partition.into());
    entity.insert("RowKey".into(), row.into());
    entity.insert("Mark".into(), write.key.into());
    entity.insert("Text".into(), write.text.into());
    entity.insert("KeepUntil".into(), format_time(keep_until).into());
    entity.insert("WriteId".into(), write_id.into());
    entity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_kept_its_keep_and_never_less_than_the_retention() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(keep_until(now, Duration::ZERO), now + RETENTION);
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(keep_until(now, week), now + week);
        let latest = format_time(keep_until(now, Duration::MAX));
        assert_eq!(latest, "9999-12-31T23:59:59.000000Z");
    }
}

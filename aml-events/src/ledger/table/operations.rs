//! The ledger's operations as table calls: claim = conditional insert, take-over = replace
//! with `If-Match`, complete = replace with `If-Match`, release = delete with `If-Match`,
//! history and clean = queries (neither lists nor removes a mark by its `Timestamp`: marks are
//! `marks.rs`'s, cleaned by their `KeepUntil`).

use std::{
    ops::ControlFlow,
    time::{Duration, SystemTime},
};

use reqwest::Method;
use serde_json::{Map, Value};

use super::{
    entity::{Stored, entry, service_age, stored, text},
    keys::{MARK_PARTITION, format_time, keys, odata_datetime, partition_key},
    newest::Newest,
    rest::{Call, etag_of},
    table_ledger::TableLedger,
};
use crate::{
    ledger::{
        Claim, ClaimToken, EffectKey, Entry, EntryState, HistoryQuery, Ledger, LedgerError,
        LedgerFuture, Mark, MarkWrite, Recorded,
        claim::{CLEAN_ACTION, Standing},
    },
    pipeline::{Deadline, Repeat},
};

/// How a claim is written: a new entity, or over a stale one, if it is still the one read.
enum ClaimWrite {
    Insert,
    TakeOver { etag: String },
}

/// What history reads of each entity: what an [`Entry`] shows, nothing more.
const HISTORY_COLUMNS: &str = "Source,EventId,Action,Target,State,Outcome,ClaimedAt,DoneAt";

/// How many times a claim reads and writes before it gives up with
/// [`LedgerError::Contended`].
const CLAIM_ROUNDS: usize = 4;

impl TableLedger {
    async fn read(
        &self,
        key: &EffectKey,
        deadline: Deadline,
    ) -> Result<Option<Stored>, LedgerError> {
        let (partition, row) = keys(key);
        let operation = "read claim";
        let Some(found) = self
            .get_entity(operation, (&partition, &row), deadline)
            .await?
        else {
            return Ok(None);
        };
        let age = service_age(
            found.date.as_deref(),
            text(&found.value, "Timestamp").as_deref(),
        );
        stored(&found.value, found.etag, age)
            .map(Some)
            .ok_or(LedgerError::Malformed {
                operation,
                problem: "the entity lacks State or ClaimedAt",
            })
    }

    fn entity(
        &self,
        key: &EffectKey,
        claim_id: &str,
        claimed_at: SystemTime,
    ) -> Map<String, Value> {
        let (partition, row) = keys(key);
        let mut entity = Map::new();
        entity.insert("PartitionKey".into(), partition.into());
        entity.insert("RowKey".into(), row.into());
        entity.insert("Source".into(), key.source.clone().into());
        entity.insert("EventId".into(), key.event_id.clone().into());
        entity.insert("Action".into(), key.action.clone().into());
        entity.insert("Target".into(), key.target.clone().into());
        entity.insert("State".into(), "claimed".into());
        entity.insert("ClaimedAt".into(), format_time(claimed_at).into());
        entity.insert("Claimant".into(), self.claimant.clone().into());
        entity.insert("ClaimId".into(), claim_id.into());
        entity
    }

    /// Claims `key` by `end` at the latest: see [`Ledger::claim`].
    async fn claim_now(
        &self,
        key: &EffectKey,
        lease: Duration,
        end: tokio::time::Instant,
    ) -> Result<Claim, LedgerError> {
        // Each call's deadline: the delivery's end, or the ledger's budget when sooner.
        let time = self.deadline(Some(end));
        self.ensure_table(time).await?;
        let claim_id = uuid::Uuid::new_v4().to_string();
        // A few rounds: an entity can vanish (released, cleaned) or be taken over between our
        // insert, read and replace; each round starts from what the table says.
        for _ in 0..CLAIM_ROUNDS {
            let insert = ClaimWrite::Insert;
            if let Some(acquired) = self.write_claim(key, &claim_id, insert, time).await? {
                return Ok(acquired);
            }
            let Some(found) = self.read(key, time).await? else {
                continue;
            };
            if found.claim_id == claim_id {
                return Ok(Claim::Acquired(ClaimToken::new(
                    key.clone(),
                    found.claimed_at,
                    claim_id,
                    found.etag,
                )));
            }
            let standing = Standing {
                age: found.age(),
                state: found.state,
                outcome: found.outcome,
                claimed_at: found.claimed_at,
                done_at: found.done_at,
            };
            if let Some(claim) = Claim::over(standing, lease) {
                return Ok(claim);
            }
            // Stale: take it over only if it is still the claim we read.
            let take_over = ClaimWrite::TakeOver { etag: found.etag };
            if let Some(acquired) = self.write_claim(key, &claim_id, take_over, time).await? {
                return Ok(acquired);
            }
        }
        Err(LedgerError::Contended { key: key.clone() })
    }

    /// Writes our claim on `key` as `write` says. The claim is ours on a 2xx; `None` when the
    /// answer says another entity stands there (the next round reads it); an error otherwise.
    /// Nothing is written once the claim's time is up (the delivery's end, or the ledger's
    /// budget when sooner): a claim the delivery could not act on would only hold the effect
    /// from a redelivery until its lease ends.
    async fn write_claim(
        &self,
        key: &EffectKey,
        claim_id: &str,
        write: ClaimWrite,
        time: Deadline,
    ) -> Result<Option<Claim>, LedgerError> {
        if tokio::time::Instant::now() >= time.at {
            return Err(LedgerError::DeadlineExceeded {
                operation: "claim",
                budget: time.budget,
                last: None,
            });
        }
        let now = SystemTime::now();
        let body = Some(serde_json::to_vec(&self.entity(key, claim_id, now)).unwrap_or_default());
        let (call, contested): (Call, &[u16]) = match write {
            ClaimWrite::Insert => (
                Call {
                    operation: "claim",
                    method: Method::POST,
                    url: self.url(&self.table),
                    body,
                    if_match: None,
                    // Conditional: a retry that finds 409 reads the entity and recognises its
                    // own insert by the claim id.
                    repeat: Repeat::Idempotent,
                },
                // The entity exists already.
                &[409],
            ),
            ClaimWrite::TakeOver { etag } => {
                let (partition, row) = keys(key);
                (
                    Call {
                        operation: "take over claim",
                        method: Method::PUT,
                        url: self.entity_url(&partition, &row),
                        body,
                        if_match: Some(etag),
                        repeat: Repeat::Idempotent,
                    },
                    // Someone else changed or removed it first (or our own retried replace
                    // succeeded).
                    &[404, 412],
                )
            }
        };
        let answer = self.send(&call, time).await?;
        match answer.status.as_u16() {
            200..=299 => {
                let etag = etag_of(&answer, call.operation)?;
                let token = ClaimToken::new(key.clone(), now, claim_id.to_owned(), etag);
                Ok(Some(Claim::Acquired(token)))
            }
            status if contested.contains(&status) => Ok(None),
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    async fn complete_now(
        &self,
        token: &ClaimToken,
        outcome: &Recorded,
    ) -> Result<(), LedgerError> {
        let key = token.key();
        // Its own budget, never the delivery's: a delivery cut short must not lose the record.
        let deadline = self.deadline(None);
        let mut entity = self.entity(key, token.claim_id(), token.claimed_at());
        entity.insert("State".into(), "done".into());
        // Bounded: Table storage refuses a property over 64 KiB, which would leave the claim open.
        entity.insert("Outcome".into(), outcome.to_text().into());
        entity.insert("DoneAt".into(), format_time(SystemTime::now()).into());
        let (partition, row) = keys(key);
        let call = Call {
            operation: "complete claim",
            method: Method::PUT,
            url: self.entity_url(&partition, &row),
            body: Some(serde_json::to_vec(&entity).unwrap_or_default()),
            if_match: Some(token.etag().to_owned()),
            repeat: Repeat::Idempotent,
        };
        let answer = self.send(&call, deadline).await?;
        match answer.status.as_u16() {
            200..=299 => Ok(()),
            404 | 412 => match self.read(key, deadline).await? {
                // Our own earlier attempt went through before its answer was lost.
                Some(found)
                    if found.claim_id == token.claim_id() && found.state == EntryState::Done =>
                {
                    Ok(())
                }
                _ => Err(LedgerError::ClaimLost { key: key.clone() }),
            },
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    async fn release_now(&self, token: &ClaimToken) -> Result<(), LedgerError> {
        let (partition, row) = keys(token.key());
        let call = Call {
            operation: "release claim",
            method: Method::DELETE,
            url: self.entity_url(&partition, &row),
            body: None,
            if_match: Some(token.etag().to_owned()),
            repeat: Repeat::Idempotent,
        };
        let answer = self.send(&call, self.deadline(None)).await?;
        match answer.status.as_u16() {
            // Gone, or no longer ours (taken over): nothing to give back.
            200..=299 | 404 | 412 => Ok(()),
            _ => Err(self.fail(call.operation, &answer)),
        }
    }

    /// See [`Ledger::history`]: the table is read page by page, keeping only the `limit` newest
    /// entries seen.
    async fn history_now(&self, query: &HistoryQuery<'_>) -> Result<Vec<Entry>, LedgerError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        self.ensure_table(self.deadline(None)).await?;
        let mut clauses = vec![
            format!("Action ne '{CLEAN_ACTION}'"),
            // Marks, left out by their partition (see `clean_now`).
            format!("PartitionKey ne '{MARK_PARTITION}'"),
        ];
        if let Some(event_id) = query.event_id {
            // The function that wrote the key: a long id is found by its hash.
            clauses.push(format!("PartitionKey eq '{}'", partition_key(event_id)));
        }
        if let Some(since) = query.since {
            clauses.push(format!("ClaimedAt ge '{}'", format_time(since)));
        }
        let mut newest = Newest::new(query.limit);
        let visit = |values: Vec<Value>| {
            let entries = values.iter().filter_map(entry);
            for entry in
                entries.filter(|entry| query.event_id.is_none_or(|id| entry.key.event_id == id))
            {
                newest.push(entry);
            }
            ControlFlow::Continue(())
        };
        let filter = clauses.join(" and ");
        self.query_pages("history", &filter, HISTORY_COLUMNS, usize::MAX, visit)
            .await?;
        Ok(newest.into_vec())
    }

    /// See [`Ledger::clean`]: old effects' entries first, as far as `max_entries` goes, then
    /// marks whose keep is over with what is left of it (marks are few, and one kept longer
    /// than its keep only says something long past).
    async fn clean_now(
        &self,
        older_than: SystemTime,
        max_entries: usize,
    ) -> Result<usize, LedgerError> {
        if max_entries == 0 {
            return Ok(0);
        }
        self.ensure_table(self.deadline(None)).await?;
        // The service's write time, not ClaimedAt: no instance's clock decides what is old.
        // Marks have no `Action`, but how a filter treats a missing property is not
        // documented: their partition leaves them out for certain.
        let filter = format!(
            "Timestamp lt {} and Action ne '{CLEAN_ACTION}' and PartitionKey ne '{MARK_PARTITION}'",
            odata_datetime(older_than)
        );
        let effects = self.remove_matching("clean", &filter, max_entries).await?;
        let marks = self.clean_marks(older_than, max_entries - effects).await?;
        Ok(effects + marks)
    }
}

impl Ledger for TableLedger {
    fn claim<'a>(
        &'a self,
        key: &'a EffectKey,
        lease: Duration,
        deadline: tokio::time::Instant,
    ) -> LedgerFuture<'a, Claim> {
        Box::pin(self.claim_now(key, lease, deadline))
    }

    fn complete<'a>(
        &'a self,
        token: &'a ClaimToken,
        outcome: &'a Recorded,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(self.complete_now(token, outcome))
    }

    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()> {
        Box::pin(self.release_now(token))
    }

    fn history<'a>(&'a self, query: &'a HistoryQuery<'a>) -> LedgerFuture<'a, Vec<Entry>> {
        Box::pin(self.history_now(query))
    }

    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize> {
        Box::pin(self.clean_now(older_than, max_entries))
    }

    fn read_mark<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<Mark>> {
        Box::pin(self.read_mark_now(key))
    }

    fn write_mark<'a>(&'a self, write: MarkWrite<'a>) -> LedgerFuture<'a, bool> {
        Box::pin(self.write_mark_now(write))
    }

    fn describe(&self) -> String {
        format!("Azure Table {} at {}", self.table, self.shown())
    }
}

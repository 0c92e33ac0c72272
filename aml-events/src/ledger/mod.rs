//! The ledger (SPEC §12): each effect of an event (a notification to a target, a retrain, a
//! smoke test) happens once across instances and restarts, because it is claimed in shared
//! storage before it runs and marked done after.
//!
//! Event Grid delivers at least once and redelivers whole batches, and a Functions app runs on
//! many instances; the in-memory set of recent ids sees only its own process. The ledger is the
//! one place every instance asks "has this been done, or is someone doing it?".
//!
//! # Layout
//! - [`Ledger`]: the seam, object-safe with boxed futures like
//!   [`TokenSource`](crate::azure::TokenSource), so hosts inject an `Arc<dyn Ledger>` and tests
//!   can count claims.
//! - [`EffectKey`], [`Claim`], [`ClaimToken`], [`Entry`]: what is claimed and what a claim says;
//!   [`Recorded`]: what a done effect came to; [`HistoryQuery`]: which entries to list.
//! - [`memory`]: [`MemoryLedger`], one process's ledger, bounded, for runs without storage and
//!   for tests.
//! - [`table`]: [`TableLedger`], Azure Table storage over its REST API, with the connection
//!   settings ([`TableConnection`]) read as SPEC §12 orders them.
//! - [`LedgerError`]: what can go wrong; never shows an account key or a token.
//!
//! # The protocol
//! - `claim` before the effect, with the lease and the delivery's deadline: the claim gives up
//!   by that deadline (or the ledger's own budget, if sooner), and none is written once it has
//!   passed, so no effect is claimed that would have no time left to run.
//! - On [`Claim::Acquired`], act, then `complete` with a [`Recorded`] outcome (or `release` if
//!   the effect failed and a redelivery should try again). `complete` and `release` have the
//!   ledger's own budget, not the delivery's: run them where the delivery's timeout cannot
//!   cancel them, or the effect is done but its record lost. The outcome is stored as JSON of
//!   at most [`Recorded::MAX_BYTES`] ([`Recorded::to_text`]), with what the effect found, so a
//!   redelivery can build the same notice.
//! - On [`Claim::Done`], report a duplicate with the stored outcome.
//! - On [`Claim::HeldElsewhere`] (another claim younger than the lease, its `age` judged by the
//!   store's own clock, never by one instance's) or any error, do not act and answer so Event
//!   Grid redelivers (503, or a failed invocation). Never act unclaimed. A claim older than the
//!   lease and not done is a crashed claimant's: the next claim takes it over.
//! - [`Ledger::history`] lists entries newest first, at most a limit, by time and/or event id;
//!   [`Ledger::clean`] removes old entries a bounded batch at a time. Neither touches the hosts'
//!   turn to clean: a claim of `EffectKey::new("", "~clean-turn", "clean", "")`, never
//!   completed, which lets one instance at a time clean.
//!
//! It deliberately does not decide the lease (twice the delivery deadline, the caller's
//! setting), read the environment, or schedule the cleaning: the host calls [`Ledger::clean`]
//! in bounded background work with [`RETENTION`].

use std::{
    cmp::{Ordering, Reverse},
    collections::BinaryHeap,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, SystemTime},
};

use crate::azure::CredentialError;

pub mod memory;
pub mod table;

pub use memory::MemoryLedger;
pub use table::{
    DEFAULT_TABLE, LedgerSetting, STORAGE_SCOPE, TableConnection, TableLedger, TableLedgerOptions,
};

/// How long entries are kept at least (SPEC §12): Event Grid retries for 24 hours, so 48 hours
/// leaves a redelivery nothing to find missing. Clean with `now - RETENTION`.
pub const RETENTION: Duration = Duration::from_secs(48 * 60 * 60);

/// One effect of one event: what is claimed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EffectKey {
    /// The event's source or topic (may be empty): event ids are unique per source only.
    pub source: String,
    /// The event id.
    pub event_id: String,
    /// The action: `notify`, `retrain`, `smoke-test`.
    pub action: String,
    /// The notification target or the job name (may be empty).
    pub target: String,
}

impl EffectKey {
    /// A key from its four parts.
    pub fn new(
        source: impl Into<String>,
        event_id: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        EffectKey {
            source: source.into(),
            event_id: event_id.into(),
            action: action.into(),
            target: target.into(),
        }
    }
}

impl fmt::Display for EffectKey {
    /// `action[ target] for event ID[ from SOURCE]`, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.action)?;
        if !self.target.is_empty() {
            write!(f, " {}", self.target)?;
        }
        write!(f, " for event {}", self.event_id)?;
        if !self.source.is_empty() {
            write!(f, " from {}", self.source)?;
        }
        Ok(())
    }
}

/// What a done effect came to, stored with its entry so that a redelivery can build the same
/// notice.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// How the effect ended: "done" or "failed" (free text; the handlers decide).
    pub status: String,
    /// One readable sentence.
    pub detail: String,
    /// What the effect found (e.g. a smoke test's {"status":500,"latencyMs":12.3}, a job name),
    /// when it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<serde_json::Value>,
}

/// [`Recorded`] as it is written: the same fields, borrowed, so that fitting an outcome into
/// [`Recorded::MAX_BYTES`] measures candidates without copying them.
#[derive(serde::Serialize)]
struct RecordedText<'a> {
    status: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    found: Option<&'a serde_json::Value>,
}

impl RecordedText<'_> {
    fn json(&self) -> String {
        // Strings and a JSON value always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    fn fits(&self) -> bool {
        self.json().len() <= Recorded::MAX_BYTES
    }
}

/// What ends a cut text.
const ELLIPSIS: &str = "…";

/// The most of a `status` kept when an outcome must be cut: far below the bound, so a cut
/// outcome always fits whatever the status holds (each byte is at most six in JSON).
const MAX_STATUS_BYTES: usize = 256;

impl Recorded {
    /// The most a stored outcome takes, in bytes of its JSON text (Table storage refuses
    /// properties over 64 KiB).
    pub const MAX_BYTES: usize = 4096;

    /// An outcome that found nothing worth keeping.
    pub fn new(status: impl Into<String>, detail: impl Into<String>) -> Self {
        Recorded {
            status: status.into(),
            detail: detail.into(),
            found: None,
        }
    }

    /// The same outcome, with what the effect found.
    pub fn with_found(self, found: serde_json::Value) -> Self {
        Recorded {
            found: Some(found),
            ..self
        }
    }

    /// JSON text of at most [`Recorded::MAX_BYTES`]: `detail` is cut (on a char boundary,
    /// ending with "…") until it fits; if `found` alone is too large it is dropped (`None`)
    /// first. Never fails.
    pub fn to_text(&self) -> String {
        let whole = self.borrowed();
        if whole.fits() {
            return whole.json();
        }
        let mut shown = RecordedText {
            status: &self.status,
            detail: ELLIPSIS,
            found: self.found.as_ref(),
        };
        let status;
        if self.status.len() > MAX_STATUS_BYTES {
            status = cut(&self.status, MAX_STATUS_BYTES);
            shown.status = &status;
        }
        if !shown.fits() {
            shown.found = None;
        }
        shown.detail = &self.detail;
        if shown.fits() {
            return shown.json();
        }
        fit_detail(shown, &self.detail)
    }

    /// Reads [`Recorded::to_text`]'s JSON; anything else (an entry written by an older version
    /// as plain text) becomes status "done", detail = the text.
    pub fn from_text(text: &str) -> Recorded {
        serde_json::from_str(text).unwrap_or_else(|_| Recorded::new("done", text))
    }

    fn borrowed(&self) -> RecordedText<'_> {
        RecordedText {
            status: &self.status,
            detail: &self.detail,
            found: self.found.as_ref(),
        }
    }
}

/// `text`'s longest prefix of at most `max` bytes that ends on a char boundary, then "…".
fn cut(text: &str, max: usize) -> String {
    let end = (0..=max.min(text.len()))
        .rev()
        .find(|&end| text.is_char_boundary(end))
        .unwrap_or(0);
    format!("{}{ELLIPSIS}", &text[..end])
}

/// The JSON of `shown` with the longest prefix of `detail` (then "…") that keeps it within the
/// bound. `shown` without its detail must fit.
fn fit_detail(shown: RecordedText<'_>, detail: &str) -> String {
    // JSON never writes a string shorter than it is, so only prefixes within the bound can fit;
    // the text grows with the prefix, so the longest that fits is found by bisection.
    let ends: Vec<usize> = detail
        .char_indices()
        .map(|(at, _)| at)
        .take_while(|&at| at <= Recorded::MAX_BYTES)
        .collect();
    let text_with = |end: usize| {
        let detail = format!("{}{ELLIPSIS}", &detail[..end]);
        RecordedText {
            detail: &detail,
            ..shown
        }
        .json()
    };
    let fitting = ends.partition_point(|&end| text_with(end).len() <= Recorded::MAX_BYTES);
    text_with(ends[..fitting].last().copied().unwrap_or(0))
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The effect is ours to perform; pass the token to [`Ledger::complete`] or
    /// [`Ledger::release`].
    Acquired(ClaimToken),
    /// Someone completed it already: skip it as a duplicate.
    Done {
        /// The outcome it was completed with.
        outcome: Recorded,
        /// When it was completed.
        at: SystemTime,
    },
    /// Another live claim (younger than the lease, judged by the store's own clock): do not
    /// act, answer so the event is redelivered.
    HeldElsewhere {
        /// How old that claim is.
        age: Duration,
    },
}

/// Proof of a claim: what [`Ledger::complete`] and [`Ledger::release`] need to change the entry
/// only if it is still this claim (its entity tag and claim id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToken {
    key: EffectKey,
    claimed_at: SystemTime,
    claim_id: String,
    etag: String,
}

impl ClaimToken {
    /// A token for `key`, claimed at `claimed_at` as claim `claim_id`, whose entry's version is
    /// now `etag`: for [`Ledger`] implementations outside this crate (a counting test double).
    pub fn new(key: EffectKey, claimed_at: SystemTime, claim_id: String, etag: String) -> Self {
        ClaimToken {
            key,
            claimed_at,
            claim_id,
            etag,
        }
    }

    /// The effect claimed.
    pub fn key(&self) -> &EffectKey {
        &self.key
    }

    /// When the claim was made.
    pub fn claimed_at(&self) -> SystemTime {
        self.claimed_at
    }

    /// This claim's id (unique per claim), stored with the entry.
    pub fn claim_id(&self) -> &str {
        &self.claim_id
    }

    /// The entry's version when claimed (the table entity's ETag).
    pub fn etag(&self) -> &str {
        &self.etag
    }
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// Claimed, not (yet) completed: in progress, or its claimant died.
    Claimed,
    /// Completed with an outcome.
    Done,
}

/// One ledger entry, as [`Ledger::history`] lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The effect.
    pub key: EffectKey,
    /// Claimed or done.
    pub state: EntryState,
    /// The outcome, once done.
    pub outcome: Option<Recorded>,
    /// When it was (last) claimed.
    pub claimed_at: SystemTime,
    /// When it was completed.
    pub done_at: Option<SystemTime>,
}

/// Which entries [`Ledger::history`] lists.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery<'a> {
    /// Only entries claimed at or after this time.
    pub since: Option<SystemTime>,
    /// Only the effects of this event (from any source).
    pub event_id: Option<&'a str>,
    /// At most this many: the newest.
    pub limit: usize,
}

/// The action of the ledger's own bookkeeping entry: the hosts claim
/// `EffectKey::new("", "~clean-turn", "clean", "")` to take turns at cleaning. It is never
/// listed by [`Ledger::history`] nor removed by [`Ledger::clean`].
const CLEAN_ACTION: &str = "clean";

/// The `limit` newest entries of those pushed, newest first, kept in a min-heap by claim time:
/// memory stays within `limit` entries however many are read (a table of any size).
struct Newest {
    limit: usize,
    heap: BinaryHeap<Reverse<ByClaimTime>>,
}

/// An entry ordered by claim time, then key (so ties order the same on every run).
struct ByClaimTime(Entry);

impl Ord for ByClaimTime {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.claimed_at, &self.0.key).cmp(&(other.0.claimed_at, &other.0.key))
    }
}

impl PartialOrd for ByClaimTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ByClaimTime {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ByClaimTime {}

impl Newest {
    /// Keeps at most `limit`.
    fn new(limit: usize) -> Newest {
        Newest {
            limit,
            // Grows with what is kept, never past `limit` (which may be usize::MAX).
            heap: BinaryHeap::new(),
        }
    }

    /// Keeps `entry` if it is among the `limit` newest so far, unless it is bookkeeping.
    fn push(&mut self, entry: Entry) {
        if entry.key.action == CLEAN_ACTION || self.limit == 0 {
            return;
        }
        let entry = Reverse(ByClaimTime(entry));
        if self.heap.len() < self.limit {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|oldest| entry < *oldest) {
            // `Reverse`: smaller is newer.
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    /// The kept entries, newest first.
    fn into_vec(self) -> Vec<Entry> {
        // Ascending `Reverse` order is descending claim time.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(ByClaimTime(entry))| entry)
            .collect()
    }
}

/// The future every [`Ledger`] method returns.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// Claims effects before they run and records their outcomes, shared by every instance that
/// uses the same store.
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Claims `key`: [`Claim::Acquired`] when it is unclaimed, or claimed longer than `lease`
    /// ago and not done (a crashed claimant; taken over conditionally, so two takers cannot
    /// both win); [`Claim::Done`] when completed; [`Claim::HeldElsewhere`] when another live
    /// claim holds it. An error means: do not act.
    ///
    /// The claim (with its retries) gives up by `deadline` (the delivery's end) or by the
    /// ledger's own per-operation budget, whichever is sooner: a claim is never made for an
    /// effect that would have no time left to run.
    fn claim<'a>(
        &'a self,
        key: &'a EffectKey,
        lease: Duration,
        deadline: tokio::time::Instant,
    ) -> LedgerFuture<'a, Claim>;

    /// Marks the claimed effect done with `outcome`, stored as [`Recorded::to_text`] (so at
    /// most [`Recorded::MAX_BYTES`]). Fails with [`LedgerError::ClaimLost`] when the claim was
    /// taken over or removed meanwhile. It has the ledger's own budget, not the delivery's: the
    /// caller runs it where a delivery's timeout cannot cancel it.
    fn complete<'a>(&'a self, token: &'a ClaimToken, outcome: &'a Recorded)
    -> LedgerFuture<'a, ()>;

    /// Gives the claim back after a failed effect, so a redelivery can try again. A claim
    /// already taken over or gone is left as it is. Like [`Ledger::complete`], it has the
    /// ledger's own budget.
    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()>;

    /// The entries `query` asks for: newest first (by claim time), at most `query.limit`. The
    /// ledger's own bookkeeping (action `clean`, the turn to clean) is never listed.
    fn history<'a>(&'a self, query: &'a HistoryQuery<'a>) -> LedgerFuture<'a, Vec<Entry>>;

    /// Removes at most `max_entries` entries last written before `older_than` (pass
    /// `now - RETENTION`), by the store's own clock; returns how many it removed. Bounded so it
    /// fits background work. The ledger's own bookkeeping (action `clean`) is left alone.
    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize>;

    /// Where the ledger lives, for the ready line: `in memory`, or the table and its endpoint
    /// (never a key).
    fn describe(&self) -> String;
}

/// Why the ledger could not answer. Never contains an account key, a signature or a token.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A ledger setting cannot be used.
    #[error("ledger setting {setting} is not usable: {problem}")]
    InvalidSetting {
        /// The setting (`AML_LEDGER`, `AzureWebJobsStorage`, ...).
        setting: &'static str,
        /// What is wrong (never the value).
        problem: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("could not build the ledger's HTTP client")]
    Http(#[source] reqwest::Error),
    /// No storage token could be had (identity-based connection).
    #[error("could not get a storage token for the ledger")]
    Credential(#[source] CredentialError),
    /// The storage endpoint could not be reached or did not answer in time.
    #[error("ledger {operation} at {endpoint} failed")]
    Transport {
        /// The table operation.
        operation: &'static str,
        /// The table endpoint (no query, no key).
        endpoint: String,
        /// reqwest's description, without the URL.
        #[source]
        source: reqwest::Error,
    },
    /// The table service refused the request.
    #[error("ledger {operation} at {endpoint} answered {status}{}", detail_text(code.as_deref(), message.as_deref()))]
    Status {
        /// The table operation.
        operation: &'static str,
        /// The table endpoint (no query, no key).
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The service's error code (`AuthenticationFailed`, `TableNotFound`).
        code: Option<String>,
        /// The service's message, with anything key-like masked and shortened.
        message: Option<String>,
    },
    /// The operation, with its retries, did not finish in time.
    #[error("ledger {operation} did not finish within {budget:?}")]
    DeadlineExceeded {
        /// The table operation.
        operation: &'static str,
        /// The time it had.
        budget: Duration,
        /// The failure before the attempt that was cut, if any.
        #[source]
        last: Option<Box<LedgerError>>,
    },
    /// The table service answered success with something unreadable.
    #[error("ledger {operation} got an unusable answer: {problem}")]
    Malformed {
        /// The table operation.
        operation: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The claim was taken over by another claimant (it outlived its lease) or removed.
    #[error("the claim on {key} was taken over or removed")]
    ClaimLost {
        /// The effect.
        key: EffectKey,
    },
    /// Other claimants kept changing the entry between the claim's reads and writes: a burst
    /// of redeliveries; a later one will find it settled.
    #[error("the entry for {key} kept changing under the claim")]
    Contended {
        /// The effect.
        key: EffectKey,
    },
    /// A custom ledger failed.
    #[error("ledger failed")]
    Other {
        /// Whether trying again may help.
        transient: bool,
        /// The cause.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

fn detail_text(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" ({code}: {message})"),
        (Some(text), None) | (None, Some(text)) => format!(" ({text})"),
        (None, None) => String::new(),
    }
}

impl LedgerError {
    /// Whether trying again later may succeed: the store unreachable or slow, a 408, 429 or
    /// 5xx, a transient token failure, claimants contending for one entry. Either way the caller does not act; transient errors
    /// are answered for redelivery.
    pub fn is_transient(&self) -> bool {
        match self {
            LedgerError::Transport { source, .. } => {
                source.is_connect() || crate::transport::transport_is_transient(source)
            }
            LedgerError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            LedgerError::DeadlineExceeded { .. } | LedgerError::Contended { .. } => true,
            LedgerError::Credential(source) => source.is_transient(),
            LedgerError::Other { transient, .. } => *transient,
            LedgerError::InvalidSetting { .. }
            | LedgerError::Http(_)
            | LedgerError::Malformed { .. }
            | LedgerError::ClaimLost { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The detail `text` reads back with, and that it is within the bound.
    fn read_back(text: &str) -> Recorded {
        assert!(text.len() <= Recorded::MAX_BYTES, "{} bytes", text.len());
        let recorded = Recorded::from_text(text);
        assert_eq!(
            serde_json::from_str::<Recorded>(text).ok(),
            Some(recorded.clone())
        );
        recorded
    }

    #[test]
    fn a_small_outcome_round_trips_whole() {
        let outcome = Recorded::new("failed", "the endpoint answered 500")
            .with_found(json!({"status": 500, "latencyMs": 12.3}));
        assert_eq!(read_back(&outcome.to_text()), outcome);
        let plain = Recorded::new("done", "posted");
        assert_eq!(plain.to_text(), r#"{"status":"done","detail":"posted"}"#);
        assert_eq!(read_back(&plain.to_text()), plain);
    }

    #[test]
    fn a_one_megabyte_detail_is_cut_to_the_bound_and_still_reads_back() {
        // Quotes and newlines take two bytes each in JSON: the cut is measured on the text.
        let detail = "an answer \"quoted\"\nand long ".repeat(40_000);
        assert!(detail.len() > 1_000_000);
        let outcome = Recorded::new("failed", detail.clone()).with_found(json!("job-1"));
        let text = outcome.to_text();
        let back = read_back(&text);
        assert_eq!(back.status, "failed");
        assert_eq!(back.found, Some(json!("job-1")), "a small `found` is kept");
        let kept = back
            .detail
            .strip_suffix('…')
            .expect("a cut detail ends with …");
        assert!(detail.starts_with(kept));
        // As much as fits is kept: one more character would not.
        assert!(text.len() > Recorded::MAX_BYTES - 8, "{} bytes", text.len());
    }

    #[test]
    fn multi_byte_characters_are_never_split() {
        for unit in ["é", "🦀", "a🦀", "\u{7}"] {
            let outcome = Recorded::new("done", unit.repeat(10_000));
            let back = read_back(&outcome.to_text());
            let kept = back.detail.strip_suffix('…').unwrap();
            assert!(!kept.is_empty());
            assert!(outcome.detail.starts_with(kept), "{unit:?}");
        }
    }

    #[test]
    fn a_huge_found_is_dropped_before_the_detail_is_cut() {
        let outcome = Recorded::new("done", "smoke test answered 200")
            .with_found(json!({"body": "x".repeat(100_000)}));
        let back = read_back(&outcome.to_text());
        assert_eq!(back, Recorded::new("done", "smoke test answered 200"));

        let both = Recorded::new("done", "y".repeat(100_000)).with_found(json!(vec!["z"; 10_000]));
        let back = read_back(&both.to_text());
        assert_eq!(back.found, None);
        assert!(back.detail.starts_with("yyy") && back.detail.ends_with('…'));
    }

    #[test]
    fn a_huge_status_still_fits() {
        let outcome = Recorded::new("\"".repeat(100_000), "d".repeat(100_000));
        let back = read_back(&outcome.to_text());
        assert!(back.status.starts_with("\"\"") && back.status.ends_with('…'));
        assert!(back.detail.starts_with('d') && back.detail.ends_with('…'));
    }

    #[test]
    fn plain_text_written_by_an_older_version_reads_as_done() {
        for legacy in [
            "done",
            "failed: 500",
            "",
            "{not json",
            "[1]",
            r#"{"status":"x"}"#,
        ] {
            assert_eq!(Recorded::from_text(legacy), Recorded::new("done", legacy));
        }
    }
}

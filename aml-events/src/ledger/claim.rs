//! What the ledger claims and what a claim finds: an effect's key ([`EffectKey`]), the answer
//! of a claim ([`Claim`]) with its proof ([`ClaimToken`]), and an entry as the history lists it
//! ([`Entry`], [`HistoryQuery`]).

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use super::recorded::Recorded;

/// The action of the ledger's own bookkeeping entry, [`EffectKey::clean_turn`]. It is never
/// listed by [`Ledger::history`](super::Ledger::history) nor removed by
/// [`Ledger::clean`](super::Ledger::clean).
pub(super) const CLEAN_ACTION: &str = "clean";

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

    /// The ledger's own bookkeeping entry: the hosts claim it to take turns at cleaning. It is
    /// never listed by [`Ledger::history`](super::Ledger::history) nor removed by
    /// [`Ledger::clean`](super::Ledger::clean).
    pub fn clean_turn() -> Self {
        EffectKey::new("", "~clean-turn", CLEAN_ACTION, "")
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

/// What a claim found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The effect is ours to perform; pass the token to [`Ledger::complete`](super::Ledger::complete) or
    /// [`Ledger::release`](super::Ledger::release).
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

/// An entry a claim finds standing on its key: what the rule below reads of it.
pub(crate) struct Standing {
    pub(crate) state: EntryState,
    pub(crate) outcome: Option<Recorded>,
    pub(crate) claimed_at: SystemTime,
    pub(crate) done_at: Option<SystemTime>,
    /// Its age on the store's clock.
    pub(crate) age: Duration,
}

impl Claim {
    /// The one rule for a key where another claim's entry stands, whatever the store:
    /// [`Claim::Done`] when it was completed, [`Claim::HeldElsewhere`] while it is younger than
    /// `lease`; `None` when it is stale (its claimant died), to be taken over.
    pub(crate) fn over(standing: Standing, lease: Duration) -> Option<Claim> {
        match standing.state {
            EntryState::Done => Some(Claim::Done {
                outcome: (standing.outcome).unwrap_or_else(|| Recorded::from_text("")),
                at: standing.done_at.unwrap_or(standing.claimed_at),
            }),
            EntryState::Claimed if standing.age < lease => {
                Some(Claim::HeldElsewhere { age: standing.age })
            }
            EntryState::Claimed => None,
        }
    }
}

/// Proof of a claim: what [`Ledger::complete`](super::Ledger::complete) and [`Ledger::release`](super::Ledger::release) need to change the entry
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
    /// now `etag`: for [`Ledger`](super::Ledger) implementations outside this crate (a counting test double).
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

/// One ledger entry, as [`Ledger::history`](super::Ledger::history) lists it.
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

/// Which entries [`Ledger::history`](super::Ledger::history) lists.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery<'a> {
    /// Only entries claimed at or after this time.
    pub since: Option<SystemTime>,
    /// Only the effects of this event (from any source).
    pub event_id: Option<&'a str>,
    /// At most this many: the newest.
    pub limit: usize,
}

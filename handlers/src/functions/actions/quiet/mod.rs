//! Noise control (docs/routes.md): a monitor that breaches on every scheduled run, or a sweep
//! of failing child runs, must not start a retrain per event nor bury a channel. Per route and
//! group (what events about the same thing share, [`super::super::group`]):
//!
//! - [`OneAtATime`]: a retrain is skipped while the job the route last started for the group
//!   is not in a terminal state, and within the route's `cooldown` of it;
//! - [`NotifyEvery`]: at most one notice per target in a route's `notify_every`; the others
//!   are held back and counted, and the next one sent reports them. PagerDuty's alerts are
//!   never held ([`holds_back`]).
//!
//! A route that serves several workspaces (the implicit routes; a file's without a `workspace`
//! match) keeps a mark per workspace: dev's running job or last notice says nothing of prod's.
//!
//! The state lives in the ledger's marks ([`LastJob`], [`LastNotice`]), so every instance
//! agrees (without storage, in this process's memory). A mark is written conditionally
//! *before* the job is created or the notice sent, so two instances can never both take the
//! same turn; a writer that finds the mark changed reads it again and decides again. A turn
//! is given back only when Azure or the target refused (nothing was created, nobody received
//! the notice); one that failed for now is kept, for the event's redelivery. Both run
//! inside the effect's once-only claim ([`super::once`]): a redelivery of an event gets the
//! outcome recorded for it (skipped, held) instead of being judged again.
//!
//! A mark that cannot be read or written defers the effect (the event is redelivered); a job
//! that cannot be looked up for now fails it for now. Neither is ever taken as "skipped".
//!
//! # Layout
//! - this module: the marks' keys, reading and replacing a mark's state ([`MarkState`]), and
//!   how outcomes show a time;
//! - `retrain`: [`OneAtATime`] and its mark, [`LastJob`];
//! - `notify`: [`NotifyEvery`] and its mark, [`LastNotice`].

mod notify;
mod retrain;

use std::time::Duration;

use aml_events::{
    WorkspaceId,
    ledger::{Ledger, LedgerError, Mark, MarkWrite},
    redact::fingerprint,
};
use serde::{Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

use super::once::{Deferral, Unsettled};

pub use notify::{LastNotice, NEVER_HELD, NotifyEvery, holds_back};
pub use retrain::{LastJob, OneAtATime, is_terminal};

/// How many times a decision is taken again after another writer changed the mark first.
const ATTEMPTS: usize = 5;

/// What stands for the workspace in the marks of events that come from none.
const NO_WORKSPACE: &str = "no-workspace";

/// The mark of the jobs a route starts for a group in a workspace.
pub fn retrain_key(workspace: &WorkspaceId, route: &str, group: &str) -> String {
    let workspace = workspace_part(Some(workspace));
    format!("retrain/{workspace}/{route}/{group}")
}

/// The mark of the notices a route sends a target (by its identity) for a group of events
/// from a workspace (or from none).
pub fn notify_key(
    workspace: Option<&WorkspaceId>,
    route: &str,
    target_identity: &str,
    group: &str,
) -> String {
    let workspace = workspace_part(workspace);
    format!("notify/{workspace}/{route}/{target_identity}/{group}")
}

/// A short name for a workspace in a mark's key: a fingerprint of its resource id, lower-cased
/// (Azure resource ids are case-insensitive, and events spell them as they please).
fn workspace_part(workspace: Option<&WorkspaceId>) -> String {
    workspace.map_or_else(
        || NO_WORKSPACE.to_owned(),
        |workspace| fingerprint(&workspace.resource_id().to_ascii_lowercase()),
    )
}

/// What a mark holds, as JSON. Read leniently: an unreadable text counts as the default state
/// (no job started, no notice sent), which can only let one more through.
pub trait MarkState: Serialize + DeserializeOwned + Default {
    /// The state `mark` holds; the default when there is no mark or it cannot be read.
    fn from_mark(mark: Option<&Mark>) -> Self {
        mark.and_then(|mark| serde_json::from_str(&mark.text).ok())
            .unwrap_or_default()
    }
}

/// A mark's state as read, and the version a replacement must name (`None`: no mark yet).
struct Versioned<S> {
    state: S,
    version: Option<String>,
}

/// The state of the mark at `key`, with its version.
async fn read<S: MarkState>(ledger: &dyn Ledger, key: &str) -> Result<Versioned<S>, LedgerError> {
    let mark = ledger.read_mark(key).await?;
    Ok(Versioned {
        state: S::from_mark(mark.as_ref()),
        version: mark.map(|mark| mark.version),
    })
}

/// Replaces the mark at `key` with `next` while it is still at `version`, kept `keep` at least:
/// `Ok(false)` when another writer changed it first.
async fn replace<S: MarkState>(
    ledger: &dyn Ledger,
    key: &str,
    version: Option<&str>,
    next: &S,
    keep: Duration,
) -> Result<bool, LedgerError> {
    // Plain fields and strings always serialize.
    let text = serde_json::to_string(next).unwrap_or_default();
    let write = MarkWrite {
        key,
        text: &text,
        version,
        keep,
    };
    ledger.write_mark(write).await
}

/// A time as outcomes show it: UTC, to the second (`2026-12-07T09:00:00Z`).
pub fn shown(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    let utc = utc.replace_nanosecond(0).unwrap_or(utc);
    utc.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| utc.to_string())
}

fn deferred(err: LedgerError) -> Unsettled {
    Unsettled::Deferred(Deferral::Ledger(err))
}

fn busy(key: &str) -> Unsettled {
    Unsettled::Deferred(Deferral::Busy {
        mark: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(id: &str) -> WorkspaceId {
        WorkspaceId::parse(id).unwrap()
    }

    #[test]
    fn each_workspace_has_its_own_marks_however_its_id_is_spelled() {
        let dev = workspace(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/dev",
        );
        let shouted = workspace(
            "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/DEV",
        );
        let prod = workspace(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/prod",
        );

        assert_eq!(retrain_key(&dev, "r", "g"), retrain_key(&shouted, "r", "g"));
        assert_ne!(retrain_key(&dev, "r", "g"), retrain_key(&prod, "r", "g"));
        let notify = |workspace| notify_key(workspace, "r", "t", "g");
        assert_eq!(notify(Some(&dev)), notify(Some(&shouted)));
        assert_ne!(notify(Some(&dev)), notify(Some(&prod)));
        assert_ne!(notify(None), notify(Some(&dev)));
        assert_eq!(notify(None), "notify/no-workspace/r/t/g");
    }
}

//! The marks noise control keeps in the ledger: their keys (per workspace, route, group and
//! target), reading and replacing a mark's state ([`MarkState`]) while it is still at the
//! version read, and how outcomes show a time. What the gates decide lives beside it, in
//! `retrain` and `notify`.

use std::time::Duration;

use aml_events::{
    WorkspaceId,
    ledger::{Ledger, LedgerError, Mark, MarkWrite},
    redact::fingerprint,
};
use serde::{Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

use super::super::once::{Deferral, Unsettled};

/// How many times a decision is taken again after another writer changed the mark first.
pub(super) const ATTEMPTS: usize = 5;

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
pub(super) struct Versioned<S> {
    pub(super) state: S,
    pub(super) version: Option<String>,
}

/// The state of the mark at `key`, with its version.
pub(super) async fn read<S: MarkState>(
    ledger: &dyn Ledger,
    key: &str,
) -> Result<Versioned<S>, LedgerError> {
    let mark = ledger.read_mark(key).await?;
    Ok(Versioned {
        state: S::from_mark(mark.as_ref()),
        version: mark.map(|mark| mark.version),
    })
}

/// Replaces the mark at `key` with `next` while it is still at `version`, kept `keep` at least:
/// `Ok(false)` when another writer changed it first.
pub(super) async fn replace<S: MarkState>(
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

pub(super) fn deferred(err: LedgerError) -> Unsettled {
    Unsettled::Deferred(Deferral::Ledger(err))
}

pub(super) fn busy(key: &str) -> Unsettled {
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

//! `aml-handlers replay`: Event Grid's dead letters sent again once their cause is fixed, with
//! their original ids, so the ledger skips every effect already done.
//!
//! # Layout
//! - [`layout`]: the blob names Event Grid writes (`SUBSCRIPTION/y/m/d/h/guid.json`) and which
//!   of them a replay takes (`--subscription`, `--since`).
//! - [`records`]: a blob's records: the original events and why each was dead-lettered.
//! - [`deliver`]: the events sent again through [`send`](crate::send), grouped by function.
//! - [`outcome`]: what became of each blob, and the counts of a replay.
//! - [`progress`]: what a person or a script sees: a progress bar on a terminal, one line per
//!   blob otherwise.
//! - this file: [`replay`], the steps for each blob: skip it when already replayed, read it,
//!   list it (`--dry-run`) or deliver it, and mark it replayed when every answer was 2xx.
//!
//! The blobs are reached through [`aml_events::blob::BlobClient`], built by the command from
//! the settings; nothing here reads the environment.

pub mod deliver;
pub mod layout;
pub mod outcome;
pub mod progress;
pub mod records;

use std::collections::BTreeMap;

use aml_events::{
    Timestamp,
    blob::{BlobClient, BlobError, BlobItem},
};

use deliver::{Delivery, Target};
use layout::{DeadLetterPath, Selection};
use outcome::{BlobReport, Failure, Outcome, Summary};
use progress::Progress;

/// The dead-letter storage: a connection string, or a blob service URL used with the managed
/// identity; unset, `AzureWebJobsStorage`.
pub const AML_DEADLETTER: &str = "AML_DEADLETTER";
/// The dead-letter container (default [`DEFAULT_CONTAINER`]).
pub const AML_DEADLETTER_CONTAINER: &str = "AML_DEADLETTER_CONTAINER";
/// The container `deploy/main.bicep` has Event Grid write dead letters to.
pub const DEFAULT_CONTAINER: &str = "eventgrid-deadletter";
/// The metadata a replayed blob is marked with: `amlreplayed=<RFC 3339 time>`.
pub const REPLAYED: &str = "amlreplayed";

/// What to replay, where to, and how.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Which blobs.
    pub selection: Selection,
    /// Where their events go.
    pub target: Target,
    /// List the blobs, their events and why each was dead-lettered; send nothing.
    pub dry_run: bool,
    /// Send blobs already marked replayed too.
    pub again: bool,
}

/// Replays the dead letters `options` selects from `client`'s container, telling `progress`
/// about each blob. Fails only when the container cannot be listed; a blob that fails is in
/// the summary's `failed`, and was shown to `progress`.
pub async fn replay(
    client: &BlobClient,
    options: &ReplayOptions,
    progress: &mut Progress,
) -> Result<Summary, BlobError> {
    let listed = client.list(&options.selection.prefix()).await?;
    let mut summary = Summary::default();
    let mut chosen = Vec::new();
    for item in listed {
        match DeadLetterPath::parse(&item.name) {
            Some(path) if options.selection.takes(&path) => chosen.push((path, item)),
            Some(_) => {}
            None => summary.foreign += 1,
        }
    }
    // Oldest first: the order Event Grid gave up on them.
    chosen.sort_by(|(a, _), (b, _)| (a.hour, &a.name).cmp(&(b.hour, &b.name)));
    progress.start(chosen.len());
    for (path, item) in chosen {
        let outcome = one(client, &item, options).await;
        summary.count(&outcome);
        progress.blob(&BlobReport { path, outcome });
    }
    progress.finish();
    Ok(summary)
}

async fn one(client: &BlobClient, item: &BlobItem, options: &ReplayOptions) -> Outcome {
    if let Some(at) = item.metadata_value(REPLAYED).filter(|_| !options.again) {
        return Outcome::AlreadyReplayed { at: at.to_owned() };
    }
    let records = match client.read(&item.name).await {
        Ok(body) => match records::read(&body) {
            Ok(records) => records,
            Err(err) => {
                return Outcome::Failed(Failure::Unreadable(format!(
                    "not dead-letter records: {}",
                    aml_events::chain(&err)
                )));
            }
        },
        Err(err) => {
            return Outcome::Failed(Failure::Unreadable(aml_events::chain(&err).to_string()));
        }
    };
    if options.dry_run {
        return Outcome::Listed { records };
    }
    let deliveries = deliver::deliver(&records, &options.target).await;
    if !deliveries.iter().all(Delivery::succeeded) {
        return Outcome::Failed(Failure::Refused(deliveries));
    }
    match client.set_metadata(item, &marked(&item.metadata)).await {
        Ok(()) => Outcome::Replayed { deliveries },
        Err(err) => Outcome::Failed(Failure::Unmarked(aml_events::chain(&err).to_string())),
    }
}

/// `metadata` with the replay mark set to now (Set Blob Metadata replaces it all, so what was
/// there stays; an older mark, in any casing, gives way).
fn marked(metadata: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut metadata: BTreeMap<String, String> = metadata
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case(REPLAYED))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    metadata.insert(REPLAYED.to_owned(), Timestamp::now().to_string());
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_keeps_other_metadata_and_replaces_an_older_mark() {
        let before = BTreeMap::from([
            ("Owner".to_owned(), "ops".to_owned()),
            ("AmlReplayed".to_owned(), "2024-01-01T00:00:00Z".to_owned()),
        ]);
        let after = marked(&before);
        assert_eq!(after.len(), 2, "{after:?}");
        assert_eq!(after["Owner"], "ops");
        assert!(Timestamp::parse(&after[REPLAYED]).is_ok(), "{after:?}");
    }
}

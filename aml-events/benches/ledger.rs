//! What the ledger (docs/ledger.md) adds to each effect: a claim before it and a completion after
//! (two round trips to Azure Table storage), against a local Azurite the bench installs and
//! starts itself, beside the in-memory ledger. Run with `cargo bench -p aml-events --bench
//! ledger`; the figures are in bench/README.md.

#[path = "../tests/azurite/mod.rs"]
mod azurite;

use std::{
    hint::black_box,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use aml_events::ledger::{
    Claim, EffectKey, Ledger, MemoryLedger, Recorded,
    table::{TableConnection, TableLedger, TableLedgerOptions},
};
use criterion::{Criterion, criterion_group, criterion_main};

const LEASE: Duration = Duration::from_secs(50);

/// A delivery's end, well ahead.
fn soon() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(25)
}

fn key() -> EffectKey {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    EffectKey::new(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
        format!("event-{id}"),
        "notify",
        "slack-0123456789abcdef",
    )
}

/// One effect's bookkeeping: claim, then mark done.
async fn claim_and_complete(ledger: &dyn Ledger) {
    let Claim::Acquired(token) = ledger.claim(&key(), LEASE, soon()).await.unwrap() else {
        panic!("a fresh key is always acquired");
    };
    let outcome = Recorded::new("done", "posted to the channel");
    ledger.complete(&token, &outcome).await.unwrap();
}

fn ledger(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let azurite = azurite::Azurite::shared();
    let table = TableLedger::new(
        TableConnection::parse("AML_LEDGER", &azurite.connection_string()).unwrap(),
        None,
        TableLedgerOptions {
            table: "benchledger".into(),
            ..TableLedgerOptions::default()
        },
    )
    .unwrap();
    let memory = MemoryLedger::new();
    // The table is created on first use; keep that out of the figures.
    runtime.block_on(claim_and_complete(&table));
    let done = key();
    runtime.block_on(async {
        if let Claim::Acquired(token) = table.claim(&done, LEASE, soon()).await.unwrap() {
            let outcome = Recorded::new("done", "posted");
            table.complete(&token, &outcome).await.unwrap();
        }
    });

    let mut group = c.benchmark_group("ledger per effect");
    group.sample_size(50);
    group.bench_function("Azure Table (Azurite): claim + complete", |b| {
        b.iter(|| runtime.block_on(claim_and_complete(black_box(&table))))
    });
    group.bench_function(
        "Azure Table (Azurite): claim of an effect already done",
        |b| {
            b.iter(|| {
                runtime
                    .block_on(table.claim(black_box(&done), LEASE, soon()))
                    .unwrap()
            })
        },
    );
    group.bench_function("in memory: claim + complete", |b| {
        b.iter(|| runtime.block_on(claim_and_complete(black_box(&memory))))
    });
    group.finish();
}

// criterion's macro declares an undocumented function.
#[allow(missing_docs)]
mod registration {
    use super::*;
    criterion_group!(benches, ledger);
}
use registration::benches;
criterion_main!(benches);

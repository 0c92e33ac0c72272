//! One instance's view of the shared ledger, with the schedule's faults: calls made slow,
//! failing (the store unreachable), or stalled past the delivery's deadline, and none ever
//! ending once the instance has stopped.
//!
//! A stalled claim behaves as a real store's does: the instance gives up at its deadline,
//! and the write it sent may or may not have landed (half of them do, leaving a claim no one
//! completes, to be taken over after its lease). A stalled record lands late.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use aml_events::ledger::{
    Claim, ClaimToken, EffectKey, Entry, HistoryQuery, Ledger, LedgerError, LedgerFuture, Mark,
    MarkWrite, Recorded,
};
use tokio::time::Instant;

use super::{
    clock::Clock,
    schedule::{LedgerFault, Schedule},
    world::World,
};

/// An instance's ledger: the shared one, through the schedule's faults.
#[derive(Debug)]
pub struct FaultyLedger {
    inner: Arc<dyn Ledger>,
    instance: usize,
    schedule: Arc<Schedule>,
    world: Arc<World>,
    clock: Clock,
    /// Whether the next stalled claim lands (alternates, deterministically).
    lands: Mutex<bool>,
}

impl FaultyLedger {
    /// `inner` as instance `instance` sees it.
    pub fn new(
        inner: Arc<dyn Ledger>,
        instance: usize,
        schedule: Arc<Schedule>,
        world: Arc<World>,
        clock: Clock,
    ) -> FaultyLedger {
        FaultyLedger {
            inner,
            instance,
            schedule,
            world,
            clock,
            lands: Mutex::new(false),
        }
    }

    fn fault(&self) -> Option<LedgerFault> {
        let now = self.world.now();
        self.schedule
            .ledger_faults
            .iter()
            .find(|window| {
                window.instance == self.instance && window.from <= now && now < window.until
            })
            .map(|window| window.fault)
    }

    /// Waits as the fault says before a call goes through; `Err` when it fails instead.
    async fn before(&self) -> Result<(), LedgerError> {
        if self.world.crashed(self.instance) {
            return std::future::pending().await;
        }
        match self.fault() {
            Some(LedgerFault::Slow(by)) => self.clock.sleep(by).await,
            Some(LedgerFault::Fail) => return Err(unreachable_store()),
            Some(LedgerFault::Stall(by)) => self.clock.sleep(by).await,
            Some(LedgerFault::SlowRecord(_)) | None => {}
        }
        if self.world.crashed(self.instance) {
            return std::future::pending().await;
        }
        Ok(())
    }
}

fn unreachable_store() -> LedgerError {
    LedgerError::Other {
        transient: true,
        source: Arc::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "the table service is unreachable (scheduled)",
        )),
    }
}

impl Ledger for FaultyLedger {
    fn claim<'a>(
        &'a self,
        key: &'a EffectKey,
        lease: Duration,
        deadline: Instant,
    ) -> LedgerFuture<'a, Claim> {
        Box::pin(async move {
            if let Some(LedgerFault::Stall(by)) = self.fault()
                && Instant::now() + self.clock.real(by) > deadline
            {
                // The instance gives up at its deadline; the write may still land.
                tokio::time::sleep_until(deadline).await;
                let lands = {
                    let mut lands = self.lands.lock().unwrap();
                    *lands = !*lands;
                    *lands
                };
                if lands {
                    let far = Instant::now() + Duration::from_secs(3600);
                    let _ = self.inner.claim(key, lease, far).await;
                }
                return Err(LedgerError::DeadlineExceeded {
                    operation: "claim",
                    budget: Duration::ZERO,
                    last: None,
                });
            }
            self.before().await?;
            self.inner.claim(key, lease, deadline).await
        })
    }

    fn complete<'a>(
        &'a self,
        token: &'a ClaimToken,
        outcome: &'a Recorded,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            match self.fault() {
                // A stalled record lands late, within the lease.
                Some(LedgerFault::Stall(_)) => self.clock.sleep(self.schedule.deadline / 3).await,
                Some(LedgerFault::SlowRecord(by)) => self.clock.sleep(by).await,
                _ => self.before().await?,
            }
            if self.world.crashed(self.instance) {
                return std::future::pending().await;
            }
            let done = self.inner.complete(token, outcome).await;
            if done.is_ok() {
                let key = token.key();
                self.world
                    .recorded_by(self.instance, &key.event_id, &key.target);
            }
            done
        })
    }

    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            self.before().await?;
            self.inner.release(token).await
        })
    }

    fn history<'a>(&'a self, query: &'a HistoryQuery<'a>) -> LedgerFuture<'a, Vec<Entry>> {
        self.inner.history(query)
    }

    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize> {
        self.inner.clean(older_than, max_entries)
    }

    fn read_mark<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<Mark>> {
        self.inner.read_mark(key)
    }

    fn write_mark<'a>(&'a self, write: MarkWrite<'a>) -> LedgerFuture<'a, bool> {
        self.inner.write_mark(write)
    }

    fn describe(&self) -> String {
        format!(
            "{} (instance {}, with faults)",
            self.inner.describe(),
            self.instance
        )
    }
}

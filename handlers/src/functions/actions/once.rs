//! Each effect of an event once, across deliveries, instances and restarts: claimed in the
//! ledger before it runs, marked done with what it came to after, given back when it failed
//! for now. The caller learns what happened ([`Once`]) and decides what to say and whether the
//! event must be redelivered; nothing here reports or logs on its behalf but the ledger's own
//! failures.
//!
//! The claim, the effect and its record run as one task of their own, which the delivery
//! awaits. When the delivery's time runs out, the delivery answers so that Event Grid
//! redelivers, but the task goes on: an attempt in flight ends with its answer or its own
//! timeout, and what it came to is recorded, so that a redelivery finds it done instead of
//! doing it again. Only an instance that stops between an effect and its record can repeat
//! it (after the claim's lease).

use std::{fmt, sync::Arc, time::Duration};

use aml_events::{
    azure::retry::wait_within,
    chain,
    ledger::{Claim, ClaimToken, EffectKey, Ledger, LedgerError, Recorded},
};
use tokio::time::Instant;
use tracing::warn;

use crate::{functions::BoxError, metrics::Metrics, outcome::Action};

/// What became of an effect asked for once.
#[derive(Debug)]
pub enum Once {
    /// Carried out by this delivery, and what it came to.
    Fresh(Recorded),
    /// Carried out before, by this or another instance: what it came to then.
    Duplicate(Recorded),
    /// Not carried out now and not known to be done: the event must be redelivered.
    Deferred(Deferral),
}

/// Why an effect was deferred.
#[derive(Debug, thiserror::Error)]
pub enum Deferral {
    /// Another delivery holds a live claim on it: it is being carried out elsewhere.
    #[error("another instance is carrying it out (claimed {} s ago)", age.as_secs())]
    HeldElsewhere {
        /// How old that claim is, by the ledger's clock.
        age: Duration,
    },
    /// The ledger could not be asked: never act unclaimed.
    #[error("the ledger could not be asked, and nothing is done unclaimed")]
    Ledger(#[source] LedgerError),
    /// The effect's task ended without an answer (it panicked).
    #[error("its task ended without an answer")]
    Lost,
    /// Other deliveries kept changing the noise-control mark it is judged by (a burst of
    /// events of one group): a redelivery finds it settled.
    #[error("other deliveries kept changing its noise-control mark {mark}")]
    Busy {
        /// The mark's key.
        mark: String,
    },
}

/// An effect that did not come to anything for now: its claim was given back, so that a
/// redelivery tries again.
#[derive(Debug)]
pub enum Unsettled {
    /// A failure that may pass (a timeout, a 429, a 5xx).
    Transient(BoxError),
    /// Azure refused the handlers' identity (401/403): a misconfiguration to fix.
    Unauthorized(BoxError),
    /// What the effect is judged by could not be had now (noise control's mark): not the
    /// effect's own failure.
    Deferred(Deferral),
}

/// Where effects are claimed, and on whose behalf: one event of one delivery.
pub struct Claims {
    /// The ledger (shared storage, or this process's memory).
    pub ledger: Arc<dyn Ledger>,
    /// The event's source (event ids are unique per source).
    pub source: String,
    /// The event's id.
    pub event_id: String,
    /// How long a claim holds before another instance may take it over.
    pub lease: Duration,
    /// When claims stop being made: an effect claimed later would have no time to run.
    pub claim_by: Instant,
    /// Where the time each effect takes is recorded.
    pub metrics: Arc<Metrics>,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("ledger", &self.ledger.describe())
            .field("event_id", &self.event_id)
            .finish_non_exhaustive()
    }
}

impl Claims {
    /// Runs `effect` once for this event as `action` on the thing named `identity` (a
    /// target's fingerprint, a job name, a scoring URI's fingerprint).
    ///
    /// `Ok` says what happened; `Err` is the effect's own failure for now, its claim given
    /// back. The effect does not start unless claimed.
    pub async fn once<F>(
        &self,
        action: Action,
        identity: &str,
        effect: F,
    ) -> Result<Once, Unsettled>
    where
        F: Future<Output = Result<Recorded, Unsettled>> + Send + 'static,
    {
        let key = EffectKey::new(&*self.source, &*self.event_id, action.as_str(), identity);
        let (ledger, lease, claim_by) = (Arc::clone(&self.ledger), self.lease, self.claim_by);
        let metrics = Arc::clone(&self.metrics);
        // On the heap from here: an effect's future holds a whole HTTP exchange, kilobytes
        // that a spawned task's future would otherwise carry through each of its moves.
        let effect = Box::pin(effect);
        // A task of its own: the delivery's timeout may stop waiting for it, never cut it. It
        // stays in the current span, so its requests carry the action's `traceparent`.
        let task = tokio::spawn(crate::traces::in_current_span(async move {
            let token = match ledger.claim(&key, lease, claim_by).await {
                Ok(Claim::Acquired(token)) => token,
                Ok(Claim::Done { outcome, .. }) => return Ok(Once::Duplicate(outcome)),
                Ok(Claim::HeldElsewhere { age }) => {
                    return Ok(Once::Deferred(Deferral::HeldElsewhere { age }));
                }
                Err(err) => return Ok(Once::Deferred(Deferral::Ledger(err))),
            };
            let claimed = Instant::now();
            let result = effect.await;
            metrics.action_took(action, claimed.elapsed());
            let recorded = match &result {
                Ok(recorded) => record(&*ledger, &token, recorded, claimed, lease).await,
                Err(_) => ledger.release(&token).await,
            };
            if let Err(err) = recorded {
                // The effect happened (or failed) as reported; an unrecorded claim goes stale
                // after its lease and is taken over, at worst repeating the effect once.
                warn!(event_id = %key.event_id, effect = %key, error = %chain(&err), "could not record the effect in the ledger");
            }
            result.map(Once::Fresh)
        }));
        task.await.unwrap_or(Ok(Once::Deferred(Deferral::Lost)))
    }
}

/// Marks the claimed effect done with what it came to. The effect has happened: an entry left
/// claimed would have it repeated once its lease is over, so a failure to record it for now is
/// tried again, with growing waits (at most an eighth of the lease), until it lands or the
/// claim is found taken over (`ClaimLost`: the taker acts). It goes on past the lease, since
/// a claim nobody took over is still ours to complete, and gives up after two leases.
async fn record(
    ledger: &dyn Ledger,
    token: &ClaimToken,
    recorded: &Recorded,
    claimed: Instant,
    lease: Duration,
) -> Result<(), LedgerError> {
    let give_up = claimed + lease * 2;
    let mut wait = Duration::from_millis(250).min(lease / 8);
    loop {
        match ledger.complete(token, recorded).await {
            Err(err) if err.is_transient() => {
                let Some(wait_now) = wait_within(wait, Instant::now(), give_up) else {
                    return Err(err);
                };
                tokio::time::sleep(wait_now).await;
                wait = (wait * 2).min(lease / 8);
            }
            done => return done,
        }
    }
}

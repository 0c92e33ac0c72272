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
//! - `mark`: the marks' keys, reading and replacing a mark's state ([`MarkState`]), and how
//!   outcomes show a time;
//! - `retrain`: [`OneAtATime`] and its mark, [`LastJob`];
//! - `notify`: [`NotifyEvery`] and its mark, [`LastNotice`].

mod mark;
mod notify;
mod retrain;

pub use mark::{MarkState, notify_key, retrain_key, shown};
pub use notify::{LastNotice, NEVER_HELD, NotifyEvery, holds_back};
pub use retrain::{LastJob, OneAtATime};

#![allow(unreachable_pub)]

//! The fault-schedule harness: handler instances sharing one ledger, the outside world as
//! in-process stand-ins, and Event Grid, driven by a schedule drawn from a seed; see
//! `tests/fault_schedules.rs`.

pub mod check;
pub mod clock;
pub mod ledger;
pub mod run;
pub mod schedule;
pub mod world;

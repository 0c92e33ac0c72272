//! The `aml-handlers` commands, one file each as in mini-redis, so that a command's arguments,
//! help and steps read in one place and `main.rs` only dispatches.
//!
//! # Layout
//! - [`start`]: what the commands share to start and to stop: the settings, the shared
//!   context, a runtime, the input file, and the one way a command fails.
//! - [`serve`], [`send`], [`replay`], [`package`], [`notify`], [`history`], [`routes`],
//!   [`explain`], [`inspect`]: one command each, with its `Args` and `run(args)`, which gives the
//!   exit code, or [`start::Failed`] once it has told why it stopped.
//!
//! Imports point one way, from a command to [`start`]; commands never import each other, and
//! the work itself lives in the library, not here.

pub(crate) mod explain;
pub(crate) mod history;
pub(crate) mod inspect;
pub(crate) mod notify;
pub(crate) mod package;
pub(crate) mod replay;
pub(crate) mod routes;
pub(crate) mod send;
pub(crate) mod serve;
pub(crate) mod start;
